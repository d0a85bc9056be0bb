"""Chip-level cost of the three bit-serial dataflows (ISAAC, CASCADE, Neural-PIM) at equal area.

Two parts:

1. :data:`ISAAC_TABLE` — ISAAC's Table I (Shafiee et al. ISCA 2016; papers.md §5 [R], cross-checked
   with hwcomponents [X] and the PUMA constants [C]), one row per component with its power and area;
   :func:`isaac_totals` assembles IMA → tile → chip and the ADCs' share of the tiles' power.
2. :class:`DataflowChip` — a processing element (PE: ISAAC's IMA) of each dataflow with its power and
   area, the time one input vector takes through one array (``t_vmm``), and the work it does
   (``rows × weights per array`` MACs per array read). Every array and periphery block is charged the
   power it draws while active (ISAAC's table gives powers) — an array read ``P·t``; the trained NN
   peripherals (:mod:`pimtrain.xbar.nn_peripherals`) are charged per operation from their own
   inverter count and crossbar size. A workload is mapped layer by layer onto arrays (row tiles ×
   column tiles); energy = array reads × energy per array read; at **equal area** the chip holds
   ``area / PE area`` PEs whose arrays share the work, so throughput = MACs · arrays / (array reads ·
   t_vmm) (a fully pipelined, weight-replicated chip as ISAAC assumes).

Constants of the models are in :data:`PARAMS` with the inline provenance of the presets
(``{value, source, basis, note}``); ``basis: calibrated`` names its target, and
:mod:`pimtrain.papers.neuralpim2022` marks every row that moves with a calibrated constant.
SI units inside (W, m², s, J).
"""
from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from pathlib import Path

from pimtrain.design import PimtrainError
from pimtrain.mapping import bit_lines_per_weight, cascade_groups, input_cycles, weight_slices

MM2 = 1e-6  # m² per mm²
mW = 1e-3

# ---------------------------------------------------------------------------------------------- ISAAC table
SRC_T1 = "ISAAC Table I via papers.md §5 [R]"


@dataclass(frozen=True)
class TableRow:
    level: str        # "ima", "tile" or "chip"
    component: str
    spec: str
    power_w: float    # the whole row (all units of the row)
    area_m2: float
    share: float = 1.0  # fraction of the row charged to one parent (router shared by 4 tiles: 1/4)
    source: str = SRC_T1


ISAAC_TABLE: tuple[TableRow, ...] = (
    TableRow("tile", "edram", "64 KB, 4 banks, 256-bit bus", 20.7 * mW, 0.083 * MM2, source=SRC_T1 + ", hwcomponents [X]"),
    TableRow("tile", "edram_bus", "384 wires", 7 * mW, 0.090 * MM2, source=SRC_T1 + ", hwcomponents [X], PUMA [C]"),
    TableRow("tile", "router", "32-bit flit, 8 ports, shared by 4 tiles", 42 * mW, 0.151 * MM2, 0.25, SRC_T1 + ", hwcomponents [X]"),
    TableRow("tile", "sigmoid", "2 units", 0.52 * mW, 0.0006 * MM2, source=SRC_T1 + ", PUMA [C]"),
    TableRow("tile", "shift_add", "1 unit", 0.05 * mW, 0.00006 * MM2, source=SRC_T1 + ", PUMA [C]"),
    TableRow("tile", "maxpool", "1 unit", 0.4 * mW, 0.00024 * MM2),
    TableRow("tile", "output_register", "3 KB", 1.68 * mW, 0.0032 * MM2),
    TableRow("ima", "adc", "8-bit, 1.28 GS/s, 8 per IMA", 16 * mW, 0.0096 * MM2, source=SRC_T1 + ", hwcomponents [X], PUMA [C]"),
    TableRow("ima", "dac", "1-bit, 8 x 128", 4 * mW, 0.00017 * MM2, source=SRC_T1 + ", hwcomponents [X], PUMA [C]"),
    TableRow("ima", "sample_hold", "8 x 128", 0.01 * mW, 0.00004 * MM2, source=SRC_T1 + ", PUMA [C]"),
    TableRow("ima", "arrays", "8 x (128x128, 2 b/cell)", 2.4 * mW, 0.0002 * MM2, source=SRC_T1 + ", PUMA [C]"),
    TableRow("ima", "shift_add", "4 units", 0.2 * mW, 0.00024 * MM2, source=SRC_T1 + ", hwcomponents [X]"),
    TableRow("ima", "input_register", "2 KB", 1.24 * mW, 0.0021 * MM2),
    TableRow("ima", "output_register", "256 B", 0.23 * mW, 0.00077 * MM2),
    TableRow("chip", "hypertransport", "4 links, 1.6 GHz, 6.4 GB/s", 10.4, 22.88 * MM2, source=SRC_T1 + ", PUMA [C]"),
)
ISAAC_IMAS_PER_TILE = 12   # papers.md §5 [S]
ISAAC_TILES = 168          # papers.md §5 [S]
ISAAC_ARRAYS_PER_IMA = 8   # papers.md §5 [S]


