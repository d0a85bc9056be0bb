"""Where the project's shared data lives (datasets and measured lookup tables).

Order: the ``PIMTRAIN_DATA`` environment variable; ``../shared/data`` beside the repository that holds
this package; ``../shared/data`` beside the current directory. Data is read from there, never copied.
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import PimtrainError


def shared_data_dir() -> Path | None:
    """The shared data folder, or None when it is not present (a user's fresh clone)."""
    candidates = []
    if os.environ.get("PIMTRAIN_DATA"):
        candidates.append(Path(os.environ["PIMTRAIN_DATA"]))
    here = Path(__file__).resolve()
    candidates.append(here.parents[3] / "shared" / "data")
    candidates.append(Path.cwd().resolve().parent / "shared" / "data")
    candidates.append(Path.cwd().resolve() / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c
    return None


def resolve_data_path(text: str, relative_to: str | os.PathLike | None = None, field: str = "path") -> Path:
    """Resolve ``shared:sub/path``, an absolute path, or a path relative to a design file / the cwd."""
    if text.startswith("shared:"):
        root = shared_data_dir()
        if root is None:
            raise PimtrainError(
                f"{field}: {text!r} needs the shared data folder, which was not found; "
                "set PIMTRAIN_DATA to the folder that holds crosssim/"
            )
        path = root / text[len("shared:"):]
    else:
        path = Path(text)
        if not path.is_absolute():
            base = Path(relative_to).parent if relative_to else None
            if base is not None and (base / path).exists():
                path = base / path
    if not path.exists():
        raise PimtrainError(f"{field}: {text!r} not found (looked at {path})")
    return path
