"""Tables and JSON for the CLI. Pure formatting: every number shown here comes from a model."""
from __future__ import annotations

import json
import math
from typing import Any, Iterable

from rich.console import Console
from rich.table import Table

from pimtrain.design import atomic_write_text

console = Console()
err_console = Console(stderr=True)


def _clean(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf become null, tuples become lists."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def json_text(obj: Any) -> str:
    return json.dumps(_clean(obj), indent=2, sort_keys=False)


def emit_json(obj: Any, output: str | None = None) -> None:
    """Print JSON to stdout, or write it atomically to ``output``."""
    text = json_text(obj) + "\n"
    if output:
        atomic_write_text(output, text)
    else:
        print(text, end="")


def si(value: float | None, unit: str) -> str:
    """Engineering notation: 1.2e-14 J -> '12 fJ'."""
    if value is None:
        return "—"
    if value == 0:
        return f"0 {unit}"
    prefixes = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f"), (1e-18, "a")]
    mag = abs(value)
    for scale, p in prefixes:
        if mag >= scale:
            return f"{value / scale:.4g} {p}{unit}"
    return f"{value:.3g} {unit}"


def run_caption(result: dict) -> str:
    """What a training run ran on, in one line (from ``result['run']``)."""
    run = result.get("run") or {}
    if not run:
        return ""
    parts = [f"{run.get('dataset', result.get('dataset', '?'))} ({run.get('split', '?')}, {run.get('data_origin', '?')})",
             str(run.get("network", "?")), f"lr {run.get('lr', '?'):g}" if isinstance(run.get("lr"), (int, float)) else "lr ?",
             f"batch {run.get('batch_size', '?')}", f"seed {run.get('seed', '?')}",
             f"pimtrain {run.get('pimtrain_version', '?')}", f"torch {run.get('torch_version', '?')}"]
    return " · ".join(parts)


def train_table(results: Iterable[tuple[str, dict]], title: str = "Training accuracy") -> Table:
    """One row per run; the dataset is named in the title, the run settings and warnings in the caption."""
    results = list(results)
    t = Table(title=title)
    t.add_column("design", no_wrap=True)
    t.add_column("epochs", justify="right", no_wrap=True)
    t.add_column("final loss", justify="right", no_wrap=True)
    t.add_column("test acc.", justify="right", no_wrap=True)
    t.add_column("s/epoch", justify="right", no_wrap=True)
    for name, r in results:
        ep = r["epochs"]
        secs = sum(e["seconds"] for e in ep) / max(len(ep), 1)
        t.add_row(name, str(len(ep)), f"{ep[-1]['train_loss']:.4f}" if ep else "—",
                  f"{100 * r['final_test_accuracy']:.2f} %" + (" [yellow](chance)[/]" if r.get("at_chance") else ""),
                  f"{secs:.3f}")
    lines = sorted({run_caption(r) for _, r in results} - {""})
    lines += [f"[yellow]warning: {name}: {w}[/]" for name, r in results for w in r.get("warnings", [])]
    if lines:
        t.caption = "\n".join(lines)
    return t


def reproduce_table(result: dict) -> Table:
    tol = float(result.get("tolerance") or 0.10)
    rows = result["rows"]
    n_in = sum(1 for r in rows if r["deviation"] is not None and abs(r["deviation"]) <= tol + 1e-12)
    n_cal = sum(1 for r in rows if r["basis"] == "calibration")
    t = Table(title=f"{result['paper']}: paper vs pimtrain — {n_in} of {len(rows)} rows within ±{100 * tol:g} %, "
                    f"{n_cal} resting on a calibration")
    for col, j in [("quantity", "left"), ("paper", "right"), ("ours", "right"), ("unit", "left"), ("deviation", "right"), ("basis", "left")]:
        t.add_column(col, justify=j)
    for r in result["rows"]:
        dev = r["deviation"]
        style = "green" if dev is not None and abs(dev) <= tol + 1e-12 else "yellow"
        t.add_row(r["quantity"], f"{r['paper']:.4g}", f"{r['ours']:.4g}", r["unit"],
                  f"[{style}]{100 * dev:+.1f} %[/]" if dev is not None else "—", r["basis"])
    if result.get("notes"):  # optional extra lines a paper module adds (e.g. figures without a paper value)
        t.caption = "\n".join(result["notes"])
    return t


def designs_table(rows: list[dict]) -> Table:
    t = Table(title="Design presets")
    t.add_column("name", no_wrap=True)
    t.add_column("area", justify="right", no_wrap=True)
    t.add_column("peak power", justify="right", no_wrap=True)
    t.add_column("peak ops/s", justify="right", no_wrap=True)
    wide = console.width >= 110  # on a narrow terminal the description would be folded letter by letter
    if wide:
        t.add_column("description", overflow="fold", ratio=1, min_width=30)
    for r in rows:
        area = r.get("area_m2")
        cells = [r["name"], f"{area * 1e6:.4g} mm²" if area else "—", si(r.get("peak_power_w"), "W"),
                 si(r.get("peak_ops_per_s"), "op/s")]
        t.add_row(*cells, *([r["description"]] if wide else []))
    if not wide:
        t.caption = "descriptions: widen the terminal, or use --json"
    return t


def bench_table(cases: list[dict]) -> Table:
    t = Table(title="Benchmarks (same run)")
    for col in ["case", "pimtrain", "reference", "ratio", "target"]:
        t.add_column(col, justify="left" if col == "case" else "right")
    for c in cases:
        target = c.get("target_ratio")
        ok = target is None or c["ratio"] <= target
        spread = f" ({c['ratio_min']:.2f}–{c['ratio_max']:.2f})" if "ratio_min" in c else ""
        t.add_row(c["name"], f"{c['seconds'] * 1e3:.2f} ms", f"{c['reference_seconds'] * 1e3:.2f} ms",
                  f"[{'green' if ok else 'red'}]{c['ratio']:.2f}×[/]{spread}", f"≤ {target}×" if target else "—")
    notes = {c["jit"] for c in cases if c.get("jit")}  # the CPU fast path's first-use (compile) time
    t.caption = "; ".join(sorted(notes)) or None
    return t


def compare_kernel_table(result: dict) -> Table:
    """Per design, each kernel's share of the step's energy (%); every row sums to 100 %."""
    from pimtrain.cost.report import kernel_rows

    kernels: list[str] = []
    for r in result["rows"]:
        kernels += [k for k in r["breakdown"]["kernel"] if k not in kernels]
    t = Table(title=f"Energy by kernel on {result['workload']} (share of each design's step)")
    t.add_column("design", overflow="fold", max_width=24)
    for k in kernels:
        t.add_column(k, justify="right")
    t.add_column("total", justify="right")
    for r in result["rows"]:
        shares = {row["kernel"]: row["energy_share"] for row in kernel_rows(r)}
        t.add_row(r["design"], *[f"{shares[k]:.1f} %" if k in shares else "—" for k in kernels], "100 %")
    return t


def compare_component_table(result: dict, top: int = 6) -> Table:
    """Per design, its largest components (+ the rest) with energy and area shares; each design's
    share columns sum to 100 %."""
    from pimtrain.cost.report import component_rows

    t = Table(title=f"Energy and area by component on {result['workload']} (share of each design)")
    for col, j in (("design", "left"), ("component", "left"), ("energy", "right"), ("share", "right"),
                   ("area", "right"), ("share ", "right")):
        t.add_column(col, justify=j, no_wrap=col != "design", overflow="fold" if col == "design" else "ellipsis",
                     max_width=24 if col == "design" else None)
    for i, r in enumerate(result["rows"]):
        for n, row in enumerate(component_rows(r, top=top)):
            t.add_row(r["design"] if n == 0 else "", row["component"], si(row["energy_j"], "J"), f"{row['energy_share']:.1f} %",
                      f"{row['area_m2'] * 1e6:.4g} mm²", f"{row['area_share']:.1f} %",
                      end_section=n == len(component_rows(r, top=top)) - 1 and i < len(result["rows"]) - 1)
    return t


def compare_table(result: dict) -> Table:
    t = Table(title=f"Training-step cost on {result['workload']}")
    for col in ["design", "energy", "latency", "area", "power"]:
        t.add_column(col, justify="left" if col == "design" else "right")
    for r in result["rows"]:
        t.add_row(r["design"], si(r["energy_j"], "J"), si(r["latency_s"], "s"),
                  f"{r['area_m2'] * 1e6:.4g} mm²" if r.get("area_m2") is not None else "—", si(r["power_w"], "W"))
    return t
