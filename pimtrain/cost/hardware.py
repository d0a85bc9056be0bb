"""Build the component instances of a design (its ``circuits`` block, or defaults) once per evaluation."""
from __future__ import annotations

from dataclasses import dataclass, field

from pimtrain.design import Design, PimtrainError

from pimtrain.design.circuits import DEFAULT_ROLE

from .components import MODELS, Component


@dataclass
class Hardware:
    """The design's components grouped by role, with chip multiplicities."""

    design: Design
    components: dict[str, Component] = field(default_factory=dict)
    defaults_used: bool = False

    def by_role(self, role: str) -> list[Component]:
        return [c for c in self.components.values() if c.role == role]

    def first(self, role: str) -> Component | None:
        found = self.by_role(role)
        return found[0] if found else None

    def multiplicity(self, comp: Component, placement=None) -> int:
        """Instances of ``comp`` on the chip (or on the part of it a workload occupies when unlimited)."""
        h = self.design.hierarchy
        if placement is not None and not placement.limited:
            arrays = max(placement.arrays_needed, 1)
            cores = max(placement.cores_used, 1)
            tiles = max(placement.tiles_used, 1)
            per = {"array": arrays, "core": cores, "tile": tiles, "chip": 1}[comp.level]
        else:
            per = h.multiplicity(comp.level)
        return comp.count * per


def used_multiplicity(hw: "Hardware", comp: Component, placement) -> int:
    """Instances of ``comp`` in the part of the chip a workload occupies (idle blocks power-gated)."""
    per = {"array": max(placement.arrays_needed, 0), "core": placement.cores_used, "tile": placement.tiles_used,
           "chip": 1 if placement.arrays_needed else 0}[comp.level]
    return comp.count * per


def _default_specs(design: Design) -> dict[str, dict]:
    """Components of a design that states none: ISAAC-like periphery (assumed, see README)."""
    a = design.array
    if design.compute == "digital":
        wb = design.digital.weight_bits or 8
        return {
            "weights": {"model": "sram", "role": "weight_memory", "count": 1, "level": "core",
                        "params": {"capacity_bits": a.rows * a.cols * (a.bits_per_cell or 1), "width_bits": 64 * 32}},
            "mac": {"model": "mac", "count": 256, "level": "core", "params": {"bits": wb}},
            "buffer": {"model": "edram", "count": 1, "level": "tile"},
            "activation": {"model": "activation", "count": 2, "level": "tile"},
            "router": {"model": "router", "count": 1, "level": "tile"},
        }
    return {
        "crossbar": {"model": "crossbar", "count": 1, "level": "array"},
        "dac": {"model": "dac", "count": a.rows, "level": "array"},
        "sample_hold": {"model": "sample_hold", "count": a.cols, "level": "array"},
        "adc": {"model": "adc", "count": max(1, a.cols // 128), "level": "array"},
        "shift_add": {"model": "shift_add", "count": max(1, a.cols // 256), "level": "array"},
        "update_row": {"model": "dtc", "role": "update_row_driver", "count": a.rows, "level": "array"},
        "update_col": {"model": "dac", "role": "update_col_driver", "count": a.cols, "level": "array"},
        "mac": {"model": "mac", "count": 16, "level": "core"},
        "buffer": {"model": "edram", "count": 1, "level": "tile"},
        "activation": {"model": "activation", "count": 2, "level": "tile"},
        "router": {"model": "router", "count": 1, "level": "tile"},
    }


_CACHE: dict[int, tuple[Design, dict, Hardware]] = {}


def build_hardware(design: Design) -> Hardware:
    """Instantiate every component of ``design`` (validating parameter names and values)."""
    key = id(design)
    dump = None
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is design:
        dump = _fingerprint(design)
        if dump == hit[1]:
            return hit[2]
    specs = {name: s.model_dump() for name, s in design.circuits.components.items()}
    defaults_used = not specs
    if defaults_used:
        specs = _default_specs(design)
    hw = Hardware(design, defaults_used=defaults_used)
    for name, s in specs.items():
        cls = MODELS.get(s["model"])
        if cls is None:  # pragma: no cover - validated at load
            raise PimtrainError(f"circuits.components.{name}.model: unknown {s['model']!r}; allowed: {', '.join(MODELS)}")
        hw.components[name] = cls(name, s.get("params") or {}, tech=design.technology, design=design,
                                  count=s.get("count", 1), level=s.get("level", "array"), role=s.get("role") or DEFAULT_ROLE[s["model"]])
    if design.compute == "analog" and hw.first("array") is None and hw.first("matrix_unit") is None:
        hw.components["crossbar"] = MODELS["crossbar"]("crossbar", {}, tech=design.technology, design=design,
                                                       role=DEFAULT_ROLE["crossbar"])
    if len(_CACHE) > 64:
        _CACHE.clear()
    _CACHE[key] = (design, dump if dump is not None else _fingerprint(design), hw)
    return hw


def _fingerprint(design: Design):
    return (design.compute, design.technology, design.hierarchy, design.circuits, design.array, design.device.g_min,
            design.device.g_max, design.io, design.update, design.digital)
