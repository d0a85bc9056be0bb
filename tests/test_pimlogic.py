"""In-memory FP arithmetic: bit-exact against torch, gate/cycle counts that follow the widths, technologies."""
import pytest
import torch

from pimtrain.design import PimtrainError
from pimtrain.pimlogic import (FORMATS, FPFormat, GATES, fp_add, fp_mul, from_bits, get_format, make_technology,
                               op_counts, to_bits)

N = 100_000
_DT = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def _operands(fmt, n=N, seed=0):
    """Random bit patterns (all classes: normal, subnormal, zero, inf, NaN) plus pairs with close exponents
    (cancellation, ties) and a block of subnormal-only pairs."""
    g = torch.Generator().manual_seed(seed)
    w = fmt.width
    a = torch.randint(0, 1 << w, (n,), generator=g, dtype=torch.int64)
    b = torch.randint(0, 1 << w, (n,), generator=g, dtype=torch.int64)
    close = torch.rand(n, generator=g) < 0.4
    mag = a & ((1 << (w - 1)) - 1)
    delta = torch.randint(-3, 4, (n,), generator=g) << fmt.man_bits
    b2 = (mag + delta).clamp(0, (1 << (w - 1)) - 1) ^ torch.randint(0, 1 << fmt.man_bits, (n,), generator=g)
    b2 = b2 | (torch.randint(0, 2, (n,), generator=g) << (w - 1))
    b = torch.where(close, b2, b)
    sub = torch.rand(n, generator=g) < 0.1
    sa = torch.randint(0, 1 << fmt.man_bits, (n,), generator=g) | (torch.randint(0, 2, (n,), generator=g) << (w - 1))
    sb = torch.randint(0, 1 << fmt.man_bits, (n,), generator=g) | (torch.randint(0, 2, (n,), generator=g) << (w - 1))
    a, b = torch.where(sub, sa, a), torch.where(sub, sb, b)
    big = torch.rand(n, generator=g) < 0.02  # overflow to infinity (same sign, largest finite exponent)
    top = (fmt.exp_max - 1) << fmt.man_bits
    ba = top | torch.randint(0, 1 << fmt.man_bits, (n,), generator=g)
    bb = top | torch.randint(0, 1 << fmt.man_bits, (n,), generator=g)
    return torch.where(big, ba, a), torch.where(big, bb, b)


def _check(name, op):
    fmt = FORMATS[name]
    a, b = _operands(fmt)
    fa, fb = from_bits(a, fmt).to(_DT[name]), from_bits(b, fmt).to(_DT[name])
    ref = (fa + fb) if op == "add" else (fa * fb)
    ours = (fp_add if op == "add" else fp_mul)(a, b, fmt)
    rb = to_bits(ref.float(), fmt)
    nan_ref = torch.isnan(ref.float())
    nan_ours = torch.isnan(from_bits(ours, fmt))
    same = (ours == rb) | (nan_ref & nan_ours)
    assert torch.equal(nan_ref, nan_ours)
    assert int((~same).sum()) == 0, f"{name} {op}: {int((~same).sum())} of {N} differ"
    exp = (rb >> fmt.man_bits) & fmt.exp_max
    # the test set exercises the special classes
    assert int(((exp == 0) & (rb & ((1 << fmt.man_bits) - 1) != 0)).sum()) > 100  # subnormal results
    assert int(nan_ref.sum()) > 100 and int(torch.isinf(ref.float()).sum()) > 100


@pytest.mark.parametrize("name", ["fp32", "bf16", "fp16"])
@pytest.mark.parametrize("op", ["add", "mul"])
def test_bit_exact_against_torch(name, op):
    assert not torch._C._get_denormal_flush() if hasattr(torch._C, "_get_denormal_flush") else True
    _check(name, op)


def test_signed_zero_and_exact_cancellation():
    f = FORMATS["fp32"]
    x = to_bits(torch.tensor([1.5, -0.0, -0.0, 0.0]), f)
    y = to_bits(torch.tensor([-1.5, -0.0, 0.0, -0.0]), f)
    r = from_bits(fp_add(x, y, f), f)
    assert [float(v) for v in r] == [0.0, 0.0, 0.0, 0.0]
    assert [bool(torch.signbit(v)) for v in r] == [False, True, False, False]
    m = from_bits(fp_mul(to_bits(torch.tensor([-0.0, 3.0]), f), to_bits(torch.tensor([2.0, -0.0]), f), f), f)
    assert [bool(torch.signbit(v)) for v in m] == [True, True]


def test_a_wrong_rounding_is_caught():
    """The comparison can fail: truncation instead of round-to-nearest differs from torch."""
    f = FORMATS["bf16"]
    a = to_bits(torch.tensor([1.0]), f)
    b = to_bits(torch.tensor([2.0 ** -8 * 1.5]), f)  # 1 + 0.75 ulp -> rounds up
    r = from_bits(fp_add(a, b, f), f)
    assert float(r) == 1.0 + 2.0 ** -7
    assert float(r) != 1.0


def test_custom_format_is_consistent_with_fp16_widths():
    # an (E, M) format given by widths behaves like the named one
    f = get_format(None, 5, 10)
    assert f is FORMATS["fp16"]
    g = FPFormat(4, 3)  # fp8 e4m3-like (IEEE semantics): 1.0 * 1.0 = 1.0, bits 0b0_0111_000
    one = torch.tensor([0b00111000])
    assert int(fp_mul(one, one, g)) == 0b00111000
    assert int(fp_add(one, one, g)) == 0b01000000


