"""The weight encoding of a design: how a signed weight becomes cell values, one object for every analog core kind.

A :class:`WeightEncoding` is the middle layer of the composition *the Mapping's partition → the weight encoding →
cell arrays holding the device model*. It knows nothing of devices, tiles or reads; the cores hand it their cell
values and a ``store`` callback that writes a slice through the device model. Three parts:

- the **polarity** (``array.weight_mapping``): how a signed slice value sits on cells — ``differential``: a pair
  (G+, G−) moved by half the value each in opposite directions, value ``c+ − c−``; ``offset`` (and ``bias``): one
  cell around its mid-range reference, value ``2c`` (:meth:`combine` / :meth:`split`);
- the **slicing**: ``positional`` (analog slices in positional notation, Agarwal et al.; ``W = w_max Σ_s
  base^(s−S+1) ŵ_s``, :mod:`.slicing`) or ``fixed_point`` (PANTHER's bit slices with headroom: ``W = LSB Σ_s
  base^s v_s``, signed integer levels per slice, ``update.slicing.slice_bits``; or the bit slices of
  ``array.weight_bits`` on ``array.bits_per_cell`` with no headroom, rewritten whole);
- the **carry**: one :class:`~.carry.CarrySchedule` per weight copy (``periodic`` for positional slices,
  ``resolve`` for fixed-point ones), built by :meth:`carry`.

Used by :class:`~.core.AnalogCore` (positional) and :class:`~.bitslice.BitSlicedCore` (fixed point). The
arithmetic is exactly what the cores did before (same operations in the same order: bit-identical results).
"""
from __future__ import annotations

import math

import torch

from pimtrain.design.models import Design

from .carry import CarrySchedule
from .slicing import significances


def digits_of(k: torch.Tensor, base: int, slices: int) -> torch.Tensor:
    """Sign-magnitude digits of integer tensor ``k``: (slices, *k.shape), least significant first.

    ``Σ_s base**s · digits[s] == k``; every digit but the last lies in ``-(base-1) .. base-1``, the
    last takes the rest of the magnitude.
    """
    sign = torch.sign(k)
    m = k.abs()
    out = []
    for _ in range(slices - 1):
        out.append(torch.remainder(m, base))
        m = torch.div(m, base, rounding_mode="floor")
    out.append(m)
    return torch.stack(out) * sign


def canonical_digits(k: torch.Tensor, base: int, slices: int) -> torch.Tensor:
    """Balanced digits of integer tensor ``k`` (CRS layout): (slices, ...), least significant first.

    Digits of slices ``0 .. S-2`` lie in ``-base/2 .. base/2 - 1``; the top slice takes the remainder.
    """
    half = base // 2
    out = []
    for _ in range(slices - 1):
        d = torch.remainder(k + half, base) - half
        out.append(d)
        k = torch.div(k - d, base, rounding_mode="floor")
    out.append(k)
    return torch.stack(out)


