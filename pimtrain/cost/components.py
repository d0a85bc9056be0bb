"""One small class per circuit block (in the style of Accelergy's hwcomponents).

Every class declares its parameters as a pydantic model (``Params``, a :class:`ComponentParams`):
typed fields whose units parse to SI (``'1.667 pJ'`` → 1.667e-12), with bounds (finite, non-negative or
positive as the physics needs, below a plausibility ceiling per dimension, :data:`LIMITS`), defaults
and the source of each default in the field's description. Unknown parameters are errors
(``extra="forbid"``). Each class states the node its defaults were quoted at (``REF_NODE_NM``), its
default role in a kernel (``ROLE``) and its source (docstring). An *action* is a method marked with
:func:`action` that returns ``(energy J, latency s)``; ``Component.actions()`` lists them. Every
instance has ``area`` (m²) and ``leak_power`` (W). SI throughout.

Technology scaling is explicit (:mod:`pimtrain.cost.scaling`): parameters of dimension energy and
power are multiplied by ``energy_scale(node, ref)``, areas by ``area_scale``, periphery delays by
``latency_scale`` (the dimension is the one the typed field declares). Parameters that are device
physics (cell conductance, write current and pulse, device switching time) are listed in ``UNSCALED``
and never scaled. The defaults of a class are taken at its ``REF_NODE_NM``; numbers a design file
writes are taken at the design's own node unless the component's params say ``ref_node_nm``.

Classes are registered in :mod:`pimtrain.cost.registry` (bottom of this file); a plug-in package adds
its own through the ``pimtrain.components`` entry point.
"""
from __future__ import annotations

import functools
import math
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from pimtrain.design import PimtrainError
from pimtrain.design.units import SIDimension, SIField

from .scaling import area_scale, energy_scale, latency_scale

#: Plausibility ceiling of a parameter per dimension (SI). Far above any circuit block here; they keep
#: a typo such as ``1e300`` from overflowing the chip totals to ``inf``.
LIMITS = {
    "energy": 1.0,          # J per action
    "time": 1.0,            # s per action
    "power": 1e3,           # W per instance
    "area": 1.0,            # m² per instance
    "conductance": 1.0,     # S
    "resistance": 1e15,     # Ω
    "voltage": 100.0,       # V
    "current": 1.0,         # A
    "frequency": 1e13,      # Hz
    "length": 1e-3,         # m
    "capacitance": 1.0,     # F
    "dimensionless": 1e12,  # counts, widths, capacities
    "bits": 1e12,
}


def Q(dimension: str, *, optional: bool = False, gt: float | None = None, ge: float | None = 0.0,
      le: float | None = None):
    """A typed SI field of ``dimension`` bounded by ``[ge, LIMITS[dimension]]`` (or ``> gt``)."""
    if gt is not None:
        ge = None
    return SIField(dimension, ge=ge, gt=gt, le=LIMITS[dimension] if le is None else le, optional=optional)


def Count(*, ge: float | None = 0.0, gt: float | None = None, le: float = 1e12, optional: bool = False):
    """A dimensionless number (count, width in bits, capacity, activity fraction)."""
    return SIField("dimensionless", ge=None if gt is not None else ge, gt=gt, le=le, optional=optional)


class ComponentParams(BaseModel):
    """Parameters every component accepts: its ``area`` and ``leak_power``, and ``ref_node_nm``."""

    model_config = ConfigDict(extra="forbid", validate_default=False)

    area: Q("area", optional=True) = Field(
        default=None, description="area of one instance (m²); default: the class's own estimate (see its docstring)")
    leak_power: Q("power") = Field(default=0.0, description="static power of one instance (W); default: the class's own")
    ref_node_nm: Count(ge=5.0, le=180.0, optional=True) = Field(
        default=None, description="node (nm) the given numbers were quoted at; default: the design's technology.node_nm")


#: Parameter-name suffix -> physical dimension, for classes that still give a plain ``PARAMS`` dict.
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


def params_from_dict(name: str, defaults: dict[str, float | None]) -> type[ComponentParams]:
    """A :class:`ComponentParams` model from a plain ``PARAMS`` dict (dimension from each name, bounds
    ``>= 0`` and :data:`LIMITS`); for a class that does not declare its own ``Params`` yet."""
    fields: dict[str, Any] = {}
    for key, default in defaults.items():
        dim = param_dimension(key)
        fields[key] = (Q(dim, optional=default is None), Field(default=default, description=f"{dim} (from PARAMS)"))
    return create_model(f"{name}Params", __base__=ComponentParams, **fields)


def action(fn):
    """Mark a method as an action of its component: it returns ``(energy J, latency s)``.

    The result is checked: a non-finite or negative energy or latency is a one-line
    :class:`PimtrainError` naming the component and action (never a silent ``inf`` in a report).
    """

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        e, t = fn(self, *args, **kwargs)
        if not (0.0 <= e < math.inf and 0.0 <= t < math.inf):
            raise PimtrainError(
                f"circuits.components.{self.name}: action {fn.__name__} of model {self.model!r} gives energy {e!r} J, "
                f"latency {t!r} s; allowed: finite and >= 0 (check its params and the design's sizes)")
        return e, t

    wrapper.is_action = True
    return wrapper


