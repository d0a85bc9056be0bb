"""The digital parts of an analog training algorithm: buffers, choppers, the transfer pointer.

What a transfer moves (``CompoundCore.transfer``):

- ``mixed_precision``: χ ← χ − lr·dᵀx at every update; at a transfer, every cell with |χ| ≥ θ (θ =
  ``buffer_threshold`` device steps) gets ``trunc(χ/θ)·θ`` written into C, and χ keeps ``χ − trunc(χ/θ)·θ``;
- ``tiki_taka``: the next ``columns_per_transfer`` columns j of A are read, ``y = A e_j`` (A's transfer I/O), and
  ``C[:, j] += transfer_lr · y`` is written through C's update;
- ``ttv2``: ``H[:, j] ← (1 − buffer_decay)·H[:, j] + transfer_lr · y``; whole θ steps of H[:, j] go into C, H keeps
  the rest;
- ``c_ttv2``: as ttv2 with ``y`` multiplied by the column's chopper sign (A learnt ``x`` times that sign), after
  which the sign flips with probability ``chopper_probability``;
- ``agad``: as c_ttv2 with ``y`` taken relative to the column's on-the-fly reference ``P[:, j]``, a digital copy of
  A's read at the column's last chopper flip: ``ω = c_j·(A e_j − P[:, j])`` goes into H; when the sign flips,
  ``P[:, j] ← A e_j`` (the read just taken). A's offset and whatever A holds from earlier periods cancel, so A needs
  no reference array and no decay (Rasch et al. 2023, arXiv 2303.04721, AGAD; aihwkit's
  ``DynamicTransferCompound`` takes the mean of the previous period's reads as the reference instead);
- ``residual``: as tiki_taka, with W = γ·(A − R) + C read by the network (γ > 0 required): the gradient is taken at
  the mixed weight (Li et al. 2024, arXiv 2406.12774, residual learning).
"""
from __future__ import annotations

import torch


class Buffer:
    """A digital buffer the size of the weight (out, in), in weight units (float; a digital register file)."""

    def __init__(self, shape: tuple[int, int], device):
        self.value = torch.zeros(shape, dtype=torch.float32, device=device)

    def add(self, m: torch.Tensor, alpha: float) -> None:
        self.value.add_(m, alpha=alpha)

    def add_columns(self, cols: torch.Tensor, m: torch.Tensor, alpha: float) -> None:
        """``value[:, cols] += alpha · m`` (m: (out, n))."""
        self.value[:, cols] += alpha * m

    def decay(self, cols: torch.Tensor, fraction: float) -> None:
        if fraction > 0:
            self.value[:, cols] *= 1.0 - fraction

    def take_whole(self, threshold: float, cols: torch.Tensor | None = None) -> torch.Tensor:
        """The whole multiples of ``threshold`` in the buffer (all columns or ``cols``), removed from it."""
        v = self.value if cols is None else self.value[:, cols]
        whole = torch.trunc(v / threshold) * threshold
        if cols is None:
            self.value.sub_(whole)
        else:
            self.value[:, cols] = v - whole
        return whole


class Choppers:
    """One ±1 chopper per input column; each flips with probability ``p`` at the column's transfer."""

    def __init__(self, n: int, p: float, device):
        self.signs = torch.ones(n, dtype=torch.float32, device=device)
        self.p = float(p)
        self.flips = 0

    def maybe_flip(self, cols: torch.Tensor, generator: torch.Generator) -> torch.Tensor | None:
        """Flip each of ``cols``' signs with probability ``p``; the flipped mask over ``cols`` (None when p is 0)."""
        if self.p <= 0:
            return None
        u = torch.rand(cols.numel(), generator=generator, device=generator.device).to(self.signs.device)
        flip = u < self.p
        self.flips += int(flip.sum())
        self.signs[cols[flip]] *= -1.0
        return flip


class TransferPointer:
    """Which columns the next transfer reads: ``per`` consecutive columns, cycling over ``n``."""

    def __init__(self, n: int, per: int):
        self.n, self.per = int(n), min(int(per), int(n))
        self.position = 0

    def next(self) -> torch.Tensor:
        cols = (torch.arange(self.per) + self.position) % self.n
        self.position = (self.position + self.per) % self.n
        return cols
