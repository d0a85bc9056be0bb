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


def absmax(x: torch.Tensor):
    """max |x|: a Python float on CPU (one fused min/max pass, no tensor ops after), a 0-d tensor elsewhere."""
    if x.device.type == "cpu":
        mn, mx = torch.aminmax(x)
        return max(-float(mn), float(mx))
    return x.abs().amax()


def quantize(x: torch.Tensor, n: int, r, clamp: bool = True, *, lower: int | None = None, step=None,
             inplace: bool = False) -> torch.Tensor:
    """The one uniform quantiser of pimtrain: every converter, core and dataflow calls it.

    Codes ``round(x·n/r)`` (step ``Δ = r/n``), clamped to ``[lower, n]`` when ``clamp`` (``lower`` defaults
    to ``-n``: signed; 0: unsigned), returned as ``codes·r/n`` — a new tensor, or ``x`` itself when
    ``inplace``. With ``step`` (the LSB, float or tensor; ``r`` ignored) the codes are ``round(x/Δ)``: the
    form the dataflows' SAR ADC has always used, kept so that pinned results do not move by a float ulp.
    """
    lo = -n if lower is None else lower
    if step is not None:
        q = torch.round(x / step)
        return (torch.clamp(q, lo, n) if clamp else q) * step
    q = (x.mul_ if inplace else x.mul)(n / r).round_()
    if clamp:
        q.clamp_(lo, n)
    return q.mul_(r / n)


class Converter:
    """One converter (DAC or ADC) of one read kernel: bits, range policy, conversion and clipping counts.

    ``conv(x, dims)`` quantises with :func:`quantize` over the policy's range (``dims``: reduced dims of a
    per-array range); ``noise(y, dims, generator)`` adds ``output_noise`` × the range before conversion.
    """

    def __init__(self, bits: int | None, range_spec: RangeSpec, output_noise: float = 0.0):
        self.bits = bits
        self.n = levels_for(bits)
        self.range = RangePolicy(range_spec)
        self.output_noise = float(output_noise)
        self.conversions = 0
        self.clipped: torch.Tensor | None = None  # tensor accumulator, read via clipped_count()
        self.last_scale = None  # the range of the last conversion (None: ideal or an all-zero signal)
        #: batch_max on CPU: take the range to the host (one sync, fewer tensor ops). The scale ``n/r`` is then formed
        #: in double precision, which can differ by one float32 ulp from a tensor's; the bit-sliced core turns this
        #: off so that its results stay those it has always given.
        self.host_scale = True

    @property
    def ideal(self) -> bool:
        return self.bits is None

    def __call__(self, x: torch.Tensor, dims=None, inplace: bool = False) -> torch.Tensor:
        self.conversions += x.numel()
        n = self.n
        self.last_scale = None
        if n is None:
            return x
        if self.range.policy == "batch_max":  # the range is the max: nothing clips
            if dims is None:
                r = absmax(x) if self.host_scale else x.abs().amax()
                if isinstance(r, float):  # CPU: a host scale (cheaper than more tensor ops)
                    if r == 0.0:
                        return x.zero_() if inplace else torch.zeros_like(x)
                    self.last_scale = r
                    return quantize(x, n, r, clamp=False, inplace=inplace)
                r = r.clamp_min(_TINY)
            else:
                r = x.abs().amax(dim=dims, keepdim=True).clamp_min_(_TINY)
            self.last_scale = r
            return quantize(x, n, r, clamp=False, inplace=inplace)
        r = self.range.range(x, dims)
        self.last_scale = r
        if self.range.may_clip:
            over = (x.abs() > r).sum()
            self.clipped = over if self.clipped is None else self.clipped + over
        return quantize(x, n, r, clamp=True, inplace=inplace)

    def noise(self, y: torch.Tensor, dims, generator: torch.Generator) -> None:
        """Add the converter's input noise (``io.output_noise`` × its range) to ``y`` in place."""
        if self.output_noise <= 0:
            return
        if self.range.policy == "fixed" and self.n is not None:
            r = float(self.range.value)
        elif self.range.policy == "batch_max" or self.n is None:
            r = y.abs().amax() if dims is None else y.abs().amax(dim=dims, keepdim=True)
        else:
            r = y.abs().amax()
        y.add_(torch.randn(y.shape, generator=generator, device=y.device).mul_(r * self.output_noise))

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


class DacQuantizer(Converter):
    """Input converter of one read kernel (``io.dac_bits``, ``io.input_range``)."""

    @classmethod
    def from_io(cls, io) -> "DacQuantizer":
        return cls(io.dac_bits, io.input_range)


class AdcQuantizer(Converter):
    """Output converter of one read kernel (``io.adc_bits``, ``io.output_range``).

    Call with ``dims`` to give each physical array its own range (dims reduced = batch and columns).
    """

    @classmethod
    def from_io(cls, io) -> "AdcQuantizer":
        return cls(io.adc_bits, io.output_range, io.output_noise)
