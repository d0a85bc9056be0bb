"""Multi-objective co-design search with optuna (NSGA-II by default) over a spec's axes.

Each trial picks one value per axis, becomes a :class:`~pimtrain.explore.points.Point` (same content key
as in a sweep) and runs on the same engines; its row goes to the same results database, so a point that
a sweep or an earlier search already measured is read back, not run again. Trials are asked and told in
generations of ``explore.population`` and told in trial order, so the search does not depend on how many
workers ran it. optuna's own storage is a journal file beside the database (``<db>.optuna.log``): a
search that is stopped resumes where it was, up to its budget.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from .db import ResultsDB
from .points import bases_rows, make_point, settings_of, workloads_of
from .spec import LoadedSpec
from .sweep import Tally, axis_types, default_db, progress_bar


def _encode(v):
    return v if v is None or isinstance(v, (bool, int, float, str)) else json.dumps(v)


def _sampler(ex):
    import optuna

    if ex.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=ex.population, seed=ex.seed)
    if ex.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=ex.seed)
    return optuna.samplers.RandomSampler(seed=ex.seed)


def open_study(loaded: LoadedSpec, db_path: Path):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    ex = loaded.check_explore()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(db_path) + ".optuna.log"))
    return optuna.create_study(study_name=loaded.spec.name, storage=storage, sampler=_sampler(ex),
                               directions=[o.direction for o in ex.objectives], load_if_exists=True)


def run_explore(loaded: LoadedSpec, db_path: str | Path | None = None, workers: int | None = None,
                cluster: str | None = None, progress: bool = True, trials: int | None = None,
                seconds: float | None = None, engine=None) -> dict:
    """Run the search to its budget (``trials`` finished trials in the study, or ``seconds`` of this run);
    returns the summary with the Pareto front (one mapping per point: axis values, objectives, key)."""
    from optuna.trial import TrialState

    from .engines import make_engine

    ex = loaded.check_explore()
    trials = trials if trials is not None else (ex.trials if seconds is None else None)
    seconds = seconds if seconds is not None else ex.seconds
    objectives = [(o.name, o.direction) for o in ex.objectives]
    db_path = Path(db_path) if db_path else default_db(loaded)
    settings, workload = settings_of(loaded), workloads_of(loaded)[0]
    enc = {a: {_encode(v): v for v in labels} for a, labels in loaded.axis_labels.items()}
    t0 = time.perf_counter()
    tally = Tally(objectives[0][0], objectives[0][1] == "maximize")
    own = engine is None
    engine = engine or make_engine(workers, cluster)   # before the database: a bad --cluster writes nothing
    with ResultsDB(db_path) as db:
        db.ensure_axes(axis_types(loaded))
        db.add_bases(bases_rows(loaded))
        study = open_study(loaded, db_path)
        finished = lambda: sum(t.state in (TrialState.COMPLETE, TrialState.FAIL) for t in study.trials)
        total = trials if trials is not None else 0
        try:
            with progress_bar(total or None, f"explore {loaded.spec.name}", progress) as advance:
                while True:
                    left = (trials - finished()) if trials is not None else ex.population
                    if left <= 0 or (seconds is not None and time.perf_counter() - t0 >= seconds):
                        break
                    batch = [study.ask() for _ in range(min(ex.population, left))]
                    points = []
                    for tr in batch:
                        choice = {a: enc[a][tr.suggest_categorical(a, list(enc[a]))] for a in loaded.axis_labels}
                        p = make_point(loaded, choice, workload, settings)
                        tr.set_user_attr("key", p.key)
                        points.append(p)
                    _measure(points, db, engine, loaded.spec.name, tally, advance,
                             loaded.spec.train.threads if loaded.spec.train else 1)
                    for tr, p in zip(batch, points):
                        row = db.rows("WHERE key = ?", [p.key])[0]
                        vals = [row.get(c) for c, _ in objectives]
                        if row["status"] == "ok" and all(v is not None for v in vals):
                            study.tell(tr, [float(v) for v in vals])
                        else:
                            study.tell(tr, state=TrialState.FAIL)
        finally:
            if own:
                engine.close()
        front_rows, seen = [], set()
        for t in study.best_trials:
            key = t.user_attrs.get("key")
            rows = db.rows("WHERE key = ?", [key]) if key not in seen else []
            seen.add(key)
            if rows:
                front_rows.append(rows[0])
    front = [{**{a: r.get(f"axis:{a}") for a in loaded.axis_labels}, **{c: r.get(c) for c, _ in objectives},
              "design": r.get("design"), "key": r["key"]} for r in front_rows]
    front.sort(key=lambda r: tuple(r[c] if r[c] is not None else 0 for c, _ in objectives))
    summary = tally.summary()
    first, direction = objectives[0]
    values = [r[first] for r in front if r[first] is not None]
    if values:                                   # best over the whole study, not only this run
        summary["best"] = {first: max(values) if direction == "maximize" else min(values)}
    return {"study": loaded.spec.name, "db": str(db_path), "sampler": ex.sampler, "objectives": dict(objectives),
            "trials": finished(), **summary, "pareto": front, "seconds": time.perf_counter() - t0}


def _measure(points, db: ResultsDB, engine, sweep: str, tally: Tally, advance, threads: int) -> None:
    """Run the points of a generation not yet in the database (each key once) and write them."""
    from .sweep import run_points

    done = db.done_keys()
    todo, seen = [], set()
    for p in points:
        if p.key in done or p.key in seen:
            advance(1, tally.text())
            continue
        seen.add(p.key)
        todo.append(p)
    db.drop_failed(p.key for p in todo)
    run_points(todo, db, engine, sweep, tally, advance, threads=threads)


__all__ = ["open_study", "run_explore"]