class Component:
    """Base class: typed parameters, node scaling, area and leakage. Subclasses add actions.

    Instance API used by the cost engine: ``p`` (parameter name → SI float or None, node-scaled),
    ``params`` (the validated :class:`ComponentParams`), ``area``, ``leak_power``, ``count``, ``level``,
    ``role``, ``name`` and the action methods.
    """

    model: ClassVar[str] = "component"
    ROLE: ClassVar[str] = "static"
    REF_NODE_NM: ClassVar[float] = 32.0
    Params: ClassVar[type[ComponentParams]] = ComponentParams
    UNSCALED: ClassVar[frozenset[str]] = frozenset()
    _DIMS: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if "Params" not in cls.__dict__ and "PARAMS" in cls.__dict__:  # legacy: a plain dict of defaults
            cls.Params = params_from_dict(cls.__name__, cls.__dict__["PARAMS"])
        dims = {}
        for key, f in cls.Params.model_fields.items():
            dims[key] = next((m.dimension for m in f.metadata if isinstance(m, SIDimension)), "dimensionless")
        cls._DIMS = dims
        cls.PARAMS = {k: f.default for k, f in cls.Params.model_fields.items() if k not in ("area", "leak_power", "ref_node_nm")}

    def __init__(self, name: str, params: dict | None = None, *, tech, design=None, count: int = 1,
                 level: str = "array", role: str | None = None):
        self.name, self.count, self.level, self.role = name, int(count), level, role or self.ROLE
        self.tech, self.design = tech, design
        try:
            parsed = self.Params.model_validate(dict(params or {}) if isinstance(params, dict) or params is None else params)
        except ValidationError as exc:
            from .registry import format_params_error

            raise PimtrainError(f"circuits.components.{name}.{format_params_error(exc, self.model, self.Params)}") from None
        self.params = parsed
        self.given = frozenset(parsed.model_fields_set)
        ref = parsed.ref_node_nm
        node, vdd = tech.node_nm, tech.vdd
        self.p: dict[str, float | None] = {}
        for key in self.Params.model_fields:
            if key == "ref_node_nm":
                continue
            value = getattr(parsed, key)
            from_node = (ref if ref is not None else node) if key in self.given else self.REF_NODE_NM
            self.p[key] = None if value is None else self._scale(key, float(value), node, from_node, vdd)

    def _scale(self, key: str, value: float, node: float, from_node: float, vdd: float) -> float:
        if key in self.UNSCALED or from_node == node:
            return value
        dim = self._DIMS.get(key, "dimensionless")
        if dim in ("energy", "power"):
            return value * energy_scale(node, from_node, vdd)
        if dim == "area":
            return value * area_scale(node, from_node)
        if dim == "time":
            return value * latency_scale(node, from_node)
        return value

    @classmethod
    def actions(cls) -> dict[str, Any]:
        """The actions of this class (name → method), each returning ``(energy J, latency s)``."""
        out = {}
        for klass in reversed(cls.__mro__):
            for key, value in vars(klass).items():
                if getattr(value, "is_action", False):
                    out[key] = getattr(cls, key)
        return out

    # ------------------------------------------------------------------------------------------------
    @property
    def clock_period(self) -> float:
        return 1.0 / self.tech.clock_hz

    @property
    def area(self) -> float:
        """Area of one instance (m²)."""
        return self.p["area"] or 0.0

    @property
    def leak_power(self) -> float:
        """Static power of one instance (W)."""
        return self.p["leak_power"] or 0.0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, count={self.count}, level={self.level!r})"


