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
        raise DesignError(f"{where}: the file must hold a mapping of design fields (name: ..., device: ...), "
                          f"got {type(data).__name__}")
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise DesignError(f"{where}: field names must be text, got {bad[0]!r}")
    try:
        return Design.model_validate(data)
    except ValidationError as exc:
        raise DesignError(f"{where}: {format_validation_error(exc)}") from None
    except RecursionError:
        raise DesignError(f"{where}: nested too deeply") from None


def load_design(spec: str | os.PathLike | Design) -> Design:
    """A design from a preset name, a YAML path, or a :class:`Design` (returned as is)."""
    if isinstance(spec, Design):
        return spec
    text = str(spec)
    if not text.strip() or "\x00" in text:
        raise DesignError(f"design: {text!r} is not a preset name or a file path")
    path = Path(text)
    if len(path.name.encode("utf-8", "surrogateescape")) > NAME_MAX:
        raise DesignError(f"design: file name too long ({len(path.name)} characters; at most {NAME_MAX})")
    try:
        is_file = path.is_file()
    except OSError as exc:
        raise DesignError(f"design: {text!r}: {exc.strerror or exc}") from None
    if not (text.endswith((".yaml", ".yml")) or is_file):
        path = preset_path(text)
    if not path.is_file():
        raise DesignError(f"design: file {text!r} not found; give a preset name ({', '.join(preset_names())}) or a YAML path")
    data = read_yaml_limited(path)
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


MAX_DESIGN_BYTES = 1 << 20  # 1 MiB: the largest preset is about 15 kB
MAX_DEPTH = 64  # nesting of mappings / lists
MAX_NODES = 100_000  # values after expanding aliases (an alias bomb expands to billions)


class _LimitedLoader(yaml.SafeLoader):
    """SafeLoader that refuses deep nesting, recursive aliases and alias expansion beyond MAX_NODES."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._open: set[str] = set()

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            if event.anchor in self._open:
                raise yaml.composer.ComposerError(None, None, f"alias *{event.anchor} refers to the node that holds it "
                                                  "(a self-reference)", event.start_mark)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark)
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if anchor:
            self._open.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor:
                self._open.discard(anchor)


def _expanded_size(node, memo: dict) -> int:
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # guards against cycles (refused earlier anyway)
    total = 1
    if isinstance(node, yaml.MappingNode):
        total += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        total += sum(_expanded_size(v, memo) for v in node.value)
    memo[key] = min(total, MAX_NODES + 1)
    return memo[key]


def read_yaml_limited(path: str | os.PathLike, where: str | None = None) -> Any:
    """Read a YAML file as UTF-8 with limits on size, nesting and alias expansion; one-line errors."""
    path = Path(path)
    where = where or path.name
    try:
        size = path.stat().st_size
        if size > MAX_DESIGN_BYTES:
            raise DesignError(f"{where}: file is {size} bytes; a design file may hold at most {MAX_DESIGN_BYTES} bytes")
        raw = path.read_bytes()[: MAX_DESIGN_BYTES + 1]
    except OSError as exc:
        raise DesignError(f"{where}: cannot read {str(path)!r}: {exc.strerror or exc}") from None
    if len(raw) > MAX_DESIGN_BYTES:
        raise DesignError(f"{where}: a design file may hold at most {MAX_DESIGN_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DesignError(f"{where}: line {line}: not UTF-8 text (byte {raw[exc.start]:#04x}); save the file as UTF-8") from None
    loader = _LimitedLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None and _expanded_size(node, {}) > MAX_NODES:
            raise DesignError(f"{where}: more than {MAX_NODES} values once aliases are expanded (an alias bomb?)")
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}:" if mark is not None else ""
        raise DesignError(f"{where}:{line} not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    except RecursionError:
        raise DesignError(f"{where}: nested too deeply") from None
    finally:
        loader.dispose()
    return data


def design_to_dict(design: Design) -> dict:
    """Plain mapping (SI floats) that :func:`design_from_dict` reads back into an equal design."""
    return design.model_dump(mode="json", exclude={"source_path"})


def save_design(design: Design, path: str | os.PathLike) -> Path:
    """Write ``design`` as YAML atomically (a temporary file renamed into place)."""
    path = Path(path)
    text = yaml.safe_dump(design_to_dict(design), sort_keys=False, default_flow_style=False)
    atomic_write_text(path, text)
    return path


TEMP_TAG = ".pimtrain-tmp-"  # temp files are named ".<target name>.pimtrain-tmp-<pid>-<random><suffix>"
NAME_MAX = 255  # bytes in one file name on common file systems
_LIVE: set[str] = set()  # temp files of this process not yet renamed or removed (removed on SIGTERM)
_BATCH: list[list[tuple[str, str]]] = []  # open atomic_batch() scopes: (temp, target) pairs to rename at the end


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def clean_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Remove temp files that a killed run (SIGKILL) left beside ``path``; returns what was removed."""
    path = Path(path)
    removed = []
    try:
        candidates = list(path.parent.glob(f".{glob_escape(path.name)}{TEMP_TAG}*"))
    except OSError:
        return removed
    for c in candidates:
        pid_text = c.name[len(path.name) + 1 + len(TEMP_TAG):].split("-", 1)[0]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not _pid_alive(int(pid_text)):
            try:
                c.unlink()
                removed.append(c)
            except OSError:
                pass
    return removed


