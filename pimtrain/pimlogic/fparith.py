"""Floating-point addition and multiplication as row-parallel in-memory algorithms.

Every function works on whole int64 tensors of bit patterns (one operand pair per memory row; no
per-element Python) and rounds to nearest, ties to even, with subnormals, signed zeros, infinities
and NaN. While it computes, it records into a :class:`GateCounter` the gates the bit-serial in-memory
sequence of the same step needs (per row; all rows run together):

addition ``a + b``
  1. unpack: hidden bit = OR of the exponent bits; subnormal effective exponent 1
  2. specials: exponent all ones (AND), fraction zero (OR); result select at the end (mux)
  3. order by magnitude: (E+M)-bit subtract (NOT + full adders), swap both operands (mux)
  4. exponent difference d (E-bit subtract)
  5. align the smaller significand, P+3 bits (guard, round, sticky): logarithmic shifter, one mux
     stage per bit of d, sticky OR of what each stage shifts out; d beyond the width saturates (OR)
  6. add or subtract (XOR for the effective operation, conditional complement, P+4-bit ripple add)
  7. normalise / round / pack (below)

multiplication ``a × b``
  1.–2. as above; sign XOR
  3. exponent sum (E+2-bit adds)
  4. significand product, shift-and-add over the multiplier bits: P×P AND, (P-1)×P full adders
  5. normalise / round / pack over 2P bits

normalise, round, pack (shared)
  leading-one normalisation by logarithmic stages (zero test of the top 2^k bits, exponent-range
  compare, W muxes, exponent update per stage); denormalisation below emin (log shifter with sticky);
  round to nearest even (guard AND (round OR sticky OR lsb)), (P+1)-bit increment, renormalise;
  overflow to infinity; write the E+M+1 result bits.

The functional result is computed word-wise on the integer tensors (the same steps, done with shifts
and compares), so it is exact and fast; the gate counts are those of the bit-serial sequence. The
kernels that dominate them (significand multiply, ripple add, logarithmic shift with sticky) are also
executed gate by gate on bit planes in :mod:`pimtrain.pimlogic.bitplane`; the tests check that they give
the same integers and record the same gate counts as charged here.
NaN results are the format's canonical quiet NaN (payloads are not propagated).
"""
from __future__ import annotations

import math
from functools import lru_cache

import torch

from .formats import FPFormat, get_format
from .gates import NULL, GateCounter

__all__ = ["fp_add", "fp_mul", "op_counts", "round_pack"]


def _clog2(n: int) -> int:
    return max(1, math.ceil(math.log2(max(n, 2))))


def _bitlen(x: torch.Tensor) -> torch.Tensor:
    """Bit length of non-negative int64 values (binary search by shifts; 0 -> 0)."""
    n = torch.zeros_like(x)
    for sh in (32, 16, 8, 4, 2, 1):
        t = x >> sh
        c = t != 0
        x = torch.where(c, t, x)
        n = n + c.to(x.dtype) * sh
    return n + (x != 0).to(x.dtype)


def _unpack(b: torch.Tensor, fmt: FPFormat, ctr: GateCounter):
    E, M = fmt.exp_bits, fmt.man_bits
    sign = (b >> (E + M)) & 1
    exp = (b >> M) & fmt.exp_max
    frac = b & ((1 << M) - 1)
    normal = exp != 0
    sig = torch.where(normal, frac | (1 << M), frac)
    e_eff = torch.where(normal, exp, torch.ones_like(exp))
    is_inf = (exp == fmt.exp_max) & (frac == 0)
    is_nan = (exp == fmt.exp_max) & (frac != 0)
    ctr.add("or", (E - 1) + 1)        # hidden bit (OR of exponent bits), effective exponent lsb
    ctr.add("and", E - 1)             # exponent all ones
    ctr.add("or", M - 1)              # fraction non-zero
    ctr.add("not", 1)
    return sign, e_eff, sig, is_inf, is_nan


