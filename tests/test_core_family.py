"""One core family: the contract of every preset's core, settings honoured or refused, counts as the Mapping's.

Every preset is built through the registry (``make_core``) on a small known layer and batch. What is checked:

- the contract: ``vmm`` / ``mvm`` / ``opu`` shapes, finite results; the same seed gives identical results after a
  ``state_dict`` round trip, and after a move to another torch device and back (CUDA only; skipped on CPU);
- with every non-ideality off, each core kind computes float training (float rounding; the bit-sliced core:
  fixed-point SGD, within its LSB);
- every ``io`` and ``update`` setting of the design changes the numerics when flipped, or the design is refused
  with one line naming the field (settings that only the cost reads are listed, with the reason);
- the counted actions equal the Mapping's counts for the batch: exactly where the work does not depend on the
  data, bounded by the Mapping's where it does (drivers fired only for pulsed rows).
"""
from __future__ import annotations

import copy
import math

import pytest
import torch

from pimtrain.design import PimtrainError, load_design, preset_names
from pimtrain.mapping import LayerMapping, measured_counts
from pimtrain.xbar import core_kind, make_core
from pimtrain.xbar.base import CoreBase
from _designs import with_changes

PRESETS = preset_names()
DESIGNS = {n: load_design(n) for n in PRESETS}
OUT, N_IN, B = 6, 20, 4


_with = with_changes


def _operands(n_in=N_IN, b=B, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(OUT, n_in, generator=g) * 0.3, torch.rand(b, n_in, generator=g), torch.randn(b, OUT, generator=g))


def _steps(core, x, e, lr=0.05, n=2):
    out = []
    for _ in range(n):
        out += [core.vmm(x), core.mvm(e)]
        core.opu(x, e, lr)
    out.append(core.get_weight())
    return torch.cat([t.flatten() for t in out])


# ------------------------------------------------------------------------------------------------ contract
@pytest.mark.parametrize("name", PRESETS)
def test_core_contract_shapes_and_finiteness(name):
    w, x, e = _operands()
    core = make_core(w, DESIGNS[name], seed=3)
    assert isinstance(core, CoreBase) and core.kind == core_kind(DESIGNS[name]).name
    y, g = core.vmm(x), core.mvm(e)
    assert y.shape == (B, OUT) and g.shape == (B, N_IN)
    core.opu(x, e, 0.05)
    assert core.get_weight().shape == (OUT, N_IN)
    for t in (y, g, core.get_weight()):
        assert torch.isfinite(t).all()
    assert core.stats["vmm_calls"] == 1 and core.stats["samples_updated"] == B
    assert core.to("cpu") is core  # no move: nothing re-seeded


@pytest.mark.parametrize("name", PRESETS)
def test_same_seed_identical_after_state_dict_round_trip(name):
    d = DESIGNS[name]
    w, x, e = _operands()
    a = make_core(w, d, seed=5)
    _steps(a, x, e, n=1)
    sd = copy.deepcopy(a.state_dict())
    b = make_core(torch.zeros_like(w), d, seed=99)  # another seed and weight: the state carries everything
    b.load_state_dict(sd)
    assert torch.equal(_steps(a, x, e), _steps(b, x, e))
    sa, sb = a.stats, b.stats
    assert sa["update_events"] == sb["update_events"] and sa.get("update.carries") == sb.get("update.carries")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (a move to 'meta' keeps no values)")
@pytest.mark.parametrize("name", PRESETS)
def test_same_seed_identical_after_moving_device_and_back(name):
    d = DESIGNS[name]
    w, x, e = _operands()
    runs = []
    for _ in range(2):
        core = make_core(w, d, seed=5)
        _steps(core, x, e, n=1)
        core.to("cuda")
        _steps(core, x.cuda(), e.cuda(), n=1)
        core.to("cpu")
        runs.append(_steps(core, x, e))
    assert torch.equal(runs[0], runs[1])


