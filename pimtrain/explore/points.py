"""Points of a sweep: one design (validated), one workload, one set of settings, and its content key.

The key is a SHA-256 of the canonical JSON of (design dump, workload, settings, pimtrain version): the
same point has the same key in every run, process and machine, so a results database can skip what is
done and never hold a point twice.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pimtrain import __version__
from pimtrain.design import PimtrainError

from .spec import LoadedSpec, validate_design


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def base_key(dump: dict) -> str:
    """SHA-256 of a base design's canonical JSON."""
    return hashlib.sha256(canonical(dump).encode()).hexdigest()


def point_key(base: str, patch: dict, workload: str, settings: dict, version: str = __version__) -> str:
    """SHA-256 over the canonical JSON of (the base design's content hash, the fields the point changes on
    it, workload, settings, version): the design's content, without re-serialising the whole design."""
    text = canonical({"base": base, "patch": patch, "workload": workload, "settings": settings, "version": version})
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Point:
    """One point: what the worker needs (``task``) and the input columns of its row (``inputs``)."""

    key: str
    design: dict            # the base design's dump with the point's axis values applied (validated, or refused)
    workload: str
    settings: dict
    choice: dict            # axis name -> label
    refused: str | None = None
    design_name: str = ""
    base: str = ""          # content hash of the base design (its dump is in the table ``bases``)
    patch: dict | None = None   # dotted path -> value changed on the base

    def task(self) -> dict:
        return {"key": self.key, "design": self.design, "workload": self.workload, "settings": self.settings}

    def inputs(self, sweep: str) -> dict:
        row = {"key": self.key, "sweep": sweep, "design": self.design_name, "workload": self.workload,
               "measure": self.settings["measure"], "base_key": self.base, "design_patch": canonical(self.patch or {}),
               "settings_json": canonical(self.settings), "pimtrain_version": __version__}
        row.update(settings_columns(self.settings))
        row.update({f"axis:{k}": v for k, v in self.choice.items()})
        return row


def settings_of(loaded: LoadedSpec) -> dict:
    s = loaded.spec
    out: dict[str, Any] = {"measure": s.measure}
    if s.measure in ("cost", "both"):
        out.update({"batch_size": s.batch_size if s.measure == "cost" else None, "inference": s.inference})
    if s.measure in ("train", "both"):
        t = s.train
        out["train"] = {"dataset": t.dataset, "model": t.model, "epochs": t.epochs, "seed": t.seed, "lr": t.lr,
                        "batch_size": t.batch_size, "device": t.device}
    return out


def settings_columns(settings: dict) -> dict:
    t = settings.get("train") or {}
    return {"batch_size": t.get("batch_size", settings.get("batch_size")), "inference": settings.get("inference"),
            "dataset": t.get("dataset"), "model": t.get("model"), "epochs": t.get("epochs"), "seed": t.get("seed"),
            "lr": t.get("lr"), "device": t.get("device")}


def make_point(loaded: LoadedSpec, choice: dict, workload: str, settings: dict) -> Point:
    base = loaded.base_of(choice)
    bkey = base_keys(loaded)[id(base)]
    patch = loaded.patch_of(choice)
    data = loaded.design_dict(choice)
    key = point_key(bkey, patch, workload, settings)
    try:
        design = validate_design(data)
    except PimtrainError as exc:
        return Point(key, data, workload, settings, choice, refused=str(exc), design_name=str(data.get("name", "")),
                     base=bkey, patch=patch)
    return Point(key, data, workload, settings, choice, design_name=design.name, base=bkey, patch=patch)


def base_keys(loaded: LoadedSpec) -> dict[int, str]:
    """Content hash of every base dump of the spec, by object id (computed once per spec)."""
    cache = getattr(loaded, "_base_keys", None)
    if cache is None:
        dumps = [loaded._base_dump] + [d for ds in loaded.preset_bases.values() for d in ds.values()]
        cache = {id(d): base_key(d) for d in dumps}
        loaded._base_keys = cache
    return cache


def bases_rows(loaded: LoadedSpec) -> list[dict]:
    """Rows of the table ``bases``: each base design of the spec once, with its whole dump."""
    dumps = [loaded._base_dump] + [d for ds in loaded.preset_bases.values() for d in ds.values()]
    keys = base_keys(loaded)
    return [{"base_key": keys[id(d)], "name": d.get("name"), "design_json": canonical(d)} for d in dumps]


def workloads_of(loaded: LoadedSpec) -> list[str]:
    s = loaded.spec
    if s.measure == "cost":
        return list(s.workloads)
    t = s.train
    return [f"{t.dataset}:{t.model}"]


def expand(loaded: LoadedSpec) -> list[Point]:
    """Every point of the spec, each design validated (invalid ones carry ``refused``); order is stable."""
    settings = settings_of(loaded)
    points, seen = [], set()
    for choice in loaded.choices():
        for w in workloads_of(loaded):
            p = make_point(loaded, choice, w, settings)
            if p.key not in seen:       # two axis values giving the same design: one point
                seen.add(p.key)
                points.append(p)
    return points


__all__ = ["Point", "canonical", "expand", "make_point", "point_key", "settings_of", "workloads_of"]
