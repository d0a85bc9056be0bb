"""The engine's equal-area evaluation, blocks quoted by power, analog accumulation counts and the 'bias'
weight encoding (what the Neural-PIM rows rest on, checked in isolation)."""
import math

import pytest
import torch

from pimtrain.cost import evaluate
from pimtrain.cost.equal_area import array_density, core_area, evaluate_at_area, full_rate
from pimtrain.design import PimtrainError, design_from_dict, design_to_dict, load_design
from pimtrain.mapping import LayerMapping, nn_adc_size


def _with(name, **changes):
    data = design_to_dict(load_design(name))
    for path, value in changes.items():
        node = data
        *parts, last = path.split(".")
        for p in parts:
            node = node[p]
        node[last] = value
    return design_from_dict(data)


def test_bias_mapping_holds_one_column_set():
    m = LayerMapping(128, 128, load_design("isaac"))
    assert m.cells_per_weight == 1 and m.slices == 4 and m.weight_cols_per_array // m.slices == 32


def test_bias_mapping_refused_where_no_reader_can_subtract_it():
    with pytest.raises(PimtrainError) as e:
        _with("cascade", **{"array.weight_mapping": "bias"})
    assert "array.weight_mapping" in str(e.value) and "\n" not in str(e.value)


def test_bias_read_is_exact_with_ideal_converters():
    from pimtrain.xbar import dataflow

    d = _with("isaac", **{"device.read_noise": 0.0})
    io = d.io.forward.model_copy(update={"adc_bits": None, "output_noise": 0.0})
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(8, 300, generator=g), torch.randn(300, 20, generator=g)
    assert torch.equal(dataflow.read(x, w, d, io, g), dataflow.exact(x, w, d, io))


def test_accumulation_counts_follow_the_kind():
    cas, npim = load_design("cascade"), load_design("neuralpim")
    m = LayerMapping(10, 200, cas)
    c = m.read_counts("forward")
    assert c.accumulations == m.input_cycles() * 10 * m.slices * m.row_tiles * 2  # every bit line of both polarities
    m = LayerMapping(10, 200, npim)
    c = m.read_counts("forward")
    n_conv = 10 * m.slices * m.row_tiles
    assert c.accumulations == m.input_cycles() * n_conv + n_conv
    assert LayerMapping(10, 200, load_design("isaac")).read_counts("forward").accumulations == 0


def test_powered_block_draws_its_power_over_the_busy_time():
    """One layer on one ISAAC array: the input register (1.24 mW per IMA of 8 arrays) is charged
    1.24 mW x busy time / 8; the busy time is 8 input cycles of 100 ns."""
    from pimtrain.workloads import LayerShape, Workload

    wl = Workload("one", (LayerShape("fc", "linear", 32, 128),))
    rep = evaluate("isaac", wl, batch_size=1, inference=True)
    e = rep.component["input_register"]["energy_j"]
    assert e == pytest.approx(1.24e-3 * 8 * 100e-9 / 8, rel=1e-9)


def test_equal_area_throughput_scales_with_area_and_energy_does_not():
    a = full_rate("isaac")["area_m2"]
    one, two = evaluate_at_area("isaac", "alexnet", a), evaluate_at_area("isaac", "alexnet", 2 * a)
    assert two["macs_per_s"] == pytest.approx(2 * one["macs_per_s"], rel=0.02)
    assert two["energy_j"] == pytest.approx(one["energy_j"], rel=1e-9)  # no leakage in the Table I blocks


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, "big"])
def test_equal_area_refuses_a_bad_area(bad):
    with pytest.raises(PimtrainError) as e:
        evaluate_at_area("isaac", "alexnet", bad)
    assert str(e.value).startswith("area_m2")


def test_area_too_small_for_one_core_is_one_line():
    with pytest.raises(PimtrainError, match="holds no core"):
        evaluate_at_area("isaac", "alexnet", 1e-12)


def test_array_density_is_arrays_over_core_area():
    d = load_design("isaac")
    assert array_density(d) == pytest.approx(8 * 0.000025e-6 / core_area(d), rel=1e-9)