# ================================================================================================ array
class CrossbarArray(Component):
    """The memory array itself: analog read (VMM/MVM), parallel outer-product write, serial row access.

    Physics, no CMOS scaling:

    - read: ``E = n_cells · V_read² · G_mean · t_on · input_activity`` (Ohmic cell current integrated over
      the time the input is on); ``V_read`` and the unit read pulse come from ``design.array``, ``G_mean``
      defaults to the middle of the device's conductance range.
    - outer-product update: ``E = n_cells · I_write · V_write · t_pulse · update_activity`` with
      ``t_pulse = 2^row_bits · update_slot`` the longest row pulse (row value encoded in duration, column
      value in height), ``update_phases`` sign phases each as long as the longest pulse.
    - serial programming (accumulate/serial rules, periodic carry): one row at a time,
      ``row_write_time`` per row, ``cell_write_energy`` per cell (default ``I·V·row_write_time``).

    Defaults: PANTHER/PUMA serial read 10 250 ns and write 10 969 ns per 128-row crossbar at 32 nm
    (docs/sources.md §2.3 [C]) give ``row_read_time`` 80 ns and ``row_write_time`` 85.7 ns; write current
    1 µA and 1 V are placeholders (assumed) to be replaced by a preset.
    """

    model = "crossbar"
    ROLE = "array"

    class Params(ComponentParams):
        g_mean_conductance: Q("conductance", optional=True) = Field(
            default=None, description="mean cell conductance during a read (S); default: middle of device.g_min..g_max")
        input_activity: Count(le=1.0) = Field(default=0.5, description="fraction of the full input pulse applied (assumed 0.5)")
        update_activity: Count(le=1.0) = Field(default=0.5, description="fraction of the full update pulse applied (assumed 0.5)")
        write_current: Q("current") = Field(default=1e-6, description="cell write current (A); placeholder 1 µA (assumed)")
        write_voltage: Q("voltage") = Field(default=1.0, description="cell write voltage (V); placeholder 1 V (assumed)")
        update_slot: Q("time", optional=True) = Field(
            default=None, description="time of one row-pulse unit (s); default: one clock period")
        update_phases: Count(ge=1.0, le=64.0) = Field(
            default=4.0, description="sign phases of an outer-product update (PANTHER: 4, one per polarity pair)")
        row_read_time: Q("time") = Field(
            default=10250e-9 / 128, description="serial read of one row (s): PUMA 10 250 ns per 128 rows (docs/sources.md §2.3 [C])")
        row_write_time: Q("time") = Field(
            default=10969e-9 / 128, description="serial write of one row (s): PUMA 10 969 ns per 128 rows (docs/sources.md §2.3 [C])")
        cell_write_energy: Q("energy", optional=True) = Field(
            default=None, description="energy of programming one cell (J); default write_current·write_voltage·row_write_time")
        cell_area_f2: Count(gt=0.0, le=1e4) = Field(default=4.0, description="cell area in F² (crosspoint 4F², assumed)")

    UNSCALED = frozenset({"g_mean_conductance", "write_current", "write_voltage", "update_slot",
                          "row_write_time", "cell_write_energy"})

    @property
    def g_mean(self) -> float:
        g = self.p["g_mean_conductance"]
        if g is None:
            dev = self.design.device
            g = 0.5 * (dev.g_min + dev.g_max)
        return g

    @property
    def update_slot(self) -> float:
        return self.p["update_slot"] if self.p["update_slot"] is not None else self.clock_period

    @action
    def read(self, n_cells: float, t_on: float, activity: float | None = None) -> tuple[float, float]:
        """Analog read of ``n_cells`` cells with inputs on for ``t_on``."""
        a = self.p["input_activity"] if activity is None else activity
        v = self.design.array.read_voltage
        return n_cells * v * v * self.g_mean * t_on * a, t_on

    def update_pulse_time(self, row_bits: int) -> float:
        return (2 ** row_bits) * self.update_slot

    def update_latency(self, row_bits: int) -> float:
        return self.p["update_phases"] * self.update_pulse_time(row_bits)

    @action
    def outer_product(self, n_cells: float, row_bits: int, activity: float | None = None) -> tuple[float, float]:
        """Parallel outer-product update of ``n_cells`` cells (row value as pulse duration)."""
        a = self.p["update_activity"] if activity is None else activity
        e = n_cells * self.p["write_current"] * self.p["write_voltage"] * self.update_pulse_time(row_bits) * a
        return e, self.update_latency(row_bits)

    @property
    def cell_write_energy(self) -> float:
        e = self.p["cell_write_energy"]
        if e is None:
            e = self.p["write_current"] * self.p["write_voltage"] * self.p["row_write_time"]
        return e

    @action
    def program_rows(self, n_cells: float, n_rows: float) -> tuple[float, float]:
        """Serial programming of ``n_rows`` rows holding ``n_cells`` cells (energy, latency)."""
        return n_cells * self.cell_write_energy, n_rows * self.p["row_write_time"]

    @action
    def read_rows(self, n_cells: float, n_rows: float) -> tuple[float, float]:
        """Serial read of rows (verify / digital read): cell read energy at the unit read pulse."""
        e, _ = self.read(n_cells, self.design.array.read_time, activity=1.0)
        return e, n_rows * self.p["row_read_time"]

    @property
    def area(self) -> float:
        if self.p["area"] is not None:
            return self.p["area"]
        f = self.tech.node_nm * 1e-9
        return self.design.array.rows * self.design.array.cols * self.p["cell_area_f2"] * f * f


