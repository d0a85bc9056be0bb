"""PANTHER bit-sliced numerics (pimtrain.xbar.bitslice): OPA digits, saturation, CRS, equivalence."""
import pytest
import torch

from pimtrain.design import Design, PimtrainError, load_design
from pimtrain.xbar import make_core
from pimtrain.xbar.bitslice import BitSlicedCore, canonical_digits, digits_of

torch.set_num_threads(1)


def _design(bits, interval=64, w_max=8.0, rule="outer_product", **io):
    return Design(name="bs", compute="analog", device={"model": "ideal"},
                  array={"rows": 128, "cols": 128, "bits_per_cell": 2, "w_max": w_max},
                  io={"forward": io, "backward": io},
                  update={"rule": rule, "slicing": {"slices": len(bits), "base": 4, "carry_interval": interval,
                                                    "slice_bits": list(bits)}})


@pytest.mark.parametrize("fn", [digits_of, canonical_digits])
def test_digits_reconstruct_integers(fn):
    k = torch.randint(-40000, 40000, (500,)).float()
    d = fn(k, 4, 8)
    pows = torch.tensor([4.0 ** s for s in range(8)]).view(-1, 1)
    assert torch.equal((d * pows).sum(0), k)
    if fn is canonical_digits:
        assert d[:-1].min() >= -2 and d[:-1].max() <= 1
    else:
        assert d[:-1].abs().max() <= 3


def test_make_core_routes_to_bitsliced_and_preset_loads():
    d = load_design("panther-sgd")
    assert d.update.slicing.slice_bits == [4, 4, 4, 6, 6, 5, 5, 5]
    core = make_core(torch.zeros(3, 5), d)
    assert isinstance(core, BitSlicedCore) and core.lsb == 2.0 ** -12


def test_slice_bits_length_must_match_slices():
    with pytest.raises(Exception, match="slice_bits"):
        Design(name="x", update={"slicing": {"slices": 4, "base": 4, "slice_bits": [4, 4]}})


def test_unlimited_slices_equal_fixed_point_sgd_exactly():
    """Ideal devices, slices too wide to saturate: the core is exact fixed-point SGD (LSB grid)."""
    torch.manual_seed(0)
    d = _design([16] * 8, interval=7)
    w0 = torch.randn(6, 9) * 0.5
    core = BitSlicedCore(w0, d)
    lsb = core.lsb
    k = torch.round(w0 / lsb)
    for _ in range(25):
        x, e = torch.randn(2, 9), torch.randn(2, 6)
        core.opu(x, e, 0.05)
        for i in range(2):
            k += torch.round(torch.outer(e[i], x[i]) * (-0.05 / lsb))
    assert core.stats["saturated_writes"] == 0 and core.stats["carries"] > 0
    assert torch.equal(core.get_weight(), k * lsb)
    # reads with ideal converters are x @ W.T and d @ W
    x = torch.randn(4, 9)
    assert torch.allclose(core.vmm(x), x @ (k * lsb).t(), atol=1e-5)
    e = torch.randn(4, 6)
    assert torch.allclose(core.mvm(e), e @ (k * lsb), atol=1e-5)


def test_crs_conserves_value_when_nothing_saturates():
    torch.manual_seed(1)
    core = BitSlicedCore(torch.zeros(7, 11), _design([5, 5, 5, 5, 5, 5, 5, 5], interval=10 ** 6))
    # random in-range slice levels (the state accumulated OPAs leave behind)
    core.v[:5] = torch.randint(-16, 16, core.v[:5].shape).float()  # low slices overfull, value within 16 bits
    before = core.stored_integer().clone()
    n = core.carry()
    assert n > 0
    assert torch.equal(core.stored_integer(), before)
    assert core.v[:-1].min() >= -2 and core.v[:-1].max() <= 1  # canonical digits again: headroom restored


def test_narrow_slices_saturate_and_crs_limits_the_error():
    """3-bit slices lose same-sign updates without CRS; a frequent CRS keeps them (the sign matters)."""
    torch.manual_seed(2)
    x, e = torch.rand(200, 8), -torch.rand(200, 4)  # always-positive weight changes
    errs, sats = {}, {}
    for interval in (1, 10 ** 6):
        core = BitSlicedCore(torch.zeros(4, 8), _design([3] * 8, interval=interval))
        core.opu(x, e, 0.002)
        exact = sum(torch.round(torch.outer(e[i], x[i]) * (-0.002 / core.lsb)) for i in range(200))
        errs[interval] = (exact.t() - core.stored_integer()).abs().mean().item()
        sats[interval] = core.stats["saturated_writes"]
    assert sats[10 ** 6] > 10 * sats[1] > 0
    assert errs[10 ** 6] > 10 * max(errs[1], 1.0)


def test_adc_quantises_each_slice():
    torch.manual_seed(3)
    w = torch.randn(5, 20) * 0.3
    ideal = BitSlicedCore(w, _design([4, 4, 4, 6, 6, 5, 5, 5]))
    coarse = BitSlicedCore(w, _design([4, 4, 4, 6, 6, 5, 5, 5], adc_bits=3))
    x = torch.randn(8, 20)
    err = (coarse.vmm(x) - ideal.vmm(x)).abs().max()
    assert err > 1e-3 and coarse.stats["adc_conversions"] == 8 * 8 * 5


def test_bad_base_is_one_line_error():
    d = _design([4] * 8)
    d.update.slicing.base = 3.0
    with pytest.raises(PimtrainError, match="base"):
        BitSlicedCore(torch.zeros(2, 2), d)


@pytest.mark.slow
def test_sliced_training_close_to_float_on_digits():
    """Unlimited slices train like float (the fixed-point LSB 2^-12 is the only difference)."""
    from pimtrain.nn import train, train_float

    r = train(_design([16] * 8, interval=10 ** 6), "digits", epochs=1, progress=False)
    f = train_float("digits", epochs=1, progress=False)
    assert abs(r.final_test_accuracy - f.final_test_accuracy) < 0.02


def test_device_nonidealities_apply_per_slice():
    """A noisy device moves slice levels off the integer grid; CRS reads them back to levels and
    reprograms with programming noise; the ideal fast path stays exact."""
    d = _design([4, 4, 4, 6, 6, 5, 5, 5], interval=5)
    d.device.model = "linear_step"
    d.device.write_noise = 0.5
    d.device.dw_min = 1.0 / 16
    core = BitSlicedCore(torch.full((3, 4), 0.1), d)
    assert core.devices is not None and len(core.devices) == 8
    torch.manual_seed(4)
    core.opu(torch.rand(4, 4), torch.rand(4, 3), 0.01)
    assert not torch.equal(core.v, torch.round(core.v))  # noisy writes: off-grid levels
    core.opu(torch.rand(1, 4), torch.rand(1, 3), 0.01)  # 5th example: CRS
    assert core.stats["carries"] == 1
    assert torch.equal(core.v, torch.round(core.v))  # programmed back onto levels (no programming noise)
