"""The epoch cost of ``pimtrain train``: the fixed-activity estimate beside the cost of what the numerics counted."""
from __future__ import annotations

from rich.table import Table

from .render import si


def epoch_cost_table(cost: dict) -> Table:
    """Rows energy and latency; columns fixed-activity estimate, measured (counted actions), difference."""
    t = Table(title="Cost of one epoch: fixed activity vs counted by the numerics")
    for col in ("quantity", "fixed activity", "counted", "difference"):
        t.add_column(col, justify="left" if col == "quantity" else "right", no_wrap=True)
    m, d = cost["measured"], cost["difference"]
    for key, label, unit in (("energy_j", "energy", "J"), ("latency_s", "latency", "s")):
        rel = d.get(f"{key}_relative")
        t.add_row(label, si(cost[f"{key}_per_epoch"], unit), si(m[f"{key}_per_epoch"], unit),
                  f"{si(d[f'{key}_per_epoch'], unit)}" + (f" ({100 * rel:+.1f} %)" if rel is not None else ""))
    t.caption = ("measured: A/D conversions and drives per read, drivers fired, cells written, carries and cells per "
                 "carry per update, and input/update activity, as the cores counted them over the run")
    return t


__all__ = ["epoch_cost_table"]