def _rows(level: str, table=ISAAC_TABLE):
    return [r for r in table if r.level == level]


def isaac_totals(table=ISAAC_TABLE) -> dict:
    """IMA, tile and chip power (W) and area (m²) assembled from the table, and the ADC share."""
    ima_p = sum(r.power_w * r.share for r in _rows("ima", table))
    ima_a = sum(r.area_m2 * r.share for r in _rows("ima", table))
    tl_p = sum(r.power_w * r.share for r in _rows("tile", table))
    tl_a = sum(r.area_m2 * r.share for r in _rows("tile", table))
    tile_p = tl_p + ISAAC_IMAS_PER_TILE * ima_p
    tile_a = tl_a + ISAAC_IMAS_PER_TILE * ima_a
    tiles_p, tiles_a = ISAAC_TILES * tile_p, ISAAC_TILES * tile_a
    ch = _rows("chip", table)
    adc = sum(r.power_w for r in _rows("ima", table) if r.component == "adc") * ISAAC_IMAS_PER_TILE * ISAAC_TILES
    return {
        "ima_power_w": ima_p, "ima_area_m2": ima_a, "tile_level_power_w": tl_p, "tile_level_area_m2": tl_a,
        "tile_power_w": tile_p, "tile_area_m2": tile_a, "tiles_power_w": tiles_p, "tiles_area_m2": tiles_a,
        "chip_power_w": tiles_p + sum(r.power_w for r in ch), "chip_area_m2": tiles_a + sum(r.area_m2 for r in ch),
        "adc_share_of_tiles_power": adc / tiles_p,
    }


def _row(component: str, level: str = "ima") -> TableRow:
    for r in ISAAC_TABLE:
        if r.component == component and r.level == level:
            return r
    raise PimtrainError(f"ISAAC table: no row {level}.{component}")


