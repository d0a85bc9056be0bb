"""Last line of defence for a cost report: every figure finite and non-negative, else one line.

Each component parameter is bounded at load (:mod:`pimtrain.cost.components`), but a design's other
numbers (array timing, device conductances, the clock) multiplied by a large workload can still
overflow a float. A report is never printed with ``inf``/``nan`` or a negative figure: the first bad
figure is named in a :class:`PimtrainError` (exit 2 on the command line).
"""
from __future__ import annotations

import math

from pimtrain.design import PimtrainError


def first_bad_figure(obj, path: str = "") -> tuple[str, float] | None:
    """``(path, value)`` of the first number in ``obj`` (nested dicts/lists) that is not finite and >= 0."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            bad = first_bad_figure(v, f"{path}.{k}" if path else str(k))
            if bad:
                return bad
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            bad = first_bad_figure(v, f"{path}[{i}]")
            if bad:
                return bad
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool) and not (obj >= 0 and math.isfinite(obj)):
        return path, obj
    return None


def check_report(rep):
    """Return ``rep`` when all its figures are finite and >= 0; else a one-line :class:`PimtrainError`."""
    totals = (rep.energy_j, rep.latency_s, rep.area_m2, rep.power_w)
    if all(t >= 0 and math.isfinite(t) for t in totals):
        bad = first_bad_figure(rep.to_json().get("breakdown", {}), "breakdown")
    else:
        bad = first_bad_figure({"energy_j": rep.energy_j, "latency_s": rep.latency_s, "area_m2": rep.area_m2,
                                "power_w": rep.power_w})
    if bad is None:
        return rep
    where, value = bad
    raise PimtrainError(
        f"cost: {where} of {rep.design} on {rep.workload} is {value!r}; allowed: finite and >= 0 (a number of the "
        f"design is outside any physical range: check technology.clock_hz, array timing and voltages, device "
        f"conductances and circuits.components params)")
