"""IEEE-754-like binary floating-point formats, given by their exponent and fraction widths.

A value is held as its bit pattern in an ``int64`` tensor: sign at bit ``E+M``, biased exponent in the
next ``E`` bits, fraction in the low ``M`` bits. ``fp32`` (8, 23), ``bf16`` (8, 7) and ``fp16`` (5, 10)
convert to and from torch tensors; any other (E, M) exists as bit patterns only.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from pimtrain.design.errors import PimtrainError

__all__ = ["FPFormat", "FORMATS", "get_format", "to_bits", "from_bits"]

_MAX_MAN = 25  # significand products of 2*(M+1) <= 52 bits stay exact in int64 arithmetic


@dataclass(frozen=True)
class FPFormat:
    """``exp_bits`` (E) and ``man_bits`` (M, fraction bits without the hidden one)."""

    exp_bits: int
    man_bits: int
    name: str = ""

    def __post_init__(self):
        if not (2 <= self.exp_bits <= 11) or not (1 <= self.man_bits <= _MAX_MAN):
            raise PimtrainError(f"format: exponent bits must be 2..11 and mantissa bits 1..{_MAX_MAN} (got E={self.exp_bits}, M={self.man_bits})")

    @property
    def bias(self) -> int:
        return (1 << (self.exp_bits - 1)) - 1

    @property
    def emin(self) -> int:
        """Unbiased exponent of the smallest normal number."""
        return 1 - self.bias

    @property
    def exp_max(self) -> int:
        """Biased exponent of inf/NaN (all ones)."""
        return (1 << self.exp_bits) - 1

    @property
    def width(self) -> int:
        return 1 + self.exp_bits + self.man_bits

    @property
    def precision(self) -> int:
        """Significand bits including the hidden one (P = M + 1)."""
        return self.man_bits + 1

    @property
    def unit_roundoff(self) -> float:
        return 2.0 ** (-self.precision)

    @property
    def quiet_nan(self) -> int:
        return (self.exp_max << self.man_bits) | (1 << (self.man_bits - 1))

    def label(self) -> str:
        return self.name or f"e{self.exp_bits}m{self.man_bits}"


FORMATS = {
    "fp32": FPFormat(8, 23, "fp32"),
    "bf16": FPFormat(8, 7, "bf16"),
    "fp16": FPFormat(5, 10, "fp16"),
}
_TORCH = {"fp32": (torch.float32, torch.int32), "bf16": (torch.bfloat16, torch.int16), "fp16": (torch.float16, torch.int16)}


def get_format(fmt: str | FPFormat | None = None, exp_bits: int | None = None, man_bits: int | None = None) -> FPFormat:
    """A format by name (``fp32``, ``bf16``, ``fp16``), by widths, or as given."""
    if isinstance(fmt, FPFormat):
        return fmt
    if exp_bits is not None or man_bits is not None:
        if exp_bits is None or man_bits is None:
            raise PimtrainError("format: give both exponent_bits and mantissa_bits (or neither)")
        for f in FORMATS.values():
            if (f.exp_bits, f.man_bits) == (exp_bits, man_bits):
                return f
        return FPFormat(int(exp_bits), int(man_bits))
    try:
        return FORMATS[str(fmt)]
    except KeyError:
        raise PimtrainError(f"format: {fmt!r} is not a floating-point format; allowed: {', '.join(FORMATS)}") from None


def to_bits(x: torch.Tensor, fmt: FPFormat) -> torch.Tensor:
    """Bit patterns (int64) of ``x`` rounded to ``fmt`` (torch formats only)."""
    if fmt.name not in _TORCH:
        raise PimtrainError(f"format: {fmt.label()} has no torch dtype; build bit patterns directly")
    fdt, idt = _TORCH[fmt.name]
    b = x.to(fdt).contiguous().view(idt).to(torch.int64)
    return b & ((1 << fmt.width) - 1)


def from_bits(b: torch.Tensor, fmt: FPFormat) -> torch.Tensor:
    """Float32 tensor of the values whose ``fmt`` bit patterns are ``b`` (torch formats only)."""
    if fmt.name not in _TORCH:
        raise PimtrainError(f"format: {fmt.label()} has no torch dtype")
    fdt, idt = _TORCH[fmt.name]
    w = fmt.width
    signed = torch.where(b >= (1 << (w - 1)), b - (1 << w), b)
    return signed.to(idt).view(fdt).to(torch.float32)
