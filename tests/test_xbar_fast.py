"""The CPU fast path (pimtrain/xbar/fast, numba) against the torch path of AnalogCore's per-sample update."""
from __future__ import annotations

import pytest
import torch

from pimtrain.bench import bench_design
from pimtrain.xbar.core import AnalogCore
from pimtrain.xbar.fast import FastRank1, refusal

pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def _fast_on(monkeypatch):
    """The fast path is the default on CPU (whatever the caller's environment says); the epoch driver is off here
    (these tests hold the per-sample update kernel against the torch path; tests/test_fast_epoch.py the driver)."""
    monkeypatch.delenv("PIMTRAIN_FAST", raising=False)
    monkeypatch.setenv("PIMTRAIN_FAST_EPOCH", "0")


def test_fast_path_is_default_and_fast_0_forces_torch(monkeypatch):
    from pimtrain.design import load_design

    core = AnalogCore(torch.zeros(4, 3), load_design("marinella2018-analog"), seed=0)
    assert isinstance(core._update, FastRank1) and refusal(core) is None
    monkeypatch.setenv("PIMTRAIN_FAST", "0")
    core = AnalogCore(torch.zeros(4, 3), load_design("marinella2018-analog"), seed=0)
    assert "PIMTRAIN_FAST=0" in refusal(core)
    assert not isinstance(core._update, FastRank1)


def _design(model="soft_bounds", scheme="deterministic", noise=False, d2d=False, alpha=1.0, ud=-0.2):
    d = bench_design("outer_product")
    d.device.model = model
    d.device.nonlinearity = alpha
    d.device.up_down = ud
    d.update.pulse.scheme = scheme
    d.device.write_noise = 0.1 if noise else 0.0
    d.device.read_noise = 0.0
    d.device.d2d_variation = 0.1 if d2d else 0.0
    return d


def _pair(design, seed=3, n_in=30, n_out=10):
    torch.manual_seed(0)
    w = torch.randn(n_out, n_in) * 0.3
    fast = AnalogCore(w, design, seed=seed)
    slow = AnalogCore(w, design, seed=seed)
    slow._update = slow._update_rank1
    assert isinstance(fast._update, FastRank1)
    return fast, slow


