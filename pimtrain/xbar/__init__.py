"""Functional numerics of one logical weight matrix on PIM arrays (analog crossbars or digital PIM).

Entry point: :func:`make_core`. See ``README.md`` for the kernels, conventions and measured speed.
"""
from .core import AnalogCore, make_core
from .digital import DigitalCore, round_to_format
from .quantizers import AdcQuantizer, DacQuantizer, RangePolicy, levels_for, quantize
from .slicing import periodic_carry, significances

__all__ = [
    "AnalogCore", "DigitalCore", "make_core", "AdcQuantizer", "DacQuantizer", "RangePolicy", "levels_for",
    "quantize", "periodic_carry", "significances", "round_to_format",
]
