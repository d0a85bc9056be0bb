"""Analog training algorithms beyond plain SGD (``update.algorithm``): compound cores of several arrays."""
from .compound import BUILT, CompoundCore

__all__ = ["CompoundCore", "BUILT"]
