"""Cost-side blocks of a design: technology, hierarchy and the circuit components around the arrays.

These are descriptions only (numbers with units and provenance); the models that turn them into
energy, latency and area live in :mod:`pimtrain.cost`. The same :class:`~pimtrain.design.Design`
object carries them next to the numerics blocks, so nothing about a design is written twice.

Component entries are checked here, at design load, against the component registry
(:mod:`pimtrain.cost.registry`, the one list of component models, which installed plug-in packages
extend through the ``pimtrain.components`` entry point): the ``model`` must be registered, and
``params`` must validate against that model's typed parameter model (units parsed to SI, bounds,
unknown names refused). This package does not import ``pimtrain.cost``: :func:`component_registry`
imports the registry by name on first use, as plug-in discovery does. A bad entry is one line naming
the field, e.g. ``circuits.components.adc.params.convert_energy: expected an energy such as '1.2 pJ'
(got a mapping)``.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .units import Frequency, Voltage, check_finite

#: What a component is used for in a kernel; the cost model counts actions per role.
COMPONENT_ROLES = (
    "array", "input_driver", "readout", "sample_hold", "shift_add", "output_register",
    "update_row_driver", "update_col_driver", "weight_memory", "buffer", "mac", "activation",
    "router", "static", "pim_block",
    "matrix_unit", "accumulator", "periphery",
)

#: Module of the component registry, imported by name on first use (design never imports cost statically).
REGISTRY_MODULE = "pimtrain.cost.registry"


def component_registry():
    """The component registry module (``validate_spec``, ``models``, ``get``), imported on first use."""
    return import_module(REGISTRY_MODULE)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="after")
    @classmethod
    def _finite_numbers(cls, v):
        return check_finite(v)


class TechnologySpec(_Strict):
    """CMOS technology of the periphery: node (for explicit energy/area/latency scaling), supply, clock."""

    node_nm: float = Field(default=32.0, ge=5.0, le=180.0, description="CMOS technology node (nm)")
    vdd: Voltage = Field(default=0.9, gt=0.0, le=2.0, description="digital supply voltage (V)")
    clock_hz: Frequency = Field(default=1e9, ge=1e3, le=1e12, description="digital clock (Hz), 1 kHz to 1 THz")


class HierarchySpec(_Strict):
    """How arrays are grouped: arrays → cores → tiles → chip. The chip holds every layer's weights."""

    arrays_per_core: int = Field(default=1, ge=1, le=10**6)
    cores_per_tile: int = Field(default=1, ge=1, le=10**6)
    tiles_per_chip: int = Field(default=1, ge=1, le=10**6)
    chip_fit: Literal["error", "grow"] = Field(
        default="grow",
        description="'error': weights that do not fit the chip are an error naming the limit; "
        "'grow': the chip is taken as large as the workload needs (tiles_per_chip ignored)",
    )
    static_power: Literal["occupied", "chip"] = Field(
        default="occupied",
        description="power-gating policy for leakage: 'occupied' = only the arrays, cores and tiles holding the "
        "workload's weights leak (the rest is power-gated); 'chip' = every block of the stated chip "
        "(tiles_per_chip tiles) leaks for the whole step, as a board that cannot gate its idle parts",
    )

    @property
    def arrays_per_chip(self) -> int:
        return self.arrays_per_core * self.cores_per_tile * self.tiles_per_chip

    def multiplicity(self, level: str) -> int:
        """Instances of one ``level`` unit on the chip (array: all arrays; chip: 1)."""
        return {
            "array": self.arrays_per_chip,
            "core": self.cores_per_tile * self.tiles_per_chip,
            "tile": self.tiles_per_chip,
            "chip": 1,
        }[level]

    def arrays_per(self, level: str) -> int:
        """Arrays in one ``level`` unit (array: 1, core: arrays_per_core, tile, chip)."""
        return self.arrays_per_chip // self.multiplicity(level)


class ComponentSpec(_Strict):
    """One circuit block: a registered model name, its role, count and parameters.

    ``count`` instances sit in each unit of ``level`` (``count: 1024, level: array`` is one per column).
    ``count`` is at least 1: a block with no instances would still be charged for the actions the
    Mapping counts (conversions, drives, reads), so a design that has no such block leaves its entry
    out instead. ``params`` are validated against the model's typed parameter model and kept as SI
    floats (only the parameters given; the rest take the component's documented defaults).
    """

    model: str = Field(min_length=1, description="registered component model (e.g. 'adc', 'dac'; see pimtrain.cost.registry)")
    role: str | None = Field(default=None, description="what the block does in a kernel; default from the model")
    count: int = Field(default=1, description="instances per parent level (1 to 2**31)")
    level: str = Field(default="array", description="hierarchy level the count is per: array, core, tile or chip")
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("count")
    @classmethod
    def _count(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be >= 1: a block with no instances would still be charged for the "
                             "actions the Mapping counts; leave the entry out instead")
        if v > 2**31:
            raise ValueError("must be <= 2**31")
        return v

    @field_validator("role")
    @classmethod
    def _role(cls, v):
        if v is not None and v not in COMPONENT_ROLES:
            raise ValueError(f"unknown role {v!r}; allowed: {', '.join(COMPONENT_ROLES)}")
        return v

    @field_validator("level")
    @classmethod
    def _level(cls, v: str) -> str:
        allowed = ("array", "core", "tile", "chip")
        if v not in allowed:
            raise ValueError(f"unknown level {v!r}; allowed: {', '.join(allowed)}")
        return v

    @model_validator(mode="after")
    def _check_with_registry(self):
        # A message starting with '.' continues the field path of this entry (see io.format_validation_error).
        try:
            role, params = component_registry().validate_spec(self.model, self.role, self.params)
        except ValueError as exc:
            raise ValueError(f".{exc}") from None
        object.__setattr__(self, "role", role)
        object.__setattr__(self, "params", params)
        return self


class CircuitsSpec(_Strict):
    """Named components of the design (name -> spec). Empty: the cost model builds defaults."""

    components: dict[str, ComponentSpec] = Field(default_factory=dict)
