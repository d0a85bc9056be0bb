"""The in-memory logic block (``model: pim_logic``, role ``pim_block``): one memory block whose rows all
compute at once with the gates of :mod:`pimtrain.pimlogic`, in the technology ``design.digital.logic_family``.

Parameters (SI; device physics and the design's own organisation, so none is node-scaled): those of
the technology class (:class:`pimtrain.pimlogic.tech.MagicNorReram` / ``SotMram``, sources there), plus

- ``cols``, ``processing_cols``: columns per block and those reserved for computing (FloatPIM: 93 of 1024)
- ``block_periphery_area``: decoders, drivers, sense amplifiers and switches of one block (m²)
- ``move_energy_per_bit``, ``bus_width_bits``: the inter-block interconnect that moves partial sums
  and operands between blocks (energy per bit; bits per cycle per tile)
- ``power_cap``: optional power envelope of the chip (W; 0 = none): a kernel cannot draw more (its
  latency becomes energy / cap when that is longer than the compute time)

Area of one block: rows × cols × cell area + ``block_periphery_area``.
"""
from __future__ import annotations

from pimtrain.pimlogic.tech import TECHNOLOGIES, make_technology

from .components import Component

_TECH_KEYS = sorted({k for cls in TECHNOLOGIES.values() for k in cls.DEFAULTS})


class PimLogicBlock(Component):
    """One memory block computing with in-memory gates (technology ``design.digital.logic_family``; MAGIC
    NOR ReRAM after FloatPIM, ISCA 2019, or SOT-MRAM after Wang et al., ISCAS 2020; sources of every
    default in :mod:`pimtrain.pimlogic.tech`). Area: rows × cols × cell area + block periphery."""

    model = "pim_logic"
    REF_NODE_NM = 28.0
    PARAMS = {**{k: None for k in _TECH_KEYS}, "cols": 1024.0, "processing_cols": 93.0, "block_periphery_area": 0.0,
              "move_energy_per_bit": 0.0, "bus_width_bits": 256.0, "power_cap": 0.0}
    UNSCALED = frozenset(PARAMS) | {"area", "leak_power"}

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        kind = getattr(getattr(self.design, "digital", None), "logic_family", None) or "nor"
        given = {key: v for key, v in self.p.items() if key in _TECH_KEYS and v is not None}
        self.tech_model = make_technology(kind, given)
        if self.p["area"] is None:
            self.p["area"] = self.rows * self.p["cols"] * self.tech_model.cell_area + self.p["block_periphery_area"]

    @property
    def rows(self) -> int:
        return int(self.tech_model.p["rows"])
