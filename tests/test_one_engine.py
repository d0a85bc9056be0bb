"""One design, one engine: a setting moves both evaluators, and the peak figures are the engine's own."""
from __future__ import annotations

import json

import pytest
import torch

from pimtrain.cost import design_summary, evaluate, fill_workload
from pimtrain.cost.hardware import build_hardware
from pimtrain.cost.peak import stated_chip
from pimtrain.design import PimtrainError, load_design, preset_names
from pimtrain.mapping import LayerMapping, conversions_per_output, matrix_crossbars, weight_slices
from pimtrain.workloads import Workload
from pimtrain.xbar import make_core
from _designs import with_changes

PRESETS = preset_names()
DESIGNS = {n: load_design(n) for n in PRESETS}


# ------------------------------------------------------------------------------------------ peak figures
@pytest.mark.parametrize("name", PRESETS)
def test_designs_json_is_the_engine_on_a_workload_that_fills_the_chip(name):
    d = DESIGNS[name]
    s = design_summary(d)
    chip = stated_chip(d)
    wl = fill_workload(chip)
    rep = evaluate(chip, wl, batch_size=1, inference=True, check_fit=False)
    fwd = rep.kernel["forward"]
    hw = build_hardware(chip)
    leak = sum(c.leak_power * c.count * chip.hierarchy.multiplicity(c.level) for c in hw.components.values())
    assert s["peak_ops_per_s"] == pytest.approx(2 * fwd["macs"] / fwd["latency_s"], rel=1e-12)
    assert s["peak_power_w"] == pytest.approx(fwd["energy_j"] / fwd["latency_s"] + leak, rel=1e-12)
    assert s["area_m2"] == pytest.approx(evaluate(chip, Workload("empty", ()), check_fit=False).area_m2, rel=1e-12)
    # the workload really fills the stated chip, no more
    h, layer = chip.hierarchy, wl.layers[0]
    if d.compute == "analog" and hw.first("matrix_unit") is None:
        m = LayerMapping(layer.out_features, layer.in_features, chip)
        assert m.arrays == h.arrays_per_chip
    elif hw.first("matrix_unit") is not None:
        mcu = hw.first("matrix_unit")
        assert layer.out_features // chip.array.cols == mcu.count * h.cores_per_tile * h.tiles_per_chip
    # a plausible chip: power density below a hot CPU's ~2 W/mm² for the designs nobody tuned to a peak
    if name in ("isaac", "cascade", "neuralpim") or name.startswith("panther"):
        assert s["peak_power_w"] / (s["area_m2"] * 1e6) < 2.0


def test_isaac_peak_power_from_its_components_is_near_its_table():
    """The isaac preset is ISAAC's Table I (65.8 W, 85.4 mm²). ``designs --json`` gives one vector through the
    full chip (8 input cycles + one pipeline-fill stage: 8/9 of the steady state); ``full_rate`` the steady state."""
    from pimtrain.cost.equal_area import full_rate

    s, fr = design_summary("isaac"), full_rate("isaac")
    assert fr["power_w"] == pytest.approx(65.8, rel=0.01)
    assert s["peak_power_w"] == pytest.approx(fr["power_w"] * 8 / 9, rel=0.01)
    assert s["area_m2"] * 1e6 == pytest.approx(85.4, rel=0.01) and s["area_m2"] == pytest.approx(fr["area_m2"])


def test_cli_designs_json_matches_the_summary():
    from typer.testing import CliRunner

    from pimtrain.cli import app

    out = CliRunner().invoke(app, ["designs", "--json"])
    assert out.exit_code == 0
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    for name in ("isaac", "panther-sgd", "floatpim", "marinella2018-sram"):
        s = design_summary(name)
        for k in ("area_m2", "peak_power_w", "peak_ops_per_s"):
            assert rows[name][k] == pytest.approx(s[k], rel=1e-12)


# ------------------------------------------------------------------------------------------ geometry
def test_bits_per_cell_set_the_bit_lines_of_a_weight():
    isaac = DESIGNS["isaac"]
    assert weight_slices(isaac) == 4 and LayerMapping(32, 128, isaac).arrays == 1  # 32 weights x 4 slices, biased
    assert LayerMapping(33, 128, isaac).arrays == 2
    assert matrix_crossbars(DESIGNS["panther-sgd"]) == 8 and matrix_crossbars(DESIGNS["panther-base-digital"]) == 8