@pytest.mark.parametrize("op", ["add", "mul"])
def test_gate_counts_grow_with_widths(op):
    def cycles(e, m, tech):
        return make_technology(tech).op_cycles(op_counts(FPFormat(e, m), op))

    for tech in ("nor", "majority"):
        for e in (5, 8):
            seq = [cycles(e, m, tech) for m in (3, 7, 10, 23)]
            assert seq == sorted(seq) and len(set(seq)) == len(seq), (tech, e, seq)
        for m in (7, 10):
            seq = [cycles(e, m, tech) for e in (4, 5, 8, 11)]
            assert seq == sorted(seq) and len(set(seq)) == len(seq), (tech, m, seq)
    # multiplication grows quadratically in the significand: the P*P AND array
    c7, c23 = op_counts(FORMATS["bf16"], "mul"), op_counts(FORMATS["fp32"], "mul")
    assert c7["and"] >= 64 and c23["and"] >= 24 * 24
    assert set(c7) == set(GATES)


def test_pinned_cycle_counts():
    """Regression: cycles per op (bf16, fp32) on both technologies."""
    got = {(t, f, op): make_technology(t).op_cycles(op_counts(FORMATS[f], op))
           for t in ("nor", "majority") for f in ("bf16", "fp32") for op in ("add", "mul")}
    assert got == {
        ("nor", "bf16", "add"): 2887, ("nor", "bf16", "mul"): 3214,
        ("nor", "fp32", "add"): 5392, ("nor", "fp32", "mul"): 12140,
        ("majority", "bf16", "add"): 1019, ("majority", "bf16", "mul"): 1058,
        ("majority", "fp32", "add"): 2063, ("majority", "fp32", "mul"): 3837,
    }


def test_technologies_physics():
    r = make_technology("nor")
    s = make_technology("majority")
    assert r.cycles("fa") == 9 and s.cycles("fa") == 2  # 9 NOR (inits batched per step) vs carry/sum sensing steps
    # NOR energy from R_on/R_off/V0/t: between the all-off and the all-on state
    assert 1e-16 < r.nor_energy() < 1e-13
    # doubling the gate voltage quadruples the resistive energy
    r2 = make_technology("nor", {"gate_voltage": 2.0})
    assert r2.nor_energy() == pytest.approx(4 * r.nor_energy())
    assert s.gate_energy("fa") > s.gate_energy("and") > 0
    assert r.cell_area == pytest.approx(4 * 28e-9 ** 2)


def test_errors_are_one_line():
    with pytest.raises(PimtrainError, match="allowed"):
        get_format("fp8")
    with pytest.raises(PimtrainError, match="exponent bits"):
        FPFormat(1, 3)
    with pytest.raises(PimtrainError, match="allowed"):
        op_counts("fp32", "div")
    with pytest.raises(PimtrainError, match="allowed"):
        make_technology("dram")


# ------------------------------------------------------------------ gate-level kernels behind the counts
def test_gate_level_multiplier_equals_integer_product_and_charged_gates():
    from pimtrain.pimlogic.bitplane import from_planes, multiply, to_planes
    from pimtrain.pimlogic.gates import GateCounter

    g = torch.Generator().manual_seed(3)
    for name in ("bf16", "fp32"):
        P = FORMATS[name].precision
        a = torch.randint(0, 1 << P, (20_000,), generator=g)
        b = torch.randint(0, 1 << P, (20_000,), generator=g)
        ctr = GateCounter()
        prod = from_planes(multiply(to_planes(a, P), to_planes(b, P), ctr))
        assert torch.equal(prod, a * b)
        assert ctr.counts["and"] == P * P and ctr.counts["fa"] == (P - 1) * P
        # fparith charges exactly these for its significand product (on top of its other steps)
        full = op_counts(FORMATS[name], "mul")
        assert full["and"] >= P * P and full["fa"] >= (P - 1) * P


def test_gate_level_ripple_add_and_log_shifter():
    from pimtrain.pimlogic.bitplane import from_planes, ripple_add, shift_right_sticky, to_planes
    from pimtrain.pimlogic.gates import GateCounter

    g = torch.Generator().manual_seed(4)
    W, n = 27, 20_000
    a = torch.randint(0, 1 << W, (n,), generator=g)
    b = torch.randint(0, 1 << W, (n,), generator=g)
    ctr = GateCounter()
    s, c = ripple_add(to_planes(a, W), to_planes(b, W), torch.zeros(n, dtype=torch.bool), ctr)
    assert torch.equal(from_planes(s) + (c.long() << W), a + b) and ctr.counts["fa"] == W
    d = torch.randint(0, 32, (n,), generator=g)
    ctr = GateCounter()
    x, st = shift_right_sticky(to_planes(a, W), to_planes(d, 5), 5, ctr)
    expect = a >> d
    assert torch.equal(from_planes(x), expect)
    assert torch.equal(st, (expect << d) != a)
    assert ctr.counts["mux"] == 5 * W and ctr.counts["and"] == 5
    assert ctr.counts["or"] == sum(min(1 << k, W) for k in range(5))
