"""The sweep / explore specification: a YAML file validated by pydantic, checked fully at load.

A spec names a base design, axes over design fields (by dotted path), workloads, what to measure and
how to sample. :func:`load_spec` refuses anything a sweep could not run — an unknown field path, a
value the design refuses on its own, an empty axis, an unknown workload, dataset or model — with one
line naming it (:class:`~pimtrain.design.PimtrainError`), before any point runs or any file is written.

Field paths are resolved generically against the :class:`~pimtrain.design.Design` model (its
``model_fields``, and the keys of its ``model_dump()``), never by name, so the spec follows the
design schema as it changes.
"""
from __future__ import annotations

import itertools
import json
import math
import random
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from pimtrain.design import Design, PimtrainError, design_to_dict, load_design
from pimtrain.design.io import model_in_annotation

#: output figures a search may optimise, with the measurement that produces them
OBJECTIVES = {
    "test_accuracy": "train", "train_loss": "train",
    "energy_j": "cost", "latency_s": "cost", "area_m2": "cost", "power_w": "cost", "energy_per_epoch_j": "cost",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AxisSpec(_Strict):
    """One axis: exactly one of ``values`` (a list), ``range`` ([start, stop] or [start, stop, step],
    stop included; with ``factor`` a geometric range), ``presets`` (base designs by name or path) or
    ``patches`` (label -> {dotted.path: value, ...}, several fields changed together)."""

    values: list[Any] | None = None
    range: list[float] | None = None
    factor: float | None = Field(default=None, gt=1.0)
    presets: list[str] | None = None
    patches: dict[str, dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _one_kind(self):
        kinds = [k for k in ("values", "range", "presets", "patches") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"give exactly one of values, range, presets, patches (got {', '.join(kinds) or 'none'})")
        if self.factor is not None and self.range is None:
            raise ValueError("factor goes with range")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("values", "range", "presets", "patches") if getattr(self, k) is not None)

    def labels(self) -> list[Any]:
        """The axis' values as they appear in the results table (patch and preset axes: their labels)."""
        if self.values is not None:
            return list(self.values)
        if self.presets is not None:
            return list(self.presets)
        if self.patches is not None:
            return list(self.patches)
        r = self.range
        if len(r) not in (2, 3):
            raise ValueError("range: give [start, stop] or [start, stop, step]")
        start, stop = r[0], r[1]
        integral = all(float(x).is_integer() for x in r) and (self.factor is None or float(self.factor).is_integer())
        out: list[Any] = []
        if self.factor is not None:
            if len(r) == 3 or start <= 0:
                raise ValueError("range with factor: give [start, stop] with start > 0")
            v = start
            while v <= stop * (1 + 1e-12):
                out.append(round(v) if integral else v)
                v *= self.factor
        else:
            step = r[2] if len(r) == 3 else 1
            if step <= 0:
                raise ValueError("range: step must be positive")
            n = math.floor((stop - start) / step + 1e-9) + 1
            out = [round(start + i * step) if integral else start + i * step for i in range(max(n, 0))]
        return out


class TrainSpec(_Strict):
    """Training per point (``measure: train`` or ``both``): the dataset's network on the point's design."""

    dataset: str = "digits"
    model: str = Field(default="default", description="default | cnn | mlp:64-36-10[:sigmoid|relu|tanh]")
    epochs: int = Field(default=1, ge=1)
    seed: int = Field(default=0, ge=0)
    lr: float = Field(default=0.1, gt=0)
    batch_size: int = Field(default=1, ge=1)
    device: str = Field(default="cpu", description="cpu, cuda, or auto (a GPU where the worker has one)")
    threads: int = Field(default=1, ge=1, description="torch threads per training point")


class SamplingSpec(_Strict):
    method: Literal["grid", "random"] = "grid"
    samples: int | None = Field(default=None, ge=1, description="random: number of points drawn from the grid")
    seed: int = 0


class Objective(_Strict):
    name: str
    direction: Literal["minimize", "maximize"]

    @field_validator("name")
    @classmethod
    def _known(cls, v):
        if v not in OBJECTIVES:
            raise ValueError(f"unknown objective {v!r}; allowed: {', '.join(OBJECTIVES)}")
        return v


class ExploreSpec(_Strict):
    objectives: list[Objective] = Field(default_factory=lambda: [Objective(name="test_accuracy", direction="maximize"),
                                                                  Objective(name="energy_j", direction="minimize")])
    trials: int | None = Field(default=40, ge=1)
    seconds: float | None = Field(default=None, gt=0)
    sampler: Literal["nsga2", "random", "tpe"] = "nsga2"
    population: int = Field(default=8, ge=2)
    seed: int = 0

    @field_validator("objectives")
    @classmethod
    def _some(cls, v):
        if not v:
            raise ValueError("give at least one objective")
        return v


class SweepSpec(_Strict):
    name: str = "sweep"
    base: str = Field(default="ideal", description="preset name or design YAML path (relative to the spec file)")
    axes: dict[str, AxisSpec]
    workloads: list[str] = Field(default_factory=list)
    measure: Literal["cost", "train", "both"] = "cost"
    batch_size: int = Field(default=1, ge=1, description="batch of the costed training step (measure: cost)")
    inference: bool = False
    train: TrainSpec | None = None
    sampling: SamplingSpec = Field(default_factory=SamplingSpec)
    explore: ExploreSpec | None = None
    color_by: str | None = Field(default=None, description="axis that colours the Pareto plot")
    db: str | None = Field(default=None, description="results database (default: <spec>.duckdb beside the spec)")

    @field_validator("axes", mode="before")
    @classmethod
    def _plain_lists(cls, v):
        if isinstance(v, dict):
            return {k: ({"values": a} if isinstance(a, list) else a) for k, a in v.items()}
        return v


# --------------------------------------------------------------------------------------------- paths
def _open_ended(ann) -> bool:
    """A dict-typed field: any key below it is allowed by the schema."""
    if typing.get_origin(ann) is dict:
        return True
    return any(_open_ended(a) for a in typing.get_args(ann))


def path_exists(path: str, dump: dict) -> bool:
    """``path`` (``a.b.c``) names a field of the design schema (or a key of its dump)."""
    node: Any = dump
    model: Any = Design
    for part in path.split("."):
        fields = getattr(model, "model_fields", None) if model is not None else None
        if fields is not None and part in fields and not fields[part].exclude:
            ann = fields[part].annotation
            if _open_ended(ann) and model_in_annotation(ann) is None:
                return True
            model = model_in_annotation(ann)
        elif isinstance(node, dict) and part in node or isinstance(node, list) and part.isdigit() and int(part) < len(node):
            model = None
        else:
            return False
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            node = None
    return True


def with_path(data: dict, path: str, value: Any) -> dict:
    """A copy of ``data`` with ``path`` set to ``value``: only the containers along the path are copied,
    the rest is shared with ``data`` (which is left as it was)."""
    parts = path.split(".")
    root = dict(data)
    node: Any = root
    for part in parts[:-1]:
        if isinstance(node, list):
            key: Any = int(part)
            child = node[key]
        else:
            key = part
            child = node.get(part)
        child = {} if child is None else (list(child) if isinstance(child, list) else dict(child))
        node[key] = child
        node = child
    node[int(parts[-1]) if isinstance(node, list) else parts[-1]] = value
    return root


def validate_design(data: dict) -> Design:
    """``Design.model_validate`` with the error as one line (``DesignError``)."""
    from pimtrain.design.io import design_from_dict

    return design_from_dict(data, where="design")


def base_dump(design: Design) -> dict:
    return design_to_dict(design)


# ---------------------------------------------------------------------------------------------- load
def _format(exc: ValidationError, where: str) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ()))
    msg = err.get("msg", "invalid")
    msg = msg.removeprefix("Value error, ")
    if err.get("type") == "extra_forbidden":
        return f"{where}: {loc}: unknown field"
    return f"{where}: {loc}: {msg}" if loc else f"{where}: {msg}"