def glob_escape(text: str) -> str:
    import glob

    return glob.escape(text)


def check_output_path(path: str | os.PathLike, field: str = "--output") -> Path:
    """Refuse, before any work, a target that cannot be written: a folder, a path under a file, a
    read-only file, a FIFO or socket, a name too long, a folder without write permission.
    Character devices (``/dev/null``) are allowed: they are written in place, never replaced."""
    import stat

    text = str(path)
    if not text.strip():
        raise DesignError(f"{field}: empty path; give a file name")
    path = Path(text)
    if len(path.name.encode("utf-8", "surrogateescape")) > NAME_MAX:
        raise DesignError(f"{field}: file name too long ({len(path.name)} characters, at most {NAME_MAX - 40} allowed)")
    if len(path.name.encode("utf-8", "surrogateescape")) + len(TEMP_TAG) + 30 > NAME_MAX:
        raise DesignError(f"{field}: file name too long for a temporary file beside it (at most {NAME_MAX - 40} characters)")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise DesignError(f"{field}: {text!r} lies under a file, not a folder") from None
    except OSError as exc:
        raise DesignError(f"{field}: {text!r}: {exc.strerror}") from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise DesignError(f"{field}: {text!r} is a folder; give a file name")
        if stat.S_ISCHR(st.st_mode):
            return path  # written in place (atomic_path)
        if not stat.S_ISREG(st.st_mode):
            raise DesignError(f"{field}: {text!r} is not a regular file (FIFO, socket or block device); give a file name")
        if not st.st_mode & 0o222 or not os.access(path, os.W_OK):
            raise DesignError(f"{field}: {text!r} is read-only; remove it or give another name")
    parent = path.parent
    while not parent.exists():
        if parent.is_symlink() or parent == parent.parent:
            break
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise DesignError(f"{field}: {text!r} lies under {str(parent)!r}, which is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DesignError(f"{field}: cannot write into folder {str(parent)!r} (permission denied)")
    if parent == path.parent:  # os.access says yes to root everywhere: try a probe file (/sys, read-only mounts)
        try:
            fd, probe = tempfile.mkstemp(prefix=f".{path.name[:100]}{TEMP_TAG}{os.getpid()}-probe-", dir=parent)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise DesignError(f"{field}: cannot write into folder {str(parent)!r} ({exc.strerror or exc})") from None
    return path


@contextmanager
def atomic_batch():
    """Write several outputs all or none: inside, :func:`atomic_path` renames nothing; at a normal exit
    every temp file is renamed onto its target, on an exception every temp file is removed."""
    pairs: list[tuple[str, str]] = []
    _BATCH.append(pairs)
    ok = False
    try:
        yield
        ok = True
    finally:
        _BATCH.remove(pairs)
        if ok:
            for tmp, target in pairs:
                os.replace(tmp, target)
                _LIVE.discard(tmp)
        for tmp, _ in pairs:
            _remove(tmp)


def _remove(tmp: str) -> None:
    _LIVE.discard(tmp)
    try:
        os.unlink(tmp)
    except OSError:
        pass


def remove_live_temps() -> None:
    """Remove every temp file of this process (called on SIGTERM)."""
    for tmp in list(_LIVE):
        _remove(tmp)


@contextmanager
def atomic_path(path: str | os.PathLike, field: str | None = None):
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``, else removed.

    A reader sees the old file or the new one, never half of one. The temp file is named
    ``.<name>.pimtrain-tmp-<pid>-<random><suffix>``; it is removed on every exit path (an exception,
    SIGTERM via :func:`remove_live_temps`), and one left by a killed run (SIGKILL) is removed by the next
    write to the same target. A character device (``/dev/null``) is written in place, never replaced;
    other non-regular targets and read-only files are refused (:func:`check_output_path`). The file
    gets the permissions a plain ``open(path, 'w')`` would give. Errors name ``path`` (as ``field``).
    """
    import stat

    field = field or "output"
    path = check_output_path(path, field)
    try:
        if stat.S_ISCHR(os.stat(path).st_mode):
            yield path
            return
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        clean_stale_temps(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TEMP_TAG}{os.getpid()}-", suffix=path.suffix, dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise DesignError(f"{field}: cannot write {str(path)!r}: {exc.strerror or exc}") from None
    _LIVE.add(tmp)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        if _BATCH:
            _BATCH[-1].append((tmp, str(path)))
        else:
            os.replace(tmp, path)
    except OSError as exc:
        raise DesignError(f"{field}: cannot write {str(path)!r}: {exc.strerror or exc}") from None
    finally:
        if not _BATCH or all(tmp != t for t, _ in _BATCH[-1]):
            _remove(tmp)


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
    if msg.startswith("."):  # a validator naming a sub-field of its own: 'a.b' + '.params.x: ...'
        return f"{field}{msg}"
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
        model = model_in_annotation(ann)
        if model is None:
            return []
    fields = getattr(model, "model_fields", {})
    return [k for k, f in fields.items() if not f.exclude]


def model_in_annotation(ann: Any):
    """The pydantic model inside a field annotation (``Foo | None`` → ``Foo``), else None."""
    from pydantic import BaseModel
    import typing

    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in typing.get_args(ann):
        m = model_in_annotation(arg)
        if m is not None:
            return m
    return None