# ================================================================================================ converters
class DAC(Component):
    """Amplitude / pulse-height DAC driving one line.

    Source: ISAAC (Shafiee et al. ISCA 2016) 1-bit DAC, 4 mW for 8×128 DACs at 32 nm; hwcomponents'
    ``IsaacDAC`` 0.417 pJ per 1-bit drive; area 1.67e-7 mm², leakage 3.9e-7 mW (PUMA constants,
    docs/sources.md §2.3). Resolution scaling: energy and area ∝ bits (assumed, capacitive ladder).
    """

    model = "dac"
    ROLE = "input_driver"

    class Params(ComponentParams):
        drive_energy: Q("energy") = Field(default=0.417e-12, description="energy per 1-bit drive (J): hwcomponents IsaacDAC")
        drive_time: Q("time", optional=True) = Field(default=None, description="time of one drive (s); default one clock")

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        if self.p["area"] is None:
            self.p["area"] = 1.67e-13 * area_scale(self.tech.node_nm, self.REF_NODE_NM)

    @action
    def drive(self, bits: int) -> tuple[float, float]:
        """Drive one line with a ``bits``-bit value."""
        t = self.p["drive_time"] if self.p["drive_time"] is not None else self.clock_period
        return self.p["drive_energy"] * max(bits, 1), t


class DTC(Component):
    """Digital-to-time converter: turns an n-bit value into a pulse width (time-encoded input or row
    update duration).

    Source: TIMELY (Li et al. ISCA 2020) Table II via hwcomponents ``TimelyDTC``: 0.0375 pJ per 8-bit
    conversion, 240 µm² at 65 nm; energy and area ∝ 2^bits (hwcomponents' resolution scaling).
    """

    model = "dtc"
    ROLE = "input_driver"
    REF_NODE_NM = 65.0

    class Params(ComponentParams):
        convert_energy: Q("energy") = Field(default=0.0375e-12, description="energy per 8-bit conversion (J): TIMELY Table II")

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        if self.p["area"] is None:
            self.p["area"] = 240e-12 * area_scale(self.tech.node_nm, self.REF_NODE_NM)

    @action
    def drive(self, bits: int) -> tuple[float, float]:
        """One ``bits``-bit value turned into a pulse width."""
        return self.p["convert_energy"] * 2.0 ** (bits - 8), 0.0


# SAR ADC energy (pJ) and area (µm²) at 32 nm by resolution: ISAAC's 8-bit ADC (Kull et al. ISSCC 2013,
# 16 mW / (8 × 1.2 GS/s) = 1.667 pJ, 1200 µm²) and the 4–10-bit points scaled with Saberi et al. 2011
# (hwcomponents ``IsaacADC`` comments; docs/sources.md §5).
ADC_SCALING_POINTS = {
    4: (0.79, 361.04), 5: (0.99, 476.91), 6: (1.20, 626.91), 7: (1.42, 845.18),
    8: (1.666666667, 1200.0), 9: (1.969078145, 1827.911647), 10: (2.379022742, 3002.008032),
}


def adc_point(bits: int) -> tuple[float, float]:
    """(energy factor, area factor) relative to 8 bits; outside 4–10 bits geometric extrapolation."""
    pts = ADC_SCALING_POINTS
    e8, a8 = pts[8]
    if bits in pts:
        e, a = pts[bits]
    elif bits < 4:
        re, ra = pts[5][0] / pts[4][0], pts[5][1] / pts[4][1]
        e, a = pts[4][0] / re ** (4 - bits), pts[4][1] / ra ** (4 - bits)
    else:
        re, ra = pts[10][0] / pts[9][0], pts[10][1] / pts[9][1]
        e, a = pts[10][0] * re ** (bits - 10), pts[10][1] * ra ** (bits - 10)
    return e / e8, a / a8


class ADC(Component):
    """Successive-approximation ADC (ISAAC's), resolution dependent.

    Source: ISAAC Table I / Kull et al. ISSCC 2013 (8-bit, 1.2 GS/s, 32 nm): 1.667 pJ per conversion,
    1200 µm²; 4–10-bit scaled points (0.79, 0.99, 1.20, 1.42, 1.667, 1.97, 2.38 pJ) from hwcomponents
    ``IsaacADC`` (docs/sources.md §5). ``convert_energy``/``area`` are the 8-bit values; other resolutions
    follow the published points. Latency 1/1.2 GHz × bits/8.
    """

    model = "adc"
    ROLE = "readout"

    class Params(ComponentParams):
        convert_energy: Q("energy") = Field(
            default=1.666666667e-12, description="energy of one 8-bit conversion (J): ISAAC / Kull et al. ISSCC 2013")
        sample_rate_hz: Q("frequency", gt=0.0) = Field(default=1.2e9, description="8-bit conversions per second: 1.2 GS/s (ISAAC)")

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        if self.p["area"] is None:
            self.p["area"] = 1200e-12 * area_scale(self.tech.node_nm, self.REF_NODE_NM)

    @action
    def convert(self, bits: int, t_integrate: float = 0.0) -> tuple[float, float]:
        """One ``bits``-bit conversion."""
        fe, _ = adc_point(bits)
        return self.p["convert_energy"] * fe, bits / 8.0 / self.p["sample_rate_hz"]

    @property
    def area(self) -> float:
        """Area at the largest output resolution the design asks for (published scaling points)."""
        return (self.p["area"] or 0.0) * adc_point(_design_adc_bits(self.design))[1]


