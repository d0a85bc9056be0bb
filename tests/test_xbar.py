"""AnalogCore / DigitalCore numerics: ideal equivalence, quantisers, carry, seeds, pulses."""
from __future__ import annotations

import logging

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pimtrain.design import load_design
from pimtrain.design.models import Design, RangeSpec
from pimtrain.xbar import AdcQuantizer, AnalogCore, DacQuantizer, DigitalCore, make_core


def rand(*shape, seed=0, scale=1.0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale


def design(**blocks) -> Design:
    """A non-ideal analog design built from keyword blocks (device=..., io=..., update=..., array=...)."""
    base = {"name": "t", "compute": "analog", "array": {"w_max": 1.0, "rows": 1024, "cols": 1024}}
    for k, v in blocks.items():
        base[k] = {**base.get(k, {}), **v} if isinstance(v, dict) else v
    return Design.model_validate(base)


# ------------------------------------------------------------------------------------------- ideal
def test_ideal_core_equals_float_math():
    d = load_design("ideal")
    w = rand(7, 13, seed=1)
    core = make_core(w, d)
    assert isinstance(core, AnalogCore) and core.shape == (7, 13)
    assert "ideal" in core.fast_path
    x, g = rand(5, 13, seed=2), rand(5, 7, seed=3)
    assert torch.equal(core.vmm(x), x @ w.t())
    assert torch.equal(core.mvm(g), g @ w)
    ref = w.clone()
    ref.add_(g.t() @ x, alpha=-0.1)  # what torch.optim.SGD does with the autograd gradient
    core.opu(x, g, 0.1)
    assert torch.equal(core.get_weight(), ref)


def test_ideal_training_matches_float_training():
    torch.manual_seed(0)
    lin = torch.nn.Linear(20, 4, bias=False)
    core = make_core(lin.weight.data, load_design("ideal"))
    opt = torch.optim.SGD(lin.parameters(), lr=0.05)
    for i in range(10):
        x, t = rand(8, 20, seed=10 + i), rand(8, 4, seed=30 + i)
        opt.zero_grad()
        y = lin(x)
        ((y - t) ** 2).sum().backward()
        opt.step()
        yc = core.vmm(x)
        assert torch.equal(yc, y.detach())
        core.opu(x, 2 * (yc - t), 0.05)
    assert torch.allclose(core.get_weight(), lin.weight.data, atol=1e-6, rtol=0)


def test_ideal_device_nonfast_path_close_to_float():
    """Ideal device but a quantity that disables the fast path (slicing): still float math."""
    d = design(device={"model": "ideal"}, update={"rule": "accumulate", "slicing": {"slices": 2, "base": 16}})
    w = rand(6, 9, seed=4, scale=0.05)
    core = make_core(w, d)
    assert not core.fast_path.startswith("ideal")
    x, g = rand(3, 9, seed=5), rand(3, 6, seed=6)
    assert torch.allclose(core.vmm(x), x @ w.t(), atol=1e-6)
    assert torch.allclose(core.mvm(g), g @ w, atol=1e-6)
    core.opu(x, g, 0.01)
    assert torch.allclose(core.get_weight(), w - 0.01 * g.t() @ x, atol=1e-6)


def test_fast_path_is_logged_once(caplog):
    caplog.set_level(logging.INFO, logger="pimtrain")
    d = design(device={"model": "soft_bounds"}, io={"forward": {"adc_bits": 5}})
    d.name = "log-once-check"
    make_core(rand(3, 3), d)
    make_core(rand(3, 3), d, layer_index=1)
    msgs = [r.message for r in caplog.records if "log-once-check" in r.message]
    assert len(msgs) == 1


# ------------------------------------------------------------------------------------------ quantisers
def test_adc_levels_and_clipping():
    adc = AdcQuantizer(3, RangeSpec(policy="fixed", value=1.0))  # n = 3 levels per sign
    y = torch.tensor([-2.0, -0.9, -0.2, 0.0, 0.1, 0.5, 0.95, 5.0])
    q = adc(y)
    assert set((q * 3).round().tolist()) <= {-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0}
    assert q.abs().max() == 1.0
    assert adc.clipped_count() == 2
    assert torch.allclose(q, torch.tensor([-1.0, -1.0, -1 / 3, 0.0, 0.0, 2 / 3, 1.0, 1.0]))


def test_dac_batch_max_never_clips_and_calibrated_fixes_range():
    dac = DacQuantizer(8, RangeSpec(policy="batch_max"))
    x = rand(4, 50, seed=7)
    assert (dac(x) - x).abs().max() <= x.abs().max() / 127 / 2 + 1e-7
    cal = DacQuantizer(8, RangeSpec(policy="calibrated", calibration_batches=2))
    cal(x)
    cal(x * 2)
    r = float(cal.range.calibrated)
    assert r == pytest.approx(1.5 * x.abs().max().item(), rel=1e-6)
    cal(x * 10)
    assert cal.clipped_count() > 0


@settings(max_examples=25, deadline=None)
@given(bits=st.integers(min_value=2, max_value=12), seed=st.integers(min_value=0, max_value=10_000))
def test_more_bits_smaller_error(bits, seed):
    y = rand(64, seed=seed)
    lo = AdcQuantizer(bits, RangeSpec(policy="batch_max"))(y)
    hi = AdcQuantizer(bits + 2, RangeSpec(policy="batch_max"))(y)
    e_lo, e_hi = (lo - y).abs(), (hi - y).abs()
    r = y.abs().max()
    # half an LSB, plus float32 rounding of values of size r (one ulp: at 11-12 bits it exceeds 1e-5 of the LSB)
    assert e_lo.max() <= r / ((1 << (bits - 1)) - 1) / 2 * (1 + 1e-5) + r * 1.2e-7
    assert (e_hi ** 2).mean() <= (e_lo ** 2).mean() + 1e-12


def test_adc_per_array_tiles():
    """With two row tiles the partial sums are converted separately, then summed."""
    d = design(device={"model": "ideal"}, array={"rows": 8}, io={"forward": {"adc_bits": 4}},
               update={"rule": "accumulate"})
    w = rand(5, 16, seed=8, scale=0.2)
    core = make_core(w, d)
    x = rand(3, 16, seed=9)
    y = core.vmm(x)
    p1, p2 = x[:, :8] @ w[:, :8].t(), x[:, 8:] @ w[:, 8:].t()
    q = lambda p: AdcQuantizer(4, RangeSpec(policy="batch_max"))(p)
    assert torch.allclose(y, q(p1) + q(p2), atol=1e-6)
    assert core.stats["adc_conversions"] == 2 * 3 * 5


def test_read_noise_statistics():
    d = design(device={"model": "ideal", "read_noise": 0.01}, update={"rule": "accumulate"})
    w = torch.zeros(200, 100)
    core = make_core(w, d)
    x = torch.ones(50, 100)
    y = core.vmm(x)
    # differential pair: std = w_max * sqrt(2) * sigma * ||x||
    assert y.std().item() == pytest.approx(1.0 * 2 ** 0.5 * 0.01 * 10.0, rel=0.05)
    assert torch.equal(core.get_weight(), w)  # reads do not disturb the stored weight


# ---------------------------------------------------------------------------------------- update path
def test_outer_product_batch_is_sequential_rank1():
    d = design(device={"model": "soft_bounds", "write_noise": 0.0}, update={"rule": "outer_product"})
    w = rand(6, 10, seed=10, scale=0.3)
    x, g = rand(4, 10, seed=11).abs(), rand(4, 6, seed=12)
    a, b = make_core(w, d), make_core(w, d)
    a.opu(x, g, 0.1)
    for i in range(4):
        b.opu(x[i:i + 1], g[i:i + 1], 0.1)
    assert torch.allclose(a.get_weight(), b.get_weight(), atol=1e-7)
    assert a.stats["samples_updated"] == 4


@pytest.mark.parametrize("scheme", ["none", "deterministic"])
def test_update_direction_and_size(scheme):
    d = design(device={"model": "ideal"}, update={"rule": "outer_product", "pulse": {"scheme": scheme, "row_bits": 8, "col_bits": 8}})
    w = rand(8, 12, seed=13, scale=0.1)
    core = make_core(w, d)
    x, g = rand(1, 12, seed=14), rand(1, 8, seed=15)
    core.opu(x, g, 0.01)
    want = -0.01 * g.t() @ x
    got = core.get_weight() - w
    assert torch.allclose(got, want, atol=want.abs().max().item() * 0.02)


def test_rows_without_input_do_not_change():
    d = design(device={"model": "soft_bounds", "write_noise": 0.3, "d2d_variation": 0.1},
               update={"rule": "outer_product", "pulse": {"scheme": "deterministic"}})
    w = rand(5, 10, seed=16, scale=0.2)
    core = make_core(w, d)
    w0 = core.get_weight()
    x = rand(1, 10, seed=17)
    x[0, ::2] = 0.0
    core.opu(x, rand(1, 5, seed=18), 0.1)
    w1 = core.get_weight()
    assert torch.equal(w1[:, ::2], w0[:, ::2])
    assert not torch.equal(w1[:, 1::2], w0[:, 1::2])


def test_stochastic_pulse_mean_matches_request():
    """aihwkit pulse trains: the expected coincidence count reproduces lr * d x (mean over trials)."""
    d = design(device={"model": "ideal", "dw_min": 1e-5}, array={"w_max": 100.0},
               update={"rule": "outer_product", "pulse": {"scheme": "stochastic", "bl": 31}})
    x = torch.tensor([[0.2, -0.5, 1.0, 0.0, 0.7, -0.1]])
    g = torch.tensor([[0.3, -0.8, 0.5, 0.1]])
    lr, trials = 0.01, 300
    core = make_core(torch.zeros(4, 6), d, seed=1)
    for _ in range(trials):
        core.opu(x, g, lr)
    mean = core.get_weight() / trials
    want = -lr * g.t() @ x
    assert torch.allclose(mean, want, atol=0.1 * want.abs().max().item())
    big = want.abs() > 0.3 * want.abs().max()
    assert torch.allclose(mean[big], want[big], rtol=0.15)
    assert core.stats["pulses"] > 0


@pytest.mark.parametrize("scheme", ["none", "deterministic", "stochastic"])
def test_accumulate_rule_follows_gradient(scheme):
    d = design(device={"model": "ideal", "dw_min": 1e-4}, update={"rule": "accumulate", "pulse": {"scheme": scheme}})
    w = rand(8, 12, seed=19, scale=0.1)
    core = make_core(w, d)
    x, g = rand(16, 12, seed=20), rand(16, 8, seed=21)
    core.opu(x, g, 0.01)
    want = -0.01 * g.t() @ x
    assert torch.allclose(core.get_weight() - w, want, atol=want.abs().max().item() * 0.05)


def test_exact_rule_is_float_update():
    d = design(device={"model": "soft_bounds", "write_noise": 0.5}, update={"rule": "exact"}, io={"forward": {"adc_bits": 6}})
    w = rand(4, 5, seed=22, scale=0.1)
    core = make_core(w, d)
    x, g = rand(3, 5, seed=23), rand(3, 4, seed=24)
    core.opu(x, g, 0.1)
    assert torch.allclose(core.get_weight(), w - 0.1 * g.t() @ x, atol=1e-6)


def test_weights_clip_at_w_max():
    d = design(device={"model": "ideal"}, update={"rule": "accumulate"}, array={"w_max": 0.5})
    core = make_core(torch.full((2, 2), 2.0), d)
    assert torch.allclose(core.get_weight(), torch.full((2, 2), 0.5))


# -------------------------------------------------------------------------------------------- carry
def test_periodic_carry_conserves_weight():
    d = design(device={"model": "ideal"},
               update={"rule": "accumulate", "slicing": {"slices": 3, "base": 4, "carry_interval": 1, "carry_threshold": 0.3}})
    w = rand(6, 8, seed=25, scale=0.2)
    core = make_core(w, d)
    x, g = rand(2, 8, seed=26), rand(2, 6, seed=27)
    want = w.clone()
    for _ in range(5):
        core.opu(x, g, 0.01)
        want -= 0.01 * g.t() @ x
    assert core.stats["carries"] == 5 and core.stats["cells_reprogrammed"] > 0
    assert torch.allclose(core.get_weight(), want, atol=1e-6)
    lsb = core.combine(core.c[0])
    assert lsb.abs().max() <= 1.0


def test_carry_only_on_interval():
    d = design(device={"model": "ideal"},
               update={"rule": "accumulate", "slicing": {"slices": 2, "base": 16, "carry_interval": 3}})
    core = make_core(rand(3, 3, scale=0.1), d)
    for _ in range(5):
        core.opu(rand(1, 3), rand(1, 3), 0.01)
    assert core.stats["carries"] == 1


# --------------------------------------------------------------------------------------- reproducibility
def _noisy_run(seed):
    d = load_design("marinella2018-analog").model_copy(deep=True)
    d.device.read_noise = 0.02
    core = make_core(rand(16, 24, seed=28, scale=0.2), d, layer_index=2, seed=seed)
    x, g = rand(2, 24, seed=29).abs(), rand(2, 16, seed=30)
    ys = [core.vmm(x), core.mvm(g)]
    core.opu(x, g, 0.1)
    return torch.cat([y.flatten() for y in ys] + [core.get_weight().flatten()])


def test_same_seed_identical_different_seed_different():
    a, b, c = _noisy_run(3), _noisy_run(3), _noisy_run(4)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_layer_index_changes_stream():
    d = design(device={"model": "ideal", "programming_noise": 0.01})
    w = rand(4, 4)
    assert not torch.equal(make_core(w, d, 0).get_weight(), make_core(w, d, 1).get_weight())


def test_state_dict_roundtrip_and_to():
    d = load_design("marinella2018-analog")
    core = make_core(rand(5, 7, scale=0.2), d)
    x, g = rand(2, 7).abs(), rand(2, 5)
    core.opu(x, g, 0.1)
    sd = core.state_dict()
    other = make_core(torch.zeros(5, 7), d)
    other.load_state_dict(sd)
    assert torch.equal(other.get_weight(), core.get_weight())
    other.opu(x, g, 0.1)
    core.opu(x, g, 0.1)
    assert torch.equal(other.get_weight(), core.get_weight())
    assert core.to("cpu") is core


# ------------------------------------------------------------------------------------------- digital
def test_digital_core_formats():
    w = rand(6, 9, seed=31, scale=0.3)
    x = rand(2, 9, seed=32)
    fp32 = make_core(w, Design.model_validate({"name": "d", "compute": "digital"}))
    assert isinstance(fp32, DigitalCore) and torch.equal(fp32.vmm(x), x @ w.t())
    bf = make_core(w, Design.model_validate({"name": "d", "compute": "digital", "digital": {"format": "bf16"}}))
    assert torch.equal(bf.get_weight(), w.to(torch.bfloat16).float())
    fx = make_core(w, Design.model_validate({"name": "d", "compute": "digital",
                                             "digital": {"format": "fixed", "weight_bits": 4}}))
    assert len(torch.unique(fx.get_weight())) <= 15
    fx.opu(x, rand(2, 6), 0.01)
    assert len(torch.unique(fx.get_weight())) <= 15


def test_lookup_design_core_runs(tmp_path):
    d = load_design("marinella2018-analog-taox")
    core = make_core(rand(8, 12, scale=0.2), d)
    x, g = rand(2, 12).abs(), rand(2, 8)
    w0 = core.get_weight()
    core.opu(x, g, 0.1)
    assert not torch.equal(core.get_weight(), w0)
    assert torch.isfinite(core.vmm(x)).all()
