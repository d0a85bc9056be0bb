"""Cost breakdown of a training step: energy as stacked bars by kernel split by component (one panel per
design, side by side for a comparison) and the chip area as stacked bars by component."""
from __future__ import annotations

from .common import WIDTH_IN, pyplot, si_scale

#: components drawn by name (the rest are summed into 'other'), chosen by their largest share
MAX_COMPONENTS = 9


def _components(costs: list[dict]) -> list[str]:
    """The components to name: largest share of energy or area in any design first."""
    big: dict[str, float] = {}
    for c in costs:
        comps = c["breakdown"]["component"]
        e_tot = sum(v["energy_j"] for v in comps.values()) or 1.0
        a_tot = sum(v.get("area_m2", 0.0) for v in comps.values()) or 1.0
        for name, v in comps.items():
            share = max(v["energy_j"] / e_tot, v.get("area_m2", 0.0) / a_tot)
            big[name] = max(big.get(name, 0.0), share)
    return sorted(big, key=lambda k: -big[k])


def cost_breakdown(costs: list[dict], title: str = "", note: str = ""):
    """A figure of one or several cost JSONs (``pimtrain cost --json`` objects, with ``design``)."""
    plt = pyplot()
    names = _components(costs)
    shown = names[:MAX_COMPONENTS] if len(names) > MAX_COMPONENTS + 1 else names
    groups = shown + (["other"] if len(shown) < len(names) else [])
    cmap = plt.get_cmap("tab10" if len(groups) <= 10 else "tab20")
    colour = {g: ("0.6" if g == "other" else cmap(i % cmap.N)) for i, g in enumerate(groups)}

    def group(name: str) -> str:
        return name if name in shown else "other"

    n = len(costs)
    fig = plt.figure(figsize=(WIDTH_IN, 4.6 + 0.35 * n + 0.25 * ((len(groups) + 4) // 5)), layout="constrained")
    grid = fig.add_gridspec(2, n, height_ratios=[3.0, 0.5 + 0.3 * n])
    for i, c in enumerate(costs):
        ax = fig.add_subplot(grid[0, i])
        kernels = list(c["breakdown"]["kernel"])
        scale, prefix = si_scale([c["breakdown"]["kernel"][k]["energy_j"] for k in kernels])
        bottom = [0.0] * len(kernels)
        for g in groups:
            vals = [sum(v.get("kernel", {}).get(k, 0.0) for name, v in c["breakdown"]["component"].items()
                        if group(name) == g) / scale for k in kernels]
            if any(vals):
                ax.bar(kernels, vals, bottom=bottom, color=colour[g], label=g, width=0.7)
                bottom = [b + v for b, v in zip(bottom, vals)]
        ax.set_ylabel(f"energy per step ({prefix}J)")
        ax.set_xlabel("kernel")
        ax.set_title(f"{c.get('design', '')}\n{c['energy_j'] / scale:.4g} {prefix}J per step", fontsize=9)
        ax.tick_params(axis="x", labelrotation=30 if len(kernels) > 3 or n > 1 else 0, labelsize=8)
        ax.grid(axis="y", alpha=0.3)
    ax_area = fig.add_subplot(grid[1, :])
    labels = [c.get("design", "") for c in costs]
    left = [0.0] * n
    for g in groups:
        vals = [sum(v.get("area_m2", 0.0) for name, v in c["breakdown"]["component"].items() if group(name) == g) * 1e6
                for c in costs]
        if any(vals):
            ax_area.barh(labels, vals, left=left, color=colour[g], height=0.6)
            left = [x + v for x, v in zip(left, vals)]
    ax_area.set_xlabel("chip area (mm²)")
    ax_area.set_title("area by component", fontsize=9)
    ax_area.invert_yaxis()
    ax_area.grid(axis="x", alpha=0.3)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colour[g]) for g in groups]
    fig.legend(handles, groups, loc="outside lower center", ncol=min(len(groups), 5), fontsize=7.5, frameon=False)
    head = title or (f"{'Inference' if costs[0].get('inference') else 'Training-step'} cost of {costs[0].get('workload')}, "
                     f"batch {costs[0].get('batch_size')}")
    leak = {c.get("static_power") for c in costs}
    note = note or ("energy of one step split by the component that spends it; leakage charged to "
                    + ("every block of the chip" if leak == {"chip"} else "occupied blocks only"))
    fig.suptitle(f"{head}\n{note}", fontsize=9.5)
    return fig