def _design_adc_bits(design) -> int:
    if design is None:
        return 8
    return max(design.io.forward.adc_bits or 8, design.io.backward.adc_bits or 8)


class RampADC(Component):
    """Column integrator + single-slope (ramp) ADC: one shared ramp, one comparator per column.

    Per conversion of b bits (sign from the integrator polarity, magnitude on the ramp):
    ``2^(b-1)`` ramp steps of ``step_time`` (default one clock), each a comparator decision of
    ``compare_energy``; the integrator draws ``integrator_power`` while it integrates and holds
    (``t_integrate + ramp``); the counter value is latched in ``b`` register bits (``latch_energy`` per
    bit).

    Sources: comparator 0.0417 pJ per decision and 40 µm² at 65 nm (TIMELY Table II charging
    comparator, hwcomponents ``TimelyChargingComparator``); ramp architecture Marinella et al. 2018
    (docs/sources.md §1.2 [S]); integrator power: assumed default 1 µW at 65 nm (a preset states its own).
    """

    model = "ramp_adc"
    ROLE = "readout"
    REF_NODE_NM = 65.0

    class Params(ComponentParams):
        compare_energy: Q("energy") = Field(default=0.0417e-12, description="one comparator decision (J): TIMELY Table II")
        integrator_power: Q("power") = Field(default=1e-6, description="integrator power while on (W): assumed 1 µW")
        step_time: Q("time", optional=True) = Field(default=None, description="one ramp step (s); default one clock")
        latch_energy: Q("energy") = Field(default=0.003e-12, description="one latched bit (J): 3 fJ, as Register (assumed)")

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        if self.p["area"] is None:
            self.p["area"] = 2 * 40e-12 * area_scale(self.tech.node_nm, self.REF_NODE_NM)

    @property
    def area(self) -> float:
        """Comparator + integrator, plus a latch bit (0.376 µm² at 32 nm) per bit of resolution."""
        latch = 0.376e-12 * area_scale(self.tech.node_nm, 32.0)
        return (self.p["area"] or 0.0) + _design_adc_bits(self.design) * latch

    def steps(self, bits: int) -> int:
        return 2 ** max(bits - 1, 0)

    @action
    def convert(self, bits: int, t_integrate: float = 0.0) -> tuple[float, float]:
        """One ``bits``-bit conversion after integrating for ``t_integrate``."""
        step = self.p["step_time"] if self.p["step_time"] is not None else self.clock_period
        n = self.steps(bits)
        t_ramp = n * step
        e = n * self.p["compare_energy"] + self.p["integrator_power"] * (t_integrate + t_ramp) + bits * self.p["latch_energy"]
        return e, t_ramp


class SampleHold(Component):
    """Sample-and-hold per column (ISAAC): 10 µW for 8×128 units at 32 nm over a 100 ns cycle
    → ≈1 fJ per sample; area 0.00004/1024 mm²; leakage 9.7e-7 mW (PUMA constants, docs/sources.md §2.3)."""

    model = "sample_hold"
    ROLE = "sample_hold"

    class Params(ComponentParams):
        sample_energy: Q("energy") = Field(default=10e-6 / 1024 * 100e-9, description="one sample (J): ISAAC 10 µW / 1024 units × 100 ns")

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        if self.p["area"] is None:
            self.p["area"] = 0.00004e-6 / 1024 * area_scale(self.tech.node_nm, self.REF_NODE_NM)

    @action
    def sample(self) -> tuple[float, float]:
        """Sample and hold one column."""
        return self.p["sample_energy"], 0.0


class ShiftAdd(Component):
    """Shift-and-add of partial sums (ISAAC): 0.021 pJ per 16-bit operation, 60 µm² at 32 nm, one op per
    1/1.2 GHz (hwcomponents ``IsaacShiftAdd``); energy ∝ width."""

    model = "shift_add"
    ROLE = "shift_add"

    class Params(ComponentParams):
        add_energy: Q("energy") = Field(default=0.021e-12, description="one 16-bit shift-and-add (J): hwcomponents IsaacShiftAdd")
        width_bits: Count(ge=1.0, le=1024.0) = Field(default=16.0, description="adder width (bits): ISAAC 16")

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        if self.p["area"] is None:
            self.p["area"] = 60e-12 * area_scale(self.tech.node_nm, self.REF_NODE_NM)

    @action
    def add(self, bits: int = 16) -> tuple[float, float]:
        """One shift-and-add of a ``bits``-bit partial sum."""
        return self.p["add_energy"] * bits / 16.0, 1 / 1.2e9


