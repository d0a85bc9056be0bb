"""Design-space exploration: sweeps and co-design search over design fields (see README.md here).

Public API::

    from pimtrain.explore import load_spec, run_sweep, run_explore, ResultsDB
    loaded = load_spec("sweep.yaml")              # checked at load: paths, values, workloads
    run_sweep(loaded, "results.duckdb", workers=2)  # or cluster="auto" (Ray)
    run_explore(loaded, "results.duckdb", trials=40)

Built on the public API only (``pimtrain.evaluate``, ``pimtrain.nn.train``, ``pimtrain.load_design``,
``pimtrain.workloads``). DuckDB and optuna are imported when used; Ray only by ``RayEngine``.
"""
from __future__ import annotations

from .db import ResultsDB
from .search import run_explore
from .spec import LoadedSpec, load_spec, spec_from_dict
from .sweep import run_sweep

__all__ = ["LoadedSpec", "ResultsDB", "load_spec", "run_explore", "run_sweep", "spec_from_dict"]
