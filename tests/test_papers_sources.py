"""The facts found for the rows not reproduced (issue 15): each caption's bracket or cross-check is computed,
and the closed forms behind them hold in isolation."""
import math

import pytest

from pimtrain.cost import evaluate
from pimtrain.design import load_design


@pytest.fixture(scope="module")
def panther(reproduced):
    return reproduced("panther2020")


@pytest.fixture(scope="module")
def mram(reproduced):
    return reproduced("mram2020")


@pytest.fixture(scope="module")
def marinella(reproduced):
    return reproduced("marinella2018")


# --- FloatPIM: the NOR gate sequences against the best published stateful-NOR bf16 algorithms -------------

def test_bf16_nor_sequences_are_not_cheaper_than_the_best_published():
    """AritPIM's bit-serial bf16 multiply and signed add (1-INIT: one initialising write per gate, so gates =
    cycles / 2) are the fewest NOR gates published for the stateful-NOR model; ours may not undercut them
    (that would hide cost) and stay within 4x of them."""
    from pimtrain.cost.digital_pim import design_format
    from pimtrain.cost.hardware import build_hardware
    from pimtrain.papers.mram2020 import ARITPIM_BF16_CYCLES
    from pimtrain.pimlogic.fparith import op_counts

    d = load_design("floatpim")
    tech = build_hardware(d).first("pim_block").tech_model
    fmt = design_format(d)
    for op, cycles in ARITPIM_BF16_CYCLES.items():
        ours = tech.nor_steps(op_counts(fmt, op))
        assert cycles // 2 <= ours <= 4 * (cycles // 2), op


def test_mram_caption_states_the_cross_check_and_the_needed_sources(mram):
    note = next(n for n in mram["notes"] if n.startswith("gate counts checked"))
    assert "AritPIM" in note and "1742" in note and "1849" in note and "short" in note
    speed = next(r for r in mram["rows"] if r["quantity"].startswith("FloatPIM speed-up vs GTX"))
    # even with the published counts the row stays far off (>= 50x short), so it is not applied
    factor = float(note.split("still ")[1].split("x short")[0])
    assert factor >= 50 and speed["basis"] == "prediction"
    for start in ("chip power not reproduced", "area not reproduced", "the two GPU rows together"):
        assert "Source that would be needed" in next(n for n in mram["notes"] if n.startswith(start)), start


# --- PANTHER: the brackets the sources put around the digital and GPU energy rows -----------------------

def test_digital_energy_bracket_contains_the_paper_and_the_model():
    from pimtrain.papers import panther2020 as p

    designs = {k: load_design(n) for k, n in p.DESIGNS.items()}
    sram = p.SRAM_LEAK_PER_2KB * p.MVMU_WEIGHT_BYTES / 2048
    assert sram == pytest.approx(16 * 0.33e-3)  # 32 KB of weights = 16 data memories of 2 KB
    lo, hi = p._digital_row_at(designs, 0.0), p._digital_row_at(designs, sram)
    derived = designs["digital"].circuits.components["mcu"].params["leak_power"]
    mid = p._digital_row_at(designs, derived)
    assert lo < mid < p.PAPER_ROWS[0][1] < hi
    # leakage energy adds: the row is linear in the leak
    half = p._digital_row_at(designs, sram / 2)
    assert half == pytest.approx((lo + hi) / 2, rel=1e-6)


def test_conv_rows_one_vector_is_fc_like_and_many_positions_fall_below_one():
    from pimtrain.papers import panther2020 as p

    designs = {k: load_design(n) for k, n in p.DESIGNS.items()}
    one, many = p._opa_mvm_ratio(designs, "convA", 1), p._opa_mvm_ratio(designs, "convA", 4096)
    fc = max(p._ratio(p.step_costs(designs, p.FC_LAYERS), "base_opa_mvm", w, 0) for w in p.FC_LAYERS)
    assert one == pytest.approx(fc, rel=0.1)  # one vector per example: an FC layer, as the simulator runs it
    assert many < 1.0  # the baseline's position sum is not charged: it falls below PANTHER