class Register(Component):
    """Register file / latch bits (input, output, partial-sum registers).

    Energy per bit accessed: 3 fJ at 32 nm (assumed, a flip-flop write); area 0.376 µm² per bit from
    ISAAC's 256 B IMA output register (0.00077 mm², docs/sources.md §5); leakage 2e-8 W per bit from PUMA's
    output register (0.04 mW per 2 Kbit). ``bits`` is the register size of one instance.
    """

    model = "register"
    ROLE = "output_register"

    class Params(ComponentParams):
        access_energy: Q("energy") = Field(default=3e-15, description="energy per bit accessed (J): 3 fJ (assumed)")
        bits: Count(ge=1.0, le=1e12) = Field(default=2048.0, description="bits of one instance (ISAAC IMA output register 256 B)")

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        if self.p["area"] is None:
            self.p["area"] = 0.376e-12 * self.p["bits"] * area_scale(self.tech.node_nm, self.REF_NODE_NM)
        if "leak_power" not in self.given:
            self.p["leak_power"] = 2e-8 * self.p["bits"] * energy_scale(self.tech.node_nm, self.REF_NODE_NM, self.tech.vdd)

    @action
    def access(self, bits: float) -> tuple[float, float]:
        """Read or write ``bits`` bits."""
        return self.p["access_energy"] * bits, 0.0


# ================================================================================================ memories
class SRAMParams(ComponentParams):
    capacity_bits: Count(ge=1.0, le=1e13) = Field(default=64 * 1024 * 8.0, description="bits of one bank (default 64 KB)")
    width_bits: Count(ge=1.0, le=1e7) = Field(default=64.0, description="bits per access (word width)")
    read_energy: Q("energy", optional=True) = Field(
        default=None, description="energy per word read (J); default Horowitz ISSCC 2014 fit (see the class)")
    write_energy: Q("energy", optional=True) = Field(default=None, description="energy per word written (J); default read_energy")
    access_time: Q("time", optional=True) = Field(default=None, description="time per access (s); default one clock")
    transpose_penalty: Count(ge=1.0, le=1e7, optional=True) = Field(
        default=None, description="words read per useful word along the other axis; default width_bits / weight_bits")


class SRAM(Component):
    """SRAM bank (buffer or weight memory).

    Read/write energy per ``width_bits`` word: Horowitz (ISSCC 2014) 45 nm cache reads of a 64-bit word,
    10 pJ (8 KB), 20 pJ (32 KB), 100 pJ (1 MB), i.e. ≈10 pJ·√(capacity/8 KB) (fit), ∝ width; one access
    per ``access_time`` (default one clock). Area 0.3 µm² per bit at 32 nm including periphery
    (assumed, CACTI-like array efficiency); leakage 5 nW per Kbit at 32 nm (assumed).
    ``transpose_penalty``: words read per useful word when a weight matrix is read along its other
    axis (default ``width_bits / weight_bits``: one weight of each word is used).
    """

    model = "sram"
    ROLE = "buffer"
    REF_NODE_NM = 45.0
    Params = SRAMParams

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        node, vdd = self.tech.node_nm, self.tech.vdd
        horowitz = 10e-12 * math.sqrt(self.p["capacity_bits"] / (8 * 1024 * 8)) * self.p["width_bits"] / 64.0
        horowitz *= energy_scale(node, 45.0, vdd)
        if self.p["read_energy"] is None:
            self.p["read_energy"] = horowitz
        if self.p["write_energy"] is None:
            self.p["write_energy"] = self.p["read_energy"]
        if self.p["area"] is None:
            self.p["area"] = 0.3e-12 * self.p["capacity_bits"] * area_scale(node, 32.0)
        if "leak_power" not in self.given:
            self.p["leak_power"] = 5e-9 * self.p["capacity_bits"] / 1024 * energy_scale(node, 32.0, vdd)

    @property
    def access_time(self) -> float:
        return self.p["access_time"] if self.p["access_time"] is not None else self.clock_period

    def transpose_penalty(self, weight_bits: int) -> float:
        t = self.p["transpose_penalty"]
        return t if t is not None else max(1.0, self.p["width_bits"] / weight_bits)

    @action
    def read(self, bits: float) -> tuple[float, float]:
        """Read ``bits`` bits (whole words)."""
        words = bits / self.p["width_bits"]
        return words * self.p["read_energy"], words * self.access_time

    @action
    def write(self, bits: float) -> tuple[float, float]:
        """Write ``bits`` bits (whole words)."""
        words = bits / self.p["width_bits"]
        return words * self.p["write_energy"], words * self.access_time

    @property
    def write_time(self) -> float:
        return self.access_time

    @property
    def read_time(self) -> float:
        return self.access_time


