"""Reading and writing designs: YAML files, named presets, and one-line validation errors."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .errors import DesignError
from .models import Design

PRESET_PACKAGE = "pimtrain.design.presets"


def preset_names() -> list[str]:
    """Names of the presets shipped in ``pimtrain/design/presets``."""
    folder = resources.files(PRESET_PACKAGE)
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def preset_path(name: str) -> Path:
    path = Path(str(resources.files(PRESET_PACKAGE).joinpath(f"{name}.yaml")))
    if not path.is_file():
        raise DesignError(f"design: unknown preset {name!r}; allowed: {', '.join(preset_names())} or a path to a .yaml file")
    return path


def design_from_dict(data: Any, where: str = "design") -> Design:
    """Validate a plain mapping into a :class:`Design`, turning pydantic errors into one line."""
    if not isinstance(data, dict):
        raise DesignError(f"{where}: the file must hold a mapping of design fields, got {type(data).__name__}")
    try:
        return Design.model_validate(data)
    except ValidationError as exc:
        raise DesignError(f"{where}: {format_validation_error(exc)}") from None


def load_design(spec: str | os.PathLike | Design) -> Design:
    """A design from a preset name, a YAML path, or a :class:`Design` (returned as is)."""
    if isinstance(spec, Design):
        return spec
    text = str(spec)
    path = Path(text)
    if not (text.endswith((".yaml", ".yml")) or path.is_file()):
        path = preset_path(text)
    if not path.is_file():
        raise DesignError(f"design: file {text!r} not found; give a preset name ({', '.join(preset_names())}) or a YAML path")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise DesignError(f"{path.name}:{line}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    design = design_from_dict(data, where=path.name)
    design.source_path = str(path.resolve())
    _check_lookup_paths(design, path.name)
    return design


def _check_lookup_paths(design: Design, where: str) -> None:
    """Fail at load, not mid-training, when a lookup-table folder named in the file is missing.

    ``package:`` paths name data shipped in ``pimtrain/data``; ``shared:`` paths fall back to it when the
    shared data folder is absent (``pimtrain.design.paths``).
    """
    from .paths import resolve_data_path

    lookup = design.device.lookup
    if lookup is None:
        return
    for i, text in enumerate(lookup.paths):
        try:
            resolve_data_path(text, design.source_path, field=f"device.lookup.paths.{i}")
        except DesignError:
            raise
        except Exception as exc:
            raise DesignError(f"{where}: {exc}") from None


def design_to_dict(design: Design) -> dict:
    """Plain mapping (SI floats) that :func:`design_from_dict` reads back into an equal design."""
    return design.model_dump(mode="json", exclude={"source_path"})


def save_design(design: Design, path: str | os.PathLike) -> Path:
    """Write ``design`` as YAML atomically (a temporary file renamed into place)."""
    path = Path(path)
    text = yaml.safe_dump(design_to_dict(design), sort_keys=False, default_flow_style=False)
    atomic_write_text(path, text)
    return path


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``, else removed.

    A reader sees the old file or the new one, never half of one. The file gets the permissions a
    plain ``open(path, 'w')`` would give (``mkstemp`` makes it private to the owner).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def format_validation_error(exc: ValidationError) -> str:
    """The first error of a pydantic ValidationError as ``field.path: problem; allowed: ...``."""
    err = exc.errors()[0]
    loc = [str(p) for p in err.get("loc", ())]
    field = ".".join(loc) or "(root)"
    kind = err.get("type", "")
    msg = err.get("msg", "invalid value")
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if kind == "extra_forbidden":
        allowed = _allowed_fields(loc[:-1])
        tail = f"; allowed: {', '.join(allowed)}" if allowed else ""
        return f"{field}: unknown field{tail}"
    if kind == "missing":
        return f"{field}: required field is missing"
    got = err.get("input")
    got_txt = "" if isinstance(got, (dict, list)) else f" (got {got!r})"
    return f"{field}: {msg}{got_txt}"


def _allowed_fields(loc: list[str]) -> list[str]:
    """Field names allowed at a location of the Design tree (empty when not resolvable)."""
    model: Any = Design
    for part in loc:
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            return []
        ann = fields[part].annotation
        model = _model_in(ann)
        if model is None:
            return []
    fields = getattr(model, "model_fields", {})
    return [k for k, f in fields.items() if not f.exclude]


def _model_in(ann: Any):
    from pydantic import BaseModel
    import typing

    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in typing.get_args(ann):
        m = _model_in(arg)
        if m is not None:
            return m
    return None
