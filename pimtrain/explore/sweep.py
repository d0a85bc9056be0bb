"""The sweep driver: expand a spec into points, skip those in the database, run the rest on an
engine, and write each result as it arrives (in short transactions, so a kill loses nothing that was
committed and a re-run finishes the rest).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager, suppress
from pathlib import Path

from .db import ResultsDB, sql_type
from .points import Point, bases_rows, expand
from .spec import LoadedSpec

#: rows are committed when this many are waiting, or this many seconds after the first one waits
FLUSH_ROWS = 256
FLUSH_SECONDS = 0.5


def default_db(loaded: LoadedSpec) -> Path:
    s = loaded.spec
    if s.db:
        return loaded.folder / s.db
    stem = getattr(loaded, "path", None)
    return loaded.folder / f"{Path(stem).stem if stem else s.name}.duckdb"


def axis_types(loaded: LoadedSpec) -> dict[str, str]:
    return {name: ("VARCHAR" if loaded.spec.axes[name].kind in ("presets", "patches") else sql_type(labels))
            for name, labels in loaded.axis_labels.items()}


class Tally:
    """Counts and the best figure so far, for the progress bar and the summary."""

    def __init__(self, metric: str | None, maximize: bool):
        self.done = self.refused = self.failed = self.skipped = 0
        self.metric, self.maximize, self.best = metric, maximize, None

    def add(self, row: dict) -> None:
        st = row.get("status")
        if st == "ok":
            self.done += 1
            v = row.get(self.metric) if self.metric else None
            if v is not None and (self.best is None or (v > self.best if self.maximize else v < self.best)):
                self.best = v
        elif st == "refused":
            self.refused += 1
        else:
            self.failed += 1

    def text(self) -> str:
        from pimtrain.report.render import si

        best = ""
        if self.best is not None:
            shown = f"{self.best:.4g}" if self.metric == "test_accuracy" else si(self.best, _unit(self.metric))
            best = f"  best {self.metric} {shown}"
        return f"done {self.done}  refused {self.refused}  failed {self.failed}{best}"

    def summary(self) -> dict:
        return {"done": self.done, "refused": self.refused, "failed": self.failed, "skipped": self.skipped,
                "best": {self.metric: self.best} if self.metric else {}}


def _unit(metric: str) -> str:
    return {"energy_j": "J", "latency_s": "s", "area_m2": "m²", "power_w": "W"}.get(metric, "")


@contextmanager
def progress_bar(total: int, label: str, enabled: bool):
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    cols = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
            TimeElapsedColumn())
    with Progress(*cols, console=Console(stderr=True), disable=not enabled) as bar:
        task = bar.add_task(label, total=total, info="")
        yield lambda n, info: bar.update(task, advance=n, info=info)


def run_points(points: list[Point], db: ResultsDB, engine, sweep: str, tally: Tally,
               on_row: Callable[[int, str], None] | None = None, threads: int = 1) -> list[dict]:
    """Write refused points, run the others on ``engine``; returns the result rows written."""
    by_key = {p.key: p for p in points}
    pending, written = [], []
    last = time.monotonic()

    def flush():
        nonlocal pending, last
        db.write(pending)
        written.extend(pending)
        pending = []
        last = time.monotonic()

    for p in points:
        if p.refused is not None:
            row = {**p.inputs(sweep), "status": "refused", "reason": p.refused, "seconds": 0.0, "worker": None}
            pending.append(row)
            tally.add(row)
            if on_row:
                on_row(1, tally.text())
    tasks: Iterable[dict] = [dict(p.task(), threads=threads) for p in points if p.refused is None]
    try:
        for out in (engine.run(tasks) if tasks else ()):
            row = {**by_key[out["key"]].inputs(sweep), **out}
            pending.append(row)
            tally.add(row)
            if on_row:
                on_row(1, tally.text())
            if len(pending) >= FLUSH_ROWS or time.monotonic() - last > FLUSH_SECONDS:
                flush()
    except BaseException:            # interrupted (Ctrl-C, a broken pool): keep what has arrived
        if pending:
            with suppress(Exception):   # the original error is the one to report
                flush()
        raise
    flush()
    return written


def run_sweep(loaded: LoadedSpec, db_path: str | Path | None = None, engine=None, workers: int | None = None,
              cluster: str | None = None, progress: bool = True, db_handle: ResultsDB | None = None) -> dict:
    """Run every point of the spec not yet in the database; the summary (counts, best, seconds).

    ``db_handle``: an open :class:`ResultsDB` to write to (instead of opening ``db_path``)."""
    from .engines import make_engine

    t0, c0 = time.perf_counter(), time.process_time()
    points = expand(loaded)                 # validates every design before anything runs or is written
    if db_handle is None:
        db_path = Path(db_path) if db_path else default_db(loaded)
    metric, maximize = ("test_accuracy", True) if loaded.spec.measure != "cost" else ("energy_j", False)
    tally = Tally(metric, maximize)
    own = engine is None
    if own:                                 # a cluster that cannot be reached fails before the database opens
        engine = make_engine(workers, cluster)
    try:
        db = db_handle or ResultsDB(db_path)
        try:
            db.ensure_axes(axis_types(loaded))
            db.add_bases(bases_rows(loaded))
            done = db.done_keys()
            todo = [p for p in points if p.key not in done]
            db.drop_failed(p.key for p in todo)
            tally.skipped = len(points) - len(todo)
            with progress_bar(len(todo), f"sweep {loaded.spec.name}", progress and bool(todo)) as advance:
                run_points(todo, db, engine, loaded.spec.name, tally, advance,
                           threads=loaded.spec.train.threads if loaded.spec.train else 1)
        finally:
            if db_handle is None:
                db.close()
    finally:
        if own:
            engine.close()
    return {"sweep": loaded.spec.name, "db": str(db.path), "points": len(points), **tally.summary(),
            "engine": getattr(engine, "name", None), "workers": getattr(engine, "workers", None),
            "seconds": time.perf_counter() - t0, "driver_cpu_seconds": time.process_time() - c0}


__all__ = ["Tally", "axis_types", "default_db", "progress_bar", "run_points", "run_sweep"]