class EDRAM(SRAM):
    """eDRAM buffer (ISAAC tile buffer): 64 KB, 256-bit port, 20.45 pJ per access, 0.083 mm² at 32 nm
    (hwcomponents ``IsaacEDRAM``; docs/sources.md §5); leakage 0.46 mW (PUMA constants); energy ∝ √depth."""

    model = "edram"
    ROLE = "buffer"
    REF_NODE_NM = 32.0

    class Params(SRAMParams):
        width_bits: Count(ge=1.0, le=1e7) = Field(default=256.0, description="bits per access: ISAAC eDRAM 256-bit port")
        read_energy: Q("energy", optional=True) = Field(
            default=None, description="energy per access (J); default 20.45 pJ × width/256 × √(depth/2048) (hwcomponents IsaacEDRAM)")

    def __init__(self, *a, **k):
        Component.__init__(self, *a, **k)
        node, vdd = self.tech.node_nm, self.tech.vdd
        depth_ratio = self.p["capacity_bits"] / self.p["width_bits"] / 2048.0
        base = 20.45e-12 * self.p["width_bits"] / 256.0 * math.sqrt(depth_ratio) * energy_scale(node, 32.0, vdd)
        if self.p["read_energy"] is None:
            self.p["read_energy"] = base
        if self.p["write_energy"] is None:
            self.p["write_energy"] = self.p["read_energy"]
        if self.p["area"] is None:
            self.p["area"] = 0.083e-6 * self.p["capacity_bits"] / (64 * 1024 * 8) * area_scale(node, 32.0)
        if "leak_power" not in self.given:
            self.p["leak_power"] = 0.46e-3 * self.p["capacity_bits"] / (64 * 1024 * 8) * energy_scale(node, 32.0, vdd)


class ReRAMMemory(SRAM):
    """Digital ReRAM weight memory (1 bit per cell, read through sense amplifiers, written by pulses).

    Sources: PANTHER/PUMA simulator constants (docs/sources.md §2.3 [C]) at 32 nm: serial read of a 128×128
    crossbar 10 250 ns and 6.5 nJ (32 768 bits) → 80 ns per row access and 0.198 pJ per bit; serial write
    10 969 ns and ≈21.1 nJ → 0.644 pJ per bit. Read time is periphery (sense amplifier, bit-line RC) and
    scales with the node; the write pulse is device switching, default 40 ns (CiMLoop ISAAC cell, set
    2 V / 40 ns, docs/sources.md §5 [X]) and is not scaled; per-bit energies are dominated by the cell and
    sense/drive currents and are not scaled (assumed). ``width_bits`` bits are read per access (banked
    sub-arrays in parallel). A crosspoint array reads along rows or columns alike: transpose penalty 1.
    Area: 4F² per bit ×2 for periphery (assumed).
    """

    model = "reram_memory"
    ROLE = "weight_memory"
    REF_NODE_NM = 32.0

    class Params(ComponentParams):
        capacity_bits: Count(ge=1.0, le=1e13) = Field(default=8 * 1024 * 1024.0, description="bits of one memory (default 1 MB)")
        width_bits: Count(ge=1.0, le=1e7) = Field(default=2048.0, description="bits per access (banked sub-arrays)")
        read_time: Q("time") = Field(default=10250e-9 / 128, description="one row access (s): PUMA 10 250 ns / 128 rows")
        write_time: Q("time") = Field(default=40e-9, description="write pulse (s): CiMLoop ISAAC cell 40 ns")
        read_energy_per_bit: Q("energy") = Field(default=6.5e-9 / 32768, description="J per bit read: PUMA 6.5 nJ / 32 768 bits")
        write_energy_per_bit: Q("energy") = Field(default=21.1e-9 / 32768, description="J per bit written: PUMA ≈21.1 nJ / 32 768 bits")
        transpose_penalty: Count(ge=1.0, le=1e7) = Field(default=1.0, description="crosspoint reads either axis: 1")

    UNSCALED = frozenset({"write_time", "read_energy_per_bit", "write_energy_per_bit"})

    def __init__(self, *a, **k):
        Component.__init__(self, *a, **k)
        if self.p["area"] is None:
            f = self.tech.node_nm * 1e-9
            self.p["area"] = 2 * 4 * f * f * self.p["capacity_bits"]

    @property
    def read_time(self) -> float:
        return self.p["read_time"]

    @property
    def write_time(self) -> float:
        return self.p["write_time"]

    @property
    def access_time(self) -> float:
        return self.p["read_time"]

    @action
    def read(self, bits: float) -> tuple[float, float]:
        """Read ``bits`` bits (``width_bits`` per access)."""
        return bits * self.p["read_energy_per_bit"], bits / self.p["width_bits"] * self.read_time

    @action
    def write(self, bits: float) -> tuple[float, float]:
        """Write ``bits`` bits (``width_bits`` per access)."""
        return bits * self.p["write_energy_per_bit"], bits / self.p["width_bits"] * self.write_time


