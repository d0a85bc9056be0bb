"""Gate-level execution of the bit-serial kernels that dominate the FP algorithms.

A word of ``W`` bits in every row is a bool tensor of shape ``(W, rows)`` (bit planes, least
significant first): one plane is one memory column across all rows. Each gate below computes its
result on whole planes and records itself in a :class:`GateCounter` once per plane it writes, exactly
as the row-parallel hardware executes it. ``tests/test_pimlogic.py`` checks that these gate-level
kernels compute the same integers as the word-level steps of :mod:`pimtrain.pimlogic.fparith` and
record the same gate counts as fparith charges for those steps (significand multiply, ripple add,
alignment shift with sticky bit).
"""
from __future__ import annotations

import torch

from .gates import GateCounter

__all__ = ["to_planes", "from_planes", "ripple_add", "multiply", "shift_right_sticky"]


def to_planes(x: torch.Tensor, width: int) -> torch.Tensor:
    """(rows,) non-negative int64 -> (width, rows) bool planes, LSB first."""
    sh = torch.arange(width, dtype=torch.int64).unsqueeze(1)
    return ((x.unsqueeze(0) >> sh) & 1).bool()


def from_planes(p: torch.Tensor) -> torch.Tensor:
    sh = torch.arange(p.shape[0], dtype=torch.int64).unsqueeze(1)
    return (p.to(torch.int64) << sh).sum(0)


def _fa(a, b, c, ctr: GateCounter):
    ctr.add("fa", a.shape[0] if a.dim() == 2 else 1)
    t = a ^ b
    return t ^ c, (a & b) | (c & t)


def ripple_add(A: torch.Tensor, B: torch.Tensor, cin: torch.Tensor, ctr: GateCounter):
    """A + B + cin over W planes with one full adder per bit (carry rippling): (sum planes, carry out)."""
    out = torch.empty_like(A)
    c = cin
    for i in range(A.shape[0]):
        out[i], c = _fa(A[i], B[i], c, ctr)
    return out, c


def multiply(A: torch.Tensor, B: torch.Tensor, ctr: GateCounter) -> torch.Tensor:
    """P×P-bit product by shift-and-add: partial product i = B_i AND A (P ANDs); from the second on,
    added into accumulator bits [i, i+P) by a P-bit ripple add whose carry lands in bit i+P."""
    P = A.shape[0]
    acc = torch.zeros((2 * P,) + A.shape[1:], dtype=torch.bool)
    for i in range(P):
        ctr.add("and", P)
        pp = B[i].unsqueeze(0) & A
        if i == 0:
            acc[:P] = pp
            continue
        s, c = ripple_add(acc[i:i + P], pp, torch.zeros_like(acc[0]), ctr)
        acc[i:i + P] = s
        acc[i + P] = c
    return acc


def shift_right_sticky(X: torch.Tensor, d: torch.Tensor, stages: int, ctr: GateCounter):
    """Right shift of every row's word by its own amount (bit planes ``d``, ``stages`` bits) in a
    logarithmic shifter: stage k muxes the word with itself shifted by 2^k (W muxes) and ORs the bits
    it drops into the sticky bit (2^k−1 ORs of the dropped bits, AND with the stage bit, OR into sticky).
    Returns (shifted planes, sticky plane)."""
    W = X.shape[0]
    sticky = torch.zeros_like(X[0])
    for k in range(stages):
        n = 1 << k
        s = d[k]
        dropped = X[: min(n, W)].any(0)
        ctr.add("or", min(n, W) - 1)
        ctr.add("and", 1)
        ctr.add("or", 1)
        sticky = sticky | (s & dropped)
        shifted = torch.zeros_like(X)
        if n < W:
            shifted[: W - n] = X[n:]
        ctr.add("mux", W)
        X = torch.where(s.unsqueeze(0), shifted, X)
    return X, sticky
