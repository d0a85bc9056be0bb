"""Pictures of a sweep or search: the Pareto front and one sensitivity plot per axis.

Both read result rows (mappings from the results database), label every axis with its unit and put the
settings in the title; files are written atomically (``pimtrain.design.io.atomic_path``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pimtrain.design.io import atomic_path

#: label and scale of each output figure on a plot
FIGURES = {
    "test_accuracy": ("test accuracy (%)", 100.0, False),
    "train_loss": ("final training loss", 1.0, False),
    "energy_j": ("energy per training step (J)", 1.0, True),
    "energy_per_epoch_j": ("energy per training epoch (J)", 1.0, True),
    "latency_s": ("latency per training step (s)", 1.0, True),
    "area_m2": ("chip area (mm²)", 1e6, True),
    "power_w": ("power (W)", 1.0, True),
}


def figure_label(metric: str, inference: bool = False) -> str:
    label = FIGURES.get(metric, (metric, 1.0, False))[0]
    return label.replace("training step", "inference batch") if inference else label


def axis_label(name: str) -> str:
    """An axis name with the unit its values carry (by the field's naming convention)."""
    leaf = name.rsplit(".", 1)[-1]
    for suffix, unit in (("_bits", "bits"), ("interval", "updates"), ("rows", "cells"), ("cols", "cells"),
                         ("bits_per_cell", "bits"), ("_s", "s"), ("_j", "J"), ("_w", "W")):
        if leaf.endswith(suffix):
            return f"{name} ({unit})"
    return name


def pareto(rows: list[dict], objectives: list[tuple[str, str]]) -> list[dict]:
    """Rows not dominated by any other (``objectives``: (column, 'minimize'|'maximize'))."""
    ok = [r for r in rows if r.get("status") == "ok" and all(r.get(c) is not None for c, _ in objectives)]
    sign = [(c, -1.0 if d == "maximize" else 1.0) for c, d in objectives]
    vals = [[s * float(r[c]) for c, s in sign] for r in ok]
    front = []
    for i, v in enumerate(vals):
        dominated = any(all(a <= b for a, b in zip(w, v)) and any(a < b for a, b in zip(w, v))
                        for j, w in enumerate(vals) if j != i)
        if not dominated:
            front.append(ok[i])
    return front


def _wide(values: list[float]) -> bool:
    """Positive values spanning more than a decade: worth a log scale."""
    return bool(values) and min(values) > 0 and max(values) / min(values) > 10


def _title(settings: str, what: str) -> str:
    return f"{what}\n{settings}" if settings else what


def settings_text(rows: list[dict]) -> str:
    """The settings shared by the rows, for a plot title."""
    if not rows:
        return ""
    r = rows[0]
    parts = [f"sweep {r.get('sweep')}"]
    if r.get("dataset"):
        epochs = r.get("epochs")
        parts.append(f"{r['dataset']} ({r.get('model')}), {epochs} epoch{'' if epochs == 1 else 's'}, batch {r.get('batch_size')}, "
                     f"lr {r.get('lr')}, seed {r.get('seed')}")
    else:
        wls = sorted({str(x.get("workload")) for x in rows})
        parts.append(f"{', '.join(wls)}, batch {r.get('batch_size')}")
    return "; ".join(parts)


def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_pareto(rows: list[dict], path, x: str = "energy_j", y: str = "test_accuracy", color_by: str | None = None,
                directions: tuple[str, str] = ("minimize", "maximize"), title: str | None = None,
                order: list | None = None) -> Path:
    """``y`` against ``x`` for every ok point, coloured by the axis ``color_by``; the front joined by a line."""
    plt = _plt()
    ok = [r for r in rows if r.get("status") == "ok" and r.get(x) is not None and r.get(y) is not None]
    _, xs, xlog = FIGURES.get(x, (x, 1.0, False))
    _, ys, ylog = FIGURES.get(y, (y, 1.0, False))
    inference = bool(ok and ok[0].get("inference"))
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    col = f"axis:{color_by}" if color_by else None
    if col and ok:
        present = {r.get(col) for r in ok}
        labels = ([v for v in order if v in present] if order else sorted(present, key=lambda v: (str(type(v)), v)))
        numeric = _numeric(labels)
        cmap = plt.get_cmap("viridis" if numeric else "tab10")
        for i, lab in enumerate(labels):
            pts = [r for r in ok if r.get(col) == lab]
            colour = cmap(i / max(len(labels) - 1, 1)) if numeric else cmap(i % 10)
            ax.scatter([xs * r[x] for r in pts], [ys * r[y] for r in pts], s=18, color=colour, alpha=0.8,
                       label=f"{lab}")
        ax.legend(title=axis_label(color_by), fontsize=7, title_fontsize=8, loc="best")
    else:
        ax.scatter([xs * r[x] for r in ok], [ys * r[y] for r in ok], s=18, alpha=0.8)
    front = sorted(pareto(ok, [(x, directions[0]), (y, directions[1])]), key=lambda r: r[x])
    if front:
        ax.plot([xs * r[x] for r in front], [ys * r[y] for r in front], "k-", lw=1, marker="o", mfc="none",
                ms=8, label="Pareto front")
    if xlog and _wide([r[x] for r in ok]):
        ax.set_xscale("log")
    if ylog and _wide([r[y] for r in ok]):
        ax.set_yscale("log")
    ax.set_xlabel(figure_label(x, inference))
    ax.set_ylabel(figure_label(y, inference))
    ax.set_title(_title(settings_text(ok), title or f"Pareto front: {FIGURES.get(y, (y,))[0]} vs "
                                                    f"{FIGURES.get(x, (x,))[0]}"), fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, Path(path))


def plot_sensitivity(rows: list[dict], axis: str, metrics: list[str], path, order: list | None = None,
                     group_by: str | None = None) -> Path:
    """Each metric against one axis: every point (dots) and the median per axis value (line), one line per
    workload (and per value of the ``group_by`` axis, e.g. the preset). ``order``: the axis values in order."""
    plt = _plt()
    col = f"axis:{axis}"
    ok = [r for r in rows if r.get("status") == "ok" and r.get(col) is not None]
    present = {r[col] for r in ok}
    labels = ([v for v in order if v in present] if order else
              sorted(present, key=lambda v: (str(type(v)), v)))
    numeric = _numeric(labels)
    pos = {v: (v if numeric else i) for i, v in enumerate(labels)}
    inference = bool(ok and ok[0].get("inference"))
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.8), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        _, scale, log = FIGURES.get(metric, (metric, 1.0, False))
        gcol = f"axis:{group_by}" if group_by and group_by != axis else None

        def group(r, gcol=gcol):
            return f"{r.get('workload')}, {r.get(gcol)}" if gcol else str(r.get("workload"))

        for wl in dict.fromkeys(group(r) for r in ok):
            pts = [r for r in ok if group(r) == wl and r.get(metric) is not None]
            if not pts:
                continue
            dots = ax.scatter([pos[r[col]] for r in pts], [scale * r[metric] for r in pts], s=8, alpha=0.35)
            med = []
            for v in labels:
                vals = sorted(scale * r[metric] for r in pts if r[col] == v)
                if vals:
                    med.append((pos[v], vals[len(vals) // 2] if len(vals) % 2 else
                                0.5 * (vals[len(vals) // 2 - 1] + vals[len(vals) // 2])))
            ax.plot([m[0] for m in med], [m[1] for m in med], "-", color=dots.get_facecolor()[0][:3],
                    label=f"{wl} (median)")
        if log and all((r.get(metric) or 0) > 0 for r in ok if r.get(metric) is not None):
            ax.set_yscale("log")
        if not numeric:
            ax.set_xticks(range(len(labels)), [str(v) for v in labels], rotation=30, fontsize=7)
        ax.set_xlabel(axis_label(axis))
        ax.set_ylabel(figure_label(metric, inference))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(_title(settings_text(ok), f"Sensitivity to {axis}"), fontsize=8)
    fig.tight_layout()
    return _save(fig, Path(path))


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def write_plots(rows: list[dict], axes: dict[str, list], folder, color_by: str | None = None,
                objectives: list[tuple[str, str]] | None = None, group_by: str | None = None) -> list[str]:
    """The Pareto plot and one sensitivity plot per axis into ``folder``; their paths.

    ``axes``: axis name -> its values in order; ``group_by``: an axis whose values get their own lines in
    the sensitivity plots (the presets axis)."""
    folder = Path(folder)
    axes = dict(axes) if isinstance(axes, dict) else {a: None for a in axes}
    ok = [r for r in rows if r.get("status") == "ok"]
    if not ok:
        return []
    has_acc = any(r.get("test_accuracy") is not None for r in ok)
    has_cost = any(r.get("energy_j") is not None for r in ok)
    if objectives and len(objectives) >= 2:
        (x, dx), (y, dy) = objectives[0], objectives[1]
        if x == "test_accuracy":          # accuracy goes up the page
            (x, dx), (y, dy) = (y, dy), (x, dx)
    elif has_acc and has_cost:
        (x, dx), (y, dy) = ("energy_j", "minimize"), ("test_accuracy", "maximize")
    elif has_cost:
        (x, dx), (y, dy) = ("energy_j", "minimize"), ("latency_s", "minimize")
    else:
        x = y = None
    color_by = color_by or next(iter(axes), None)
    out = []
    name = _safe(str(ok[0].get("sweep")))
    if x and y:
        out.append(str(plot_pareto(ok, folder / f"{name}_pareto.png", x=x, y=y, color_by=color_by,
                                   directions=(dx, dy), order=axes.get(color_by))))
    metrics = [m for m in ("test_accuracy", "energy_j", "latency_s") if any(r.get(m) is not None for r in ok)][:2]
    for a in axes:
        order = [v if isinstance(v, (str, int, float, bool)) else json.dumps(v, sort_keys=True) for v in axes[a]] if axes[a] else None
        out.append(str(plot_sensitivity(ok, a, metrics, folder / f"{name}_sensitivity_{_safe(a)}.png", order,
                                        group_by)))
    return out


__all__ = ["FIGURES", "axis_label", "figure_label", "pareto", "plot_pareto", "plot_sensitivity", "write_plots"]