# ---------------------------------------------------------------------------------------------- constants
P = {  # value (SI), source, basis, note — the same inline provenance as the presets
    "cell_area": {"value": 0.0002 * MM2 / (8 * 128 * 128), "source": "ISAAC Table I via papers.md §5: 8 arrays of 128x128 = 0.0002 mm2 [R]",
                  "basis": "derived", "note": "0.0002 mm2 / 131072 cells"},
    "cell_read_power": {"value": 2.4 * mW / (8 * 128 * 128), "source": "ISAAC Table I via papers.md §5: 8 arrays 2.4 mW [R]",
                        "basis": "derived", "note": "2.4 mW / 131072 cells, charged while a read is active"},
    "driver_power": {"value": 4 * mW / 1024, "source": "ISAAC Table I via papers.md §5: 8 x 128 1-bit DACs 4 mW [R]",
                     "basis": "derived", "note": "4 mW / 1024 rows, charged while a read is active"},
    "driver_area": {"value": 0.00017 * MM2 / 1024, "source": "ISAAC Table I via papers.md §5 [R]", "basis": "derived", "note": "0.00017 mm2 / 1024"},
    "isaac_cycle": {"value": 100e-9, "source": "ISAAC via papers.md §5: one input bit per 100 ns [S]", "basis": "exact"},
    "isaac_adc_energy": {"value": 1.667e-12, "source": "hwcomponents IsaacADC via papers.md §5: 16 mW / (8 x 1.2 GS/s) [X]", "basis": "exact"},
    "sa_to_adc_energy": {"value": 33.0, "source": "Neural-PIM Fig. 13 via papers.md §4.2: analog S+A uses 33x less energy than ISAAC's ADCs [S]",
                         "basis": "exact", "note": "read as: one NNS+A operation = one ISAAC 8-bit conversion / 33"},
    "inverter_area": {"value": 0.5e-12, "source": "assumption: an analog-sized CMOS inverter at 32 nm, 0.5 um2 (NN peripheral areas are missing, papers.md §11)",
                      "basis": "assumed"},
    "nn_cycle": {"value": 8.36e-9, "source": "not in papers.md (§11: NNS+A/NNADC latency missing)", "basis": "calibrated",
                 "note": "target: Neural-PIM / ISAAC throughput 3.43x averaged over the 9 workloads"},
    "cascade_tia_ratio": {"value": 77.5, "source": "CASCADE via papers.md §6: the TIA interface uses 77.5x less energy than the ADC interface [S]",
                          "basis": "exact", "note": "one TIA transfer = one 6-bit ISAAC-scaled conversion / 77.5"},
    "cascade_array_density": {"value": 0.0076, "source": "Neural-PIM Table 3 via papers.md §4.2: CASCADE PE-level array density 0.76 % [S]",
                              "basis": "exact", "note": "sets the CASCADE PE area from its arrays' area"},
    "cascade_periphery_scale": {"value": 0.530, "source": "not in papers.md (§11: CASCADE component tables missing): one factor on CASCADE's ISAAC-derived periphery energies (row drivers, TIA + buffer interface, ADCs, registers, tile share)",
                                "basis": "calibrated", "note": "target: Neural-PIM / CASCADE energy efficiency 1.73x averaged over the 9 workloads"},
    "cascade_cycle": {"value": 14.6e-9, "source": "not in papers.md (§11): CASCADE input-bit cycle with its buffered readout",
                      "basis": "calibrated", "note": "target: Neural-PIM / CASCADE throughput 1.59x averaged over the 9 workloads"},
}


def value(params: dict, key: str) -> float:
    return float(params[key]["value"])


# ---------------------------------------------------------------------------------------------- PE models
@dataclass
class DataflowChip:
    """One PE of a dataflow chip: what it holds, how fast it reads, what it draws and occupies."""

    name: str
    rows: int
    weights_per_array: int   # 8-bit signed weights one array holds (columns / columns per weight)
    arrays_per_pe: int
    t_vmm: float             # s: one 8-bit input vector through one array (all its cycles)
    energy_per_read: float   # J per array read (one input vector through one array), PE share included
    pe_area: float           # m² per PE including its share of tile-level blocks
    conversions_per_read: float
    breakdown: dict          # J per array read by block

    @property
    def macs_per_read(self) -> int:
        return self.rows * self.weights_per_array

    @property
    def peak_macs_per_s_per_m2(self) -> float:
        return self.arrays_per_pe * self.macs_per_read / self.t_vmm / self.pe_area

    cells_per_array: int = 0  # rows x cols

    @property
    def array_density(self) -> float:
        """Array area / PE area (Neural-PIM Table 3's 'PE-level array density')."""
        return self.arrays_per_pe * self.cells_per_array * value(P, "cell_area") / self.pe_area


def _tile_share_per_pe(params) -> tuple[float, float]:
    """ISAAC's tile-level blocks (eDRAM, bus, router/4, sigmoid, S+A, maxpool, register) per IMA."""
    p = sum(r.power_w * r.share for r in _rows("tile")) / ISAAC_IMAS_PER_TILE
    a = sum(r.area_m2 * r.share for r in _rows("tile")) / ISAAC_IMAS_PER_TILE
    return p, a