class LoadedSpec:
    """A checked spec: the pydantic object plus its resolved bases and axis labels."""

    def __init__(self, spec: SweepSpec, folder: Path, where: str):
        self.spec, self.folder, self.where = spec, folder, where
        self.base = _load_base(spec.base, folder, f"{where}: base")
        self._base_dump = base_dump(self.base)
        self.axis_labels: dict[str, list[Any]] = {}
        self.preset_bases: dict[str, dict[str, dict]] = {}
        self._check()

    # ------------------------------------------------------------------ checks
    def _check(self) -> None:
        s, where = self.spec, self.where
        if not s.axes:
            raise PimtrainError(f"{where}: axes: give at least one axis")
        preset_axes = [n for n, a in s.axes.items() if a.kind == "presets"]
        if len(preset_axes) > 1:
            raise PimtrainError(f"{where}: axes: at most one presets axis (got {', '.join(preset_axes)})")
        for name, axis in s.axes.items():
            try:
                labels = axis.labels()
            except ValueError as exc:
                raise PimtrainError(f"{where}: axes.{name}: {exc}") from None
            if not labels:
                raise PimtrainError(f"{where}: axes.{name}: empty axis; give at least one value")
            if len({json.dumps(v, sort_keys=True) for v in labels}) != len(labels):
                raise PimtrainError(f"{where}: axes.{name}: repeated value")
            self.axis_labels[name] = labels
            if axis.kind == "presets":
                self.preset_bases[name] = {p: base_dump(_load_base(p, self.folder, f"{where}: axes.{name}"))
                                           for p in axis.presets}
        bases = [base_dump(self.base)]
        for dumps in self.preset_bases.values():
            bases = list(dumps.values())
        for name, axis in s.axes.items():
            if axis.kind == "presets":
                continue
            for label in self.axis_labels[name]:
                patch = self.patch(name, label)
                for path in patch:
                    if not any(path_exists(path, b) for b in bases):
                        raise PimtrainError(f"{where}: axes.{name}: unknown design field path {path!r}")
                refusal = self._field_refusal(bases, patch)
                if refusal:
                    raise PimtrainError(f"{where}: axes.{name}: value {label!r} refused by the design ({refusal})")
        if s.measure in ("cost",) and not s.workloads:
            raise PimtrainError(f"{where}: workloads: give at least one workload for measure: cost")
        if s.workloads:
            from pimtrain.workloads import get_workload

            for w in s.workloads:
                try:
                    get_workload(w)
                except PimtrainError as exc:
                    raise PimtrainError(f"{where}: workloads: {exc}") from None
        if s.measure in ("train", "both"):
            if s.train is None:
                s.train = TrainSpec()
            _check_train(s.train, where)
        if s.color_by is not None and s.color_by not in s.axes:
            raise PimtrainError(f"{where}: color_by: unknown axis {s.color_by!r}; allowed: {', '.join(s.axes)}")
        if s.sampling.method == "random" and s.sampling.samples is None:
            raise PimtrainError(f"{where}: sampling.samples: required with method: random")

    @staticmethod
    def _field_refusal(bases: list[dict], patch: dict[str, Any]) -> str | None:
        """The error when the patched field itself refuses the value on every base (its type or range),
        else None. A check that spans several fields (``slice_bits`` against ``slices``) is left to the
        combination: such a point is recorded as refused, the spec is not wrong."""
        errors = []
        for b in bases:
            data = b
            for path, value in patch.items():
                data = with_path(data, path, value)
            try:
                validate_design(data)
                return None
            except PimtrainError as exc:
                text = str(exc)
                if not any(f"design: {path}:" in text or f"design: {path}." in text for path in patch):
                    return None
                errors.append(text.removeprefix("design: "))
        return errors[0] if errors else None

    def check_explore(self) -> ExploreSpec:
        s, where = self.spec, self.where
        ex = s.explore or ExploreSpec()
        if ex.trials is None and ex.seconds is None:
            raise PimtrainError(f"{where}: explore: give trials or seconds (the budget)")
        produced = {"cost": {"cost"}, "train": {"train"}, "both": {"cost", "train"}}[s.measure]
        for o in ex.objectives:
            if OBJECTIVES[o.name] not in produced:
                raise PimtrainError(f"{where}: explore.objectives: {o.name} needs measure: "
                                    f"{'both' if OBJECTIVES[o.name] == 'train' else 'cost or both'} (got {s.measure})")
        if s.measure == "cost" and len(s.workloads) != 1:
            raise PimtrainError(f"{where}: workloads: explore with measure: cost takes exactly one workload")
        return ex

    # ------------------------------------------------------------------ points
    def patch(self, axis: str, label: Any) -> dict[str, Any]:
        a = self.spec.axes[axis]
        if a.kind == "patches":
            return dict(a.patches[label])
        if a.kind == "presets":
            return {}
        return {axis: label}

    def base_of(self, choice: dict[str, Any]) -> dict:
        """The base design dump of a point: the chosen preset, or the spec's base."""
        for name, axis in self.spec.axes.items():
            if axis.kind == "presets":
                return self.preset_bases[name][choice[name]]
        return self._base_dump

    def patch_of(self, choice: dict[str, Any]) -> dict[str, Any]:
        """Every field a point changes on its base: dotted path -> value, in axis order."""
        out: dict[str, Any] = {}
        for name in self.spec.axes:
            out.update(self.patch(name, choice[name]))
        return out

    def design_dict(self, choice: dict[str, Any]) -> dict:
        """The design mapping of one point: the (preset) base with every axis value applied."""
        data = self.base_of(choice)
        for path, value in self.patch_of(choice).items():
            data = with_path(data, path, value)     # copies the path only; the base stays as it was
        return data

    def choices(self) -> list[dict[str, Any]]:
        """Axis choices of every point, grid order (or the random sample, seeded)."""
        names = list(self.axis_labels)
        grid = itertools.product(*(self.axis_labels[n] for n in names))
        if self.spec.sampling.method == "grid":
            return [dict(zip(names, combo)) for combo in grid]
        sizes = [len(self.axis_labels[n]) for n in names]
        total = math.prod(sizes)
        rng = random.Random(self.spec.sampling.seed)
        k = min(self.spec.sampling.samples, total)
        picks = sorted(rng.sample(range(total), k))
        out = []
        for idx in picks:
            combo, rest = [], idx
            for size in reversed(sizes):
                combo.append(rest % size)
                rest //= size
            combo.reverse()
            out.append({n: self.axis_labels[n][i] for n, i in zip(names, combo)})
        return out