# ================================================================================================ digital logic
class MACUnit(Component):
    """Digital fixed-point multiply-accumulate unit.

    Source: Horowitz, "Computing's energy problem", ISSCC 2014, 45 nm: 8-bit multiply 0.2 pJ (282 µm²),
    32-bit add 0.1 pJ (137 µm²). Energy and area: multiplier ∝ bits², accumulator ∝ acc_bits. One MAC per
    clock.
    """

    model = "mac"
    ROLE = "mac"
    REF_NODE_NM = 45.0

    class Params(ComponentParams):
        bits: Count(ge=1.0, le=128.0) = Field(default=8.0, description="operand width (bits)")
        acc_bits: Count(ge=1.0, le=512.0) = Field(default=32.0, description="accumulator width (bits)")
        mult_energy: Q("energy") = Field(default=0.2e-12, description="8-bit multiply (J): Horowitz ISSCC 2014, 45 nm")
        add_energy: Q("energy") = Field(default=0.1e-12, description="32-bit add (J): Horowitz ISSCC 2014, 45 nm")

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        b, acc = self.p["bits"], self.p["acc_bits"]
        if self.p["area"] is None:
            self.p["area"] = (282e-12 * (b / 8) ** 2 + 137e-12 * acc / 32) * area_scale(self.tech.node_nm, 45.0)

    @action
    def mac(self) -> tuple[float, float]:
        """One multiply-accumulate."""
        b, acc = self.p["bits"], self.p["acc_bits"]
        return self.p["mult_energy"] * (b / 8) ** 2 + self.p["add_energy"] * acc / 32, self.clock_period

    @action
    def add(self) -> tuple[float, float]:
        """One accumulate (add only)."""
        return self.p["add_energy"] * self.p["acc_bits"] / 32, self.clock_period


class Router(Component):
    """On-chip router / NoC link (ISAAC): 20.74 pJ per 256 bits, 0.151 mm² (8 ports, shared by 4 tiles)
    at 32 nm (hwcomponents ``IsaacRouter``); leakage 1.04 mW (PUMA 8-port router, docs/sources.md §2.3)."""

    model = "router"
    ROLE = "router"

    class Params(ComponentParams):
        bit_energy: Q("energy") = Field(default=20.74e-12 / 256, description="J per bit moved: hwcomponents IsaacRouter")

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        if self.p["area"] is None:
            self.p["area"] = 0.151e-6 * area_scale(self.tech.node_nm, 32.0)
        if "leak_power" not in self.given:
            self.p["leak_power"] = 1.04e-3 * energy_scale(self.tech.node_nm, 32.0, self.tech.vdd)

    @action
    def transfer(self, bits: float) -> tuple[float, float]:
        """Move ``bits`` bits through the router."""
        return bits * self.p["bit_energy"], 0.0


class ActivationUnit(Component):
    """Activation / derivative / loss unit (ISAAC sigmoid unit): 0.26 mW, 0.0003 mm² at 32 nm (docs/sources.md
    §2.3, §5); one operation per clock → 0.26 pJ per element at 1 GHz (derived)."""

    model = "activation"
    ROLE = "activation"

    class Params(ComponentParams):
        op_energy: Q("energy") = Field(default=0.26e-3 / 1e9, description="one element (J): ISAAC 0.26 mW at 1 GHz")

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        if self.p["area"] is None:
            self.p["area"] = 0.0003e-6 * area_scale(self.tech.node_nm, 32.0)

    @action
    def op(self) -> tuple[float, float]:
        """One element through the unit."""
        return self.p["op_energy"], self.clock_period


class Static(Component):
    """A block that only occupies area and leaks (control, clock tree, ramp generator, ...).
    PUMA core control 0.25 mW, 0.00326 mm² at 32 nm as an example (docs/sources.md §2.3); defaults zero."""

    model = "static"
    ROLE = "static"

    class Params(ComponentParams):
        pass


from .registry import MODELS, register  # noqa: E402 - the registry holds the classes defined above

for _cls in (CrossbarArray, DAC, DTC, ADC, RampADC, SampleHold, ShiftAdd, Register, SRAM, EDRAM,
             ReRAMMemory, MACUnit, Router, ActivationUnit, Static):
    register(_cls)

from .pim_components import PimLogicBlock  # noqa: E402 - in-memory FP logic blocks, pimtrain.pimlogic

register(PimLogicBlock)

from .puma import OffchipLink, PumaMatrixUnit  # noqa: E402 - PUMA/PANTHER matrix unit and off-chip link, pimtrain/cost/puma.py

register(PumaMatrixUnit)
register(OffchipLink)

from .periphery import AnalogAccumulator, NeuralADC, PoweredBlock  # noqa: E402 - bit-serial periphery, pimtrain/cost/periphery.py

for _cls in (PoweredBlock, AnalogAccumulator, NeuralADC):
    register(_cls)

__all__ = [
    "ADC",
    "DAC",
    "DTC",
    "EDRAM",
    "LIMITS",
    "MODELS",
    "SRAM",
    "ActivationUnit",
    "Component",
    "ComponentParams",
    "CrossbarArray",
    "MACUnit",
    "PimLogicBlock",
    "PumaMatrixUnit",
    "RampADC",
    "ReRAMMemory",
    "Register",
    "Router",
    "SampleHold",
    "ShiftAdd",
    "Static",
    "action",
    "adc_point",
    "register",
]