def test_neural_adc_cost_follows_its_resolution():
    """The NNADC's inverters and cells come from the resolution the design asks (nn_adc_size)."""
    e = {b: evaluate(_with("neuralpim", **{"io.forward.adc_bits": b}), "alexnet", inference=True)
         .component["nnadc"]["energy_j"] for b in (6, 8)}
    assert e[8] > e[6] > 0
    assert nn_adc_size(8) == {"cells": 291, "inverters": 46}


# ---------------------------------------------------------------------------- timing and power from loads
def test_settle_time_leaves_half_an_lsb_of_a_single_pole_step():
    """A node 1 − exp(−t/τ) after a full-scale step, at settle_time(τ, b), is off by exactly 2^−(b+1)."""
    from pimtrain.cost.periphery import settle_time

    for tau, bits in ((1e-9, 8), (3.3e-10, 6), (2e-12, 12)):
        t = settle_time(tau, bits)
        assert math.exp(-t / tau) == pytest.approx(2.0 ** -(bits + 1), rel=1e-12)
    assert settle_time(1e-9, 9) > settle_time(1e-9, 8)


def test_rc_node_from_its_cells_integrates_to_the_closed_form():
    """A node of capacitance C charged through n cells of conductance g (forward Euler) reaches 63.2 % at C/(n g)."""
    from pimtrain.cost.periphery import rc_tau

    c, g, n = 5e-15, 0.9155e-6, 6
    tau = rc_tau(c, n * g)
    v, dt, t = 0.0, tau / 20000, 0.0
    while t < tau:
        v += dt * n * g * (1.0 - v) / c
        t += dt
    assert v == pytest.approx(1 - math.exp(-1), rel=1e-3)
    with pytest.raises(ValueError):
        rc_tau(c, 0.0)


def test_neural_stage_timing_parts():
    """Each part of the cycle is its closed form; more cells on the bit line settle it faster, a larger
    stage (more hidden neurons on the output row) settles its output slower, a finer target takes longer."""
    from pimtrain.cost.periphery import CMOS_32NM as T
    from pimtrain.cost.periphery import inverter_input_capacitance, neural_stage_timing

    g, ln = 0.9155e-6, 9 * math.log(2)
    c_in = T.inverter_width_um * (T.c_gate_per_um + (1 + T.inverter_gain) * T.c_gd_per_um)
    assert inverter_input_capacitance() == pytest.approx(c_in)
    t = neural_stage_timing(128, g, 16, 8)
    assert t["neuron"] == pytest.approx((c_in + 6 * T.line_c_per_cell) / (6 * g) * ln)
    assert t["bit_line"] == pytest.approx(160 * T.line_c_per_cell / (128 * g) * ln)
    assert t["output"] == pytest.approx(32 * T.line_c_per_cell / (T.feedback * T.gm_over_id * T.inverter_current) * ln)
    assert t["cycle"] == pytest.approx(t["bit_line"] + t["neuron"] + t["output"])
    assert neural_stage_timing(256, g, 16, 8)["bit_line"] < t["bit_line"]
    assert neural_stage_timing(128, g, 64, 8)["output"] > t["output"]
    assert neural_stage_timing(128, g, 16, 10)["cycle"] > t["cycle"]


def test_amplifier_power_carries_its_full_scale_current():
    from pimtrain.cost.periphery import amplifier_power

    assert amplifier_power(10.24e-6, 2.0, 0.8) == pytest.approx(16.384e-6)
    assert amplifier_power(1e-6, 3.0, 1.0) == pytest.approx(3 * amplifier_power(1e-6, 1.0, 1.0))
    with pytest.raises(ValueError):
        amplifier_power(-1.0)


def test_amplifier_settle_time_is_its_closed_form():
    """τ = C / (β · gm/ID · I): twice the bias settles twice as fast."""
    from pimtrain.cost.periphery import CMOS_32NM as T
    from pimtrain.cost.periphery import amplifier_settle_time

    t = amplifier_settle_time(10e-15, 10e-6, 6)
    assert t == pytest.approx(10e-15 / (T.feedback * T.gm_over_id * 10e-6) * 7 * math.log(2))
    assert amplifier_settle_time(10e-15, 20e-6, 6) == pytest.approx(t / 2)
    with pytest.raises(ValueError):
        amplifier_settle_time(10e-15, 0.0, 6)