def _check_train(t: TrainSpec, where: str) -> None:
    from pimtrain.nn import DATASET_NAMES

    if t.dataset not in DATASET_NAMES:
        raise PimtrainError(f"{where}: train.dataset: unknown {t.dataset!r}; allowed: {', '.join(DATASET_NAMES)}")
    try:
        from .worker import parse_model

        parse_model(t.model)
    except PimtrainError as exc:
        raise PimtrainError(f"{where}: train.model: {exc}") from None
    if t.device not in ("cpu", "cuda", "auto") and not t.device.startswith("cuda:"):
        raise PimtrainError(f"{where}: train.device: {t.device!r}; allowed: cpu, cuda, cuda:N, auto")


def _load_base(name: str, folder: Path, where: str) -> Design:
    candidate = folder / name
    try:
        if name.endswith((".yaml", ".yml")) and candidate.is_file():
            return load_design(candidate)
        return load_design(name)
    except PimtrainError as exc:
        raise PimtrainError(f"{where}: {exc}") from None


def spec_from_dict(data: Any, folder: Path = Path("."), where: str = "spec") -> LoadedSpec:
    if not isinstance(data, dict):
        raise PimtrainError(f"{where}: the file must hold a mapping (name, base, axes, ...)")
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise PimtrainError(_format(exc, where)) from None
    return LoadedSpec(spec, folder, where)


def load_spec(path: str | Path) -> LoadedSpec:
    """Read and check a spec file; every problem is one :class:`PimtrainError` line naming it."""
    path = Path(path)
    if not path.is_file():
        raise PimtrainError(f"spec: file {str(path)!r} not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise PimtrainError(f"{path.name}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    loaded = spec_from_dict(data, path.parent, path.name)
    loaded.path = path
    return loaded


__all__ = [
    "OBJECTIVES",
    "AxisSpec",
    "ExploreSpec",
    "LoadedSpec",
    "SamplingSpec",
    "SweepSpec",
    "TrainSpec",
    "load_spec",
    "path_exists",
    "spec_from_dict",
    "validate_design",
    "with_path",
]
