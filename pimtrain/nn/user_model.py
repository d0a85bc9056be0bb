"""A user's torch model for the CLI: ``--model FILE.py:factory`` and ``--input-shape 1,8,8``; the placement table.

``load_model("net.py:make")`` imports ``net.py`` from its path and calls ``make()`` (no arguments), which must
return an ``nn.Module``. ``placement_rows(model, report)``: per module, where it runs (analog / digital /
refused, from :func:`pimtrain.nn.layer_registry.describe`), its cores and its share of the step's energy.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from torch import nn

from pimtrain.design import PimtrainError

from .layer_registry import describe

__all__ = ["load_model", "parse_shape", "placement_rows", "placement_table"]


def load_model(spec: str) -> nn.Module:
    if not isinstance(spec, str) or ":" not in spec:
        raise PimtrainError(f"--model: {spec!r} is not FILE.py:factory; allowed: a Python file and the name of a "
                            "function in it that returns an nn.Module, e.g. net.py:make")
    path_text, factory_name = spec.rsplit(":", 1)
    path = Path(path_text)
    if path.suffix != ".py" or not path.is_file():
        raise PimtrainError(f"--model: {path_text!r} is not a Python file (.py) that exists")
    module_spec = importlib.util.spec_from_file_location(f"pimtrain_user_model_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: report it in one line
        raise PimtrainError(f"--model: importing {path_text} failed ({type(exc).__name__}: {exc})") from None
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise PimtrainError(f"--model: {path_text} has no function {factory_name!r}")
    try:
        model = factory()
    except Exception as exc:
        raise PimtrainError(f"--model: {factory_name}() failed ({type(exc).__name__}: {exc})") from None
    if not isinstance(model, nn.Module):
        raise PimtrainError(f"--model: {factory_name}() returned a {type(model).__name__}, not an nn.Module")
    return model


def parse_shape(text: str | None) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in str(text).replace("x", ",").split(",") if v.strip())
    except ValueError:
        shape = ()
    if not shape or any(s < 1 for s in shape):
        raise PimtrainError(f"--input-shape: {text!r} is not allowed; allowed: positive integers per sample, "
                            "e.g. 1,28,28")
    return shape


def placement_rows(model: nn.Module, report=None, digital=None, design=None, workload=None) -> list[dict]:
    """Per module: name, type, role, why, ``matrices`` (its cores' names), ``arrays`` / ``cores`` / ``tiles`` (the
    arrays its matrices, as traced in ``workload``, need on ``design``; cores and tiles if they filled blocks of
    their own), and
    ``energy_share`` of the report's total: its cores and digital parts (``<module>.<part>``, e.g. the attention
    scores) for an analog module, its own digital work for a digital one (refused: none)."""
    rows = describe(model, digital)
    total = getattr(report, "energy_j", 0.0) or 0.0
    per_layer = dict(getattr(report, "layer", {}) or {})
    claimed = {n for r in rows for n in r["matrices"]} | {r["name"] for r in rows if r["role"] == "digital"}
    parts = [n for n in per_layer if n not in claimed]  # analog modules' digital parts: "<module>.<part>"
    for row in rows:
        names = list(row["matrices"]) if row["role"] == "analog" else [row["name"]] if row["role"] == "digital" else []
        if row["role"] == "analog":
            prefix = "" if row["name"] == "<model>" else row["name"] + "."
            names += [n for n in parts if n.startswith(prefix) and "." not in n[len(prefix):]]
        row["costed_as"] = [n for n in names if n in per_layer]
        energy = sum(per_layer[n].get("energy_j", 0.0) for n in row["costed_as"])
        row["energy_j"] = energy if row["costed_as"] else None
        row["energy_share"] = energy / total if total and row["costed_as"] else None
        row.update(_arrays(row, workload, design))
    return rows


def _arrays(row: dict, workload, design) -> dict:
    """Arrays of the module's matrices on ``design`` (the Mapping's tiling), and the cores / tiles they fill."""
    import math

    if design is None or not row["matrices"] or workload is None:
        return {"arrays": None, "cores": None, "tiles": None}
    from pimtrain.mapping import LayerMapping

    shapes = {L.name: (L.out_features, L.in_features, max(int(L.reuse), 1)) for L in workload.layers}
    arrays = 0
    for name in row["matrices"]:
        shape = shapes.get(name)
        if shape is not None:
            arrays += LayerMapping(shape[0], shape[1], design, shape[2]).arrays
    h = design.hierarchy
    cores = math.ceil(arrays / h.arrays_per_core) if arrays else 0
    return {"arrays": arrays, "cores": cores, "tiles": math.ceil(cores / h.cores_per_tile) if cores else 0}


def placement_table(rows: list[dict], title: str = "Where each module runs (pimtrain.nn.layer_registry)",
                    why: bool | None = None):
    """A rich table of :func:`placement_rows`; the ``why`` column only on a terminal of 130 columns or more
    (``why=None``) — ``--json`` has it always."""
    import shutil

    from rich.table import Table

    if why is None:
        why = shutil.get_terminal_size((80, 24)).columns >= 130

    table = Table(title=title)
    for col in ("module", "type", "runs", "matrices", "arrays", "cores", "tiles", "energy"):
        table.add_column(col, justify="left" if col in ("module", "type", "runs") else "right",
                         no_wrap=col in ("runs", "energy"))
    if why:
        table.add_column("why", overflow="ellipsis", no_wrap=True, max_width=48)
    for r in rows:
        share = "" if r.get("energy_share") is None else f"{100 * r['energy_share']:.1f} %"
        blocks = [("" if r.get(k) is None else str(r[k])) for k in ("arrays", "cores", "tiles")]
        table.add_row(r["name"], r["type"], r["role"], str(len(r["matrices"])) if r["matrices"] else "", *blocks,
                      share, *([r["why"]] if why else []))
    return table
