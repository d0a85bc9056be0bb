"""One small class per circuit block (in the style of Accelergy's hwcomponents).

Every class states the constants it defaults to, the node they were quoted at (``REF_NODE_NM``) and
the source (docstring). An *action* returns ``(energy J, latency s)``; every instance has ``area``
(m²) and ``leak_power`` (W). SI throughout.

Technology scaling is explicit (:mod:`pimtrain.cost.scaling`): parameters of dimension energy and
power are multiplied by ``energy_scale(node, ref)``, areas by ``area_scale``, periphery delays by
``latency_scale``. Parameters that are device physics (cell conductance, write current and pulse,
device switching time) are listed in ``UNSCALED`` and never scaled. The defaults of a class are taken
at its ``REF_NODE_NM``; numbers a design file writes are taken at the design's own node unless the
component's params say ``ref_node_nm``.
"""
from __future__ import annotations

import math
from typing import ClassVar

from pimtrain.design import PimtrainError
from pimtrain.design.circuits import param_dimension

from .scaling import area_scale, energy_scale, latency_scale


class Component:
    """Base class: parameter defaults, validation and node scaling. Subclasses add actions."""

    model: ClassVar[str] = "component"
    REF_NODE_NM: ClassVar[float] = 32.0
    PARAMS: ClassVar[dict[str, float | None]] = {}
    UNSCALED: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, name: str, params: dict | None = None, *, tech, design=None, count: int = 1,
                 level: str = "array", role: str | None = None):
        params = dict(params or {})
        ref = params.pop("ref_node_nm", None)
        allowed = set(self.PARAMS) | {"area", "leak_power"}
        unknown = sorted(set(params) - allowed)
        if unknown:
            raise PimtrainError(
                f"circuits.components.{name}.params.{unknown[0]}: unknown parameter of model {self.model!r}; "
                f"allowed: {', '.join(sorted(allowed))}, ref_node_nm"
            )
        self.name, self.count, self.level, self.role = name, int(count), level, role or self.model
        self.tech, self.design = tech, design
        node, vdd = tech.node_nm, tech.vdd
        base = {"area": None, "leak_power": 0.0, **self.PARAMS}
        self.p: dict[str, float | None] = {}
        for key, default in base.items():
            given = key in params
            value = params[key] if given else default
            from_node = (ref if ref is not None else node) if given else self.REF_NODE_NM
            self.p[key] = None if value is None else self._scale(key, float(value), node, from_node, vdd)
        for key, value in params.items():
            if key not in self.p:
                self.p[key] = value
        for key, value in self.p.items():
            if value is not None and (not math.isfinite(value) or value < 0):
                raise PimtrainError(f"circuits.components.{name}.params.{key}: must be >= 0 (got {value!r}); allowed: >= 0")

    def _scale(self, key: str, value: float, node: float, from_node: float, vdd: float) -> float:
        if key in self.UNSCALED or from_node == node:
            return value
        dim = param_dimension(key)
        if dim in ("energy", "power"):
            return value * energy_scale(node, from_node, vdd)
        if dim == "area":
            return value * area_scale(node, from_node)
        if dim == "time":
            return value * latency_scale(node, from_node)
        return value

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
    (papers.md §2.3 [C]) give ``row_read_time`` 80 ns and ``row_write_time`` 85.7 ns; write current
    1 µA and 1 V are placeholders (assumed) to be replaced by a preset.
    """

    model = "crossbar"
    PARAMS = {
        "g_mean_conductance": None, "input_activity": 0.5, "update_activity": 0.5,
        "write_current": 1e-6, "write_voltage": 1.0, "update_slot": None, "update_phases": 4.0,
        "row_read_time": 10250e-9 / 128, "row_write_time": 10969e-9 / 128, "cell_write_energy": None,
        "cell_area_f2": 4.0,
    }
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

    def read(self, n_cells: float, t_on: float, activity: float | None = None) -> tuple[float, float]:
        a = self.p["input_activity"] if activity is None else activity
        v = self.design.array.read_voltage
        return n_cells * v * v * self.g_mean * t_on * a, t_on

    def update_pulse_time(self, row_bits: int) -> float:
        return (2 ** row_bits) * self.update_slot

    def update_latency(self, row_bits: int) -> float:
        return self.p["update_phases"] * self.update_pulse_time(row_bits)

    def outer_product(self, n_cells: float, row_bits: int, activity: float | None = None) -> tuple[float, float]:
        a = self.p["update_activity"] if activity is None else activity
        e = n_cells * self.p["write_current"] * self.p["write_voltage"] * self.update_pulse_time(row_bits) * a
        return e, self.update_latency(row_bits)

    @property
    def cell_write_energy(self) -> float:
        e = self.p["cell_write_energy"]
        if e is None:
            e = self.p["write_current"] * self.p["write_voltage"] * self.p["row_write_time"]
        return e

    def program_rows(self, n_cells: float, n_rows: float) -> tuple[float, float]:
        """Serial programming of ``n_rows`` rows holding ``n_cells`` cells (energy, latency)."""
        return n_cells * self.cell_write_energy, n_rows * self.p["row_write_time"]

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
    papers.md §2.3). Resolution scaling: energy and area ∝ bits (assumed, capacitive ladder).
    """

    model = "dac"
    PARAMS = {"drive_energy": 0.417e-12, "drive_time": None}

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        if self.p["area"] is None:
            self.p["area"] = 1.67e-13 * area_scale(self.tech.node_nm, self.REF_NODE_NM)

    def drive(self, bits: int) -> tuple[float, float]:
        t = self.p["drive_time"] if self.p["drive_time"] is not None else self.clock_period
        return self.p["drive_energy"] * max(bits, 1), t


