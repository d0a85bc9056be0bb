"""Periphery blocks of the bit-serial accumulation kinds (``io.*.accumulation``) and blocks quoted by power.

- :class:`PoweredBlock` (``powered_block``, role ``periphery``): a block whose source gives the power it
  draws while its arrays compute (ISAAC's Table I lists registers, eDRAM, bus, router, sigmoid and pooling
  units and the off-chip links that way). The engine charges ``power × busy time`` of the arrays it serves,
  shared over them: an array-level block serves one array, a core-level block ``arrays_per_core``, a
  tile-level block the arrays of a tile, a chip-level block every array of the chip.
- :class:`AnalogAccumulator` (``analog_accumulator``, role ``accumulator``): one analog accumulation step of a
  partial sum between input cycles or bit lines, before the conversion — CASCADE's transimpedance amplifier
  writing a bit line's partial sum into an RRAM buffer cell that accumulates it (``analog_buffered``), or
  one stage of Neural-PIM's neural shift-and-add (``analog``). Counted by the Mapping (``ReadCounts.accumulations``).
- :class:`NeuralADC` (``neural_adc``, role ``readout``): Neural-PIM's NNADC, a small RRAM crossbar with
  inverter neurons; its size follows the resolution asked for (:func:`pimtrain.mapping.nn_adc_size`).

Energies of the neural peripherals are those of their parts: inverter switching and the read current of
their crossbar cells over one read cycle (``cell_read_power × array.read_time``).

Timing and power from loads (functions at the bottom, used to derive preset numbers and tested in
isolation): :func:`settle_time` (a single-pole node within half an LSB), :func:`rc_tau` (a node driven
through array cells), :func:`inverter_input_capacitance` (gate + Miller), :func:`neural_stage_timing`
(one input-bit cycle of a bit line into an inverter-neuron shift-and-add stage: bit line, neuron,
output amplifier), :func:`amplifier_settle_time` (a node held by an amplifier with feedback) and
:func:`amplifier_power` (an integrator / TIA biased to carry its full-scale load
current). Their CMOS constants are one stated set of assumptions, :class:`AnalogCMOS`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import Field

from pimtrain.mapping import nn_adc_size, nn_shift_add_size

from .components import Component, ComponentParams, Count, Q, action, adc_point


class PoweredBlock(Component):
    """A block quoted by the power it draws while its arrays compute (energy = power × busy time)."""

    model = "powered_block"
    ROLE = "periphery"

    class Params(ComponentParams):
        power: Q("power") = Field(default=0.0, description="power of one instance while its arrays compute (W)")

    @property
    def area(self) -> float:
        return self.p["area"] or 0.0

    @action
    def active(self, t_busy: float) -> tuple[float, float]:
        """Draw ``power`` for ``t_busy`` seconds (one instance)."""
        return self.p["power"] * t_busy, t_busy


class AnalogAccumulator(Component):
    """One analog accumulation step (TIA into an RRAM buffer cell; one neural shift-and-add stage).

    ``step_energy``: the circuit's energy per step (the amplifier or the neurons), quoted for a
    ``ref_bits``-bit step and scaled with the ADC scaling points (:func:`~pimtrain.cost.components.adc_point`)
    when the step is asked at another precision (the buffer's ``io.*.buffer_bits``); ``hidden`` > 0 makes it
    a neural stage whose crossbar holds :func:`pimtrain.mapping.nn_shift_add_size` cells; ``cells`` further
    cells read per step (a buffer cell read back); each cell draws ``cell_read_power`` for one read cycle.
    Area, if not given: ``inverter_area`` per neuron + ``cell_area`` per cell."""

    model = "analog_accumulator"
    ROLE = "accumulator"

    class Params(ComponentParams):
        step_energy: Q("energy") = Field(default=0.0, description="energy of one accumulation step at ref_bits (J)")
        ref_bits: Count(ge=1.0, le=16.0) = Field(default=8.0, description="precision step_energy is quoted at (bits)")
        hidden: Count(le=4096.0) = Field(default=0.0, description="inverter neurons of a neural stage (0: not a neural stage)")
        cells: Count(le=1e6) = Field(default=0.0, description="further RRAM cells read per step (a buffer cell)")
        cell_read_power: Q("power") = Field(default=0.0, description="read power of one cell while read (W)")
        inverter_area: Q("area") = Field(default=0.0, description="area of one inverter neuron (m²)")
        cell_area: Q("area") = Field(default=0.0, description="area of one cell (m²)")

    @property
    def size(self) -> dict:
        h = int(self.p["hidden"])
        nn = nn_shift_add_size(h) if h else {"cells": 0, "inverters": 0}
        return {"cells": nn["cells"] + self.p["cells"], "inverters": nn["inverters"]}

    @property
    def area(self) -> float:
        if self.p["area"] is not None:
            return self.p["area"]
        s = self.size
        return s["inverters"] * self.p["inverter_area"] + s["cells"] * self.p["cell_area"]

    @action
    def accumulate(self, bits: int | None, t_cycle: float) -> tuple[float, float]:
        """One step at ``bits`` precision (None: at ref_bits) whose cells are read for ``t_cycle``."""
        scale = adc_point(int(bits))[0] / adc_point(int(self.p["ref_bits"]))[0] if bits else 1.0
        return self.p["step_energy"] * scale + self.size["cells"] * self.p["cell_read_power"] * t_cycle, 0.0


class NeuralADC(Component):
    """Neural-PIM's NNADC: ``nn_adc_size(bits)`` inverters and cells, the cells ``copies`` times (each weight
    built of ``copies`` parallel cell pairs, :mod:`pimtrain.xbar.nn_peripherals`); one conversion = every
    inverter switching once (``inverter_energy``) + every cell read for one read cycle; it takes one read cycle."""

    model = "neural_adc"
    ROLE = "readout"

    class Params(ComponentParams):
        inverter_energy: Q("energy") = Field(default=0.0, description="energy of one inverter neuron per evaluation (J)")
        cell_read_power: Q("power") = Field(default=0.0, description="read power of one cell while read (W)")
        inverter_area: Q("area") = Field(default=0.0, description="area of one inverter neuron (m²)")
        cell_area: Q("area") = Field(default=0.0, description="area of one cell (m²)")
        copies: Count(ge=1.0, le=64.0) = Field(default=1.0, description="parallel cell pairs per weight (variation / sqrt(copies))")

    def size(self, bits: int) -> dict:
        s = nn_adc_size(int(bits))
        return {"cells": s["cells"] * int(self.p["copies"]), "inverters": s["inverters"]}

    @property
    def area(self) -> float:
        if self.p["area"] is not None:
            return self.p["area"]
        bits = 8
        if self.design is not None:
            bits = max(self.design.io.forward.adc_bits or 8, self.design.io.backward.adc_bits or 8)
        s = self.size(bits)
        return s["inverters"] * self.p["inverter_area"] + s["cells"] * self.p["cell_area"]

    @action
    def convert(self, bits: int, t_integrate: float = 0.0) -> tuple[float, float]:
        """One ``bits``-bit conversion lasting one read cycle ``t_integrate``."""
        s = self.size(bits)
        return s["inverters"] * self.p["inverter_energy"] + s["cells"] * self.p["cell_read_power"] * t_integrate, t_integrate


# ============================================================================ timing and power from loads
LN2 = math.log(2.0)


@dataclass(frozen=True)
class AnalogCMOS:
    """CMOS constants of the derived timings and powers (each an assumption, stated once; defaults: 32 nm).

    ``vdd`` supply (V); ``c_gate_per_um`` / ``c_gd_per_um`` gate and gate-drain (overlap + fringe)
    capacitance per µm of gate width (F/µm; the ~1 fF/µm rule of thumb for gate capacitance, 0.3 fF/µm
    overlap + fringe); ``inverter_width_um`` gate width of an analog-sized inverter (NMOS 0.4 µm + PMOS
    0.8 µm); ``inverter_gain`` its small-signal gain at the trip point (≈ the intrinsic gain g_m·r_o of a
    32 nm device); ``line_c_per_cell`` capacitance one cell adds to an array line (cell + wire segment, F);
    ``gm_over_id`` transconductance efficiency of an amplifier in moderate inversion (1/V);
    ``inverter_current`` bias current of a neural stage's output amplifier (A): 5 µA, inside a stage's
    energy budget (Neural-PIM's 0.0505 pJ per 16-neuron NNS+A step over a ~8 ns cycle at 0.9 V is 7 µA);
    ``feedback`` the feedback factor β of an amplifier with resistive feedback of about unit gain.
    """

    vdd: float = 0.9
    c_gate_per_um: float = 1.0e-15
    c_gd_per_um: float = 0.3e-15
    inverter_width_um: float = 1.2
    inverter_gain: float = 10.0
    line_c_per_cell: float = 0.1e-15
    gm_over_id: float = 15.0
    inverter_current: float = 5e-6
    feedback: float = 0.5


CMOS_32NM = AnalogCMOS()


def settle_time(tau: float, bits: float) -> float:
    """Time (s) for a single-pole node of time constant ``tau`` to settle within half an LSB of ``bits``
    bits after a full-scale step: ``τ · ln(2^(bits+1))``."""
    if not (tau >= 0 and bits >= 0):
        raise ValueError(f"settle_time: tau and bits must be >= 0 (got {tau!r}, {bits!r})")
    return tau * (bits + 1) * LN2


def rc_tau(capacitance: float, conductance: float) -> float:
    """Time constant (s) of a node of ``capacitance`` (F) driven through ``conductance`` (S): C / G."""
    if not conductance > 0:
        raise ValueError(f"rc_tau: conductance must be > 0 (got {conductance!r})")
    return capacitance / conductance


def inverter_input_capacitance(tech: AnalogCMOS = CMOS_32NM) -> float:
    """Input capacitance (F) of an inverter used as an amplifier: gate + Miller-multiplied gate-drain,
    ``W · (C_g + (1 + A) · C_gd)``."""
    w = tech.inverter_width_um
    return w * (tech.c_gate_per_um + (1.0 + tech.inverter_gain) * tech.c_gd_per_um)


def neural_stage_timing(rows: int, g_cell: float, hidden: int, bits: int, fan_in_cells: int = 6,
                        tech: AnalogCMOS = CMOS_32NM) -> dict:
    """One input-bit cycle (s) of a bit line read into an inverter-neuron shift-and-add stage, three nodes
    settled one after the other, each within half an LSB of ``bits``:

    - ``bit_line``: the line of ``rows`` cells (conductance ``g_cell`` each) that drives the stage's input row,
      loaded by its own cells and the ``2·hidden`` cells of that row: ``τ = (rows + 2·hidden)·c_line / (rows·g)``;
    - ``neuron``: an inverter neuron's input node, driven through its ``fan_in_cells`` crossbar cells (three
      inputs a, b, bias as differential pairs) and loaded by the inverter's gate + Miller capacitance:
      ``τ = (C_in + fan_in·c_line) / (fan_in·g)``;
    - ``output``: the output amplifier (an inverter with resistive feedback, ``g_m = gm_over_id · I_inv``,
      feedback ``β``) driving the next stage's input row (``2·hidden`` cells): ``τ = C_L / (β·g_m)``.

    Returns ``{"bit_line", "neuron", "output", "cycle"}`` (s)."""
    c_line = tech.line_c_per_cell
    t_bl = settle_time(rc_tau((rows + 2 * hidden) * c_line, rows * g_cell), bits)
    t_n = settle_time(rc_tau(inverter_input_capacitance(tech) + fan_in_cells * c_line, fan_in_cells * g_cell), bits)
    gm = tech.gm_over_id * tech.inverter_current
    t_o = settle_time(2 * hidden * c_line / (tech.feedback * gm), bits)
    return {"bit_line": t_bl, "neuron": t_n, "output": t_o, "cycle": t_bl + t_n + t_o}


def amplifier_settle_time(c_load: float, i_bias: float, bits: float, tech: AnalogCMOS = CMOS_32NM) -> float:
    """Settling (s) of a node of ``c_load`` held by an amplifier with feedback: ``g_m = gm_over_id · i_bias``,
    ``τ = C / (β · g_m)``, within half an LSB of ``bits``."""
    if not i_bias > 0:
        raise ValueError(f"amplifier_settle_time: i_bias must be > 0 (got {i_bias!r})")
    return settle_time(c_load / (tech.feedback * tech.gm_over_id * i_bias), bits)


def amplifier_power(full_scale_current: float, branches: float = 2.0, vdd: float = CMOS_32NM.vdd) -> float:
    """Static power (W) of an integrator or TIA that holds a line at virtual ground while sinking its
    full-scale current: a class-A amplifier biased at that current in each of ``branches`` current branches
    (input pair and output stage of a two-stage OTA: 2), ``P = branches · I_fs · V_dd``."""
    if not (full_scale_current >= 0 and branches > 0 and vdd > 0):
        raise ValueError("amplifier_power: full_scale_current >= 0, branches > 0 and vdd > 0 are required")
    return branches * full_scale_current * vdd


__all__ = ["PoweredBlock", "AnalogAccumulator", "NeuralADC", "AnalogCMOS", "CMOS_32NM", "settle_time", "rc_tau",
           "inverter_input_capacitance", "neural_stage_timing", "amplifier_settle_time", "amplifier_power"]
