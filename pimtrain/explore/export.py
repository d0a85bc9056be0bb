"""``pimtrain results``: a results database read back as a table, JSON, CSV or Parquet."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from pimtrain.design import PimtrainError
from pimtrain.design.io import atomic_path, atomic_write_text

from .db import ResultsDB, q

#: columns left out of the terminal table (long JSON); JSON / CSV / Parquet carry everything
WIDE = ("base_key", "design_patch", "settings_json", "epochs_json", "train_stats", "pimtrain_version", "worker", "finished_at")


def _default_query(db: ResultsDB, table: bool) -> str:
    cols = [c for c in db.types if not (table and c in WIDE)]
    return f"SELECT {', '.join(q(c) for c in cols)} FROM results ORDER BY sweep, key"


def _plain(v):
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v
    return str(v)


def export(db_path, query: str | None, fmt: str, output=None) -> None:
    from pimtrain.report import console, emit_json

    with ResultsDB(db_path, read_only=True) as db:
        if fmt == "parquet":
            if output is None:
                raise PimtrainError("--parquet: give the file to write")
            sql = query or _default_query(db, False)
            db.query(f"SELECT * FROM ({sql}) LIMIT 0")              # a bad query fails before a file appears
            with atomic_path(Path(output)) as tmp:
                tmp.unlink()
                db.query(f"COPY ({sql}) TO '{str(tmp).replace(chr(39), chr(39) * 2)}' (FORMAT parquet)")
            return
        names, rows = db.query(query or _default_query(db, fmt == "table"))
    if fmt == "json":
        data = [{k: _plain(v) for k, v in zip(names, r)} for r in rows]
        if output:
            emit_json(data, output)
        else:
            emit_json(data)
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(names)
        w.writerows([[_plain(v) for v in r] for r in rows])
        if output:
            atomic_write_text(output, buf.getvalue())
        else:
            print(buf.getvalue(), end="")
    else:
        from rich.table import Table

        t = Table(title=f"{Path(db_path).name}: {len(rows)} rows")
        for n in names:
            t.add_column(n.removeprefix("axis:"), overflow="fold")
        for r in rows[:200]:
            t.add_row(*[(f"{v:.4g}" if isinstance(v, float) else (v[:12] if isinstance(v, str) and len(v) == 64 else
                                                                   str(v))) for v in r])
        if len(rows) > 200:
            t.caption = f"first 200 of {len(rows)} rows; --json / --csv / --parquet give all"
        console.print(t)
        if output:
            atomic_write_text(output, json.dumps([{k: _plain(v) for k, v in zip(names, r)} for r in rows], indent=1))


__all__ = ["export"]
