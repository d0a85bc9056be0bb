"""Designs compared at equal chip area: a chip of a given area filled with copies of one design's cores,
the workload's weights replicated over every array (fully pipelined and weight-replicated, the basis on
which ISAAC, CASCADE and Neural-PIM are compared). Energy is the engine's, counted per action; time per
inference is the engine's array-seconds (``Ledger.busy``: every array of a layer, busy for the interval at
which it accepts the next input vector) shared over every array of the chip.

:func:`core_area` (one core with its share of the tile; chip-level blocks such as off-chip links are not
replicated) and :func:`array_density` (arrays' area over that) are the engine's areas; :func:`full_rate`
is the stated chip with every array computing back to back, its power by component (the chip's power
table as the engine charges it).
"""
from __future__ import annotations

import math

from pimtrain.design import PimtrainError, load_design

from .engine import run_ledger
from .hardware import build_hardware


def _level_area(hw, level: str) -> float:
    return sum(c.area * c.count for c in hw.components.values() if c.level == level)


def core_area(design) -> float:
    """Area (m²) of one core: its arrays and their blocks, its own blocks, its share of the tile's."""
    design = load_design(design)
    hw = build_hardware(design)
    h = design.hierarchy
    return (h.arrays_per_core * _level_area(hw, "array") + _level_area(hw, "core")
            + _level_area(hw, "tile") / h.cores_per_tile)


def array_density(design) -> float:
    """Arrays' area over the core area (Neural-PIM Table 3's 'PE-level array density')."""
    design = load_design(design)
    hw = build_hardware(design)
    arr = sum(c.area * c.count for c in hw.by_role("array") if c.level == "array")
    return design.hierarchy.arrays_per_core * arr / core_area(design)


def _replicated(design, workload, arrays: int) -> dict:
    led, hw, _placement, wl, _names = run_ledger(design, workload, batch_size=1, inference=True, check_fit=False)
    busy = sum(led.busy.values())
    if busy <= 0 or arrays < 1:
        raise PimtrainError(f"design {design.name!r}: no array work to replicate for {getattr(wl, 'name', 'workload')!r}")
    time = busy / arrays
    by_comp: dict[str, float] = {}
    for (kernel, _layer, comp), e in led.energy.items():
        if kernel != "leakage":
            by_comp[comp] = by_comp.get(comp, 0.0) + e
    h = design.hierarchy
    cores = arrays / h.arrays_per_core
    for c in hw.components.values():  # every block of the replicated chip leaks for the whole time
        n = {"array": arrays, "core": cores, "tile": cores / h.cores_per_tile, "chip": 1}[c.level] * c.count
        if c.leak_power:
            by_comp[c.name] = by_comp.get(c.name, 0.0) + c.leak_power * n * time
    energy = sum(by_comp.values())
    macs = sum(v for (k, _l), v in led.macs.items() if k == "forward")
    return {"energy_j": energy, "latency_s": time, "macs": macs, "arrays": arrays, "energy_by_component": by_comp,
            "levels": {c.name: c.level for c in hw.components.values()},
            "macs_per_j": macs / energy if energy else math.inf, "macs_per_s": macs / time}


def evaluate_at_area(design, workload, area_m2: float) -> dict:
    """One inference (batch 1) of ``workload`` on a chip of ``area_m2`` built of ``design``'s cores:
    ``{"energy_j", "latency_s", "macs", "arrays", "macs_per_j", "macs_per_s", "energy_by_component"}``."""
    design = load_design(design)
    if not (isinstance(area_m2, (int, float)) and math.isfinite(area_m2) and area_m2 > 0):
        raise PimtrainError(f"area_m2: must be a positive number of m² (got {area_m2!r})")
    cores = math.floor(area_m2 / core_area(design))
    if cores < 1:
        raise PimtrainError(f"area_m2: {area_m2 * 1e6:.4g} mm² holds no core of design {design.name!r} "
                            f"({core_area(design) * 1e6:.4g} mm² each)")
    return _replicated(design, workload, cores * design.hierarchy.arrays_per_core)


def full_rate(design) -> dict:
    """The stated chip with every array computing back to back (a workload that fills it): power (W) by
    component and in total, and the chip's area (m²) by level."""
    from .peak import fill_workload, stated_chip

    design = load_design(design)
    chip = stated_chip(design)
    r = _replicated(chip, fill_workload(chip), chip.hierarchy.arrays_per_chip)
    hw = build_hardware(chip)
    power = {k: e / r["latency_s"] for k, e in r["energy_by_component"].items()}
    area = {lv: _level_area(hw, lv) * chip.hierarchy.multiplicity(lv) for lv in ("array", "core", "tile", "chip")}
    return {"power_w": sum(power.values()), "power_by_component": power, "levels": r["levels"],
            "area_m2": sum(area.values()), "area_by_level": area}


__all__ = ["core_area", "array_density", "evaluate_at_area", "full_rate"]