class DTC(Component):
    """Digital-to-time converter: turns an n-bit value into a pulse width (time-encoded input or row
    update duration).

    Source: TIMELY (Li et al. ISCA 2020) Table II via hwcomponents ``TimelyDTC``: 0.0375 pJ per 8-bit
    conversion, 240 µm² at 65 nm; energy and area ∝ 2^bits (hwcomponents' resolution scaling).
    """

    model = "dtc"
    REF_NODE_NM = 65.0
    PARAMS = {"convert_energy": 0.0375e-12}

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        if self.p["area"] is None:
            self.p["area"] = 240e-12 * area_scale(self.tech.node_nm, self.REF_NODE_NM)

    def drive(self, bits: int) -> tuple[float, float]:
        return self.p["convert_energy"] * 2.0 ** (bits - 8), 0.0


# SAR ADC energy (pJ) and area (µm²) at 32 nm by resolution: ISAAC's 8-bit ADC (Kull et al. ISSCC 2013,
# 16 mW / (8 × 1.2 GS/s) = 1.667 pJ, 1200 µm²) and the 4–10-bit points scaled with Saberi et al. 2011
# (hwcomponents ``IsaacADC`` comments; papers.md §5).
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
    ``IsaacADC`` (papers.md §5). ``convert_energy``/``area`` are the 8-bit values; other resolutions
    follow the published points. Latency 1/1.2 GHz × bits/8.
    """

    model = "adc"
    PARAMS = {"convert_energy": 1.666666667e-12, "sample_rate_hz": 1.2e9}

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        if self.p["area"] is None:
            self.p["area"] = 1200e-12 * area_scale(self.tech.node_nm, self.REF_NODE_NM)

    def convert(self, bits: int, t_integrate: float = 0.0) -> tuple[float, float]:
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
    (papers.md §1.2 [S]); integrator power: assumed default 1 µW at 65 nm (a preset states its own).
    """

    model = "ramp_adc"
    REF_NODE_NM = 65.0
    PARAMS = {"compare_energy": 0.0417e-12, "integrator_power": 1e-6, "step_time": None,
              "latch_energy": 0.003e-12}

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

    def convert(self, bits: int, t_integrate: float = 0.0) -> tuple[float, float]:
        step = self.p["step_time"] if self.p["step_time"] is not None else self.clock_period
        n = self.steps(bits)
        t_ramp = n * step
        e = n * self.p["compare_energy"] + self.p["integrator_power"] * (t_integrate + t_ramp) + bits * self.p["latch_energy"]
        return e, t_ramp


class SampleHold(Component):
    """Sample-and-hold per column (ISAAC): 10 µW for 8×128 units at 32 nm over a 100 ns cycle
    → ≈1 fJ per sample; area 0.00004/1024 mm²; leakage 9.7e-7 mW (PUMA constants, papers.md §2.3)."""

    model = "sample_hold"
    PARAMS = {"sample_energy": 10e-6 / 1024 * 100e-9}

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        if self.p["area"] is None:
            self.p["area"] = 0.00004e-6 / 1024 * area_scale(self.tech.node_nm, self.REF_NODE_NM)

    def sample(self) -> tuple[float, float]:
        return self.p["sample_energy"], 0.0


