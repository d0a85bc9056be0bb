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
"""
from __future__ import annotations

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
    """Neural-PIM's NNADC: ``nn_adc_size(bits)`` inverters and cells; one conversion = every inverter
    switching once (``inverter_energy``) + every cell read for one read cycle; it takes one read cycle."""

    model = "neural_adc"
    ROLE = "readout"

    class Params(ComponentParams):
        inverter_energy: Q("energy") = Field(default=0.0, description="energy of one inverter neuron per evaluation (J)")
        cell_read_power: Q("power") = Field(default=0.0, description="read power of one cell while read (W)")
        inverter_area: Q("area") = Field(default=0.0, description="area of one inverter neuron (m²)")
        cell_area: Q("area") = Field(default=0.0, description="area of one cell (m²)")

    def size(self, bits: int) -> dict:
        return nn_adc_size(int(bits))

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


__all__ = ["PoweredBlock", "AnalogAccumulator", "NeuralADC"]