# ----------------------------------------------------------------------------------- non-idealities off
def _ideal(d):
    """``d`` with every non-ideality off, its core kind kept."""
    kind = core_kind(d).name
    ch = {"device__model": "ideal", "device__read_noise": 0.0, "device__write_noise": 0.0, "device__d2d_variation": 0.0,
          "device__programming_noise": 0.0, "device__levels": None, "device__lookup": None,
          "device__stuck_at__at_gmin": 0.0, "device__stuck_at__at_gmax": 0.0, "update__pulse__scheme": "none",
          "device__refresh_threshold": None}
    for k in ("forward", "backward"):
        ch.update({f"io__{k}__dac_bits": None, f"io__{k}__adc_bits": None, f"io__{k}__output_noise": 0.0,
                   f"io__{k}__accumulation": "single_read", f"io__{k}__converter": "sar", f"io__{k}__buffer_bits": None,
                   f"io__{k}__input_range__policy": "batch_max", f"io__{k}__output_range__policy": "batch_max"})
    if kind == "analog":
        ch.update({"array__weight_bits": None, "array__bits_per_cell": None, "array__weight_mapping": "differential",
                   "update__slicing__slices": 1})
    if kind in ("digital", "digital_pim"):
        ch.update({"digital__weight_bits": None, "digital__activation_bits": None})
        if kind == "digital":
            ch["digital__format"] = "fp32"
        else:
            ch["digital__format"] = "fp32"
    if kind == "bitsliced" and d.update.slicing.slice_bits is not None:  # headroom: no slice saturates
        ch["update__slicing__slice_bits"] = [16] * d.update.slicing.slices
    if d.array.weight_mapping == "bias":
        ch["array__weight_mapping"] = "differential"
    return _with(d, **ch), kind


@pytest.mark.parametrize("name", PRESETS)
def test_all_nonidealities_off_is_float_training(name):
    d, kind = _ideal(DESIGNS[name])
    w, x, e = _operands()
    core = make_core(w, d, seed=0)
    ref = core.get_weight().clone()  # the stored start (the bit-sliced core rounds it to its LSB)
    lsb = getattr(core, "lsb", 0.0)
    if kind != "bitsliced":
        assert torch.equal(ref, w) or torch.allclose(ref, w, atol=0, rtol=0)
    tol = dict(rtol=1e-5, atol=1e-6) if kind != "digital_pim" else dict(rtol=1e-4, atol=1e-5)
    lr = 0.05
    for step in range(3):
        assert torch.allclose(core.vmm(x), x @ core.get_weight().t(), **tol)
        assert torch.allclose(core.mvm(e), e @ core.get_weight(), **tol)
        core.opu(x, e, lr)
        ref = ref - lr * e.t() @ x
        # bit-sliced: each rank-1 update is rounded to the LSB grid (fixed-point SGD), so at most B·LSB/2 per step
        atol = (step + 1) * B * lsb / 2 + 1e-6 if kind == "bitsliced" else 1e-5
        assert torch.allclose(core.get_weight(), ref, rtol=0, atol=atol), (name, step)


# --------------------------------------------------------------------------------- settings honoured
def _io_flips(d, k):
    io = getattr(d.io, k)
    p = f"io__{k}__"
    flips = {}
    flips[f"io.{k}.dac_bits"] = {p + "dac_bits": 6 if io.dac_bits is None else max(io.dac_bits - 3, 2)}
    flips[f"io.{k}.adc_bits"] = {p + "adc_bits": 6 if io.adc_bits is None else max(io.adc_bits - 3, 2)}
    flips[f"io.{k}.output_noise"] = {p + "output_noise": 0.05 if io.output_noise == 0 else 0.0}
    if io.dac_bits is not None:
        flips[f"io.{k}.input_range"] = ({p + "input_range__policy": "fixed", p + "input_range__value": 0.3}
                                        if io.input_range.policy != "fixed" else {p + "input_range__policy": "batch_max"})
    if io.adc_bits is not None:
        flips[f"io.{k}.output_range"] = ({p + "output_range__policy": "fixed", p + "output_range__value": 0.2}
                                         if io.output_range.policy != "fixed" else {p + "output_range__policy": "batch_max"})
    if io.accumulation != "single_read":
        flips[f"io.{k}.accumulation"] = {p + "accumulation": "analog_buffered" if io.accumulation != "analog_buffered" else "digital"}
        flips[f"io.{k}.input_bits_per_cycle"] = {p + "input_bits_per_cycle": io.input_bits_per_cycle + 1}
    if io.buffer_bits is not None:
        flips[f"io.{k}.buffer_bits"] = {p + "buffer_bits": max(io.buffer_bits - 3, 1)}
    if io.converter == "learned":
        flips[f"io.{k}.converter"] = {p + "converter": "sar"}
    return flips


