"""The ``sweep``, ``explore``, ``results`` and ``bench sweep`` commands (registered by ``pimtrain.cli``).

Bad input of any kind is one line on stderr and exit status 2, as everywhere in pimtrain.
"""
from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from pimtrain.design import PimtrainError
from pimtrain.outputs import emit_result


def _errors(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except PimtrainError as exc:
            print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
            raise typer.Exit(2) from None
        except FileNotFoundError as exc:
            print(f"error: file not found: {exc.filename}", file=sys.stderr)
            raise typer.Exit(2) from None

    return wrapper


def _summary_table(summary: dict, title: str):
    from rich.table import Table

    t = Table(title=title)
    t.add_column("figure")
    t.add_column("value", justify="right")
    for k, v in summary.items():
        if k not in ("pareto", "plots"):
            t.add_row(k, f"{v:.4g}" if isinstance(v, float) else str(v))
    return t


def _front_table(front: list[dict], title: str):
    from rich.table import Table

    t = Table(title=title)
    if not front:
        return t
    cols = [k for k in front[0] if k != "key"]
    for c in cols:
        t.add_column(c, justify="right")
    for r in front:
        t.add_row(*[f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c]) for c in cols])
    return t


def _plots(loaded, db_path, folder, color_by, objectives=None) -> list[str]:
    from .db import ResultsDB
    from .plots import write_plots

    with ResultsDB(db_path, read_only=True) as db:
        rows = db.rows("WHERE sweep = ?", [loaded.spec.name])
    presets = next((n for n, a in loaded.spec.axes.items() if a.kind == "presets"), None)
    return write_plots(rows, loaded.axis_labels, folder, color_by or loaded.spec.color_by, objectives, group_by=presets)


def _check_engine(workers: int | None, cluster: str | None) -> None:
    if workers is not None and workers < 1:
        raise PimtrainError(f"--workers: must be at least 1 (got {workers})")
    if workers is not None and cluster:
        raise PimtrainError("--workers and --cluster: give one (a Ray cluster decides its own workers)")


@_errors
def sweep(
    spec: Annotated[Path, typer.Argument(help="sweep spec (YAML): base, axes, workloads, measure, sampling")],
    db: Annotated[Path | None, typer.Option("--db", help="results database (default: the spec's db, or <spec>.duckdb beside it)")] = None,
    workers: Annotated[int | None, typer.Option("--workers", "-j", help="local processes (default: the machine's cores; 1 = in this process)")] = None,
    cluster: Annotated[str | None, typer.Option("--cluster", help="run on Ray: ADDRESS, 'auto', or 'local' (needs pimtrain[cluster])")] = None,
    plots: Annotated[Path | None, typer.Option("--plots", help="folder for the Pareto and sensitivity plots (PNG)")] = None,
    color_by: Annotated[str | None, typer.Option("--color-by", help="axis that colours the Pareto plot")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    output: Annotated[str | None, typer.Option("--output", "-o")] = None,
):
    """Run every point of SPEC not yet in its results database (cost, training, or both)."""
    from .spec import load_spec
    from .sweep import default_db, run_sweep

    _check_engine(workers, cluster)
    loaded = load_spec(spec)
    if color_by and color_by not in loaded.axis_labels:
        raise PimtrainError(f"--color-by: unknown axis {color_by!r}; allowed: {', '.join(loaded.axis_labels)}")
    db_path = db or default_db(loaded)
    summary = run_sweep(loaded, db_path, workers=workers, cluster=cluster, progress=not as_json)
    if plots:
        summary["plots"] = _plots(loaded, db_path, plots, color_by)
    emit_result(summary, as_json, output, lambda: _print(_summary_table(summary, f"sweep {loaded.spec.name}")))


@_errors
def explore(
    spec: Annotated[Path, typer.Argument(help="spec (YAML) with an explore: section (objectives, budget)")],
    db: Annotated[Path | None, typer.Option("--db")] = None,
    trials: Annotated[int | None, typer.Option("--trials", help="budget: finished trials in the study")] = None,
    seconds: Annotated[float | None, typer.Option("--seconds", help="budget: seconds of this run")] = None,
    workers: Annotated[int | None, typer.Option("--workers", "-j")] = None,
    cluster: Annotated[str | None, typer.Option("--cluster")] = None,
    plots: Annotated[Path | None, typer.Option("--plots")] = None,
    color_by: Annotated[str | None, typer.Option("--color-by")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    output: Annotated[str | None, typer.Option("--output", "-o")] = None,
):
    """Multi-objective co-design search (optuna NSGA-II) over SPEC's axes; prints the Pareto front."""
    from .search import run_explore
    from .spec import load_spec
    from .sweep import default_db

    _check_engine(workers, cluster)
    if trials is not None and trials < 1:
        raise PimtrainError(f"--trials: must be at least 1 (got {trials})")
    if seconds is not None and not seconds > 0:
        raise PimtrainError(f"--seconds: must be positive (got {seconds})")
    loaded = load_spec(spec)
    ex = loaded.check_explore()
    if color_by and color_by not in loaded.axis_labels:
        raise PimtrainError(f"--color-by: unknown axis {color_by!r}; allowed: {', '.join(loaded.axis_labels)}")
    db_path = db or default_db(loaded)
    summary = run_explore(loaded, db_path, workers=workers, cluster=cluster, progress=not as_json, trials=trials,
                          seconds=seconds)
    if plots:
        summary["plots"] = _plots(loaded, db_path, plots, color_by, [(o.name, o.direction) for o in ex.objectives])

    def render():
        _print(_summary_table(summary, f"explore {loaded.spec.name}"))
        _print(_front_table(summary["pareto"], f"Pareto front ({len(summary['pareto'])} points)"))

    emit_result(summary, as_json, output, render)


def _print(obj) -> None:
    from pimtrain.report import console

    console.print(obj)


@_errors
def results(
    db: Annotated[Path, typer.Argument(help="results database (DuckDB file) written by sweep / explore")],
    query: Annotated[str | None, typer.Option("--query", "-q", help="SQL over the table 'results' (default: every row)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="rows as a JSON list of objects")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="rows as CSV")] = False,
    parquet: Annotated[Path | None, typer.Option("--parquet", help="write the rows to this Parquet file")] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", help="write the JSON / CSV to this file (atomically)")] = None,
):
    """Read a results database back: a table, JSON, CSV or Parquet."""
    from .export import export

    if sum([as_json, as_csv, parquet is not None]) > 1:
        raise PimtrainError("--json, --csv, --parquet: give one")
    export(db, query, "json" if as_json else "csv" if as_csv else "parquet" if parquet else "table",
           parquet or output)


@_errors
def bench_sweep(
    points: Annotated[int, typer.Option("--points", min=10, help="cost-only VGG-16 points per measurement")] = 400,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    output: Annotated[str | None, typer.Option("--output", "-o")] = None,
):
    """Sweep throughput: cost-only VGG-16 points per second per core, against a plain loop, 1 vs 2 processes."""
    from pimtrain.report import bench_table

    from .bench import bench_sweep as run

    cases = run(points=points, progress=not as_json)
    emit_result({"cases": cases}, as_json, output, lambda: _print(bench_table(cases)))


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add the commands to the ``pimtrain`` app (called once by ``pimtrain.cli``)."""
    app.command("sweep")(sweep)
    app.command("explore")(explore)
    app.command("results")(results)
    bench_app.command("sweep")(bench_sweep)


__all__ = ["bench_sweep", "explore", "register", "results", "sweep"]