def test_panther_captions_bracket_and_name_their_sources(panther):
    gpu, dig, conv = panther["notes"][:3]
    assert "Table 3 ratings" in gpu and "lies between" in gpu and "Source that would be needed" in gpu
    assert "bracket" in dig and "Source that would be needed" in dig
    assert "conv*Panther.cpp" in conv and "Source that would be needed" in conv


# --- Marinella: the static comparator bias that would close the energy gap -------------------------------

def test_comparator_bias_closes_the_gap_in_isolation(marinella):
    """Adding the returned bias over each conversion's ramp (as an integrator power spread over integration
    plus ramp) brings the analog energy per MAC to 11 fJ: the closed form inverts the cost model."""
    from pimtrain.cost.scaling import energy_scale
    from pimtrain.papers import marinella2018 as m

    designs = {k: load_design(n) for k, n in m.DESIGNS.items()}
    ours = m._ours(designs)[0]
    watts, amps = m.comparator_bias_for(designs, ours)
    a = designs["analog"]
    assert amps == pytest.approx(watts / a.technology.vdd)
    t_ramp = 2 ** (a.io.forward.adc_bits - 1) / a.technology.clock_hz
    t_int = 2 * 2 ** (a.io.forward.dac_bits - 1) / a.technology.clock_hz
    p_node = m._get(a, m.INTEGRATOR) * energy_scale(a.technology.node_nm, 65.0, a.technology.vdd)
    factor = 1.0 + watts * t_ramp / (t_int + t_ramp) / p_node
    moved = m._ours(dict(designs, analog=m._scaled(a, (m.INTEGRATOR,), factor)))[0]
    assert moved == pytest.approx(m.PAPER_ROWS[0][1], rel=1e-6)
    assert 0 < watts < 1e-3 and math.isfinite(amps)
    note = marinella["notes"][0]
    assert "burn static current" in note and f"{watts * 1e6:.1f} uW" in note


def test_gpu_board_power_is_the_ratio_the_caption_states(panther):
    """The 'here' power ratio of the GPU caption is the roofline's power over PANTHER's board power."""
    from pimtrain.cost.gpu import gpu_step_cost
    from pimtrain.papers import panther2020 as p

    d = load_design("panther-sgd")
    e, t = p.board_step(d, "mlp-svhn-4layer")
    g = gpu_step_cost(p.GPU, "mlp-svhn-4layer", batch_size=1, training=True)
    assert f"here {g['power_w'] / (e / t):.1f}" in panther["notes"][0]
    assert evaluate(d, "mlp-svhn-4layer", batch_size=1).energy_j < e


def test_fp32_over_bf16_scales_as_floatpim_reports():
    """An independent check of the arithmetic model: FloatPIM reports fp32 training 2.9x slower and 2.5x more
    energy than bf16 (ISCA 2019 §7.2); the gate sequences give the same scaling within 20 %."""
    from pimtrain.papers.mram2020 import FP32_OVER_BF16, fp32_over_bf16

    got = fp32_over_bf16(load_design("floatpim"))
    for k, want in FP32_OVER_BF16.items():
        assert got[k] == pytest.approx(want, rel=0.2), k


def test_chip_power_note_reads_the_card_figure_per_block(mram):
    """62.6 W over 32 tiles x 256 blocks is the card's 7.64 mW: a per-block figure."""
    note = next(n for n in mram["notes"] if n.startswith("chip power not reproduced"))
    assert "7.64 mW for each of the 8192 blocks" in note
    assert 62.6 / (32 * 256) == pytest.approx(7.64e-3, rel=1e-3)


def test_the_authors_puma_digital_mvmu_leakage_overshoots_the_paper():
    """With the authors' PUMA digital-MVMU leakage (40.24 mW per 128x128 matrix) the digital-energy row would be
    several times the paper's 8.02x: PANTHER's baseline cannot have charged it (the caption says so)."""
    from pimtrain.papers import panther2020 as p

    designs = {k: load_design(n) for k, n in p.DESIGNS.items()}
    assert p._digital_row_at(designs, p.PUMA_DIGITAL_MVMU_LEAK) > 4 * p.PAPER_ROWS[0][1]
