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


def placement_rows(model: nn.Module, report=None, digital=None) -> list[dict]:
    """Per module: name, type, role, why, cores, and ``energy_share`` of the report's total (analog layers)."""
    rows = describe(model, digital)
    total = getattr(report, "energy_j", 0.0) or 0.0
    per_layer = getattr(report, "layer", {}) or {}
    for row in rows:
        energy = sum(per_layer.get(name, {}).get("energy_j", 0.0) for name in row["matrices"])
        row["energy_share"] = energy / total if total and row["matrices"] else None
    return rows


def placement_table(rows: list[dict]):
    """A rich table of :func:`placement_rows`."""
    from rich.table import Table

    table = Table(title="Where each module runs (pimtrain.nn.layer_registry)")
    for col in ("module", "type", "runs", "cores", "energy share", "why"):
        table.add_column(col, justify="right" if col == "energy share" else "left")
    for r in rows:
        share = "" if r["energy_share"] is None else f"{100 * r['energy_share']:.1f} %"
        table.add_row(r["name"], r["type"], r["role"], str(len(r["matrices"])) if r["matrices"] else "", share, r["why"])
    return table
