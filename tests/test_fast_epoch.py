"""The numba epoch driver (pimtrain/nn/fast_epoch.py, pimtrain/xbar/fast/mlp.py) against the module path."""
from __future__ import annotations

import logging

import pytest
import torch

from pimtrain.bench import bench_design
from pimtrain.nn.convert import analog_layers
from pimtrain.nn.fast_epoch import FastMlpEpoch, epoch_driver
from pimtrain.nn.models import cnn, mlp
from pimtrain.nn.trainer import setup_analog

from _data import small_digits

pytest.importorskip("numba")

COUNTS = ("vmm_calls", "mvm_calls", "opu_calls", "samples_updated", "update_events", "vectors_forward",
          "vectors_backward", "forward.conversions", "backward.conversions", "dac_conversions", "adc_conversions",
          "activity_vectors_forward", "activity_vectors_backward")


pytestmark = pytest.mark.usefixtures("fast_path_default")


@pytest.fixture(scope="module")
def digits():
    return small_digits(120)


def _design(model="soft_bounds", noise=False, scheme="deterministic"):
    d = bench_design("outer_product")
    d.device.model = model
    d.update.pulse.scheme = scheme
    if not noise:
        d.device.read_noise = d.device.write_noise = d.device.d2d_variation = 0.0
    else:
        d.device.write_noise, d.device.d2d_variation = 0.1, 0.1
    return d


def _session(design, data, module: bool, seed=0, batch=1, model=None, act="sigmoid"):
    s = setup_analog(design, data, model=model or (lambda: mlp([64, 16, 10], activation=act)), batch_size=batch,
                     lr=0.05, seed=seed)
    if module:
        s._fast_epoch = None  # the module path (autograd, core.vmm / mvm / opu with the per-sample numba update)
    return s


@pytest.mark.parametrize("model,scheme,act,levels", [("soft_bounds", "deterministic", "sigmoid", None),
                                                     ("linear_step", "deterministic", "relu", None),
                                                     ("soft_bounds", "none", "tanh", None),
                                                     ("soft_bounds", "deterministic", "sigmoid", 256)])
def test_noise_off_same_losses_weights_and_counts(digits, model, scheme, act, levels):
    """Noise off: the driver computes the module path's step; only the read products' summation order differs
    (float32 rounding), so losses and weights agree to rounding and the counts are equal."""
    design = _design(model, scheme=scheme)
    design.device.levels = levels
    fast = _session(design, digits, False, act=act)
    slow = _session(design, digits, True, act=act)
    assert isinstance(epoch_driver(fast), FastMlpEpoch)
    lf, ls = fast.run_epoch(), slow.run_epoch()
    assert torch.allclose(lf, ls, rtol=1e-4, atol=1e-5)
    for a, b in zip(analog_layers(fast.model), analog_layers(slow.model)):
        assert torch.allclose(a.core.get_weight(), b.core.get_weight(), atol=1e-5)
        sa, sb = a.core.stats, b.core.stats
        for k in COUNTS:
            assert sa.get(k) == sb.get(k), k
        for k in ("update.pulses", "cells_updated", "input_sum_forward", "input_sum_backward"):
            assert sa.get(k, 0) == pytest.approx(sb.get(k, 0), rel=1e-3), k


def test_noise_on_deterministic_per_seed_and_close_to_module_path(digits):
    runs = []
    for module, seed in ((False, 3), (False, 3), (False, 4), (True, 3)):
        s = _session(_design(noise=True), digits, module, seed=seed)
        losses = torch.cat([s.run_epoch() for _ in range(2)])
        runs.append((losses, [la.core.get_weight() for la in analog_layers(s.model)]))
    (l1, w1), (l2, w2), (l3, _), (lm, _) = runs
    assert torch.equal(l1, l2) and all(torch.equal(a, b) for a, b in zip(w1, w2))
    assert not torch.equal(l1, l3)
    # statistically the same training: the mean loss of the second epoch within a few per cent of the module path's
    assert float(l1[120:].mean()) == pytest.approx(float(lm[120:].mean()), rel=0.1)


def test_read_noise_statistics_match_the_core():
    """The driver's read kernel: DAC, product, output-referred read noise, ADC — mean and spread of many reads
    equal the core's torch read of the same vector."""
    import numpy as np

    from pimtrain.xbar.core import AnalogCore
    from pimtrain.xbar.fast.mlp import quantize_vec, read

    d = _design()
    d.device.read_noise = 0.05
    torch.manual_seed(0)
    core = AnalogCore(torch.randn(8, 40) * 0.3, d, seed=1)
    x = torch.rand(1, 40)
    ys_t = torch.stack([core.vmm(x)[0] for _ in range(4000)])
    w = core.wk[0].numpy()
    g = np.random.default_rng(0)
    st = np.zeros(4)
    ys_f = []
    for _ in range(4000):
        xq = x[0].numpy().copy()
        quantize_vec(xq, 127, 0.0, st, 2)
        y = np.zeros(8, np.float32)
        read(xq, w, True, g.standard_normal(8).astype(np.float32), float(core.read_sigma_w), y)
        quantize_vec(y, 127, 0.0, st, 3)
        ys_f.append(y)
    ys_f = torch.from_numpy(np.stack(ys_f))
    sd = ys_t.std(0)
    assert torch.all((ys_f.mean(0) - ys_t.mean(0)).abs() < 5 * sd / 4000 ** 0.5 + 1e-3)
    assert torch.all((ys_f.std(0) / sd - 1).abs() < 0.15)


def test_falls_back_and_says_why(digits, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="pimtrain")
    # batch > 1: the batch driver (pimtrain/nn/batch_epoch.py, tests/test_batch_epoch.py), not the numba one
    assert type(epoch_driver(_session(_design(), digits, False, batch=4))).__name__ == "BatchMlpEpoch"
    assert "batch 4 MLP steps without autograd" in caplog.text
    s = _session(_design(), digits, False, model=lambda: cnn((1, 8, 8), 10))
    assert epoch_driver(s) is None and "model layer" in caplog.text
    s.run_epoch()  # the module path still trains it
    monkeypatch.setenv("PIMTRAIN_FAST", "0")
    assert epoch_driver(_session(_design(), digits, False)) is None
    assert "PIMTRAIN_FAST=0" in caplog.text


def test_state_after_a_fast_epoch_resumes_on_the_module_path(digits):
    """The driver writes state, cache and counters back into the cores: a module-path epoch continues from them."""
    s = _session(_design(), digits, False)
    s.run_epoch()
    core = analog_layers(s.model)[0].core
    assert torch.equal(core.wk[0], core.enc.decode(core.c))  or torch.allclose(core.wk[0], core.enc.decode(core.c),
                                                                               atol=1e-6)
    assert core.stats["opu_calls"] == 120
    s._fast_epoch = None
    s.run_epoch()
    assert core.stats["opu_calls"] == 240 and core.stats["vmm_calls"] >= 240


def test_same_numbers_with_and_without_a_progress_display(digits):
    runs = []
    for advance in (None, lambda k: None):
        s = _session(_design(noise=True), digits, False, seed=7)
        runs.append(s.run_epoch(advance))
    assert torch.equal(runs[0], runs[1])