def round_pack(sign: torch.Tensor, sig: torch.Tensor, e_lsb: torch.Tensor, fmt: FPFormat, width: int,
               ctr: GateCounter = NULL) -> torch.Tensor:
    """Bit patterns of ``(-1)^sign · sig · 2^e_lsb`` rounded to nearest even in ``fmt``.

    ``sig`` is a non-negative integer of at most ``width`` bits whose lowest bit may be a sticky bit
    (OR of everything below it). Gate counts: normalisation, denormalisation, rounding, overflow, pack.
    """
    E, M, P = fmt.exp_bits, fmt.man_bits, fmt.precision
    ew = E + 2  # exponent working width (sign and one guard bit)
    # --- gates of the in-memory sequence
    st = _clog2(width)
    for k in range(st):
        ctr.add("or", min(1 << k, width) - 1)   # zero test of the top 2^k bits
        ctr.add("not", 1)
        ctr.add("fa", 2 * ew)                   # exponent-range compare, exponent update
        ctr.add("and", 1)
        ctr.add("mux", width + ew)              # shift stage, exponent select
    ctr.add("fa", ew)                           # emin - e
    for k in range(_clog2(width + 2)):          # denormalising right shift with sticky
        ctr.add("mux", width)                   # (as bitplane.shift_right_sticky)
        ctr.add("or", min(1 << k, width))
        ctr.add("and", 1)
    ctr.add("or", 3)                            # round OR sticky OR lsb
    ctr.add("and", 1)                           # guard AND (...)
    ctr.add("fa", P + 1)                        # increment
    ctr.add("mux", P)                           # renormalise on carry
    ctr.add("fa", ew)                           # exponent +1 on carry
    ctr.add("fa", ew)                           # overflow compare
    ctr.add("mux", E + M)                       # infinity select
    ctr.add("copy", E + M + 1)                  # write the result
    # --- word-level result
    zero = sig == 0
    L = _bitlen(sig)
    em = e_lsb + L - 1
    q = torch.maximum(em - M, torch.full_like(em, fmt.emin - M))
    shift = q - e_lsb
    rs = shift.clamp(min=0, max=62)
    kept = sig >> rs
    rem = sig - (kept << rs)
    half = torch.where(rs > 0, torch.ones_like(rs) << (rs - 1).clamp(min=0), torch.zeros_like(rs))
    up = (rs > 0) & ((rem > half) | ((rem == half) & ((kept & 1) == 1)))
    kept = kept + up.to(kept.dtype)
    ls = (-shift).clamp(min=0)
    kept = torch.where(shift < 0, sig << ls, kept)
    carry = kept >= (1 << P)
    kept = torch.where(carry, kept >> 1, kept)
    q = q + carry.to(q.dtype)
    normal = kept >= (1 << M)
    biased = q + M + fmt.bias
    field = torch.where(normal, (biased << M) | (kept - (1 << M)), kept)
    inf = normal & (biased >= fmt.exp_max)
    field = torch.where(inf, torch.full_like(field, fmt.exp_max << M), field)
    field = torch.where(zero, torch.zeros_like(field), field)
    return (sign << (E + M)) | field


def _specials(out, sign, nan, inf_res, fmt, ctr):
    E, M = fmt.exp_bits, fmt.man_bits
    ctr.add("or", 3)
    ctr.add("and", 3)
    ctr.add("mux", 2 * (E + M + 1))
    out = torch.where(inf_res, (sign << (E + M)) | (fmt.exp_max << M), out)
    return torch.where(nan, torch.full_like(out, fmt.quiet_nan), out)


