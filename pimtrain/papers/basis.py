"""The basis of each reproduced row, computed rather than typed: prediction or calibration.

Every preset number whose provenance says ``calibrated`` is multiplied by ``factor`` (1.5) in turn and
the paper's quantities are recomputed; a row that moves depends on a number tuned to some paper figure
and is a ``calibration``, every other row a ``prediction``. Rows follow the contract of DESIGN.md:
``{"quantity", "paper", "ours", "unit", "deviation" (= ours/paper − 1), "basis", "source"}``.
"""
from __future__ import annotations

import copy
from typing import Callable, Sequence

from pimtrain.design import Design, design_from_dict, design_to_dict

FACTOR = 1.5


def scale_path(data: dict, path: str, factor: float) -> bool:
    """Multiply the number at dotted ``path`` of a design dict by ``factor``; False when it is not a number."""
    node = data
    parts = path.split(".")
    for p in parts[:-1]:
        if isinstance(node, dict) and p in node:
            node = node[p]
        else:
            return False
    v = node.get(parts[-1]) if isinstance(node, dict) else None
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        node[parts[-1]] = v * factor
        return True
    return False


def calibrated_parameters(designs: dict[str, Design]) -> list[tuple[str, str]]:
    """(design key, dotted path) of every number whose provenance basis is 'calibrated'."""
    return [(key, path) for key, d in designs.items() for path, prov in d.provenance.items() if prov.basis == "calibrated"]


def perturbed(designs: dict[str, Design], factor: float = FACTOR):
    """Yield a copy of ``designs`` with one calibrated number scaled by ``factor``, for each such number."""
    for key, path in calibrated_parameters(designs):
        data = design_to_dict(designs[key])
        if not scale_path(data, path, factor):
            continue
        moved = dict(designs)
        moved[key] = design_from_dict(copy.deepcopy(data), where=designs[key].name)
        yield moved


def moved_rows(ours: Sequence[float], recomputed: Sequence[float]) -> list[bool]:
    """Which values changed (relative tolerance 1e-9)."""
    return [abs(b - a) > 1e-9 * max(abs(a), 1e-300) for a, b in zip(ours, recomputed)]


def calibration_dependence(designs: dict[str, Design], compute: Callable[[dict[str, Design]], Sequence[float]],
                           ours: Sequence[float] | None = None) -> tuple[list[float], list[bool]]:
    """(values, depends): ``compute(designs)`` and, per value, whether any calibrated number moves it."""
    ours = list(compute(designs)) if ours is None else list(ours)
    depends = [False] * len(ours)
    for moved in perturbed(designs):
        depends = [d or m for d, m in zip(depends, moved_rows(ours, compute(moved)))]
    return ours, depends


def table_rows(spec: Sequence[tuple[str, float, str, str]], ours: Sequence[float], depends: Sequence[bool]) -> list[dict]:
    """Rows of the contract from ``(quantity, paper value, unit, source)`` specs and our values."""
    return [{"quantity": q, "paper": p, "ours": v, "unit": u, "deviation": v / p - 1.0,
             "basis": "calibration" if dep else "prediction", "source": s}
            for (q, p, u, s), v, dep in zip(spec, ours, depends)]


__all__ = ["scale_path", "calibrated_parameters", "perturbed", "moved_rows", "calibration_dependence", "table_rows"]
