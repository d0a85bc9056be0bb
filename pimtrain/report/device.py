"""The ``pimtrain device`` result: the pulse response as JSON and as a short rich table."""
from __future__ import annotations

from rich.table import Table



def response_json(design: str, resp: dict) -> dict:
    """JSON of :func:`pimtrain.devices.response.pulse_response` (arrays as lists, SI units)."""
    out = {"design": design, "model": resp["model"], "g_min_s": resp["g_min_s"], "g_max_s": resp["g_max_s"],
           "dw_min": resp["dw_min"], "devices": resp["devices"], "cycles": resp["cycles"],
           "quantiles": list(resp["quantiles"]), "stuck_at": list(resp["stuck_at"]), "levels": resp.get("levels"), "g_s": resp["g_s"].tolist()}
    for k in ("up", "down"):
        out[k] = {f"{key}_s": v.tolist() for key, v in resp[k].items()}
    return out


def device_table(design: str, resp: dict, rows: int = 9) -> Table:
    """ΔG of an up and a down pulse at a few conductances: mean, cycle-to-cycle and device-to-device range."""
    from pimtrain.report.figures.common import si_scale

    gs, gp = si_scale(resp["g_s"])
    ds, dp = si_scale([abs(v) for k in ("up", "down") for key in ("d2d_lo", "d2d_hi") for v in resp[k][key]])
    t = Table(title=f"Device response of {design}: one pulse ({resp['model']})")
    t.add_column(f"G ({gp}S)", justify="right", no_wrap=True)
    for k in ("up", "down"):
        for col in (f"{k} ({dp}S)", "c2c", "d2d"):
            t.add_column(col, justify="right", no_wrap=True)
    n = len(resp["g_s"])
    idx = sorted({round(i * (n - 1) / (rows - 1)) for i in range(rows)})
    for i in idx:
        cells = [f"{resp['g_s'][i] / gs:.4g}"]
        for k in ("up", "down"):
            r = resp[k]
            cells += [f"{r['mean'][i] / ds:.3g}", f"{r['c2c_lo'][i] / ds:.2g}…{r['c2c_hi'][i] / ds:.2g}",
                      f"{r['d2d_lo'][i] / ds:.2g}…{r['d2d_hi'][i] / ds:.2g}"]
        t.add_row(*cells)
    lo, hi = resp["quantiles"]
    t.caption = (f"c2c: {100 * lo:g}–{100 * hi:g} % of {resp['cycles']} pulses of the typical device; d2d: range of the "
                 f"mean step over {resp['devices']} devices; dw_min {resp['dw_min']:.3g} of the range")
    return t
