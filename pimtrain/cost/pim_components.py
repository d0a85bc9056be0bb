"""The in-memory logic block (``model: pim_logic``, role ``pim_block``): one memory block whose rows all
compute at once with the gates of :mod:`pimtrain.pimlogic`, in the technology ``design.digital.logic_family``.

Parameters (SI; device physics and the design's own organisation, so none is node-scaled): those of
the technology class (:class:`pimtrain.pimlogic.tech.MagicNorReram` / ``SotMram``, sources there; left
unset they take that class's default), plus

- ``cols``, ``processing_cols``: columns per block and those reserved for computing (FloatPIM: 93 of 1024);
  the MAGIC NOR technology initialises up to ``init_columns`` (default: ``processing_cols``) output cells
  of every row in one parallel write
- ``block_periphery_area``: decoders, drivers, sense amplifiers and switches of one block (m²)
- ``move_energy_per_bit``, ``bus_width_bits``: the inter-block interconnect that moves partial sums
  and operands between blocks (energy per bit; bits per cycle per tile)
- ``power_cap``: optional power envelope of the chip (W; 0 = none): a kernel cannot draw more (its
  latency becomes energy / cap when that is longer than the compute time)

Area of one block: rows × cols × cell area + ``block_periphery_area``.
"""
from __future__ import annotations

from pydantic import Field

from pimtrain.design import PimtrainError
from pimtrain.pimlogic.tech import TECHNOLOGIES, make_technology

from .components import Component, ComponentParams, Count, Q

_TECH_KEYS = sorted({k for cls in TECHNOLOGIES.values() for k in cls.DEFAULTS})
_TECH = "technology default (pimtrain.pimlogic.tech, source there)"


class PimLogicParams(ComponentParams):
    # MAGIC NOR ReRAM (floatpim_reram)
    r_on_resistance: Q("resistance", gt=0.0, optional=True) = Field(default=None, description=f"low cell resistance (Ω); {_TECH}")
    r_off_resistance: Q("resistance", gt=0.0, optional=True) = Field(default=None, description=f"high cell resistance (Ω); {_TECH}")
    switch_time: Q("time", optional=True) = Field(default=None, description=f"cell switching time (s); {_TECH}")
    gate_voltage: Q("voltage", optional=True) = Field(default=None, description=f"MAGIC gate voltage V0 (V); {_TECH}")
    periphery_time: Q("time", optional=True) = Field(default=None, description=f"decoder/driver set-up per cycle (s); {_TECH}")
    init_columns: Count(ge=1.0, le=1e7, optional=True) = Field(default=None, description="output cells of a row initialised by one parallel write; default: processing_cols")
    output_one_fraction: Count(le=1.0, optional=True) = Field(default=None, description=f"fraction of NOR outputs that hold 1 (R_on) when re-initialised; {_TECH}")
    # SOT-MRAM (sot_mram)
    mtj_p_resistance: Q("resistance", gt=0.0, optional=True) = Field(default=None, description=f"MTJ parallel resistance (Ω); {_TECH}")
    mtj_ap_resistance: Q("resistance", gt=0.0, optional=True) = Field(default=None, description=f"MTJ antiparallel resistance (Ω); {_TECH}")
    read_voltage: Q("voltage", optional=True) = Field(default=None, description=f"sensing voltage (V); {_TECH}")
    read_time: Q("time", optional=True) = Field(default=None, description=f"sensing time (s); {_TECH}")
    sense_energy: Q("energy", optional=True) = Field(default=None, description=f"sense amplifier per row and step (J); {_TECH}")
    write_current: Q("current", optional=True) = Field(default=None, description=f"SOT write current (A); {_TECH}")
    hm_resistance: Q("resistance", optional=True) = Field(default=None, description=f"heavy-metal channel resistance (Ω); {_TECH}")
    write_time: Q("time", optional=True) = Field(default=None, description=f"SOT write pulse (s); {_TECH}")
    # both
    column_drive_energy: Q("energy", optional=True) = Field(default=None, description=f"per driven column per cycle (J); {_TECH}")
    rows: Count(ge=1.0, le=1e7, optional=True) = Field(default=None, description=f"rows per block; {_TECH}")
    feature_size: Q("length", gt=0.0, optional=True) = Field(default=None, description=f"feature size F (m); {_TECH}")
    cell_area_f2: Count(gt=0.0, le=1e4, optional=True) = Field(default=None, description=f"cell area in F²; {_TECH}")
    # the block and its interconnect
    cols: Count(ge=1.0, le=1e7) = Field(default=1024.0, description="columns per block (FloatPIM 1024)")
    processing_cols: Count(le=1e7) = Field(default=93.0, description="columns reserved for computing (FloatPIM 93 of 1024)")
    block_periphery_area: Q("area") = Field(default=0.0, description="periphery of one block (m²); a preset states it")
    move_energy_per_bit: Q("energy") = Field(default=0.0, description="inter-block interconnect, J per bit; a preset states it")
    bus_width_bits: Count(ge=1.0, le=1e9) = Field(default=256.0, description="interconnect bits per cycle per tile (assumed 256)")
    power_cap: Q("power", le=1e6) = Field(default=0.0, description="power envelope of the chip (W); 0 = none")


assert set(_TECH_KEYS) <= set(PimLogicParams.model_fields), "a technology parameter has no typed field"


class PimLogicBlock(Component):
    """One memory block computing with in-memory gates (technology ``design.digital.logic_family``; MAGIC
    NOR ReRAM after FloatPIM, ISCA 2019, or SOT-MRAM after Wang et al., ISCAS 2020; sources of every
    default in :mod:`pimtrain.pimlogic.tech`). Area: rows × cols × cell area + block periphery.
    The kernels' gate counts and cycles are in :mod:`pimtrain.cost.digital_pim`."""

    model = "pim_logic"
    ROLE = "pim_block"
    REF_NODE_NM = 28.0
    Params = PimLogicParams
    UNSCALED = frozenset(PimLogicParams.model_fields) | {"area", "leak_power"}

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        kind = getattr(getattr(self.design, "digital", None), "logic_family", None) or "nor"
        given = {key: v for key, v in self.p.items() if key in _TECH_KEYS and v is not None}
        if "init_columns" not in given:
            given["init_columns"] = self.p["processing_cols"]
        elif given["init_columns"] > self.p["processing_cols"]:
            raise PimtrainError(f"circuits.components.{self.name}.params.init_columns: must be <= processing_cols "
                                f"({self.p['processing_cols']:g}): only processing cells are initialised (got {given['init_columns']:g})")
        self.tech_model = make_technology(kind, given)
        if self.p["area"] is None:
            self.p["area"] = self.rows * self.p["cols"] * self.tech_model.cell_area + self.p["block_periphery_area"]

    @property
    def rows(self) -> int:
        return int(self.tech_model.p["rows"])
