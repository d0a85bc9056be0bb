"""The pimtrain → aihwkit mapping of the side-by-side comparison (scripts/compare_aihwkit.py).

The mapping itself is tested without aihwkit (never a dependency): its field values, what it refuses, and —
against pimtrain's own numerics — that one pulse of the mapped aihwkit device is one pulse of pimtrain's. The
last test builds the aihwkit configurations and runs only where aihwkit is importable (not in CI).
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from pimtrain.compare import aihwkit_fields
from pimtrain.design import PimtrainError
from pimtrain.design.models import Design
from pimtrain.xbar import make_core

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))
import compare_aihwkit  # noqa: E402


def design(device=None, array=None, update=None, io=None) -> Design:
    d = {"name": "t", "compute": "analog",
         "device": {"model": "soft_bounds", "dw_min": 0.01, "up_down": -0.2, "write_noise": 0.1, "d2d_variation": 0.05,
                    **(device or {})},
         "array": {"weight_mapping": "offset", "w_max": 0.5, **(array or {})},
         "update": {"rule": "outer_product", "pulse": {"scheme": "stochastic", "bl": 15}, **(update or {})}}
    if io:
        d["io"] = io
    return Design.model_validate(d)


def test_soft_bounds_device_fields():
    m = aihwkit_fields(design())
    assert m["device_class"] == "SoftBoundsDevice"
    dev = m["device"]
    # one pulse moves W by 2 * w_max * dw_min (offset mapping, W = 2 w_max c); aihwkit shortens only the up step
    # (up_down < 0): its dw_min is the down step 2 * w_max * dw * 1.2, its up_down -0.4 / 1.2; bounds are ±w_max
    assert dev["dw_min"] == pytest.approx(2 * 0.5 * 0.01 * 1.2)
    assert dev["up_down"] == pytest.approx(-0.4 / 1.2)
    assert (dev["w_max"], dev["w_min"]) == (0.5, -0.5)
    assert (dev["dw_min_std"], dev["mult_noise"], dev["dw_min_dtod"]) == (0.1, False, 0.05)
    assert dev["w_max_dtod"] == dev["w_min_dtod"] == dev["up_down_dtod"] == 0.0  # aihwkit's defaults overridden
    assert m["update"] == {"desired_bl": 15, "fixed_bl": True, "update_management": True,
                           "update_bl_management": False, "pulse_type": "STOCHASTIC_COMPRESSED"}
    assert m["forward"] == m["backward"] == {"is_perfect": True}
    assert m["mapping"] == {"digital_bias": False}
    assert m["algorithm"]["config"] == "SingleRPUConfig"


def test_weaker_nonlinearity_maps_to_linear_step():
    m = aihwkit_fields(design(device={"nonlinearity": 0.5}))
    assert m["device_class"] == "LinearStepDevice"
    assert m["device"]["gamma_up"] == m["device"]["gamma_down"] == pytest.approx(0.5 / 1.5)


def test_algorithm_fields():
    tt = aihwkit_fields(design(update={"algorithm": {"kind": "tiki_taka", "transfer_every": 3,
                                                     "columns_per_transfer": 2, "transfer_lr": 0.2}}))["algorithm"]
    assert (tt["config"], tt["compound"]) == ("UnitCellRPUConfig", "TransferCompound")
    f = tt["fields"]
    assert (f["transfer_every"], f["n_reads_per_transfer"], f["transfer_lr"], f["scale_transfer_lr"]) == (3.0, 2, 0.2, False)
    assert f["units_in_mbatch"] and f["scale_fast_lr"] and f["fast_lr"] == 1.0 and f["gamma"] == 0.0
    assert f["transfer_update"]["desired_bl"] == 15 and f["transfer_forward"] == {"is_perfect": True}
    c = aihwkit_fields(design(update={"algorithm": {"kind": "c_ttv2", "buffer_threshold": 1.0,
                                                    "chopper_probability": 0.05}}))["algorithm"]
    assert c["compound"] == "ChoppedTransferCompound" and not c["notes"]
    f = c["fields"]
    assert (f["in_chop_prob"], f["buffer_granularity"], f["forget_buffer"], f["momentum"]) == (0.05, 1.0, False, 0.0)
    v2 = aihwkit_fields(design(update={"algorithm": {"kind": "ttv2", "buffer_threshold": 2.0}}))["algorithm"]
    assert v2["fields"]["in_chop_prob"] == 0.0 and v2["fields"]["buffer_granularity"] == 2.0
    assert v2["notes"] and "one pulse" in v2["notes"][0]


@pytest.mark.parametrize("kw, field", [
    ({"array": {"weight_mapping": "differential"}}, "array.weight_mapping"),
    ({"device": {"model": "linear_step"}}, "device.model"),
    ({"device": {"read_noise": 0.01}}, "device.read_noise"),
    ({"update": {"pulse": {"scheme": "deterministic"}}}, "update.pulse.scheme"),
    ({"update": {"rule": "accumulate"}}, "update.rule"),
    ({"io": {"forward": {"adc_bits": 8}}}, "io.forward"),
    ({"update": {"algorithm": {"kind": "ttv2", "buffer_decay": 0.1}}}, "update.algorithm.buffer_decay"),
    ({"update": {"algorithm": {"kind": "c_ttv2", "columns_per_transfer": 2}}}, "update.algorithm.columns_per_transfer"),
    ({"update": {"algorithm": {"kind": "mixed_precision"}}}, "update.algorithm.kind"),
    ({"update": {"algorithm": {"kind": "tiki_taka", "reference": "array"}}}, "update.algorithm.reference"),
])
def test_refuses_what_has_no_counterpart(kw, field):
    with pytest.raises(PimtrainError, match=field.replace(".", r"\.")) as e:
        aihwkit_fields(design(**kw))
    assert "\n" not in str(e.value)


def _one_cell(w0: float, up_down: float) -> object:
    d = design(device={"write_noise": 0.0, "d2d_variation": 0.0, "up_down": up_down})
    return make_core(torch.tensor([[w0]]), d, seed=0), aihwkit_fields(d)["device"]


def aihwkit_step(dev: dict, w: float, sign: float) -> float:
    """aihwkit 1.2.0's soft-bounds step at w (src/rpucuda/rpu_pulsed_device.cpp populate: up_bias / down_bias,
    rpu_linearstep_device.cpp: slope −scale/bound), without noise and spread."""
    ud = dev["up_down"]
    scale_up = dev["dw_min"] * (1 + min(ud, 0.0))
    scale_down = dev["dw_min"] * (1 - max(ud, 0.0))
    return scale_up * (1 - w / dev["w_max"]) if sign > 0 else scale_down * (1 - w / dev["w_min"])


@pytest.mark.parametrize("up_down", [-0.2, 0.3, 0.0])
@pytest.mark.parametrize("w0", [0.0, 0.2, -0.3])
def test_pimtrain_pulses_are_the_mapped_aihwkit_steps(w0, up_down):
    """pimtrain's stochastic update: ΔW = pulses × the mapped aihwkit device's step at W, in both directions."""
    core, dev = _one_cell(w0, up_down)
    for sign in (1.0, -1.0):
        before = float(core.get_weight())
        pulses_before = core.stats.get("update.pulses", 0)
        core.opu(torch.tensor([[1.0]]), torch.tensor([[-sign * 0.05]]), 1.0)  # ΔW requested = sign * 0.05
        n = core.stats["update.pulses"] - pulses_before
        assert n > 0
        step = aihwkit_step(dev, before, sign)
        assert float(core.get_weight()) - before == pytest.approx(sign * n * step, rel=1e-4, abs=1e-7)


def test_comparison_designs_all_map_and_join():
    for a in compare_aihwkit.ALGORITHM_SETTINGS:
        m = aihwkit_fields(compare_aihwkit.design_for(a))
        assert m["algorithm"]["notes"] == []  # the comparison's settings map without a caveat
    pim = {"tool": "pimtrain", "results": [{"algorithm": "sgd", "seed": s, "final_test_accuracy": v}
                                           for s, v in ((0, 0.6), (1, 0.7))]
           + [{"algorithm": "float", "seed": 0, "final_test_accuracy": 0.95}]}
    aih = {"tool": "aihwkit", "results": [{"algorithm": "sgd", "seed": 0, "final_test_accuracy": 0.5}]}
    j = compare_aihwkit.join(pim, aih)
    assert j["rows"][0]["difference_points"] == pytest.approx(15.0)
    md = compare_aihwkit.markdown(j, [0, 1], 3)
    assert "| sgd | 65.0 % (60.0–70.0) | 50.0 % | +15.0 |" in md and "float" in md
    with pytest.raises(PimtrainError, match="--algorithms"):
        compare_aihwkit.design_for("agad")


@pytest.mark.skipif(importlib.util.find_spec("aihwkit") is None, reason="aihwkit is not installed (separate venv)")
def test_aihwkit_builds_the_mapped_configs():  # pragma: no cover - runs in aihwkit's venv only
    import aihwkit_side

    for a in compare_aihwkit.ALGORITHM_SETTINGS:
        m = aihwkit_fields(compare_aihwkit.design_for(a))
        cfg = aihwkit_side.rpu_config(m, seed=0)
        dev = cfg.device if a == "sgd" else cfg.device.unit_cell_devices[0]
        assert dev.dw_min == pytest.approx(m["device"]["dw_min"]) and dev.w_max_dtod == 0.0
    # the steps aihwkit draws for the mapped device are pimtrain's: up 2·w_max·dw·(1+ud), down ·(1−ud)
    from aihwkit.nn import AnalogLinear

    d = compare_aihwkit.design_for("sgd")
    cfg = aihwkit_side.rpu_config(aihwkit_fields(d), seed=0)
    cfg.device.dw_min_dtod = 0.0
    hidden = next(AnalogLinear(3, 2, bias=False, rpu_config=cfg).analog_tiles()).get_hidden_parameters()
    pulse = 2 * d.array.w_max * d.device.dw_min
    assert torch.allclose(hidden["dwmin_up"], torch.full((2, 3), pulse * (1 + d.device.up_down)))
    assert torch.allclose(hidden["dwmin_down"], torch.full((2, 3), pulse * (1 - d.device.up_down)))
    assert torch.allclose(hidden["max_bound"], torch.full((2, 3), d.array.w_max))
