"""Paper reproductions: one module per seed paper with ``reproduce() -> dict`` in the contract of
DESIGN.md (``{"paper", "rows": [{"quantity", "paper", "ours", "unit", "deviation", "basis", "source"}]}``).

``reproduce(name)`` runs one; ``reproduce("all")`` returns the list of all registered papers.
"""
from __future__ import annotations

import importlib

from pimtrain.design import PimtrainError

#: paper id -> module (relative to this package). Other helpers add theirs here.
PAPERS = {"marinella2018": ".marinella2018"}


#: seed papers whose modules are still to be written (see the project's issues)
PLANNED = ("panther2020", "mram2020", "neuralpim2022")


def paper_names() -> list[str]:
    return sorted(PAPERS)


def reproduce(name: str):
    """The side-by-side table of paper ``name`` (or a list of all with ``'all'``)."""
    key = str(name).strip().lower()
    if key == "all":
        return [reproduce(n) for n in paper_names()]
    if key not in PAPERS:
        planned = " (not reproduced yet)" if key in PLANNED else ""
        raise PimtrainError(f"paper: {name!r}{planned} is not available; allowed: {', '.join(paper_names())}, all")
    return importlib.import_module(PAPERS[key], __name__).reproduce()


__all__ = ["reproduce", "paper_names", "PAPERS"]
