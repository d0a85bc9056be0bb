"""The results database: one embedded DuckDB file, one row per point, written by the driver only.

Table ``results``: ``key`` (content hash, PRIMARY KEY), the point's inputs (sweep, design name, workload,
measurement settings, one column per axis named ``axis:<name>``, the base design's hash ``base_key`` and
the fields the point changes on it, ``design_patch``), its status
(``ok`` / ``refused`` / ``failed``) and reason, and every output figure. Rows are written in
transactions of a few hundred with ``INSERT OR IGNORE``: a process killed at any moment leaves whole
transactions only, and a re-run skips the keys present (``failed`` rows are retried). Columns that a
new spec needs (a new axis) are added on open.

Table ``bases``: every base design once (``base_key``, ``name``, ``design_json``, the whole dump): a
point's design is its base with ``design_patch`` applied, and its key hashes exactly that.

Timing columns (``seconds``, ``cpu_seconds``, ``train_seconds``, ``worker``, ``finished_at``) vary between runs; every
other column is a function of the point alone.
"""
from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pimtrain.design import PimtrainError

TIMING_COLUMNS = ("seconds", "cpu_seconds", "train_seconds", "worker", "finished_at")

BASE_COLUMNS: dict[str, str] = {
    "key": "VARCHAR PRIMARY KEY",
    "sweep": "VARCHAR", "status": "VARCHAR", "reason": "VARCHAR",
    "design": "VARCHAR", "workload": "VARCHAR", "measure": "VARCHAR",
    "batch_size": "BIGINT", "inference": "BOOLEAN", "dataset": "VARCHAR", "model": "VARCHAR", "epochs": "BIGINT",
    "seed": "BIGINT", "lr": "DOUBLE", "device": "VARCHAR",
    "energy_j": "DOUBLE", "latency_s": "DOUBLE", "area_m2": "DOUBLE", "power_w": "DOUBLE", "macs": "DOUBLE",
    "energy_forward_j": "DOUBLE", "energy_backward_j": "DOUBLE", "energy_update_j": "DOUBLE",
    "latency_forward_s": "DOUBLE", "latency_backward_s": "DOUBLE", "latency_update_s": "DOUBLE",
    "energy_per_epoch_j": "DOUBLE",
    "test_accuracy": "DOUBLE", "train_loss": "DOUBLE", "epochs_json": "VARCHAR", "train_stats": "VARCHAR",
    "base_key": "VARCHAR", "design_patch": "VARCHAR", "settings_json": "VARCHAR", "pimtrain_version": "VARCHAR",
    "seconds": "DOUBLE", "cpu_seconds": "DOUBLE", "train_seconds": "DOUBLE", "worker": "VARCHAR", "finished_at": "DOUBLE",
}
JSON_COLUMNS = ("epochs_json", "train_stats")


def sql_type(values: Iterable[Any]) -> str:
    """Column type of an axis from its values: BOOLEAN, BIGINT, DOUBLE or VARCHAR (JSON for lists)."""
    vals = list(values)
    if vals and all(isinstance(v, bool) for v in vals):
        return "BOOLEAN"
    if vals and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return "BIGINT"
    if vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        return "DOUBLE"
    return "VARCHAR"


def cell(value: Any, sqltype: str) -> Any:
    if value is None:
        return None
    if sqltype == "VARCHAR" and not isinstance(value, str):
        return json.dumps(value, sort_keys=True)
    if sqltype == "DOUBLE":
        return float(value)
    return value