def fp_add(a: torch.Tensor, b: torch.Tensor, fmt: FPFormat | str = "fp32", ctr: GateCounter = NULL) -> torch.Tensor:
    """``a + b`` on bit patterns of ``fmt`` (int64 tensors of one shape), round to nearest even."""
    fmt = get_format(fmt)
    E, M, P = fmt.exp_bits, fmt.man_bits, fmt.precision
    sa, ea, ma, ia, na = _unpack(a, fmt, ctr)
    sb, eb, mb, ib, nb = _unpack(b, fmt, ctr)
    # order by magnitude (exponent and fraction as one integer)
    ctr.add("not", E + M)
    ctr.add("fa", E + M)
    ctr.add("mux", 2 * (E + M + 1))
    mag_a, mag_b = a & ((1 << (E + M)) - 1), b & ((1 << (E + M)) - 1)
    swap = mag_b > mag_a
    s1, e1, m1 = torch.where(swap, sb, sa), torch.where(swap, eb, ea), torch.where(swap, mb, ma)
    s2, e2, m2 = torch.where(swap, sa, sb), torch.where(swap, ea, eb), torch.where(swap, ma, mb)
    # exponent difference and alignment with guard, round, sticky
    ctr.add("not", E)
    ctr.add("fa", E)
    W = P + 3
    st = _clog2(W + 1)
    ctr.add("or", max(E - st, 0))
    ctr.add("and", W)
    for k in range(st):                 # as bitplane.shift_right_sticky
        ctr.add("mux", W)
        ctr.add("or", min(1 << k, W))
        ctr.add("and", 1)
    d = (e1 - e2).clamp(max=W + 1)
    A = m1 << 3
    B = m2 << 3
    Bs = B >> d
    sticky = (Bs << d) != B
    Bs = Bs | sticky.to(Bs.dtype)
    # effective add / subtract
    ctr.add("xor", 1 + W)
    ctr.add("fa", W + 1)
    sub = s1 != s2
    S = torch.where(sub, A - Bs, A + Bs)
    sign = torch.where(S == 0, sa & sb, s1)
    out = round_pack(sign, S, e1 - fmt.bias - M - 3, fmt, W + 1, ctr)
    nan = na | nb | (ia & ib & (sa != sb))
    inf_res = (ia | ib) & ~nan
    inf_sign = torch.where(ia, sa, sb)
    out = torch.where(inf_res, (inf_sign << (E + M)) | (fmt.exp_max << M), out)
    return _specials(out, inf_sign, nan, inf_res, fmt, ctr)


def fp_mul(a: torch.Tensor, b: torch.Tensor, fmt: FPFormat | str = "fp32", ctr: GateCounter = NULL) -> torch.Tensor:
    """``a × b`` on bit patterns of ``fmt`` (int64 tensors of one shape), round to nearest even."""
    fmt = get_format(fmt)
    E, M, P = fmt.exp_bits, fmt.man_bits, fmt.precision
    sa, ea, ma, ia, na = _unpack(a, fmt, ctr)
    sb, eb, mb, ib, nb = _unpack(b, fmt, ctr)
    ctr.add("xor", 1)
    ctr.add("fa", 2 * (E + 2))            # ea + eb, then − bias
    ctr.add("and", P * P)                 # partial products (as bitplane.multiply)
    ctr.add("fa", (P - 1) * P)            # shift-and-add accumulation (as bitplane.multiply)
    sign = sa ^ sb
    prod = ma * mb
    out = round_pack(sign, prod, ea + eb - 2 * fmt.bias - 2 * M, fmt, 2 * P, ctr)
    zero_a, zero_b = (ma == 0) & ~ia & ~na, (mb == 0) & ~ib & ~nb
    nan = na | nb | (ia & zero_b) | (ib & zero_a)
    inf_res = (ia | ib) & ~nan
    return _specials(out, sign, nan, inf_res, fmt, ctr)


@lru_cache(maxsize=64)
def _counts(exp_bits: int, man_bits: int, op: str) -> tuple[tuple[str, int], ...]:
    fmt = get_format(None, exp_bits, man_bits)
    ctr = GateCounter()
    one = torch.zeros(1, dtype=torch.int64)
    {"add": fp_add, "mul": fp_mul}[op](one, one, fmt, ctr)
    return tuple(ctr.as_dict().items())


def op_counts(fmt: FPFormat | str, op: str) -> dict[str, int]:
    """Gate counts per row of one ``op`` (``'add'`` or ``'mul'``) in ``fmt``, recorded by running it."""
    from pimtrain.design.errors import PimtrainError

    if op not in ("add", "mul"):
        raise PimtrainError(f"op: {op!r} is unknown; allowed: add, mul")
    f = get_format(fmt)
    return dict(_counts(f.exp_bits, f.man_bits, op))
