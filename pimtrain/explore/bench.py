"""``pimtrain bench sweep``: how fast the sweep machinery turns cost-only VGG-16 points into rows.

The reference, measured in the same run, is a plain serial loop over the same points (validate the
design, ``pimtrain.evaluate`` it, keep the figures in a list). The sweep cases run the same points
through :func:`~pimtrain.explore.sweep.run_sweep` into a fresh DuckDB file each: in this process, then
in a process pool of 1 and of 2 workers. Their time is wall time of the whole sweep (expanding and
validating the points, starting the pool, writing the database). Target of issue 13: at least 100
points per second per core, and near-linear gain from 1 to 2 processes.

On a shared machine wall time depends on the other load, so each case also reports CPU time: the
driver's (``time.process_time``) plus the workers' (measured per point, ``cpu_seconds`` in the database)
and ``points_per_cpu_second``; the plain loop's CPU time is measured the same way.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

TARGET_POINTS_PER_S_PER_CORE = 100.0


def bench_spec(points: int) -> dict:
    """Up to ``points`` points drawn (seeded) from ADC bits × DAC bits × array rows × bits per cell × 2 presets."""
    return {"name": "bench-sweep", "base": "isaac", "workloads": ["vgg16"], "measure": "cost",
            "axes": {"preset": {"presets": ["isaac", "cascade"]},
                     "io.forward.adc_bits": {"range": [1, 12]},
                     "io.forward.dac_bits": {"range": [1, 8]},
                     "array.rows": {"range": [64, 1024], "factor": 2},
                     "array.bits_per_cell": [1, 2, 4]},
            "sampling": {"method": "random", "samples": points, "seed": 0}}


def _plain_loop(loaded) -> tuple[float, float]:
    import pimtrain
    from pimtrain.design import Design

    from .points import expand

    tasks = [p.task() for p in expand(loaded)]
    t0, c0 = time.perf_counter(), time.process_time()
    out = []
    for t in tasks:
        try:
            rep = pimtrain.evaluate(Design.model_validate(t["design"]), t["workload"], batch_size=1)
            out.append((rep.energy_j, rep.latency_s, rep.area_m2))
        except (pimtrain.PimtrainError, ValueError):  # a refused point (pydantic's ValidationError is a ValueError)
            out.append(None)
    return time.perf_counter() - t0, time.process_time() - c0


def bench_sweep(points: int = 400, progress: bool = True) -> list[dict]:
    from .db import ResultsDB
    from .engines import PoolEngine, SerialEngine
    from .spec import spec_from_dict
    from .sweep import run_sweep

    loaded = spec_from_dict(bench_spec(points), where="bench")
    n = len(loaded.choices())
    import pimtrain

    pimtrain.evaluate(pimtrain.load_design("panther-sgd"), "vgg16")      # warm-up: imports and caches
    ref, ref_cpu = _plain_loop(loaded)
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, make, cores in (("in this process", SerialEngine, 1), ("pool of 1 process", lambda: PoolEngine(1), 1),
                                   ("pool of 2 processes", lambda: PoolEngine(2), 2)):
            engine = make()
            db = Path(tmp) / f"{cores}-{engine.name}.duckdb"
            try:
                s = run_sweep(loaded, db, engine=engine, progress=progress)
            finally:
                engine.close()
            rate = n / s["seconds"] / cores
            cpu = s["driver_cpu_seconds"]
            if engine.name != "serial":           # the workers' CPU time, as they measured it per point
                with ResultsDB(db, read_only=True) as handle:
                    cpu += handle.query("SELECT sum(cpu_seconds) FROM results")[1][0][0] or 0.0
            cases.append({
                "name": f"sweep of {n} cost-only VGG-16 points, {label}",
                "seconds": s["seconds"], "reference_seconds": ref, "ratio": s["seconds"] / ref,
                "points": n, "processes": cores, "points_per_s_per_core": rate,
                "cpu_seconds": cpu, "points_per_cpu_second": n / cpu, "driver_cpu_seconds": s["driver_cpu_seconds"],
                "reference_points_per_s": n / ref, "reference_points_per_cpu_second": n / ref_cpu,
                "target_points_per_s_per_core": TARGET_POINTS_PER_S_PER_CORE,
                "done": s["done"], "refused": s["refused"], "failed": s["failed"],
                "unit": "seconds per sweep (wall, including validation, pool start and database writes)",
                "reference": "plain serial loop: validate + pimtrain.evaluate per point, same points, same run",
            })
    one = next(c for c in cases if c["name"].endswith("pool of 1 process"))
    two = next(c for c in cases if c["name"].endswith("pool of 2 processes"))
    two["speedup_vs_1_process"] = one["seconds"] / two["seconds"]
    return cases


__all__ = ["TARGET_POINTS_PER_S_PER_CORE", "bench_spec", "bench_sweep"]