class ShiftAdd(Component):
    """Shift-and-add of partial sums (ISAAC): 0.021 pJ per 16-bit operation, 60 µm² at 32 nm, one op per
    1/1.2 GHz (hwcomponents ``IsaacShiftAdd``); energy ∝ width."""

    model = "shift_add"
    PARAMS = {"add_energy": 0.021e-12, "width_bits": 16.0}

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        if self.p["area"] is None:
            self.p["area"] = 60e-12 * area_scale(self.tech.node_nm, self.REF_NODE_NM)

    def add(self, bits: int = 16) -> tuple[float, float]:
        return self.p["add_energy"] * bits / 16.0, 1 / 1.2e9


class Register(Component):
    """Register file / latch bits (input, output, partial-sum registers).

    Energy per bit accessed: 3 fJ at 32 nm (assumed, a flip-flop write); area 0.376 µm² per bit from
    ISAAC's 256 B IMA output register (0.00077 mm², papers.md §5); leakage 2e-8 W per bit from PUMA's
    output register (0.04 mW per 2 Kbit). ``bits`` is the register size of one instance.
    """

    model = "register"
    PARAMS = {"access_energy": 3e-15, "bits": 2048.0}

    def __init__(self, *a, **k):
        params = (k.get("params") if "params" in k else (a[1] if len(a) > 1 else None)) or {}
        super().__init__(*a, **k)
        if self.p["area"] is None:
            self.p["area"] = 0.376e-12 * self.p["bits"] * area_scale(self.tech.node_nm, self.REF_NODE_NM)
        if "leak_power" not in params:
            self.p["leak_power"] = 2e-8 * self.p["bits"] * energy_scale(self.tech.node_nm, self.REF_NODE_NM, self.tech.vdd)

    def access(self, bits: float) -> tuple[float, float]:
        return self.p["access_energy"] * bits, 0.0