def _data(n=150, n_in=30, n_out=10, sparse=True, seed=1):
    g = torch.Generator().manual_seed(seed)
    xs = torch.rand(n, n_in, generator=g)
    if sparse:
        xs[:, : n_in // 4] = 0.0  # rows without pulses (the row-sparse write)
    xs[::7] *= -1.0  # samples of negative sign
    xs[::11, 0] = 0.5 if not sparse else 0.0
    ds = torch.randn(n, n_out, generator=g)
    ds[::13] = 0.0  # a sample without an error: no write
    return xs, ds


CASES = [("soft_bounds", "deterministic", 1.0, -0.2), ("soft_bounds", "none", 0.6, 0.1),
         ("linear_step", "deterministic", 0.0, -0.2), ("linear_step", "none", 0.0, 0.0),
         ("soft_bounds", "deterministic", 0.0, 0.3)]


@pytest.mark.parametrize("model,scheme,alpha,ud", CASES)
@pytest.mark.parametrize("sparse", [True, False])
def test_noise_off_identical_weights_and_counts(model, scheme, alpha, ud, sparse):
    fast, slow = _pair(_design(model, scheme, d2d=True, alpha=alpha, ud=ud))
    xs, ds = _data(sparse=sparse)
    for i in range(xs.shape[0]):  # one epoch at batch 1, then a batch of 4 (applied sample by sample)
        for core in (fast, slow):
            core.opu(xs[i:i + 1], ds[i:i + 1], 0.5)
    for core in (fast, slow):
        core.opu(xs[:4], ds[:4], 0.5)
    assert torch.equal(fast.c, slow.c)
    assert torch.equal(fast.get_weight(), slow.get_weight())
    assert torch.equal(fast.wk, slow.wk)
    sf, ss = fast.stats, slow.stats
    assert sf["pulses"] > 0 or scheme == "none"
    for k in set(sf) | set(ss):
        assert sf.get(k) == ss.get(k), k


def test_noise_on_deterministic_per_seed_and_statistically_equal():
    design = _design(noise=True, d2d=True)
    torch.manual_seed(0)
    w = torch.zeros(4, 64)
    x = torch.full((1, 64), 0.5)
    x[0, :16] = 0.0  # rows without pulses: the torch path's noise window spans the pulsed rows only, so streams differ
    d = torch.full((1, 4), 1.0)
    runs = {}
    for name, seed in (("fast", 5), ("fast_again", 5), ("slow", 5)):
        core = AnalogCore(w, design, seed=seed)
        if name == "slow":
            core._update = core._update_rank1
        w0 = core.get_weight()
        core.opu(x, d, 0.02)
        runs[name] = (core.get_weight() - w0)[:, 16:].flatten()
    assert torch.equal(runs["fast"], runs["fast_again"])
    a, b = runs["fast"], runs["slow"]
    assert not torch.equal(a, b)  # the noise streams differ
    n = a.numel()
    assert abs(float(a.mean() - b.mean())) < 4 * float(b.std()) * (2.0 / n) ** 0.5 + 1e-6
    assert 0.7 < float(a.std() / b.std()) < 1.4


@pytest.mark.parametrize("field,value,word", [("device.model", "ideal", None),
                                              ("update.pulse.scheme", "stochastic", "scheme"),
                                              ("update.weight_copies", 2, "weight_copies"),
                                              ("device.model", "binary", "binary")])
def test_refusal_names_the_field(field, value, word):
    d = _design()
    obj = d
    *head, last = field.split(".")
    for h in head:
        obj = getattr(obj, h)
    setattr(obj, last, value)
    core = AnalogCore(torch.zeros(3, 5), d, seed=0)
    assert not isinstance(getattr(core, "_update", None), FastRank1)
    if word:
        assert word in refusal(core)


def _taox(scheme="deterministic"):
    try:
        d = bench_design("outer_product", "lookup_table")
    except Exception as e:  # the TaOx tables live in the shared data folder
        pytest.skip(f"TaOx preset not loadable here: {e}")
    d.device.read_noise = 0.0
    d.update.pulse.scheme = scheme
    return d


@pytest.mark.parametrize("scheme", ["deterministic", "none"])
@pytest.mark.parametrize("sparse", [True, False])
def test_lookup_table_spread_off_identical(scheme, sparse):
    """TaOx tables with their cycle-to-cycle spread (the D table) zeroed: both paths bit-identical."""
    fast, slow = _pair(_taox(scheme))
    for core in (fast, slow):
        core.devices[0].D.zero_()
    xs, ds = _data(sparse=sparse)
    for i in range(xs.shape[0]):
        for core in (fast, slow):
            core.opu(xs[i:i + 1], ds[i:i + 1], 0.5)
    assert torch.equal(fast.c, slow.c) and torch.equal(fast.wk, slow.wk)
    sf, ss = fast.stats, slow.stats
    for k in set(sf) | set(ss):
        assert sf.get(k) == ss.get(k), k


def test_lookup_table_spread_on_deterministic_and_statistically_equal():
    d = _taox()
    w = torch.zeros(4, 64)
    x = torch.full((1, 64), 0.5)
    x[0, :16] = 0.0  # rows without pulses: the torch path's noise window spans the pulsed rows only, so streams differ
    dd = torch.full((1, 4), 1.0)
    runs = {}
    for name in ("fast", "fast_again", "slow"):
        core = AnalogCore(w, d, seed=5)
        if name == "slow":
            core._update = core._update_rank1
        w0 = core.get_weight()
        core.opu(x, dd, 0.02)
        runs[name] = (core.get_weight() - w0)[:, 16:].flatten()
    assert torch.equal(runs["fast"], runs["fast_again"])
    a, b = runs["fast"], runs["slow"]
    assert not torch.equal(a, b)
    assert abs(float(a.mean() - b.mean())) < 4 * float(b.std()) * (2.0 / a.numel()) ** 0.5 + 1e-6
    assert 0.7 < float(a.std() / b.std()) < 1.4


def test_training_uses_fast_path_and_matches_torch_path(monkeypatch):
    """A short MLP epoch at batch 1 on 200 digits: fast and torch paths give the same loss and weights (noise off)."""
    import dataclasses

    from pimtrain.nn import load_dataset, train
    from pimtrain.nn.models import mlp
    from pimtrain.xbar import fast as fastpkg

    full = load_dataset("digits", seed=0)
    data = dataclasses.replace(full, train_x=full.train_x[:200], train_y=full.train_y[:200],
                               test_x=full.test_x[:50], test_y=full.test_y[:50])
    design = _design(d2d=True)
    design.device.read_noise = 0.01  # reads are on the torch path either way: same stream

    def run():
        return train(design, data, model=mlp([64, 16, 10], activation="sigmoid"), epochs=1, batch_size=1, seed=0,
                     progress=False, lr=0.05)

    run()  # the first train() of a process differs from later ones on either path (a pre-existing effect): warm up
    calls = []
    real = fastpkg.update.FastRank1.__call__
    monkeypatch.setattr(fastpkg.update.FastRank1, "__call__", lambda self, *a: calls.append(1) or real(self, *a))
    r1 = run()
    assert len(calls) == 2 * 200  # two layers, one call per sample
    monkeypatch.setattr(fastpkg, "select_rank1", lambda core: None)
    r2 = run()
    assert r1.epochs[-1]["train_loss"] == r2.epochs[-1]["train_loss"]
    assert r1.epochs[-1]["test_accuracy"] == r2.epochs[-1]["test_accuracy"]


DENSE_CASES = [("soft_bounds", 1.0, -0.2, "deterministic", "differential"), ("soft_bounds", 0.6, 0.1, "none", "differential"),
               ("linear_step", 0.0, -0.2, "deterministic", "differential"), ("linear_step", 0.0, 0.0, "none", "offset"),
               ("soft_bounds", 0.0, 0.3, "deterministic", "offset")]


@pytest.mark.parametrize("model,alpha,ud,scheme,mapping", DENSE_CASES)
@pytest.mark.parametrize("sparse", [True, False])
def test_batch_write_noise_off_identical(model, alpha, ud, scheme, mapping, sparse):
    """accumulate at batch 8 (rows without input skipped when sparse): the numba batch write and the torch path give
    bit-identical states, caches and counts with write noise off (d2d on)."""
    from pimtrain.xbar.fast import FastDense

    d = _design(model, scheme, d2d=True, alpha=alpha, ud=ud)
    d.update.rule = "accumulate"
    d.array.weight_mapping = mapping
    torch.manual_seed(0)
    w = torch.randn(10, 30) * 0.3
    fast, slow = AnalogCore(w, d, seed=3), AnalogCore(w, d, seed=3)
    slow._update = slow._update_batch
    assert isinstance(fast._update, FastDense)
    g = torch.Generator().manual_seed(1)
    for _ in range(30):
        x = torch.rand(8, 30, generator=g)
        if sparse:
            x[:, :7] = 0.0
        dd = torch.randn(8, 10, generator=g)
        for core in (fast, slow):
            core.opu(x, dd, 0.5)
    assert torch.equal(fast.c, slow.c) and torch.equal(fast.wk, slow.wk)
    sf, ss = fast.stats, slow.stats
    for k in set(sf) | set(ss):
        assert sf.get(k) == ss.get(k), k


def test_batch_write_noise_on_deterministic_and_statistically_equal():
    """Write noise on: the batch write draws the torch path's noise window; the two agree to float32 rounding (the
    torch path's broadcast kernels round a few products differently), and the fast one is deterministic."""
    d = _design(noise=True, d2d=True)
    d.update.rule = "accumulate"
    w = torch.zeros(6, 40)
    runs = []
    for torch_path in (False, False, True):
        core = AnalogCore(w, d, seed=2)
        if torch_path:
            core._update = core._update_batch
        g = torch.Generator().manual_seed(0)
        for _ in range(10):
            core.opu(torch.rand(4, 40, generator=g), torch.randn(4, 6, generator=g), 0.2)
        runs.append(core.get_weight())
    assert torch.equal(runs[0], runs[1])
    assert torch.allclose(runs[0], runs[2], atol=1e-6)


def test_batch_write_refusal_names_the_field():
    from pimtrain.xbar.fast.update import dense_refusal

    d = _design()
    d.update.rule = "accumulate"
    d.device.model = "binary"
    core = AnalogCore(torch.zeros(3, 5), d, seed=0)
    assert "device.model" in dense_refusal(core)


@pytest.mark.parametrize("taox", [False, True])
def test_rows_of_one_call_in_numba_equal_the_per_row_loop(taox):
    """A call with several rows (a batch or a convolution's patches) goes to numba at once: same states, caches,
    counts and noise windows (write noise or quantile bytes on) as the per-row loop."""
    d = _taox() if taox else _design(noise=True, d2d=True)
    fast, loop = _pair(d)
    loop._update = FastRank1(loop)
    loop._update._batched = lambda count: False
    xs, ds = _data(n=64)
    for i in range(0, 64, 16):
        for core in (fast, loop):
            core.opu(xs[i:i + 16], ds[i:i + 16], 0.5)
    assert torch.equal(fast.c, loop.c) and torch.equal(fast.wk, loop.wk)
    sf, sl = fast.stats, loop.stats
    for k in set(sf) | set(sl):
        assert sf.get(k) == sl.get(k), k


@pytest.mark.parametrize("rule", ["outer_product", "accumulate"])
@pytest.mark.parametrize("levels,stuck", [(16, False), (None, True), (64, True)])
def test_levels_and_stuck_cells_noise_off_identical(rule, levels, stuck):
    """Finite levels and stuck cells on the fast path (per sample, the rows of one call, the batch write):
    bit-identical to the torch path with noise off."""
    d = _design(d2d=True)
    d.update.rule = rule
    d.device.levels = levels
    if stuck:
        d.device.stuck_at.at_gmin, d.device.stuck_at.at_gmax = 0.05, 0.05
    fast, slow = _pair(d) if rule == "outer_product" else (None, None)
    if rule == "accumulate":
        torch.manual_seed(0)
        w = torch.randn(10, 30) * 0.3
        fast, slow = AnalogCore(w, d, seed=3), AnalogCore(w, d, seed=3)
        slow._update = slow._update_batch
    from pimtrain.xbar.fast import FastDense

    assert isinstance(fast._update, FastRank1 if rule == "outer_product" else FastDense)
    xs, ds = _data(n=60)
    for i in range(0, 60, 4):
        for core in (fast, slow):
            core.opu(xs[i:i + 1], ds[i:i + 1], 0.5)
            core.opu(xs[i + 1:i + 4], ds[i + 1:i + 4], 0.5)
    assert torch.equal(fast.c, slow.c) and torch.equal(fast.wk, slow.wk)
    sf, ss = fast.stats, slow.stats
    for k in set(sf) | set(ss):
        assert sf.get(k) == ss.get(k), k