def isaac_chip(design, params=P) -> DataflowChip:
    """ISAAC IMA at 8 bits: the table's powers for the time of one 8-bit read (8 cycles of 100 ns)."""
    # ISAAC's biased encoding: one column set per weight (the chip model's reading of the table; the Mapping
    # and the numerics hold the preset's differential pair, twice the columns)
    wpa = design.array.cols // weight_slices(design)
    t_cyc = value(params, "isaac_cycle")
    cycles = input_cycles(design, "forward")
    t = cycles * t_cyc
    ima = {r.component: r.power_w for r in _rows("ima")}
    tile_p, tile_a = _tile_share_per_pe(params)
    n = ISAAC_ARRAYS_PER_IMA
    br = {k: v * t / n for k, v in ima.items()}
    br["tile_share"] = tile_p * t / n
    area = sum(r.area_m2 for r in _rows("ima")) + tile_a
    chip = DataflowChip("isaac", design.array.rows, wpa, n, t, sum(br.values()), area, design.array.cols * cycles, br)
    chip.cells_per_array = design.array.rows * design.array.cols
    return chip


PERIPHERALS_FILE = Path(__file__).resolve().parents[1] / "xbar" / "data" / "nn_peripherals.json"


def nn_peripheral_sizes(path: Path = PERIPHERALS_FILE) -> dict:
    """Cells and inverters of the stored trained NNS+A (base 2) and 8-bit NNADC, read from their file
    (the same counts as ``NNSA.size()`` / ``NNADC.size()`` in :mod:`pimtrain.xbar.nn_peripherals`)."""
    if not Path(path).exists():
        raise PimtrainError(f"{path}: the trained NN peripherals are missing; run pimtrain.xbar.nn_peripherals.default_peripherals() once")
    store = json.loads(Path(path).read_text())
    h = int(store["nnsa"]["2"]["hidden"])
    bits = int(store["nnadc"]["8"]["bits"])
    n1 = (1 << (bits // 2)) - 1
    n2 = (1 << (bits - bits // 2 + 1)) - 1
    return {"nnsa": {"cells": 2 * (3 * h + (h + 1)), "inverters": h, "tias": 1},
            "nnadc": {"cells": 2 * 3 * (n1 + n2) + n1, "inverters": n1 + n2, "tias": 1}}


def neuralpim_chip(design, params=P) -> DataflowChip:
    """Neural-PIM PE: 8 arrays of 128x128 1-bit cells, 16 columns per 8-bit weight, analog S+A, NNADC."""
    sizes = nn_peripheral_sizes()
    rows, cols = design.array.rows, design.array.cols
    bit_lines, cycles = weight_slices(design), input_cycles(design, "forward")
    wpa = cols // bit_lines_per_weight(design)  # weights per array (the Mapping's bit lines per weight)
    t_c = value(params, "nn_cycle")
    t = cycles * t_c
    e_conv = value(params, "isaac_adc_energy")
    e_sa_op = e_conv / value(params, "sa_to_adc_energy")
    e_inv = e_sa_op / sizes["nnsa"]["inverters"]  # per inverter and operation (NNS+A cells folded in)
    cell_e = value(params, "cell_read_power") * t_c  # one cell read for one NN evaluation
    diff_lines = cols // 2
    sa_ops = diff_lines * cycles + wpa * bit_lines  # cycle cascade per differential bit line, then bit lines
    adc_e = sizes["nnadc"]["inverters"] * e_inv + sizes["nnadc"]["cells"] * cell_e
    n = design.hierarchy.arrays_per_core
    ima = {r.component: r.power_w for r in _rows("ima")}
    br = {
        "arrays": rows * cols * value(params, "cell_read_power") * t,
        "row_drivers": rows * value(params, "driver_power") * t,
        "nns+a": sa_ops * (e_sa_op + sizes["nnsa"]["cells"] * cell_e),
        "nnadc": wpa * adc_e,
        "registers": (ima["input_register"] + ima["output_register"] + ima["shift_add"]) * t / n,
    }
    tile_p, tile_a = _tile_share_per_pe(params)
    br["tile_share"] = tile_p * t / n
    inv_a, cell_a = value(params, "inverter_area"), value(params, "cell_area")
    per_array_area = (rows * cols * cell_a + rows * value(params, "driver_area")
                      + diff_lines * (sizes["nnsa"]["inverters"] * inv_a + sizes["nnsa"]["cells"] * cell_a)
                      + wpa * (sizes["nnadc"]["inverters"] * inv_a + sizes["nnadc"]["cells"] * cell_a))
    regs = sum(r.area_m2 for r in _rows("ima") if r.component in ("input_register", "output_register", "shift_add"))
    area = n * per_array_area + regs + tile_a
    chip = DataflowChip("neuralpim", rows, wpa, n, t, sum(br.values()), area, float(wpa), br)
    chip.cells_per_array = rows * cols
    return chip


def cascade_chip(design, params=P) -> DataflowChip:
    """CASCADE PE (one array of 64x64 1-bit cells, 16 columns per 8-bit weight): TIA → RRAM buffer,
    analog accumulation, grouped ADC conversions; PE area from the paper's array density."""
    from .components import adc_point

    rows, cols = design.array.rows, design.array.cols
    bit_lines, cycles = weight_slices(design), input_cycles(design, "forward")
    wpa = cols // bit_lines_per_weight(design)  # weights per array (the Mapping's bit lines per weight)
    t_c = value(params, "cascade_cycle")
    t = cycles * t_c
    e8 = value(params, "isaac_adc_energy")
    buf_bits = design.io.forward.buffer_bits or 6
    e_tia = e8 * adc_point(buf_bits)[0] / value(params, "cascade_tia_ratio")
    conv = cascade_groups(bit_lines) * wpa  # groups of the differential (W+ − W−) sum
    adc_bits = design.io.forward.adc_bits or 10
    transfers = cols * cycles
    ima = {r.component: r.power_w for r in _rows("ima")}
    tile_p, _ = _tile_share_per_pe(params)
    isaac_ima_cells = ISAAC_ARRAYS_PER_IMA * 128 * 128
    scale = rows * cols / isaac_ima_cells  # PE overheads (registers, tile share) scaled by cells held
    k = value(params, "cascade_periphery_scale")
    br = {
        "arrays": rows * cols * value(params, "cell_read_power") * t,
        "row_drivers": k * rows * value(params, "driver_power") * t,
        "tia+buffer": k * transfers * e_tia,  # the 'TIA interface': TIA and the buffer write (77.5x below an ADC)
        "buffer_read": transfers * value(params, "cell_read_power") * t_c,
        "adc": k * conv * e8 * adc_point(adc_bits)[0],
        "registers": k * (ima["input_register"] + ima["output_register"] + ima["shift_add"]) * t * scale,
        "tile_share": k * tile_p * t * scale,
    }
    area = rows * cols * value(params, "cell_area") / value(params, "cascade_array_density")
    chip = DataflowChip("cascade", rows, wpa, 1, t, sum(br.values()), area, float(conv), br)
    chip.cells_per_array = rows * cols
    return chip


#: accumulation kind -> the PE model of the chip built that way
BUILDERS = {"digital": isaac_chip, "analog_buffered": cascade_chip, "analog": neuralpim_chip}


def chip_model(design, params=P) -> DataflowChip:
    from pimtrain.design import load_design

    design = load_design(design)
    kind = design.io.forward.accumulation
    if kind not in BUILDERS:
        raise PimtrainError(f"design {design.name!r}: io.forward.accumulation {kind!r} has no chip model; allowed: {', '.join(BUILDERS)}")
    return BUILDERS[kind](design, params)


# ---------------------------------------------------------------------------------------------- workloads
def array_reads(chip: DataflowChip, workload) -> tuple[float, float]:
    """(array reads, MACs) of one inference of ``workload`` mapped onto ``chip``'s arrays."""
    from pimtrain.workloads import get_workload

    wl = get_workload(workload) if isinstance(workload, str) else workload
    reads = macs = 0.0
    for L in wl.layers:
        arrays = math.ceil(L.in_features / chip.rows) * math.ceil(L.out_features / chip.weights_per_array)
        reads += L.reuse * arrays
        macs += L.reuse * L.in_features * L.out_features
    return reads, macs


def inference_cost(chip: DataflowChip, workload, area_m2: float) -> dict:
    """Energy (J), time (s) on a chip of ``area_m2`` (equal-area comparison), MACs, per-MAC figures."""
    reads, macs = array_reads(chip, workload)
    energy = reads * chip.energy_per_read
    n_arrays = math.floor(area_m2 / chip.pe_area) * chip.arrays_per_pe
    time = reads * chip.t_vmm / max(n_arrays, 1)
    return {"energy_j": energy, "latency_s": time, "macs": macs, "arrays": n_arrays,
            "macs_per_j": macs / energy, "macs_per_s": macs / time, "conversions": reads * chip.conversions_per_read}


def compare(designs: dict, workloads, area_m2: float, params=P) -> dict:
    """Per workload, each design's inference cost at equal area; and mean ratios to ``designs['neuralpim']``."""
    chips = {k: chip_model(d, params) for k, d in designs.items()}
    per = {w: {k: inference_cost(c, w, area_m2) for k, c in chips.items()} for w in workloads}
    ratios = {}
    for k in chips:
        if k == "neuralpim":
            continue
        e = [per[w]["neuralpim"]["macs_per_j"] / per[w][k]["macs_per_j"] for w in workloads]
        t = [per[w]["neuralpim"]["macs_per_s"] / per[w][k]["macs_per_s"] for w in workloads]
        ratios[k] = {"energy_efficiency": sum(e) / len(e), "throughput": sum(t) / len(t)}
    return {"chips": chips, "per_workload": per, "ratios": ratios}


def perturbed(key: str, factor: float, params=P) -> dict:
    out = copy.deepcopy(params)
    out[key]["value"] = out[key]["value"] * factor
    return out


__all__ = ["ISAAC_TABLE", "isaac_totals", "P", "DataflowChip", "chip_model", "isaac_chip", "cascade_chip",
           "neuralpim_chip", "inference_cost", "compare", "array_reads", "perturbed", "nn_peripheral_sizes"]


# ---------------------------------------------------------------------------------------------- calibration
#: (calibrated key, compared design, ratio, target) — the targets named in the constants' notes
CALIBRATION_TARGETS = (
    ("nn_cycle", "isaac", "throughput", 3.43),
    ("cascade_cycle", "cascade", "throughput", 1.59),
    ("cascade_periphery_scale", "cascade", "energy_efficiency", 1.73),
)


def calibrate(designs: dict, workloads, area_m2: float, params=P, rounds: int = 8) -> dict:
    """Re-derive the calibrated constants from their targets (multiplicative fixed-point iteration).

    Throughput ratios scale linearly with the cycle times; the CASCADE energy ratio is solved for the
    periphery scale. Returns a new params dict; :data:`P` holds the result rounded to 3 digits.
    """
    params = copy.deepcopy(params)
    for _ in range(rounds):
        for key, other, what, target in CALIBRATION_TARGETS:
            got = compare(designs, workloads, area_m2, params)["ratios"][other][what]
            if key == "nn_cycle":
                params[key]["value"] *= got / target
            elif key == "cascade_cycle":
                params[key]["value"] *= target / got
            else:  # energy ratio NP/CASCADE = E_cascade / E_np: solve for the scaled share linearly
                c = chip_model(designs[other], params)
                fixed = c.breakdown["arrays"] + c.breakdown["buffer_read"]
                need = c.energy_per_read * target / got - fixed
                params[key]["value"] *= max(need / (c.energy_per_read - fixed), 1e-3)
    return params