#: flips whose effect shows only on top of another setting: (changes of both runs, changes of the flipped run)
def _update_flips(d):
    u = d.update
    f = {}
    if not (d.device.ideal_updates and u.pulse.scheme == "none"):  # see CONDITIONAL
        f["update.rule"] = {"update__rule": "accumulate" if u.rule == "outer_product" else "outer_product"}
    f["update.pulse.scheme"] = {"update__pulse__scheme": {"none": "deterministic", "deterministic": "stochastic",
                                                          "stochastic": "deterministic"}[u.pulse.scheme]}
    if u.pulse.scheme == "deterministic":
        f["update.pulse.row_bits"] = {"update__pulse__row_bits": max(u.pulse.row_bits - 3, 1)}
        f["update.pulse.col_bits"] = {"update__pulse__col_bits": max(u.pulse.col_bits - 2, 1)}
    if u.pulse.scheme == "stochastic":
        f["update.pulse.bl"] = {"update__pulse__bl": max(u.pulse.bl // 4, 1)}
    elif u.pulse.scheme == "deterministic":  # bl acts on stochastic pulse trains: flip it there
        f["update.pulse.bl"] = ({"update__pulse__scheme": "stochastic"}, {"update__pulse__bl": max(u.pulse.bl // 4, 1)})
    if u.slicing.slices > 1 and u.delta_arrays and d.update.slicing.slice_bits is not None:
        # the bit-sliced fold of delta arrays rewrites the weights in canonical digits (a carry resolution every batch)
        f["update.slicing.carry_interval"] = ({"update__delta_arrays": False}, {"update__slicing__carry_interval": 1})
    elif u.slicing.slices > 1:
        f["update.slicing.carry_interval"] = {"update__slicing__carry_interval": 1}
        f["update.slicing.carry_threshold"] = ({"update__slicing__carry_interval": 1}, {"update__slicing__carry_threshold": 0.05})
        if u.slicing.slice_bits is None:
            f["update.slicing.base"] = {"update__slicing__base": u.slicing.base / 2}
        else:
            f["update.slicing.slice_bits"] = {"update__slicing__slice_bits": [2] * u.slicing.slices}
    elif d.compute == "analog" and d.array.weight_bits is None:
        f["update.slicing.slices"] = {"update__slicing__slices": 2, "update__slicing__carry_interval": 1,
                                      "update__slicing__base": 4.0}
    else:
        f["update.slicing.slices"] = {"update__slicing__slices": 2}
    f["update.delta_arrays"] = {"update__delta_arrays": not u.delta_arrays}  # refused at load unless outer_product
    # Tiki-Taka: the gradient lands on a fast array, one column a step moves into the weight (digital: refused at load)
    f["update.algorithm"] = {"update__algorithm": {"kind": "tiki_taka" if u.algorithm.kind == "sgd" else "sgd"}}
    if d.compute == "analog":  # see CONDITIONAL: the copies differ by their own write noise
        both = {"device__write_noise": 0.1, "device__programming_noise": 0.05}
        if u.rule == "exact":
            both["update__rule"] = "outer_product"
        f["update.weight_copies"] = (both, {"update__weight_copies": 3 - u.weight_copies})
    return f


#: settings only the cost reads (what they change is time, energy or area, never a value the kernels compute)
CONDITIONAL = {
    "update.rule": "with an ideal device and pulse scheme 'none' every rule writes W - lr·dᵀx exactly (the rules differ "
                   "in cost); flipped on every design with a device model or pulses",
    "update.weight_copies": "two copies differ by their own write and programming noise (vmm reads copy 0, mvm copy 1): "
                            "flipped with both on (and, for rule 'exact', a pulsed rule); a digital core's copies hold the same "
                            "bits, so digital designs are not flipped",
}
COST_ONLY = {
    "io.*.input_encoding": "single read: time, amplitude and bit-serial inputs give the same dot product",
    "io.*.converter": "'sar' and 'ramp' convert to the same codes (they differ in energy and time); 'learned' is flipped",
}


def _flips(d):
    f = {}
    for k in ("forward", "backward"):
        f.update(_io_flips(d, k))
    f.update(_update_flips(d))
    return f


def _result(d, n_in=N_IN):
    w, x, e = _operands(n_in)
    x = x * 2 - 0.5  # some negative inputs, some above the flipped fixed range
    core = make_core(w, d, seed=0)
    return _steps(core, x, e, lr=0.2, n=2)


CASES = [(n, s) for n in PRESETS for s in _flips(DESIGNS[n])]


@pytest.mark.parametrize("name,setting", CASES)
def test_every_io_and_update_setting_is_honoured_or_refused(name, setting):
    d = DESIGNS[name]
    n_in = min(d.array.rows + 8, 300) if d.compute == "analog" else N_IN
    flip = _flips(d)[setting]
    both, only = flip if isinstance(flip, tuple) else ({}, flip)
    d = _with(d, **both) if both else d
    try:
        changed = _with(d, **only)
    except ValueError as err:  # refused at load by the design's validators (pydantic's ValidationError)
        assert setting.split(".")[-1] in str(err)
        return
    try:
        y = _result(changed, n_in)
    except PimtrainError as err:
        msg = str(err)
        assert "\n" not in msg and "allowed" in msg and setting.rsplit(".", 1)[-1] in msg, msg
        return
    assert not torch.equal(_result(d, n_in), y), f"{setting} is neither honoured nor refused by {name}'s core"


def test_every_io_and_update_field_is_flipped_or_cost_only():
    """A new io / update field must get a flip above (or a reason in COST_ONLY)."""
    from pimtrain.design.models import IOSpec, PulseSpec, SlicingSpec, UpdateSpec

    covered = {s.replace("forward", "*").replace("backward", "*") for s in {s for _, s in CASES}} | set(COST_ONLY)
    fields = {f"io.*.{f}" for f in IOSpec.model_fields}
    fields |= {f"update.{f}" for f in UpdateSpec.model_fields if f not in ("pulse", "slicing")}
    fields |= {f"update.pulse.{f}" for f in PulseSpec.model_fields} | {f"update.slicing.{f}" for f in SlicingSpec.model_fields}
    assert fields - covered == set()


# ------------------------------------------------------------------------------------ counted = Mapping


@pytest.mark.parametrize("name", [n for n in PRESETS if DESIGNS[n].compute == "analog"])
def test_counted_actions_equal_the_mapping(name):
    d = DESIGNS[name]
    n_in = d.array.rows + 5  # two row tiles
    w, x, e = _operands(n_in)
    core = make_core(w, d, seed=0)
    core.vmm(x)
    core.mvm(e)
    core.opu(x, e, 0.05)
    s = core.stats
    m = LayerMapping(OUT, n_in, d)
    fwd, bwd, up = m.read_counts("forward"), m.read_counts("backward"), m.update_counts()
    passes = 1 + int(bool((e < 0).any())) if d.io.backward.accumulation != "single_read" else 1  # signed input: 2nd pass
    # data-independent: exact
    assert s["forward.conversions"] == B * fwd.conversions
    for a in ("cells_read", "samples", "shift_adds", "outputs", "accumulations", "drives"):
        assert s.get(f"forward.{a}", 0) == B * getattr(fwd, a), a
    assert s["vectors_forward"] == B and s["vectors_backward"] == B
    events = B if d.update.rule == "outer_product" else 1
    assert s["update_events"] == events
    assert s["backward.conversions"] == passes * B * bwd.conversions
    # data-dependent: within the Mapping's
    if d.update.rule == "outer_product" and up.pulsed_cells:
        assert s["update.pulsed_cells"] == events * up.pulsed_cells
        assert 0 < s["update.row_drives"] <= events * up.row_drives
        assert 0 < s["update.col_drives"] <= events * up.col_drives
    else:  # serial writes: the cells that changed, at most every cell the Mapping writes (all slices for a RMW)
        assert 0 < s.get("update.cells_written", 0) <= events * up.cells_written
    if up.carries:
        assert s.get("update.carries", 0) == math.floor(events * up.carries)
    act = core.activity()
    assert 0 < act["input_activity"] <= 1
    per = measured_counts(s)
    assert per["forward"]["conversions"] == fwd.conversions


def test_carry_counts_follow_the_interval():
    """Both carry policies count carries every interval and the cells they actually reprogrammed."""
    for name, interval in (("marinella2018-analog-carry", 3), ("panther-sgd", 3)):
        d = _with(DESIGNS[name], update__slicing__carry_interval=interval)
        w, x, e = _operands(b=10)
        core = make_core(w, d, seed=0)
        core.opu(x, e, 0.5)
        s = core.stats
        assert s["update.carries"] == 10 // interval
        assert 0 < s["update.carry_cells"] == s["cells_reprogrammed"]
        m = LayerMapping(OUT, N_IN, d).update_counts()
        assert s["update.carry_cells"] <= s["update.carries"] * m.carry_cells  # at most every cell per carry


def test_registry_lookup_and_registration():
    from pimtrain.xbar import registry

    assert [k.name for k in registry.KINDS][:5] == ["compound", "digital_pim", "digital", "bitsliced", "analog"]
    kind = registry.register("test-kind", "core:AnalogCore", lambda d: d.name == "only-this", before="analog")
    try:
        d = _with(DESIGNS["ideal"], name="only-this")
        assert core_kind(d) is kind and core_kind(DESIGNS["ideal"]).name == "analog"
        with pytest.raises(ValueError):
            registry.register("test-kind", "core:AnalogCore", lambda d: False)
    finally:
        registry.KINDS.remove(kind)


def test_base_imports_no_core():
    import ast
    from pathlib import Path

    import pimtrain.xbar.base as base

    tree = ast.parse(Path(base.__file__).read_text())
    names = {a.name if isinstance(n, ast.Import) else (n.module or "") for n in ast.walk(tree)
             if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    assert not names & {"core", "bitslice", "digital", "digital_pim", "registry", "dataflow"}


# ------------------------------------------------------------------------ weight copies and delta arrays
def _plain_io(d):
    ch = {}
    for k in ("forward", "backward"):
        ch.update({f"io__{k}__dac_bits": None, f"io__{k}__adc_bits": None, f"io__{k}__output_noise": 0.0})
    return _with(d, device__read_noise=0.0, **ch)


@pytest.mark.parametrize("name", ["marinella2018-analog", "panther-sgd"])
def test_two_weight_copies_forward_reads_copy_0_backward_copy_1(name):
    d = _plain_io(_with(DESIGNS[name], update__weight_copies=2, device__write_noise=0.2, device__programming_noise=0.05))
    w, x, e = _operands()
    core = make_core(w, d, seed=0)
    core.opu(x, e, 0.2)
    w0 = core.get_weight()
    core._use(1)
    w1 = core.get_weight()
    core._use(0)
    assert not torch.equal(w0, w1)  # the same update, each copy with its own write (and programming) noise
    assert torch.allclose(core.vmm(x), x @ w0.t(), rtol=1e-5, atol=1e-5)
    assert torch.allclose(core.mvm(e), e @ w1, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["marinella2018-analog", "panther-minibatch"])
def test_delta_arrays_take_the_batch_and_fold_into_every_copy(name):
    d = _plain_io(_with(DESIGNS[name], update__delta_arrays=True, update__weight_copies=2))
    w, x, e = _operands(b=6)
    core = make_core(w, d, seed=0)
    before = core.get_weight()
    core.opu(x, e, 0.2)
    delta = core._sets[core._delta]
    assert (delta["c"] if "c" in delta else delta["v"]).abs().max() < 0.05  # reset after the fold
    w0 = core.get_weight()
    assert not torch.equal(w0, before)
    ref = before - 0.2 * e.t() @ x
    assert (w0 - ref).abs().mean() < 0.5 * (before - ref).abs().mean()  # the batch's update arrived
    s = core.stats
    m = LayerMapping(OUT, N_IN, d).update_counts()
    assert s["update.fold_write_cells"] == m.fold_write_cells and s["update_events"] == 6
    if "update.pulsed_cells" in s:
        assert s["update.pulsed_cells"] == 6 * m.pulsed_cells  # one set of delta arrays pulsed, not the copies


def test_large_reads_sample_the_activity_of_each_kernel():
    """Alternating large forward and backward reads: every 8th read *of each kernel* is measured (a sample over all
    reads would see only one kernel)."""
    from pimtrain.xbar.base import ACTIVITY_SAMPLE

    g = torch.Generator().manual_seed(0)
    core = make_core(torch.randn(80, 80, generator=g) * 0.1, DESIGNS["marinella2018-analog"], seed=0)
    x, e = torch.rand(64, 80, generator=g), torch.rand(64, 80, generator=g) * 0.5  # 5120 values: a large read
    for _ in range(2 * ACTIVITY_SAMPLE):
        core.vmm(x)
        core.mvm(e)
    s = core.stats
    assert s["vectors_forward"] == s["vectors_backward"] == 2 * ACTIVITY_SAMPLE * 64
    assert s["activity_vectors_forward"] == s["activity_vectors_backward"] == 2 * 64
    assert s["input_sum_forward"] > 0 and s["input_sum_backward"] > 0
