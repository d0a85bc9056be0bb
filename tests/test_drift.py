"""PCM drift: the power law, growing read noise, compensation, time parsing."""
from __future__ import annotations

import math

import pytest
import torch

from pimtrain.design import PimtrainError
from pimtrain.devices.drift import (PcmDrift, conductance_at, drift_coefficients, global_drift_compensation,
                                    parse_times, weights_at)

G_MAX = 25e-6


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_drift_follows_its_power_law_without_read_noise():
    g0 = torch.full((4000,), 0.5 * G_MAX)
    nu = drift_coefficients(g0 / G_MAX, gen(1))
    # at g = 0.5: mu = clip(-0.0155 ln 0.5 + 0.0244) = 0.049 (the floor), sigma = clip(0.0125 ln 2 - 0.0059) = 0.008
    assert abs(float(nu.mean()) - 0.049) < 0.001 and abs(float(nu.std()) - 0.008) < 0.001
    times = [1.0, 3600.0, 86400.0, 3.15e7]
    logs = [float(conductance_at(g0, nu, t, G_MAX, None).log().mean()) for t in times]
    xs = [math.log((t + 20.0) / 20.0) for t in times]
    for x, lg in zip(xs, logs):  # ln G(t) = ln G0 - nu ln((t + t0)/t0), exactly, cell by cell averaged
        assert lg == pytest.approx(math.log(0.5 * G_MAX) - float(nu.mean()) * x, rel=1e-5)
    slope = (logs[-1] - logs[0]) / (xs[-1] - xs[0])
    assert slope == pytest.approx(-float(nu.mean()), rel=1e-4)


def test_read_noise_grows_with_time():
    g0 = torch.full((20000,), 0.3 * G_MAX)
    nu = torch.zeros_like(g0)  # no drift: the spread is the read noise alone
    spreads = [float(conductance_at(g0, nu, t, G_MAX, gen(2)).std()) for t in (1.0, 3600.0, 3.15e7)]
    assert spreads[0] < spreads[1] < spreads[2]
    q = min(0.0088 / 0.3 ** 0.65, 0.2)
    expect = 0.3 * G_MAX * q * math.sqrt(math.log((3600.0 + 20.0 + 250e-9) / (2 * 250e-9)))
    assert spreads[1] == pytest.approx(expect, rel=0.03)


def test_weights_shrink_and_global_compensation_restores_a_uniform_drift():
    w = torch.randn(16, 32, generator=gen(3)) * 0.3
    spec = PcmDrift(read_noise_scale=0.0)
    nu = (torch.full_like(w, 0.05), torch.full_like(w, 0.05))
    wt = weights_at(w, 1.0, 86400.0, gen(4), spec, nu=nu)
    assert float(wt.abs().sum()) < float(w.abs().sum())
    x = torch.randn(64, 32, generator=gen(5))
    a = global_drift_compensation(w, wt, x)
    assert a == pytest.approx(((86400.0 + 20.0) / 20.0) ** 0.05, rel=1e-5)
    assert torch.allclose(wt * a, w, atol=1e-6)


def test_same_seed_same_drift():
    w = torch.randn(5, 7, generator=gen(6))
    assert torch.equal(weights_at(w, 3.0, 3600.0, gen(7)), weights_at(w, 3.0, 3600.0, gen(7)))


def test_parse_times():
    assert parse_times("1s,1h,1d,1y") == [1.0, 3600.0, 86400.0, 365.25 * 86400.0]
    assert parse_times("0.5,2min") == [0.5, 120.0]
    for bad in ("1 fortnight", "abc", ""):
        with pytest.raises(PimtrainError, match="--eval-at"):
            parse_times(bad)
    with pytest.raises(PimtrainError, match="read_time"):
        conductance_at(torch.ones(2), torch.zeros(2), -1.0, 1.0, None)


def test_accuracy_at_reads_drifted_weights_and_puts_the_cores_back():
    from pimtrain.design import load_design
    from pimtrain.nn import AnalogLinear
    from pimtrain.nn.drift_eval import accuracy_at
    from pimtrain.nn.trainer import evaluate

    torch.manual_seed(0)
    d = load_design("ideal")
    l1, l2 = AnalogLinear(10, 16, bias=False, design=d), AnalogLinear(16, 3, bias=False, design=d)
    l1.core.set_weight(torch.randn(16, 10, generator=gen(8)) * 2.0)
    l2.core.set_weight(torch.randn(3, 16, generator=gen(9)) * 2.0)
    model = torch.nn.Sequential(l1, torch.nn.Sigmoid(), l2)
    x = torch.randn(400, 10, generator=gen(10))
    with torch.no_grad():
        y = model(x).argmax(1)  # the network's own labels: accuracy 1 as programmed
    layer = l1
    before = layer.core
    assert evaluate(model, x, y) == 1.0
    rows = accuracy_at(model, x, y, [1.0, 3.15e7], seed=0)
    assert layer.core is before and evaluate(model, x, y) == 1.0  # the trained cores are put back
    assert [r["t_s"] for r in rows] == [1.0, 3.15e7]
    assert rows[0]["accuracy"] > 0.9 and rows[1]["accuracy"] < rows[0]["accuracy"]  # a year of drift costs accuracy
    assert rows[1]["accuracy_compensated"] > rows[1]["accuracy"]  # the global output scale (per layer) recovers some
    assert rows == accuracy_at(model, x, y, [1.0, 3.15e7], seed=0)  # same seed, same numbers
