"""Reproduction: each row of a paper as pimtrain's value over the paper's on a log axis, with the
paper's tolerance band; calibrated rows drawn hollow (they may not be claimed as reproduced)."""
from __future__ import annotations

import math

from .common import WIDTH_IN, pyplot

DEFAULT_TOLERANCE = 0.10  # assumption for a result that states no tolerance (every pimtrain.papers result does)


def tolerance(result: dict) -> float:
    return float(result.get("tolerance") or DEFAULT_TOLERANCE)


def _short(text: str, n: int = 48) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def reproduction(result: dict, note: str = ""):
    """A figure of one ``reproduce PAPER --json`` result."""
    plt = pyplot()
    tol = tolerance(result)
    rows = [r for r in result["rows"] if r.get("paper") and r.get("ours") is not None and r["paper"] > 0 and r["ours"] > 0]
    skipped = len(result["rows"]) - len(rows)
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 1.8 + 0.26 * max(len(rows), 1)), layout="constrained")
    ratios = [r["ours"] / r["paper"] for r in rows]
    y = list(range(len(rows)))
    ax.axvspan(1 - tol, 1 + tol, color="tab:green", alpha=0.15, lw=0, label=f"tolerance ±{100 * tol:g} %")
    ax.axvline(1.0, color="tab:green", lw=1)
    inside = [abs(q - 1) <= tol for q in ratios]
    for basis, marker in (("prediction", "o"), ("calibration", "s")):
        for ok, colour in ((True, "tab:green"), (False, "tab:orange")):
            idx = [i for i, r in enumerate(rows) if r["basis"] == basis and inside[i] == ok]
            if idx:
                ax.scatter([ratios[i] for i in idx], [y[i] for i in idx], marker=marker, s=36, zorder=3,
                           facecolors=colour if basis == "prediction" else "none", edgecolors=colour, linewidths=1.4,
                           label=f"{basis}, {'within' if ok else 'outside'} tolerance")
    ax.set_xscale("log")
    reach = max([q for q in ratios] + [1 / q for q in ratios] + [1 + tol, 1 / (1 - tol) if tol < 1 else 2.0]) * 1.25
    ax.set_xlim(1 / reach, reach)  # symmetric around 1 on the log axis
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.xaxis.set_major_formatter(plain)
    if reach < 4:  # less than a decade either side: label the minor ticks too, in plain numbers
        ax.xaxis.set_minor_locator(LogLocator(subs=(0.6, 0.7, 0.8, 0.9, 1.2, 1.5, 2.0, 3.0)))
        ax.xaxis.set_minor_formatter(plain)
    else:
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(y, [f"{_short(r['quantity'])} ({r['unit']})" for r in rows], fontsize=7.5)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlabel("pimtrain / paper (ratio, log scale; 1 = the paper's value)")
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.legend(fontsize=7, loc="outside lower center", ncol=3, frameon=False)
    n_in = sum(inside)
    n_pred = sum(1 for r, ok in zip(rows, inside) if ok and r["basis"] == "prediction")
    line = note or (f"{n_in} of {len(rows)} rows within ±{100 * tol:g} %, {n_pred} of them predictions"
                    + (f"; {skipped} row(s) without a positive value not drawn" if skipped else ""))
    fig.suptitle(f"{result['paper']}: pimtrain against the paper\n{line}", fontsize=9.5)
    if ratios and not all(math.isfinite(q) for q in ratios):  # pragma: no cover - ours/paper are finite by contract
        raise ValueError("non-finite ratio")
    return fig
