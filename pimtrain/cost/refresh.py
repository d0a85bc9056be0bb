"""The cost of refreshing one-sided differential pairs (``device.refresh_threshold``; :mod:`pimtrain.xbar.refresh`).

Per layer and step, from what the numerics counted per update call (``counts[layer]["refresh"]``; without them,
nothing: how often pairs saturate is a property of the training run, not of the design): the pairs' cells read
row by row (the crossbar's ``read_rows``), then every cell RESET and the differences re-programmed as serial cell
writes (``program_rows``: the crossbar's ``cell_write_energy``, by default write current × voltage × row write
time; a RESET costed as one such write — an assumption, a PCM RESET pulse takes more current than a SET), all
under the ``update`` kernel (component: the crossbar).
"""
from __future__ import annotations


def charge(led, hw, names: list[str], counts: dict | None) -> float:
    """Charge the measured refreshes of every layer; the energy charged (J)."""
    xbar = hw.first("array")
    total = 0.0
    if xbar is None:
        return 0.0
    for name in names:
        r = ((counts or {}).get(name) or {}).get("refresh")
        if not r:
            continue
        rows = r.get("refresh.rows", 0.0)
        e_r, t_r = xbar.read_rows(r.get("refresh.cells_read", 0.0), rows)
        e_w, t_w = xbar.program_rows(r.get("refresh.cells_reset", 0.0) + r.get("refresh.cells_programmed", 0.0), 2 * rows)
        led.e("update", name, xbar, e_r + e_w)
        led.t("update", name, t_r + t_w)
        total += e_r + e_w
    return total


__all__ = ["charge"]
