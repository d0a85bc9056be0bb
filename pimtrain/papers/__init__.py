"""Paper reproductions: one module per seed paper with ``reproduce() -> dict`` in the contract of
DESIGN.md (``{"paper", "rows": [{"quantity", "paper", "ours", "unit", "deviation", "basis", "source"}]}``).

``reproduce(name)`` runs one; ``reproduce("all")`` returns the list of all registered papers. Each result
carries ``"tolerance"``: the paper module's ``TOLERANCE`` (relative deviation a row may have and count as
reproduced), the one place the tolerance of a paper is written.
"""
from __future__ import annotations

import importlib

from pimtrain.design import PimtrainError

#: paper id -> module (relative to this package)
PAPERS = {
    "marinella2018": ".marinella2018",
    "panther2020": ".panther2020",
    "neuralpim2022": ".neuralpim2022",
    "mram2020": ".mram2020",
}


def _module(key: str):
    """The paper's module, or None while it is not written."""
    try:
        return importlib.import_module(PAPERS[key], __name__)
    except ModuleNotFoundError as exc:
        if exc.name == __name__ + PAPERS[key]:
            return None
        raise


def paper_names() -> list[str]:
    """Papers whose reproduction is available, in the order of ``PAPERS``."""
    return [k for k in PAPERS if _module(k) is not None]


def reproduce(name: str, plots: str | None = None):
    """The side-by-side table of paper ``name`` (or a list of all with ``'all'``). ``plots``: a folder
    for the paper's figures (PNG), for papers that draw any."""
    key = str(name).strip().lower()
    if key == "all":
        return [reproduce(n, plots=plots) for n in paper_names()]
    module = _module(key) if key in PAPERS else None
    if module is None:
        planned = " (not reproduced yet)" if key in PAPERS else ""
        raise PimtrainError(f"paper: {name!r}{planned} is not available; allowed: {', '.join(paper_names())}, all")
    result = None
    if plots is not None:
        import inspect

        if "plots" in inspect.signature(module.reproduce).parameters:
            result = module.reproduce(plots=plots)
    if result is None:
        result = module.reproduce()
    result.setdefault("tolerance", module.TOLERANCE)
    return result


def within(result: dict) -> list[bool]:
    """Which rows of a reproduction lie within its tolerance."""
    tol = result["tolerance"]
    return [abs(r["deviation"]) <= tol + 1e-12 for r in result["rows"]]


__all__ = ["reproduce", "paper_names", "within", "PAPERS"]
