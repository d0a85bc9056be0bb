"""Output files of a CLI run: checked before any work, written atomically and all-or-none, temp files
removed on SIGTERM. The file-level mechanics (temp names, stale clean-up, non-regular targets) are
:func:`pimtrain.design.io.atomic_path`; this module adds the signal handler and the pre-checks of a
command's several targets.
"""
from __future__ import annotations

import os
import signal
import tempfile
import threading
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from pimtrain.design.errors import PimtrainError
from pimtrain.design.io import atomic_batch, check_output_path, remove_live_temps

__all__ = ["atomic_batch", "check_finite_figures", "check_output_folder", "check_outputs", "cleanup_on_signals", "emit_result"]

_SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None)


@contextmanager
def cleanup_on_signals():
    """While inside, SIGTERM / SIGHUP remove this process's temp files, then end it as the signal would."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def handler(signum, frame):
        remove_live_temps()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    for sig in _SIGNALS:
        try:
            previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):  # pragma: no cover - not the main thread / not allowed
            pass
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def check_outputs(**targets: str | None) -> None:
    """Check every given output target (``field=path``) before a command starts; two targets must differ."""
    seen: dict[str, str] = {}
    for field, path in targets.items():
        if not path:
            continue
        flag = "--" + field.replace("_", "-")
        check_output_path(path, flag)
        key = os.path.realpath(path)
        if key in seen and not key.startswith("/dev/"):
            raise PimtrainError(f"{flag}: {path!r} is also given to {seen[key]}; give two different files")
        seen[key] = flag


def check_output_folder(path: str | None, field: str = "--plots") -> None:
    """A folder for several output files: it may not exist yet, but may not be a file or unwritable."""
    if not path:
        return
    p = Path(path)
    if not str(path).strip():
        raise PimtrainError(f"{field}: empty path; give a folder")
    if p.exists() and not p.is_dir():
        raise PimtrainError(f"{field}: {path!r} is a file; give a folder")
    parent = p
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise PimtrainError(f"{field}: {path!r} lies under a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PimtrainError(f"{field}: cannot write into folder {str(parent)!r} (permission denied)")
    try:  # os.access says yes to root everywhere: a probe file tells (/sys, read-only mounts)
        fd, probe = tempfile.mkstemp(prefix=".pimtrain-probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise PimtrainError(f"{field}: cannot write into folder {str(parent)!r} ({exc.strerror or exc})") from None
    if len(p.name) > 200:
        raise PimtrainError(f"{field}: folder name too long ({len(p.name)} characters)")


# ------------------------------------------------------------------------------------------ results
def emit_result(data, as_json: bool, output: str | None, render: Callable[[], None]) -> None:
    """Write ``data`` to ``output`` (atomically) if given; print it as JSON, or ``render()`` a table."""
    from pimtrain.report import emit_json

    check_finite_figures(data)
    if output:
        emit_json(data, output)
    if as_json:
        emit_json(data)
    else:
        render()


def check_finite_figures(data, where: str = "result") -> None:
    """A result must hold finite, non-negative figures: a NaN, inf or negative energy, latency, area or
    power comes from a design value out of physical range, so it is reported instead of printed."""
    import math

    def walk(obj, path):
        if isinstance(obj, dict):
            if obj.get("area_m2") == 0 and (obj.get("energy_j") or 0) > 0:
                raise PimtrainError(f"{path.lstrip('.') or where}: zero area with non-zero energy; a component "
                                    "count or size in the design is zero (count: 0 needs no energy either)")
            for k, v in obj.items():
                walk(v, f"{path}.{k}")
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                walk(v, f"{path}.{i}")
        elif isinstance(obj, float) and not isinstance(obj, bool):
            key = path.rsplit(".", 1)[-1]
            if not math.isfinite(obj):
                raise PimtrainError(f"{path.lstrip('.')}: computed figure is {obj}; a design value is out of its "
                                    "physical range (check the design's numbers: infinite or huge voltages, times, counts)")
            if obj < 0 and key.endswith(("_j", "_s", "_m2", "_w", "energy", "latency", "area", "power")):
                raise PimtrainError(f"{path.lstrip('.')}: computed figure is negative ({obj:g}); a design value is "
                                    "out of its physical range")

    walk(data, "")