def _finite(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _lit(text: str) -> str:
    return text.replace("'", "''")


def _plain_type(t: str) -> str:
    return t.replace(" PRIMARY KEY", "")


def _fits(value_type: str, column_type: str) -> bool:
    """Can values of ``value_type`` (from :func:`sql_type`) go into a column of ``column_type``?"""
    v, c = _plain_type(value_type).upper(), _plain_type(column_type).upper()
    return v == c or c == "VARCHAR" or (c == "DOUBLE" and v == "BIGINT")


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class ResultsDB:
    """The driver's handle on the results file (the only writer)."""

    def __init__(self, path: str | Path, read_only: bool = False):
        import duckdb

        self.path = Path(path)
        if read_only and not self.path.is_file():
            raise PimtrainError(f"results: database {str(self.path)!r} not found")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as exc:
            raise PimtrainError(f"results: cannot open {str(self.path)!r}: {' '.join(str(exc).split())}") from None
        self.types: dict[str, str] = {}
        if not read_only:
            cols = ", ".join(f"{q(k)} {t}" for k, t in BASE_COLUMNS.items())
            self.con.execute(f"CREATE TABLE IF NOT EXISTS results ({cols})")
            self.con.execute("CREATE TABLE IF NOT EXISTS bases (base_key VARCHAR PRIMARY KEY, name VARCHAR, "
                             "design_json VARCHAR)")
        self._load_types()
        if not read_only:                   # a file from an older pimtrain: add the columns it lacks
            for name, typ in BASE_COLUMNS.items():
                if name not in self.types:
                    self.con.execute(f"ALTER TABLE results ADD COLUMN {q(name)} {typ.replace(' PRIMARY KEY', '')}")
            self._load_types()

    def _load_types(self) -> None:
        rows = self.con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                "WHERE table_name = 'results'").fetchall()
        self.types = {name: typ for name, typ in rows}

    def ensure_axes(self, axis_types: dict[str, str]) -> None:
        """Add an ``axis:<name>`` column per axis not yet in the table; an axis whose values are of another
        type than the column an earlier sweep made in this file is refused in one line, before any run."""
        for name, typ in axis_types.items():
            col = f"axis:{name}"
            have = self.types.get(col)
            if have is None:
                self.con.execute(f"ALTER TABLE results ADD COLUMN {q(col)} {typ}")
            elif not _fits(typ, have):
                raise PimtrainError(f"axes.{name}: its values are {typ} but the results database {str(self.path)!r} already "
                                    f"holds this axis as {have}; allowed: values of type {have}, or another --db")
        self._load_types()

    def add_bases(self, rows: list[dict]) -> None:
        """Record base designs (content hash, name, whole dump as JSON); one row per hash."""
        self.con.execute("BEGIN")
        self.con.executemany("INSERT OR IGNORE INTO bases VALUES (?, ?, ?)",
                             [[r["base_key"], r["name"], r["design_json"]] for r in rows])
        self.con.execute("COMMIT")

    def done_keys(self) -> set[str]:
        """Keys that need no run: ``ok`` and ``refused`` rows."""
        return {k for (k,) in self.con.execute("SELECT key FROM results WHERE status <> 'failed'").fetchall()}

    def drop_failed(self, keys: Iterable[str]) -> None:
        """Delete the ``failed`` rows among ``keys`` (they are about to be run again)."""
        failed = {k for (k,) in self.con.execute("SELECT key FROM results WHERE status = 'failed'").fetchall()}
        keys = [k for k in keys if k in failed]
        if keys:
            self.con.execute("BEGIN")
            self.con.executemany("DELETE FROM results WHERE key = ? AND status = 'failed'", [[k] for k in keys])
            self.con.execute("COMMIT")

    def write(self, rows: list[dict]) -> None:
        """Insert ``rows`` in one transaction; a key already present is left as it is.

        The rows go through a newline-delimited JSON file read by DuckDB's ``read_json`` (one statement;
        row-by-row ``executemany`` costs milliseconds per row)."""
        if not rows:
            return
        now = time.time()
        with tempfile.TemporaryDirectory(prefix="pimtrain-rows-") as tmp:
            path = Path(tmp) / "rows.jsonl"
            with open(path, "w") as f:
                for row in rows:
                    row = dict(row, finished_at=row.get("finished_at", now))
                    f.write(json.dumps({c: _finite(cell(v, self.types[c])) for c, v in row.items() if c in self.types},
                                       allow_nan=False))
                    f.write("\n")
            columns = "{" + ", ".join(f"'{_lit(c)}': '{_plain_type(t)}'" for c, t in self.types.items()) + "}"
            self.con.execute("BEGIN")
            try:
                self.con.execute(f"INSERT OR IGNORE INTO results BY NAME SELECT * FROM read_json('{_lit(str(path))}', "
                                 f"format = 'newline_delimited', columns = {columns})")
                self.con.execute("COMMIT")
            except Exception:
                self.con.execute("ROLLBACK")
                raise

    def rows(self, where: str = "", params: list | None = None) -> list[dict]:
        cur = self.con.execute(f"SELECT * FROM results {where}", params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def query(self, sql: str) -> tuple[list[str], list[tuple]]:
        import duckdb

        try:
            cur = self.con.execute(sql)
            names = [d[0] for d in cur.description] if cur.description else []
            return names, cur.fetchall()
        except duckdb.Error as exc:
            raise PimtrainError(f"--query: {' '.join(str(exc).split())}"[:400]) from None

    def close(self) -> None:
        self.con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


__all__ = ["BASE_COLUMNS", "TIMING_COLUMNS", "ResultsDB", "sql_type"]
