"""PCM pair refresh (device.refresh_threshold): read, RESET both, re-program the difference; counted and costed.
The drift model's design fields (device.drift) and the PCM / ECRAM presets."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from pimtrain.cost import build_hardware, evaluate
from pimtrain.design import load_design, preset_names
from pimtrain.design.models import Design
from pimtrain.mapping import measured_counts
from pimtrain.xbar import make_core


def design(thr=0.75, **dev) -> Design:
    return Design.model_validate({"name": "p", "compute": "analog", "array": {"w_max": 1.0},
                                  "device": {"model": "pcm", "dw_min": 0.01, "nonlinearity": 0.0,
                                             "refresh_threshold": thr, **dev},
                                  "update": {"rule": "accumulate"}})


def test_refresh_resets_both_and_reprograms_the_difference_by_hand():
    core = make_core(torch.zeros(1, 2), design(thr=0.75))
    # put the pairs by hand: (G+, G-) fractions of the range (0.8, 0.5) and (0.3, 0.2); centred c = fraction - 0.5
    core.c[0, :, 0, 0] = torch.tensor([0.3, -0.2])
    core.c[0, :, 1, 0] = torch.tensor([0.0, -0.3])
    core.refresh_weights()
    x = torch.tensor([[1.0, 0.0]])
    core.opu(x, torch.zeros(1, 1), 0.1)  # a zero update: nothing moves, then the refresh looks at every pair
    c = core.c[0, :, :, 0]
    # input 0: G+ at 0.8 >= 0.75 -> both RESET to the bottom (-0.5), the difference 0.3 re-programmed onto G+
    assert torch.allclose(c[0], torch.tensor([-0.5 + 0.3, -0.5]), atol=1e-6)
    # input 1: (0.3, 0.2) below the threshold: untouched
    assert torch.allclose(c[1], torch.tensor([-0.2, -0.3]), atol=1e-6)
    s = core.stats
    assert (s["refresh.pairs"], s["refresh.cells_reset"], s["refresh.cells_programmed"], s["refresh.rows"]) == (1, 2, 1, 1)
    assert torch.allclose(core.get_weight(), torch.tensor([[0.3, 0.1]]), atol=1e-6)  # the weights kept


def test_refresh_keeps_a_pair_learning():
    x = torch.ones(1, 1)
    out = {}
    for thr in (None, 0.75):
        core = make_core(torch.zeros(1, 1), design(thr=thr))
        for _ in range(150):  # alternating updates climb both devices; then the weight must still move up
            core.opu(x, torch.full((1, 1), -1.0), 0.05)
            core.opu(x, torch.full((1, 1), 1.0), 0.05)
        w0 = float(core.get_weight())
        for _ in range(10):
            core.opu(x, torch.full((1, 1), -1.0), 0.05)
        out[thr] = float(core.get_weight()) - w0
    assert out[None] < 0.01  # saturated without refresh
    assert out[0.75] > 0.04  # with refresh: about 10 steps of 0.005 (one pulse of 0.01 split over the pair)


def test_refresh_is_charged_from_the_counts():
    d = design(thr=0.6)
    core = make_core(torch.zeros(3, 4), d)
    g = torch.Generator().manual_seed(0)
    for _ in range(60):
        core.opu(torch.rand(2, 4, generator=g), torch.randn(2, 3, generator=g), 0.5)
    m = measured_counts(core.stats)
    r = m["refresh"]
    assert r["refresh.pairs"] > 0
    wl = SimpleNamespace(name="one", layers=[SimpleNamespace(name="fc", out_features=3, in_features=4, reuse=1,
                                                             kind="linear")])
    with_r = evaluate(d, wl, batch_size=2, counts={"fc": m})
    m0 = {k: v for k, v in m.items() if k != "refresh"}
    without = evaluate(d, wl, batch_size=2, counts={"fc": m0})
    xbar = build_hardware(d).first("array")
    e_r, _ = xbar.read_rows(r["refresh.cells_read"], r["refresh.rows"])
    e_w, _ = xbar.program_rows(r["refresh.cells_reset"] + r["refresh.cells_programmed"], 2 * r["refresh.rows"])
    got = with_r.kernel["update"]["energy_j"] - without.kernel["update"]["energy_j"]
    assert got == pytest.approx(e_r + e_w, rel=1e-9) and got > 0


def test_drift_fields_are_validated():
    d = Design.model_validate({"name": "t", "device": {"model": "pcm", "drift": {"model": "pcm", "read_time": "1 day",
                                                                                  "compensation": "global"}}})
    assert d.device.drift.read_time == 86400.0
    for bad in ({"read_time": "1 s"}, {"model": "pcm", "read_time": "-1 s"}, {"model": "pcm", "read_time": "3 V"},
                {"model": "lognormal"}, {"model": "pcm", "compensation": "local"}):
        with pytest.raises(ValueError, match="drift"):
            Design.model_validate({"name": "t", "device": {"drift": bad}})
    with pytest.raises(ValueError, match="refresh_threshold"):
        Design.model_validate({"name": "t", "device": {"model": "soft_bounds", "refresh_threshold": 0.7}})


def test_pcm_and_ecram_presets_are_registered():
    assert {"pcm-differential", "ecram-analog"} <= set(preset_names())
    pcm = load_design("pcm-differential")
    assert pcm.device.model == "pcm" and pcm.device.refresh_threshold == 0.75 and pcm.device.drift.model == "pcm"
    ecram = load_design("ecram-analog")
    assert ecram.device.dw_min == 0.001 and ecram.device.up_down == 0.0


def test_refresh_needs_differential_pairs_of_one_slice():
    from pimtrain.design import PimtrainError

    d = Design.model_validate({"name": "p", "compute": "analog", "array": {"w_max": 1.0, "weight_mapping": "offset"},
                               "device": {"model": "pcm", "dw_min": 0.01, "refresh_threshold": 0.75},
                               "update": {"rule": "accumulate"}})
    with pytest.raises(PimtrainError, match="device.refresh_threshold"):
        make_core(torch.zeros(2, 2), d)