# ================================================================================================ memories
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
    REF_NODE_NM = 45.0
    PARAMS = {"capacity_bits": 64 * 1024 * 8.0, "width_bits": 64.0, "read_energy": None, "write_energy": None,
              "access_time": None, "transpose_penalty": None}

    def __init__(self, *a, **k):
        params = (k.get("params") if "params" in k else (a[1] if len(a) > 1 else None)) or {}
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
        if "leak_power" not in params:
            self.p["leak_power"] = 5e-9 * self.p["capacity_bits"] / 1024 * energy_scale(node, 32.0, vdd)

    @property
    def access_time(self) -> float:
        return self.p["access_time"] if self.p["access_time"] is not None else self.clock_period

    def transpose_penalty(self, weight_bits: int) -> float:
        t = self.p["transpose_penalty"]
        return t if t is not None else max(1.0, self.p["width_bits"] / weight_bits)

    def read(self, bits: float) -> tuple[float, float]:
        words = bits / self.p["width_bits"]
        return words * self.p["read_energy"], words * self.access_time

    def write(self, bits: float) -> tuple[float, float]:
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
    (hwcomponents ``IsaacEDRAM``; papers.md §5); leakage 0.46 mW (PUMA constants); energy ∝ √depth."""

    model = "edram"
    REF_NODE_NM = 32.0
    PARAMS = {"capacity_bits": 64 * 1024 * 8.0, "width_bits": 256.0, "read_energy": None, "write_energy": None,
              "access_time": None, "transpose_penalty": None}

    def __init__(self, *a, **k):
        params = (k.get("params") if "params" in k else (a[1] if len(a) > 1 else None)) or {}
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
        if "leak_power" not in params:
            self.p["leak_power"] = 0.46e-3 * self.p["capacity_bits"] / (64 * 1024 * 8) * energy_scale(node, 32.0, vdd)


class ReRAMMemory(SRAM):
    """Digital ReRAM weight memory (1 bit per cell, read through sense amplifiers, written by pulses).

    Sources: PANTHER/PUMA simulator constants (papers.md §2.3 [C]) at 32 nm: serial read of a 128×128
    crossbar 10 250 ns and 6.5 nJ (32 768 bits) → 80 ns per row access and 0.198 pJ per bit; serial write
    10 969 ns and ≈21.1 nJ → 0.644 pJ per bit. Read time is periphery (sense amplifier, bit-line RC) and
    scales with the node; the write pulse is device switching, default 40 ns (CiMLoop ISAAC cell, set
    2 V / 40 ns, papers.md §5 [X]) and is not scaled; per-bit energies are dominated by the cell and
    sense/drive currents and are not scaled (assumed). ``width_bits`` bits are read per access (banked
    sub-arrays in parallel). A crosspoint array reads along rows or columns alike: transpose penalty 1.
    Area: 4F² per bit ×2 for periphery (assumed).
    """

    model = "reram_memory"
    REF_NODE_NM = 32.0
    PARAMS = {"capacity_bits": 8 * 1024 * 1024.0, "width_bits": 2048.0, "read_time": 10250e-9 / 128,
              "write_time": 40e-9, "read_energy_per_bit": 6.5e-9 / 32768, "write_energy_per_bit": 21.1e-9 / 32768,
              "transpose_penalty": 1.0}
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

    def read(self, bits: float) -> tuple[float, float]:
        return bits * self.p["read_energy_per_bit"], bits / self.p["width_bits"] * self.read_time

    def write(self, bits: float) -> tuple[float, float]:
        return bits * self.p["write_energy_per_bit"], bits / self.p["width_bits"] * self.write_time


# ================================================================================================ digital logic
class MACUnit(Component):
    """Digital fixed-point multiply-accumulate unit.

    Source: Horowitz, "Computing's energy problem", ISSCC 2014, 45 nm: 8-bit multiply 0.2 pJ (282 µm²),
    32-bit add 0.1 pJ (137 µm²). Energy and area: multiplier ∝ bits², accumulator ∝ acc_bits. One MAC per
    clock.
    """

    model = "mac"
    REF_NODE_NM = 45.0
    PARAMS = {"bits": 8.0, "acc_bits": 32.0, "mult_energy": 0.2e-12, "add_energy": 0.1e-12}

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        b, acc = self.p["bits"], self.p["acc_bits"]
        if self.p["area"] is None:
            self.p["area"] = (282e-12 * (b / 8) ** 2 + 137e-12 * acc / 32) * area_scale(self.tech.node_nm, 45.0)

    def mac(self) -> tuple[float, float]:
        b, acc = self.p["bits"], self.p["acc_bits"]
        return self.p["mult_energy"] * (b / 8) ** 2 + self.p["add_energy"] * acc / 32, self.clock_period

    def add(self) -> tuple[float, float]:
        return self.p["add_energy"] * self.p["acc_bits"] / 32, self.clock_period


class Router(Component):
    """On-chip router / NoC link (ISAAC): 20.74 pJ per 256 bits, 0.151 mm² (8 ports, shared by 4 tiles)
    at 32 nm (hwcomponents ``IsaacRouter``); leakage 1.04 mW (PUMA 8-port router, papers.md §2.3)."""

    model = "router"
    PARAMS = {"bit_energy": 20.74e-12 / 256}

    def __init__(self, *a, **k):
        params = (k.get("params") if "params" in k else (a[1] if len(a) > 1 else None)) or {}
        super().__init__(*a, **k)
        if self.p["area"] is None:
            self.p["area"] = 0.151e-6 * area_scale(self.tech.node_nm, 32.0)
        if "leak_power" not in params:
            self.p["leak_power"] = 1.04e-3 * energy_scale(self.tech.node_nm, 32.0, self.tech.vdd)

    def transfer(self, bits: float) -> tuple[float, float]:
        return bits * self.p["bit_energy"], 0.0


class ActivationUnit(Component):
    """Activation / derivative / loss unit (ISAAC sigmoid unit): 0.26 mW, 0.0003 mm² at 32 nm (papers.md
    §2.3, §5); one operation per clock → 0.26 pJ per element at 1 GHz (derived)."""

    model = "activation"
    PARAMS = {"op_energy": 0.26e-3 / 1e9}

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        if self.p["area"] is None:
            self.p["area"] = 0.0003e-6 * area_scale(self.tech.node_nm, 32.0)

    def op(self) -> tuple[float, float]:
        return self.p["op_energy"], self.clock_period


class Static(Component):
    """A block that only occupies area and leaks (control, clock tree, ramp generator, ...).
    PUMA core control 0.25 mW, 0.00326 mm² at 32 nm as an example (papers.md §2.3); defaults zero."""

    model = "static"
    PARAMS = {}


MODELS: dict[str, type[Component]] = {
    cls.model: cls
    for cls in (CrossbarArray, DAC, DTC, ADC, RampADC, SampleHold, ShiftAdd, Register, SRAM, EDRAM,
                ReRAMMemory, MACUnit, Router, ActivationUnit, Static)
}

from .pim_components import PimLogicBlock  # noqa: E402  (in-memory FP logic blocks, pimtrain.pimlogic)

MODELS[PimLogicBlock.model] = PimLogicBlock

from .puma import PumaMatrixUnit  # noqa: E402  (PUMA/PANTHER matrix unit, pimtrain/cost/puma.py)

MODELS[PumaMatrixUnit.model] = PumaMatrixUnit