class WeightEncoding:
    """Polarity + slicing + carry of one design's weights (see the module docstring)."""

    def __init__(self, design: Design, device, slicing: str, spec=None):
        self.design = design
        self.kind = slicing
        self.spec = spec if spec is not None else design.update.slicing
        self.w_max = float(design.array.w_max)
        self.pairs = 2 if design.array.weight_mapping == "differential" else 1
        self.pm = torch.tensor([0.5, -0.5] if self.pairs == 2 else [0.5], device=device).view(1, self.pairs, 1)
        self.pm2 = self.pm * 2.0  # pair signs (+1, -1) or (+1,)
        if slicing == "positional":
            self._positional()
        elif slicing == "fixed_point":
            self._fixed_point(device)
        else:
            raise ValueError(f"weight encoding slicing {slicing!r}; allowed: positional, fixed_point")

    # --- polarity --------------------------------------------------------------------------------------------
    def combine(self, c: torch.Tensor) -> torch.Tensor:
        """Normalised slice value ŵ of a (rows, pairs, out) block of centred cell states."""
        if self.pairs == 2:
            return c[:, 0] - c[:, 1]
        return c[:, 0] * 2.0

    def split(self, what: torch.Tensor) -> torch.Tensor:
        """Per-device centred targets (rows, pairs, out) for normalised slice values ŵ (rows, out)."""
        return what.unsqueeze(1) * self.pm

    # --- positional (analog) slices ----------------------------------------------------------------------------
    def _positional(self) -> None:
        sl = self.spec
        self.slices = sl.slices
        self.base = sl.base
        self.sig = significances(sl.slices, sl.base)
        self.wscale = [self.w_max * s for s in self.sig]  # weight units per normalised slice unit
        self.k_hat = 1.0 / self.wscale[0]  # normalised LSB units per weight unit

    def decode(self, c: torch.Tensor) -> torch.Tensor:
        """Positional: the weight (in, out) held by cell states ``c`` (slices, in, pairs, out)."""
        if self.slices == 1:
            return self.combine(c[0]) * self.wscale[0]
        return sum(self.combine(c[s]) * self.wscale[s] for s in range(self.slices))

    def program(self, m: torch.Tensor, store) -> None:
        """Positional: write weights ``m`` (in, out) most significant slice first, each lower slice taking the residual
        error of those above it. ``store(s, targets)`` writes slice ``s``'s per-device targets (in, pairs, out)
        through the device model and returns what the cells hold."""
        resid = m / self.w_max
        for s in reversed(range(self.slices)):
            target = (resid / self.sig[s]).clamp_(-1.0, 1.0)
            held = store(s, self.split(target))
            if s:
                resid = resid - self.combine(held) * self.sig[s]

    # --- fixed-point bit slices ---------------------------------------------------------------------------------
    def _fixed_point(self, device) -> None:
        sl = self.spec
        self.base = int(sl.base)
        self.slices = self.S = sl.slices
        self.cap_bits = list(reversed(sl.slice_bits))  # least significant first
        self.total_bits = self.S * int(round(math.log2(self.base)))
        self.lsb = self.w_max / 2.0 ** (self.total_bits - 1)
        self.k_max = 2.0 ** (self.total_bits - 1) - 1
        self.k_min = -(2.0 ** (self.total_bits - 1))
        self.levels = torch.tensor([2.0 ** b for b in self.cap_bits], device=device).view(-1, 1, 1)
        self.v_hi = self.levels / 2 - 1
        self.v_lo = -self.levels / 2
        self.pows = torch.tensor([float(self.base) ** s for s in range(self.S)], device=device).view(-1, 1, 1)

    def integer(self, v: torch.Tensor, rounded: bool = False) -> torch.Tensor:
        """Fixed point: Σ_s base**s v_s (in, out) in LSB units (``rounded``: each slice read back to its level)."""
        if rounded:
            return torch.round(v).mul_(self.pows).sum(0)
        return (v * self.pows).sum(0)

    def to_integer(self, m: torch.Tensor) -> torch.Tensor:
        """Fixed point: weights (in, out) → the integer grid of ``T`` bits (nearest, clipped)."""
        return torch.round(m / self.lsb).clamp_(self.k_min, self.k_max)

    def canonical(self, k: torch.Tensor) -> torch.Tensor:
        return canonical_digits(k, self.base, self.S)

    def digits(self, k: torch.Tensor) -> torch.Tensor:
        return digits_of(k, self.base, self.S)

    def clip_levels(self, t: torch.Tensor) -> torch.Tensor:
        """Fixed point: slice levels (S, ...) clipped to each slice's range."""
        return torch.maximum(torch.minimum(t, self.v_hi), self.v_lo)

    # --- carry ----------------------------------------------------------------------------------------------------
    def carry(self, policy, count_steps: bool = True) -> CarrySchedule:
        """The carry schedule of one weight copy: ``periodic`` for positional slices, ``resolve`` for fixed point."""
        return CarrySchedule(self.spec.carry_interval, policy, "periodic" if self.kind == "positional" else "resolve",
                             count_steps=count_steps)

    def to(self, device) -> "WeightEncoding":
        for name in ("pm", "pm2", "levels", "v_hi", "v_lo", "pows"):
            if hasattr(self, name):
                setattr(self, name, getattr(self, name).to(device))
        return self


__all__ = ["WeightEncoding", "digits_of", "canonical_digits"]
