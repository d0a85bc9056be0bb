"""Training on digital FP PIM numerics: kernels equal the bit-level algorithms, fp32 differs from torch
only by summation order (bound tested), and networks reach torch's accuracy."""
import math

import pytest
import torch

from pimtrain.design import load_design
from pimtrain.xbar import make_core
from pimtrain.xbar.digital_pim import PimFPCore


def _design(fmt="bf16", order="pairwise", name="floatpim"):
    d = load_design(name)
    return d.model_copy(update={"digital": d.digital.model_copy(update={"format": fmt, "accumulation": order})})


def _gamma(k, u=2.0 ** -24):
    return k * u / (1 - k * u)


def test_factory_builds_the_pim_core():
    core = make_core(torch.zeros(3, 4), load_design("sot-mram-fp"))
    assert isinstance(core, PimFPCore) and "bf16" in core.fast_path


@pytest.mark.parametrize("fmt", ["fp32", "bf16"])
@pytest.mark.parametrize("order", ["pairwise", "sequential"])
def test_kernels_equal_the_bit_level_algorithms(fmt, order):
    g = torch.Generator().manual_seed(1)
    w, x, d = torch.randn(6, 13, generator=g), torch.randn(5, 13, generator=g), torch.randn(5, 6, generator=g)
    fast, slow = PimFPCore(w, _design(fmt, order)), PimFPCore(w, _design(fmt, order), emulate=True)
    assert torch.equal(fast.vmm(x), slow.vmm(x))
    assert torch.equal(fast.mvm(d), slow.mvm(d))
    fast.opu(x, d, 0.1)
    slow.opu(x, d, 0.1)
    assert torch.equal(fast.get_weight(), slow.get_weight())


def test_fp32_differs_from_torch_only_by_summation_order():
    """|pim − torch| ≤ (γ_⌈log2 K⌉ + γ_K) Σ|x_k w_k| per output: both are sums of the same exactly-rounded
    fp32 products (torch possibly fused), pairwise here (depth ⌈log2 K⌉), unknown order in torch (≤ K−1)."""
    g = torch.Generator().manual_seed(2)
    K = 785
    w, x = torch.randn(64, K, generator=g), torch.randn(32, K, generator=g)
    core = PimFPCore(w, _design("fp32"))
    y = core.vmm(x)
    ref = x @ w.t()
    bound = (_gamma(math.ceil(math.log2(K))) + _gamma(K)) * (x.abs() @ w.abs().t())
    assert torch.all((y - ref).abs() <= bound)
    # the bound discriminates: bf16 numerics break it
    y16 = PimFPCore(w, _design("bf16")).vmm(x)
    assert not torch.all((y16 - ref).abs() <= bound)


def test_one_training_step_matches_float_sgd():
    from pimtrain.nn import convert

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(20, 8), torch.nn.Sigmoid(), torch.nn.Linear(8, 3))
    pim = convert(net, _design("fp32"))
    from pimtrain.nn.optim import AnalogSGD

    x, t = torch.randn(16, 20), torch.randint(0, 3, (16,))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    torch.nn.functional.cross_entropy(net(x), t).backward()
    opt.step()
    popt = AnalogSGD(pim, lr=0.1)
    torch.nn.functional.cross_entropy(pim(x), t).backward()
    popt.step()
    for lf, lp in zip([net[0], net[2]], [pim[0], pim[2]]):
        assert torch.allclose(lp.weight_tensor(), lf.weight, rtol=0, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["fp32", "bf16"])
def test_digits_accuracy_matches_torch(fmt):
    from pimtrain.nn.trainer import train, train_float

    ref = train_float("digits", epochs=5, progress=False)
    res = train(_design(fmt), "digits", epochs=5, progress=False)
    tol = 0.0 if fmt == "fp32" else 0.02
    assert abs(res.final_test_accuracy - ref.final_test_accuracy) <= tol + 1e-9


@pytest.mark.slow
def test_mnist5k_accuracy_matches_torch():
    from pimtrain.nn.trainer import train, train_float

    kw = dict(epochs=3, batch_size=16, lr=0.5, progress=False)
    ref = train_float("mnist5k", **kw)
    for fmt, tol in (("fp32", 0.005), ("bf16", 0.02)):
        res = train(_design(fmt), "mnist5k", **kw)
        assert abs(res.final_test_accuracy - ref.final_test_accuracy) <= tol, fmt
