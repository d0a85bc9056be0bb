"""Cost-side blocks of a design: technology, hierarchy and the circuit components around the arrays.

These are descriptions only (numbers with units and provenance); the models that turn them into
energy, latency and area live in :mod:`pimtrain.cost`. The same :class:`~pimtrain.design.Design`
object carries them next to the numerics blocks, so nothing about a design is written twice.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .units import Frequency, Voltage


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class TechnologySpec(_Strict):
    node_nm: float = Field(default=32.0, gt=0.0, description="CMOS technology node (nm)")
    vdd: Voltage = Field(default=0.9, gt=0.0, description="digital supply voltage (V)")
    clock_hz: Frequency = Field(default=1e9, gt=0.0, description="digital clock (Hz)")


class HierarchySpec(_Strict):
    """How arrays are grouped: arrays → cores → tiles → chip."""

    arrays_per_core: int = Field(default=1, ge=1)
    cores_per_tile: int = Field(default=1, ge=1)
    tiles_per_chip: int = Field(default=1, ge=1)


class ComponentSpec(_Strict):
    """One circuit block: a model name from :mod:`pimtrain.cost` plus its parameters.

    ``params`` values may be quantities with units (``'1.667 pJ'``); they are parsed and checked by the
    cost model's component class when the design is loaded for costing.
    """

    model: str = Field(min_length=1, description="component class name in pimtrain.cost (e.g. 'adc', 'dac')")
    count: int = Field(default=1, ge=0, description="instances per parent level")
    level: str = Field(default="array", description="hierarchy level the count is per: array, core, tile or chip")
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("level")
    @classmethod
    def _level(cls, v: str) -> str:
        allowed = ("array", "core", "tile", "chip")
        if v not in allowed:
            raise ValueError(f"unknown level {v!r}; allowed: {', '.join(allowed)}")
        return v


class CircuitsSpec(_Strict):
    """Named components of the design (name -> spec)."""

    components: dict[str, ComponentSpec] = Field(default_factory=dict)
