"""Device response: ΔG of one up and one down pulse against G, with the cycle-to-cycle spread of a typical
device and the device-to-device envelope (from :func:`pimtrain.devices.response.pulse_response`)."""
from __future__ import annotations

from .common import WIDTH_IN, pyplot, si_scale


def device_response(resp: dict, title: str = "", note: str = ""):
    """A figure of a pulse-response dict: up pulses on the left, down pulses on the right."""
    plt = pyplot()
    g_scale, g_prefix = si_scale(resp["g_s"])
    spans = [abs(v) for k in ("up", "down") for key in ("d2d_lo", "d2d_hi", "c2c_lo", "c2c_hi") for v in resp[k][key]]
    d_scale, d_prefix = si_scale(spans)
    g = resp["g_s"] / g_scale
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH_IN, 4.2), layout="constrained", sharey=True)
    lo_q, hi_q = resp["quantiles"]
    for ax, key, colour, label in ((axes[0], "up", "tab:blue", "up (potentiation) pulse"),
                                   (axes[1], "down", "tab:red", "down (depression) pulse")):
        r = resp[key]
        ax.fill_between(g, r["d2d_lo"] / d_scale, r["d2d_hi"] / d_scale, color=colour, alpha=0.15, lw=0,
                        label=f"device-to-device envelope ({resp['devices']} devices)")
        ax.fill_between(g, r["c2c_lo"] / d_scale, r["c2c_hi"] / d_scale, color=colour, alpha=0.35, lw=0,
                        label=f"cycle-to-cycle {100 * lo_q:g}–{100 * hi_q:g} % (typical device, {resp['cycles']} pulses)")
        ax.plot(g, r["typical"] / d_scale, color=colour, lw=1.6, label="typical device, mean")
        ax.plot(g, r["mean"] / d_scale, color="k", lw=1.0, ls="--", label="mean over devices")
        ax.axhline(0, color="0.5", lw=0.7)
        ax.set_xlabel(f"conductance G before the pulse ({g_prefix}S)")
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    axes[0].set_ylabel(f"conductance change ΔG per pulse ({d_prefix}S)")
    stuck = resp.get("stuck_at") or (0.0, 0.0)
    if resp.get("levels"):
        extra_levels = f"; {resp['levels']} levels (a pulse below one level step rounds back)"
    else:
        extra_levels = ""
    extra = extra_levels + (f"; stuck cells not drawn ({100 * stuck[0]:g} % at Gmin, {100 * stuck[1]:g} % at Gmax)" if any(stuck) else "")
    line = note or (f"{resp['model']}\nmean step dw_min {resp['dw_min']:.3g} of the range "
                    f"[{resp['g_min_s'] / g_scale:.4g}, {resp['g_max_s'] / g_scale:.4g}] {g_prefix}S{extra}")
    import textwrap

    line = "\n".join(textwrap.fill(part, 120) for part in line.split("\n"))
    fig.suptitle(f"{title or 'Device response'}\n{line}", fontsize=9.5)
    return fig
