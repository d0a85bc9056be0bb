"""Functional numerics of one logical weight matrix on PIM arrays (analog crossbars or digital PIM).

Entry point: :func:`make_core` (a registry lookup, :mod:`.registry`). See ``README.md`` for the kernels,
conventions, where each part lives and how to add a core kind.
"""
from .core import AnalogCore
from .digital import DigitalCore, round_to_format
from .quantizers import AdcQuantizer, Converter, DacQuantizer, RangePolicy, levels_for, quantize
from .registry import core_kind, make_core, register
from .slicing import periodic_carry, significances

__all__ = [
    "AnalogCore", "DigitalCore", "make_core", "core_kind", "register", "AdcQuantizer", "DacQuantizer", "Converter",
    "RangePolicy", "levels_for", "quantize", "periodic_carry", "significances", "round_to_format",
]
