"""Peak figures of a design's chip from the engine itself: a workload that fills the chip, evaluated.

``designs --json`` (and :func:`pimtrain.cost.design_summary`) report area, peak power and peak ops/s of
the chip the design's ``hierarchy`` states. They are not a second formula: :func:`fill_workload` builds
one layer that occupies every array (matrix unit, weight memory or logic block) of that chip, the engine
costs one inference vector of it, and the peak figures are that forward kernel's throughput and power
plus the leakage of the whole chip (``static_power: chip``: a chip running flat out has nothing to gate).
"""
from __future__ import annotations

import math

from pimtrain.design import load_design
from pimtrain.mapping import LayerMapping
from pimtrain.workloads import LayerShape, Workload

from .engine import weight_bits_of
from .hardware import build_hardware


def stated_chip(design):
    """A copy of ``design`` sized to its stated hierarchy (``chip_fit: error``) with every block leaking."""
    d = design.model_copy(deep=True)
    d.hierarchy.chip_fit = "error"
    d.hierarchy.static_power = "chip"
    return d


def fill_workload(design) -> Workload:
    """One layer that occupies the whole stated chip of ``design`` (weight-stationary, one copy)."""
    design = load_design(design)
    hw = build_hardware(design)
    h = design.hierarchy
    a = design.array
    if design.compute == "digital" and design.digital.in_memory:
        blk = hw.first("pim_block")
        blocks = blk.count * h.multiplicity(blk.level)
        # every block sums 16 dot products of one block's rows: all rows of the chip busy
        layer = LayerShape("fill", "linear", 16 * blocks, blk.rows)
    elif hw.first("matrix_unit") is not None:
        mcu = hw.first("matrix_unit")
        units = mcu.count * (h.cores_per_tile * h.tiles_per_chip if mcu.level == "core" else h.multiplicity(mcu.level))
        layer = LayerShape("fill", "linear", a.cols * units, a.rows)
    elif design.compute == "digital":
        mem = hw.first("weight_memory")
        wb = weight_bits_of(design)
        bits = mem.p["capacity_bits"] * hw.multiplicity(mem) if mem is not None else a.rows * a.cols
        n_in = 1024
        layer = LayerShape("fill", "linear", max(int(bits // (wb * n_in)), 1), n_in)
    else:
        probe = LayerMapping(1, a.rows, design)
        per_array = max(probe.weight_cols_per_array // max(probe.slices, 1), 1)
        layer = LayerShape("fill", "linear", per_array * h.arrays_per_chip, a.rows)
    return Workload(f"fill:{design.name}", (layer,))


def design_summary(design) -> dict:
    """``{"area_m2", "peak_power_w", "peak_ops_per_s"}`` of the chip the design's hierarchy states (None
    where a figure does not apply): the engine's forward kernel on :func:`fill_workload`, batch 1.

    Peak ops/s = 2 × MACs / forward latency; peak power = forward energy / forward latency + the leakage of
    every block of the chip; area = the stated chip's area.
    """
    from . import evaluate

    design = load_design(design)
    chip = stated_chip(design)
    wl = fill_workload(chip)
    rep = evaluate(chip, wl, batch_size=1, inference=True, check_fit=False)
    fwd = rep.kernel.get("forward")
    if not fwd or fwd["latency_s"] <= 0 or not math.isfinite(fwd["latency_s"]):
        return {"area_m2": rep.area_m2 or None, "peak_power_w": None, "peak_ops_per_s": None}
    hw = build_hardware(chip)
    leak = sum(c.leak_power * c.count * chip.hierarchy.multiplicity(c.level) for c in hw.components.values())
    return {"area_m2": rep.area_m2, "peak_power_w": fwd["energy_j"] / fwd["latency_s"] + leak,
            "peak_ops_per_s": 2.0 * fwd["macs"] / fwd["latency_s"]}


__all__ = ["fill_workload", "design_summary", "stated_chip"]
