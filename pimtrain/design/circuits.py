"""Cost-side blocks of a design: technology, hierarchy and the circuit components around the arrays.

These are descriptions only (numbers with units and provenance); the models that turn them into
energy, latency and area live in :mod:`pimtrain.cost`. The same :class:`~pimtrain.design.Design`
object carries them next to the numerics blocks, so nothing about a design is written twice.

Component parameters are parsed and checked here, at design load: a value such as ``'1.667 pJ'`` is
converted to SI using the dimension its *name* announces (``*_energy`` → J, ``*_time`` → s, ``area`` →
m², ``*_power`` → W, ...; see :data:`PARAM_DIMENSIONS`), and every number must be finite and
non-negative. Unknown parameter names are rejected by the cost model's component class (it lists the
allowed ones), which :func:`pimtrain.cost.build_hardware` calls when a design is costed.
"""
from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .units import Frequency, Voltage, check_finite, parse_quantity

#: Component model names known to :mod:`pimtrain.cost` (kept here so a design validates on its own).
COMPONENT_MODELS = (
    "crossbar", "dac", "dtc", "adc", "ramp_adc", "sample_hold", "shift_add", "register",
    "sram", "edram", "reram_memory", "mac", "router", "activation", "static", "pim_logic",
    "puma_mcu",
)

#: What a component is used for in a kernel; the cost model counts actions per role.
COMPONENT_ROLES = (
    "array", "input_driver", "readout", "sample_hold", "shift_add", "output_register",
    "update_row_driver", "update_col_driver", "weight_memory", "buffer", "mac", "activation",
    "router", "static", "pim_block",
    "matrix_unit",
)

#: Role a model plays when the spec does not say.
DEFAULT_ROLE = {
    "crossbar": "array", "dac": "input_driver", "dtc": "input_driver", "adc": "readout",
    "ramp_adc": "readout", "sample_hold": "sample_hold", "shift_add": "shift_add",
    "register": "output_register", "sram": "buffer", "edram": "buffer", "reram_memory": "weight_memory",
    "mac": "mac", "router": "router", "activation": "activation", "static": "static", "pim_logic": "pim_block",
    "puma_mcu": "matrix_unit",
}

#: Parameter-name suffix -> physical dimension (for unit parsing). Longest suffix wins.
PARAM_DIMENSIONS = {
    "energy": "energy", "power": "power", "area": "area", "time": "time", "latency": "time",
    "period": "time", "slot": "time", "voltage": "voltage", "current": "current", "hz": "frequency",
    "frequency": "frequency", "capacitance": "capacitance", "conductance": "conductance",
    "resistance": "resistance",
}


def param_dimension(key: str) -> str:
    """The dimension a parameter name announces (``'read_energy'`` → ``'energy'``), else dimensionless."""
    tokens = key.lower().split("_")
    if "per" in tokens:  # 'read_energy_per_bit' -> 'energy'
        tokens = tokens[: tokens.index("per")]
    return PARAM_DIMENSIONS.get(tokens[-1], "dimensionless") if tokens else "dimensionless"


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
    clock_hz: Frequency = Field(default=1e9, gt=0.0, description="digital clock (Hz)")


class HierarchySpec(_Strict):
    """How arrays are grouped: arrays → cores → tiles → chip. The chip holds every layer's weights."""

    arrays_per_core: int = Field(default=1, ge=1)
    cores_per_tile: int = Field(default=1, ge=1)
    tiles_per_chip: int = Field(default=1, ge=1)
    chip_fit: Literal["error", "grow"] = Field(
        default="grow",
        description="'error': weights that do not fit the chip are an error naming the limit; "
        "'grow': the chip is taken as large as the workload needs (tiles_per_chip ignored)",
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


class ComponentSpec(_Strict):
    """One circuit block: a model name from :mod:`pimtrain.cost`, its role, count and parameters.

    ``count`` instances sit in each unit of ``level`` (``count: 1024, level: array`` is one per column).
    ``params`` values may be quantities with units (``'1.667 pJ'``); they are parsed to SI here using
    the dimension the parameter's name announces, and must be non-negative.
    """

    model: str = Field(min_length=1, description="component class name in pimtrain.cost (e.g. 'adc', 'dac')")
    role: str | None = Field(default=None, description="what the block does in a kernel; default from the model")
    count: int = Field(default=1, ge=1, description="instances per parent level (leave a block out rather than count 0: the energy model charges per use)")
    level: str = Field(default="array", description="hierarchy level the count is per: array, core, tile or chip")
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("model")
    @classmethod
    def _model(cls, v: str) -> str:
        if v not in COMPONENT_MODELS:
            raise ValueError(f"unknown component model {v!r}; allowed: {', '.join(COMPONENT_MODELS)}")
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

    @field_validator("params")
    @classmethod
    def _params(cls, v: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in v.items():
            if isinstance(value, bool):
                out[key] = value
                continue
            if not isinstance(value, (int, float, str)):  # noqa: TRY004 - pydantic reports ValueError only
                raise ValueError(f"params.{key}: must be a number or a quantity such as '1 pJ' (got {type(value).__name__}); "
                                 "provenance is written {value, source, basis, note}")
            if isinstance(value, (int, float, str)):
                dim = param_dimension(key)
                try:
                    num = parse_quantity(value, dim)
                except ValueError as exc:
                    raise ValueError(f"params.{key}: {exc}") from None
                if not math.isfinite(num) or num < 0:
                    raise ValueError(f"params.{key}: must be a finite number >= 0 (got {value!r}); allowed: >= 0")
                if key.endswith("_nm") and num <= 0:
                    raise ValueError(f"params.{key}: a technology node must be > 0 nm (got {value!r})")
                out[key] = int(num) if isinstance(value, int) else num
        return out

    @model_validator(mode="after")
    def _default_role(self):
        if self.role is None:
            object.__setattr__(self, "role", DEFAULT_ROLE[self.model])
        return self


class CircuitsSpec(_Strict):
    """Named components of the design (name -> spec). Empty: the cost model builds defaults."""

    components: dict[str, ComponentSpec] = Field(default_factory=dict)