def test_static_power_policy_is_a_design_choice_and_is_reported():
    d = DESIGNS["panther-sgd"]
    occ = evaluate(d, "mlpPanther")
    chip = d.model_copy(deep=True)
    chip.hierarchy.static_power = "chip"
    full = evaluate(chip, "mlpPanther")
    assert full.kernel["leakage"]["energy_j"] > 10 * occ.kernel["leakage"]["energy_j"]
    assert full.kernel["forward"] == occ.kernel["forward"]
    assert occ.to_json()["static_power"] == "occupied" and full.to_json()["static_power"] == "chip"


# ------------------------------------------------------------------------------------------ one setting
_with = with_changes


def _adc(d):
    if d.compute != "analog" or d.io.forward.adc_bits is None:
        return None
    b = d.io.forward.adc_bits - 2
    return _with(d, io__forward__adc_bits=b, io__backward__adc_bits=b)


def _dac(d):
    if d.compute != "analog" or d.io.forward.dac_bits is None:
        return None
    b = d.io.forward.dac_bits - 2
    return _with(d, io__forward__dac_bits=b, io__backward__dac_bits=b)


def _bits_per_cell(d):
    a = d.array
    if d.compute != "analog" or a.weight_bits is None or a.bits_per_cell is None:
        return None
    bpc = a.bits_per_cell * 2
    slices = -(-a.weight_bits // bpc)
    changes = {"array__bits_per_cell": bpc}
    if d.update.slicing.slices > 1:
        changes["update__slicing__slices"] = slices
        changes["update__slicing__base"] = float(2 ** bpc)
        if d.update.slicing.slice_bits is not None:
            changes["update__slicing__slice_bits"] = [bpc + 2] * slices
    return _with(d, **changes)


def _slices(d):
    sl = d.update.slicing
    if d.compute != "analog" or sl.slices < 2 or sl.slice_bits is not None:
        return None  # bit-sliced designs: the slices follow bits_per_cell (see _bits_per_cell)
    return _with(d, update__slicing__slices=sl.slices + 1)


def _rows(d):
    if d.compute != "analog" or d.io.forward.adc_bits is None:
        return None  # without a converter the row tiles of a read add up exactly
    return _with(d, array__rows=d.array.rows // 2)


SETTINGS = {"adc_bits": _adc, "dac_bits": _dac, "bits_per_cell": _bits_per_cell, "slices": _slices, "rows": _rows}
CASES = [(n, s) for n in PRESETS for s in SETTINGS if SETTINGS[s](DESIGNS[n]) is not None]


def _read(d, n_in):
    """Read, update once, read again: a setting may act on the reads or on the update."""
    w = torch.randn(24, n_in, generator=torch.Generator().manual_seed(1)) * 0.3
    x = torch.rand(8, n_in, generator=torch.Generator().manual_seed(2))
    core = make_core(w, d, seed=0)
    y0 = core.vmm(x)
    core.opu(x[:1], torch.randn(1, 24, generator=torch.Generator().manual_seed(3)), 0.05)
    return torch.cat([y0, core.vmm(x)])


@pytest.mark.parametrize("name,setting", CASES)
def test_one_setting_moves_both_evaluators(name, setting):
    """The setting changes what the numerics compute and what the cost charges, or the design is refused
    with one line naming it (a learned converter exists only for the resolution it was trained for)."""
    d = DESIGNS[name]
    changed = SETTINGS[setting](d)
    n_in = d.array.rows  # the full array: halving the rows splits the read in two row tiles
    try:
        y = _read(changed, n_in)
    except PimtrainError as e:
        assert "\n" not in str(e) and ("adc_bits" in str(e) or "bits_per_cell" in str(e)) and "allowed" in str(e)
        return
    assert not torch.equal(_read(d, n_in), y), f"{setting} does not change the numerics of {name}"
    wl = f"mlp:{n_in}-24"
    a, b = evaluate(d, wl), evaluate(changed, wl)
    assert (a.energy_j, a.latency_s, a.area_m2) != (b.energy_j, b.latency_s, b.area_m2), \
        f"{setting} does not change the cost of {name}"


def test_every_family_has_a_setting_case():
    covered = {n for n, _ in CASES}
    for n in ("isaac", "cascade", "neuralpim", "panther-sgd", "marinella2018-analog", "marinella2018-analog-carry"):
        assert n in covered
    assert {s for _, s in CASES} == set(SETTINGS)


@pytest.mark.parametrize("name", [n for n in PRESETS if DESIGNS[n].compute == "analog"])
def test_conversions_grow_with_adc_kind_and_cycles(name):
    d = DESIGNS[name]
    assert conversions_per_output(d, "forward") >= 1


# ------------------------------------------------------------------------------------------ pipeline
def test_latency_follows_the_declared_pipeline():
    d = DESIGNS["isaac"]
    assert d.pipeline.layers == "pipelined"
    seq = d.model_copy(deep=True)
    seq.pipeline.layers = "sequential"
    wl, b = "mlp:128-64-64-10", 8
    one = evaluate(seq, wl, batch_size=1, inference=True)
    a, p = evaluate(seq, wl, batch_size=b, inference=True), evaluate(d, wl, batch_size=b, inference=True)
    from pimtrain.workloads import get_workload

    per_vec = [evaluate(seq, Workload("one", (L,)), inference=True).kernel["forward"]["latency_s"]
               for L in get_workload(wl).layers]
    # sequential: every vector through every layer; pipelined: Σ layer times + (B − 1) × the slowest layer
    assert a.kernel["forward"]["latency_s"] == pytest.approx(b * sum(per_vec), rel=1e-9)
    assert p.kernel["forward"]["latency_s"] == pytest.approx(sum(per_vec) + (b - 1) * max(per_vec), rel=1e-9)
    assert p.kernel["forward"]["energy_j"] == pytest.approx(a.kernel["forward"]["energy_j"])
    assert evaluate(d, wl, batch_size=1, inference=True).latency_s == pytest.approx(one.latency_s)
    # read stages: one more stage adds one (longest) stage time per bit-serial read
    more = seq.model_copy(deep=True)
    more.pipeline.read_stages = 3
    assert evaluate(more, "mlp:128-16", inference=True).kernel["forward"]["latency_s"] > \
        evaluate(seq, "mlp:128-16", inference=True).kernel["forward"]["latency_s"]


# ------------------------------------------------------------------------------------------ counts
@pytest.mark.parametrize("name", ["marinella2018-analog", "isaac", "cascade", "neuralpim", "marinella2018-analog-carry"])
def test_the_engine_charges_the_mappings_counts(name):
    """Energy of a block in a kernel = vectors × the Mapping's count of its action × its action energy."""
    from pimtrain.cost.engine import Ledger, _analog_read, _analog_update

    d = DESIGNS[name]
    hw = build_hardware(d)
    m = LayerMapping(40, 300, d)
    led = Ledger()
    _analog_read(led, hw, m, "L", "forward", 3.0, None)
    c = m.read_counts("forward")
    io = d.io.forward
    t_in = (2 ** (io.dac_bits or 8)) * d.array.read_time if io.input_encoding == "time" else d.array.read_time
    for ro in hw.by_role("readout"):
        e, _ = ro.convert(io.adc_bits or 8, t_in)
        assert led.energy[("forward", "L", ro.name)] == pytest.approx(3 * c.conversions * e, rel=1e-12)
    for drv in hw.by_role("input_driver"):
        assert led.energy[("forward", "L", drv.name)] > 0 and c.drives == c.cycles * 300 * m.col_tiles
    if d.update.rule == "outer_product":
        led = Ledger()
        _analog_update(led, hw, m, "L", 5.0, 5, None)
        u = m.update_counts()
        assert u.pulsed_cells == 300 * 40 * m.cells_per_weight
        for drv in hw.by_role("update_row_driver"):
            e1, _ = drv.drive(d.update.pulse.row_bits)
            assert led.energy[("update", "L", drv.name)] == pytest.approx(5 * u.row_drives * e1, rel=1e-12)
        if d.update.slicing.slices > 1:
            assert u.carries == pytest.approx(1 / d.update.slicing.carry_interval) and u.carry_cells == m.cells


# ------------------------------------------------------------------------------------------ invariants
ANALOG_ADC = [n for n in PRESETS if DESIGNS[n].compute == "analog" and DESIGNS[n].io.forward.adc_bits is not None]


@pytest.mark.parametrize("name", ANALOG_ADC)
def test_cost_is_monotone_in_adc_bits_on_every_preset(name):
    d = DESIGNS[name]
    lo, hi = (_with(d, io__forward__adc_bits=b, io__backward__adc_bits=b) for b in (6, 9))
    for wl in ("mlp:300-100-10", "mlpPanther"):
        a, b = evaluate(lo, wl, check_fit=False), evaluate(hi, wl, check_fit=False)
        assert b.energy_j > a.energy_j and b.latency_s >= a.latency_s * (1 - 1e-12)
        assert b.area_m2 >= a.area_m2 * (1 - 1e-12)


@pytest.mark.parametrize("name", [n for n in PRESETS if _bits_per_cell(DESIGNS[n]) is not None])
def test_more_slices_never_cost_less_on_every_preset(name):
    d = DESIGNS[name]
    fewer = _bits_per_cell(d)  # twice the bits per cell: half the slices
    assert weight_slices(fewer) < weight_slices(d) or matrix_crossbars(fewer) < matrix_crossbars(d)
    a, b = evaluate(fewer, "mlp:300-100-10", check_fit=False), evaluate(d, "mlp:300-100-10", check_fit=False)
    assert b.energy_j > a.energy_j


@pytest.mark.parametrize("name", [n for n in PRESETS if DESIGNS[n].compute == "analog"])
def test_larger_arrays_never_make_the_stated_chip_smaller(name):
    d = stated_chip(DESIGNS[name])
    empty = Workload("empty", ())
    base = evaluate(d, empty, check_fit=False).area_m2
    for field in ("array__rows", "array__cols"):
        k = field.split("__")[1]
        big = _with(d, **{field: getattr(d.array, k) * 2})
        assert evaluate(big, empty, check_fit=False).area_m2 >= base * (1 - 1e-12)


@pytest.mark.parametrize("block,old,new", [
    ({"io": {"forward": {"dataflow": "isaac"}}}, "dataflow", "accumulation"),
    ({"io": {"forward": {"peripherals": "learned"}}}, "peripherals", "converter"),
    ({"io": {"backward": {"weight_bits": 8}}}, "weight_bits", "array.weight_bits"),
    ({"update": {"slicing": {"variant": "sgd"}}}, "variant", "update.weight_copies"),
    ({"digital": {"pim_logic": "sot_mram"}}, "pim_logic", "logic_family"),
])
def test_paper_named_fields_are_refused_naming_their_kind(block, old, new):
    from pimtrain.design import DesignError, design_from_dict

    with pytest.raises(DesignError) as e:
        design_from_dict({"name": "old", **block})
    msg = str(e.value)
    assert "\n" not in msg and old in msg and new in msg


def test_puma_matrix_unit_counts_its_converters_from_the_design():
    """The lumped MVM energy of the simulator at its own configuration (8-bit ADC, 1-bit DACs), and its
    converters split out and scaled when the design asks for others."""
    d = DESIGNS["panther-sgd"]
    mcu = build_hardware(d).first("matrix_unit")
    lumped = mcu.p["mvm_power"] * mcu.p["mvm_latency"]
    assert mcu.mvm(8, 1)[0] == pytest.approx(lumped, rel=1e-12)
    d1 = d.array.rows * mcu.p["dac_drive_energy"]
    assert mcu.mvm(8, 2)[0] - mcu.mvm(8, 1)[0] == pytest.approx(d1, rel=1e-9)
    assert mcu.mvm(6, 1)[0] < lumped < mcu.mvm(10, 1)[0]


def test_what_the_update_writes_is_costed_on_every_engine_path():
    """update.weight_copies and update.delta_arrays move the generic engine as they move the PUMA ledger."""
    base = DESIGNS["marinella2018-analog"]
    two = _with(base, update__weight_copies=2)
    delta = _with(base, update__weight_copies=2, update__delta_arrays=True)
    wl = "mlp:300-100-10"
    e1, e2, ed = (evaluate(d, wl, batch_size=4).kernel["update"]["energy_j"] for d in (base, two, delta))
    assert e2 > e1 and ed != e2
    m = LayerMapping(100, 300, delta)
    u, u1 = m.update_counts(), LayerMapping(100, 300, base).update_counts()
    assert u.pulsed_cells == u1.pulsed_cells and u.fold_write_cells == 2 * m.cells and u.fold_read_cells == u1.pulsed_cells
    assert LayerMapping(100, 300, two).update_counts().pulsed_cells == 2 * u1.pulsed_cells
