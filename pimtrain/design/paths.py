"""Where data files live: the measured data shipped in the package, and the optional shared data folder.

Path schemes in a design (``device.lookup.paths``):

* ``package:devices/taox_1`` — a file shipped in ``pimtrain/data`` (``.npz`` added when missing);
* ``shared:crosssim/TaOx_all/1`` — the raw file or folder in the shared data folder. When that folder is
  absent, the ``shared:`` names of the data that ships in the package (:data:`PACKAGED`) are read from
  the package instead, so a fresh clone gives the same device;
* any other text: an absolute path, or a path relative to the design file, then to the current directory.

The shared data folder: the ``PIMTRAIN_DATA`` environment variable when set (and then only it: set it to
a folder that does not exist to hide ``../shared/data``, as the tests do), else ``../shared/data``
beside the repository that holds this package or beside the current directory.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from .errors import PimtrainError

DATA_PACKAGE = "pimtrain.data"
#: shared-folder names of the raw data whose derived form ships in ``pimtrain/data``
PACKAGED = {f"crosssim/TaOx_all/{n}": f"devices/taox_{n}.npz" for n in range(1, 9)}
PACKAGED["crosssim/ENODe"] = "devices/enode.npz"
PACKAGED["crosssim/small_digits"] = "digits.npz"


def shared_data_dir() -> Path | None:
    """The shared data folder, or None when it is not present (a user's fresh clone)."""
    env = os.environ.get("PIMTRAIN_DATA")
    if env:
        p = Path(env)
        return p if p.is_dir() else None
    here = Path(__file__).resolve()
    for c in (here.parents[3] / "shared" / "data", Path.cwd().resolve().parent / "shared" / "data",
              Path.cwd().resolve() / "shared" / "data"):
        if c.is_dir():
            return c
    return None


def package_data_file(name: str) -> Path:
    """A file shipped in ``pimtrain/data`` (``name`` relative to it)."""
    return Path(str(resources.files(DATA_PACKAGE).joinpath(name)))


def _package_path(text: str, field: str) -> Path:
    name = text.strip("/")
    if ".." in Path(name).parts:
        raise PimtrainError(f"{field}: {text!r} must name a file inside pimtrain/data (no '..')")
    path = package_data_file(name)
    if not path.exists() and not name.endswith(".npz"):
        path = package_data_file(name + ".npz")
    if not path.exists():
        shipped = ", ".join(sorted("package:" + v.removesuffix(".npz") for v in PACKAGED.values() if v.startswith("devices/")))
        raise PimtrainError(f"{field}: 'package:{text}' is not shipped; allowed: {shipped}")
    return path


def resolve_data_path(text: str, relative_to: str | os.PathLike | None = None, field: str = "path") -> Path:
    """Resolve ``package:name``, ``shared:sub/path``, an absolute path, or a path relative to a design
    file / the cwd (see the module docstring)."""
    if text.startswith("package:"):
        return _package_path(text[len("package:"):], field)
    if text.startswith("shared:"):
        sub = text[len("shared:"):].strip("/")
        root = shared_data_dir()
        if root is None or not (root / sub).exists():
            if sub in PACKAGED:
                return package_data_file(PACKAGED[sub])
            raise PimtrainError(
                f"{field}: {text!r} needs the shared data folder (the folder holding crosssim/ from "
                "sandialabs/cross-sim-data), which was not found; set PIMTRAIN_DATA to it"
            )
        path = root / sub
    else:
        path = Path(text)
        if not path.is_absolute():
            base = Path(relative_to).parent if relative_to else None
            if base is not None and (base / path).exists():
                path = base / path
    if not path.exists():
        raise PimtrainError(f"{field}: {text!r} not found (looked at {path})")
    return path
