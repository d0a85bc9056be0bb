"""``PimFPCore``: numerics of digital floating-point PIM (``digital.arithmetic: in_memory_logic``).

Every kernel is an in-memory FP multiply-accumulate in the design's format (fp32, bf16 or fp16):
each product is one rounded multiplication (round to nearest even) and the products of one output are
summed by a pairwise tree (``accumulation: pairwise``: adjacent pairs, each addition rounded; an odd
element passes up unchanged) or in row order (``sequential``). The update writes
``W ← round(W − round(lr · G))`` with ``G = dᵀx`` summed the same way over the batch.

The torch ops used here (elementwise ``*`` and ``+`` in the format's dtype) round exactly as
:func:`pimtrain.pimlogic.fp_mul` / :func:`pimtrain.pimlogic.fp_add` do (bit-exact, tested on random
operands; for bf16/fp16 torch computes in fp32 and rounds once more, which is innocuous because
24 ≥ 2·P + 2). ``emulate=True`` runs the bit-level algorithms instead (slow; used by the tests).
"""
from __future__ import annotations

import torch

from pimtrain.design import PimtrainError
from pimtrain.design.models import Design

from .digital import DigitalCore

_DT = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
_CHUNK = 1 << 22  # elements of one (rows, out, K) product block


class PimFPCore(DigitalCore):
    kind = "digital_pim"
    """Same interface as :class:`DigitalCore`; kernels are in-memory FP MACs."""

    def __init__(self, weight: torch.Tensor, design: Design, layer_index: int = 0, seed: int | None = None,
                 emulate: bool = False):
        dg = design.digital
        if dg.format not in _DT or dg.exponent_bits is not None or dg.mantissa_bits is not None:
            raise PimtrainError(f"design {design.name!r}: digital-PIM training supports digital.format fp32, bf16 or fp16 (custom widths are cost-only)")
        self.dtype = _DT[dg.format]
        self.order = dg.accumulation
        self.emulate = bool(emulate)
        super().__init__(weight, design, layer_index, seed)

    def _is_exact(self) -> bool:
        return False

    def _describe(self) -> str:
        dg = self.design.digital
        return f"digital PIM {dg.format}: rounded products, {self.order} rounded sums ({dg.logic_family} gates)"

    # ------------------------------------------------------------------------------------------ kernels
    def _sum(self, p: torch.Tensor) -> torch.Tensor:
        """Sum the last dim of the rounded products ``p`` (dtype of the format) in the design's order."""
        if self.order == "sequential":
            acc = p[..., 0]
            for k in range(1, p.shape[-1]):
                acc = self._add(acc, p[..., k])
            return acc
        while p.shape[-1] > 1:
            k = p.shape[-1]
            pairs = self._add(p[..., 0:k - 1:2], p[..., 1:k:2])
            p = torch.cat([pairs, p[..., k - 1:]], dim=-1) if k % 2 else pairs
        return p[..., 0]

    def _add(self, a, b):
        if self.emulate:
            from pimtrain.pimlogic import fp_add, from_bits, get_format, to_bits

            f = get_format(self.fmt)
            return from_bits(fp_add(to_bits(a.float(), f), to_bits(b.float(), f), f), f).to(self.dtype)
        return a + b

    def _mul(self, a, b):
        if self.emulate:
            from pimtrain.pimlogic import fp_mul, from_bits, get_format, to_bits

            f = get_format(self.fmt)
            a, b = torch.broadcast_tensors(a, b)
            return from_bits(fp_mul(to_bits(a.float(), f), to_bits(b.float(), f), f), f).to(self.dtype)
        return a * b

    def dot(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``a @ b.T`` (a: (R, K), b: (N, K)) with rounded products and the design's summation order."""
        a = a.to(self.dtype)
        b = b.to(self.dtype)
        R, K = a.shape
        N = b.shape[0]
        if K == 0:
            return torch.zeros(R, N, dtype=torch.float32, device=a.device)
        step = max(1, _CHUNK // max(N * K, 1))
        out = [self._sum(self._mul(a[r:r + step, None, :], b[None, :, :])) for r in range(0, R, step)]
        return torch.cat(out, 0).to(torch.float32)

    def vmm(self, x: torch.Tensor) -> torch.Tensor:
        self._count_read("forward", x, "max")
        return self.dot(self._act(x, "forward"), self.w)

    def mvm(self, d: torch.Tensor) -> torch.Tensor:
        self._count_read("backward", d, "max")
        return self.dot(self._act(d, "backward"), self.w.t().contiguous())

    def _write(self, x: torch.Tensor, d: torch.Tensor, lr: float) -> None:
        g = self.dot(self._act(d, "backward").t().contiguous(), self._act(x, "forward").t().contiguous())  # (out, in), summed over the batch
        step = self._mul(torch.tensor(float(lr), dtype=self.dtype), g.to(self.dtype))
        self.w = self._add(self.w.to(self.dtype), -step).to(torch.float32)
        self.counters.add("cells_updated", self.w.numel())
