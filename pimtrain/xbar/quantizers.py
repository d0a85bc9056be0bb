"""DAC and ADC quantisers with range policies (``fixed`` / ``calibrated`` / ``batch_max``).

A signed converter of ``bits`` bits (sign included) has ``n = 2**(bits-1) - 1`` magnitude levels
(at least 1) over ``[-R, R]``: ``q(x) = clamp(round(x n / R), -n, n) R / n``. ``R`` comes from
:class:`RangePolicy`. ``bits=None`` is an ideal converter (identity).

Ranges may be per tensor (default) or reduced over chosen dims (e.g. one range per physical array),
and are kept as tensors (no host synchronisation).
"""
from __future__ import annotations

import torch

from pimtrain.design.models import RangeSpec

_TINY = 1e-30


def levels_for(bits: int | None) -> int | None:
    """Magnitude levels of a signed converter with ``bits`` bits including the sign."""
    if bits is None:
        return None
    return max((1 << (bits - 1)) - 1, 1)


class RangePolicy:
    """Full-scale range of one converter.

    ``fixed``: ±value. ``batch_max``: max |signal| of the call. ``calibrated``: during the first
    ``calibration_batches`` calls the batch's own range is used and the ``percentile`` of |signal| is
    averaged; afterwards that average is fixed.
    """

    def __init__(self, spec: RangeSpec):
        self.policy = spec.policy
        self.value = spec.value
        self.percentile = float(spec.percentile)
        self.calibration_batches = int(spec.calibration_batches)
        self.calls = 0
        self.calibrated: torch.Tensor | None = None

    @property
    def may_clip(self) -> bool:
        return self.policy == "fixed" or (self.policy == "calibrated" and self.calls >= self.calibration_batches)

    def _measure(self, t: torch.Tensor, dims) -> torch.Tensor:
        a = t.abs()
        if self.percentile >= 100.0:
            return a.amax() if dims is None else a.amax(dim=dims, keepdim=True)
        q = self.percentile / 100.0
        if dims is None:
            return torch.quantile(a.flatten().float(), q)
        moved = a.movedim(tuple(dims), tuple(range(-len(dims), 0)))
        flat = moved.reshape(*moved.shape[: moved.dim() - len(dims)], -1)
        r = torch.quantile(flat.float(), q, dim=-1)
        for d in sorted(dims):
            r = r.unsqueeze(d)
        return r

    def range(self, t: torch.Tensor, dims=None):
        """The range for signal ``t`` (a float or a tensor broadcastable to ``t``)."""
        if self.policy == "fixed":
            return float(self.value)
        if self.policy == "batch_max":
            return (t.abs().amax() if dims is None else t.abs().amax(dim=dims, keepdim=True)).clamp_min(_TINY)
        # calibrated
        if self.calls < self.calibration_batches:
            r = self._measure(t, dims).clamp_min(_TINY)
            self.calls += 1
            self.calibrated = r if self.calibrated is None else self.calibrated + (r - self.calibrated) / self.calls
            return r
        return self.calibrated

    def state_dict(self) -> dict:
        return {"calls": self.calls, "calibrated": self.calibrated}

    def load_state_dict(self, sd: dict) -> None:
        self.calls = int(sd.get("calls", 0))
        self.calibrated = sd.get("calibrated")

    def to(self, device):
        if isinstance(self.calibrated, torch.Tensor):
            self.calibrated = self.calibrated.to(device)
        return self


def quantize(x: torch.Tensor, n: int, r, clamp: bool = True) -> torch.Tensor:
    """``clamp(round(x n / r), -n, n) r / n`` (a new tensor)."""
    q = torch.mul(x, n / r if isinstance(r, float) else r.reciprocal() * n).round_()
    if clamp:
        q.clamp_(-n, n)
    return q.mul_(r / n)


class _Converter:
    def __init__(self, bits: int | None, range_spec: RangeSpec):
        self.bits = bits
        self.n = levels_for(bits)
        self.range = RangePolicy(range_spec)
        self.conversions = 0
        self.clipped: torch.Tensor | None = None  # tensor accumulator, read via clipped_count()

    @property
    def ideal(self) -> bool:
        return self.bits is None

    def __call__(self, x: torch.Tensor, dims=None) -> torch.Tensor:
        self.conversions += x.numel()
        if self.n is None:
            return x
        r = self.range.range(x, dims)
        clip = self.range.may_clip
        if clip:
            c = (x.abs() > r).sum()
            self.clipped = c if self.clipped is None else self.clipped + c
        return quantize(x, self.n, r, clamp=clip)

    def clipped_count(self) -> int:
        return 0 if self.clipped is None else int(self.clipped)

    def state_dict(self) -> dict:
        return {"range": self.range.state_dict(), "conversions": self.conversions, "clipped": self.clipped_count()}

    def load_state_dict(self, sd: dict) -> None:
        self.range.load_state_dict(sd.get("range", {}))
        self.conversions = int(sd.get("conversions", 0))
        self.clipped = None if not sd.get("clipped") else torch.tensor(sd["clipped"])

    def to(self, device):
        self.range.to(device)
        if self.clipped is not None:
            self.clipped = self.clipped.to(device)
        return self


class DacQuantizer(_Converter):
    """Input converter of one read kernel (``io.dac_bits``, ``io.input_range``)."""

    @classmethod
    def from_io(cls, io) -> "DacQuantizer":
        return cls(io.dac_bits, io.input_range)


class AdcQuantizer(_Converter):
    """Output converter of one read kernel (``io.adc_bits``, ``io.output_range``).

    Call with ``dims`` to give each physical array its own range (dims reduced = batch and columns).
    """

    @classmethod
    def from_io(cls, io) -> "AdcQuantizer":
        return cls(io.adc_bits, io.output_range)
