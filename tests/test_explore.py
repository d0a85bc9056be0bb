"""pimtrain.explore: spec checks, results database, engines agree, resume after SIGKILL, search, CLI."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pimtrain.cli import app
from pimtrain.design import PimtrainError
from pimtrain.explore import ResultsDB, run_explore, run_sweep, spec_from_dict
from pimtrain.explore.db import TIMING_COLUMNS
from pimtrain.explore.engines import PoolEngine, SerialEngine

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

COST_SPEC = {
    "name": "t-cost",
    "base": "panther-sgd",
    "axes": {
        "preset": {"presets": ["panther-sgd", "isaac"]},
        "io.forward.adc_bits": [4, 8],
        "array.rows": {"range": [64, 256], "factor": 2},
    },
    "workloads": ["mlp:64-36-10", "vgg16"],
}


def write_spec(tmp_path: Path, spec: dict, name: str = "spec.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(spec, sort_keys=False))
    return p


def contents(db_path) -> list[tuple]:
    """Every row without its timing columns, sorted: what must not depend on how the sweep ran."""
    with ResultsDB(db_path, read_only=True) as db:
        rows = db.rows()
    cols = sorted(c for c in rows[0] if c not in TIMING_COLUMNS) if rows else []
    return sorted((tuple(r[c] for c in cols) for r in rows), key=repr)  # refused rows hold None figures


def cli(*args):
    r = runner.invoke(app, [str(a) for a in args])
    return r.exit_code, r.stdout, r.stderr


# ------------------------------------------------------------------------------------------------ spec
def test_grid_random_and_ranges():
    loaded = spec_from_dict(COST_SPEC)
    assert loaded.axis_labels["array.rows"] == [64, 128, 256]
    assert len(loaded.choices()) == 2 * 2 * 3
    spec = dict(COST_SPEC, axes={**COST_SPEC["axes"], "io.forward.dac_bits": {"range": [1, 8, 2]}},
                sampling={"method": "random", "samples": 7, "seed": 3})
    a, b = spec_from_dict(spec).choices(), spec_from_dict(spec).choices()
    assert a == b and len(a) == 7 and len({json.dumps(c, sort_keys=True) for c in a}) == 7
    assert spec_from_dict(spec).axis_labels["io.forward.dac_bits"] == [1, 3, 5, 7]


def test_point_keys_are_content_hashes():
    from pimtrain.explore.points import expand

    first, second = expand(spec_from_dict(COST_SPEC)), expand(spec_from_dict(COST_SPEC))
    assert [p.key for p in first] == [p.key for p in second]
    assert len({p.key for p in first}) == len(first) == 24
    other = expand(spec_from_dict(dict(COST_SPEC, batch_size=2)))
    assert not {p.key for p in other} & {p.key for p in first}


@pytest.mark.parametrize("change,needles", [
    ({"axes": {"io.forward.adc_bitz": [4]}}, ["axes.io.forward.adc_bitz", "unknown design field path"]),
    ({"axes": {"io.forward.adc_bits": [4, -2]}}, ["axes.io.forward.adc_bits", "-2", "refused"]),
    ({"axes": {"array.rows": []}}, ["axes.array.rows", "empty axis"]),
    ({"workloads": ["vgg17"]}, ["workloads", "vgg17"]),
    ({"axes": {"preset": {"presets": ["nosuch"]}}}, ["axes.preset", "nosuch"]),
    ({"colour": "red"}, ["colour", "unknown field"]),
    ({"measure": "train", "train": {"dataset": "cifar1000"}}, ["train.dataset", "cifar1000"]),
])
def test_bad_spec_is_one_line_and_writes_nothing(tmp_path, change, needles):
    spec = {**COST_SPEC, **change}
    path = write_spec(tmp_path, spec)
    db = tmp_path / "out.duckdb"
    code, out, err = cli("sweep", path, "--db", db, "--workers", 1)
    assert code == 2, (code, out, err)
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    assert not db.exists()


def test_invalid_combination_is_refused_not_fatal(tmp_path):
    spec = {"name": "comb", "base": "ideal", "workloads": ["mlp:64-36-10"],
            "axes": {"update.slicing.slices": [1, 2], "update.slicing.slice_bits": [[4], [4, 4]]}}
    s = run_sweep(spec_from_dict(spec), tmp_path / "c.duckdb", engine=SerialEngine(), progress=False)
    assert (s["done"], s["refused"], s["failed"]) == (2, 2, 0)
    with ResultsDB(tmp_path / "c.duckdb", read_only=True) as db:
        refused = db.rows("WHERE status = 'refused'")
    assert all("slice_bits" in r["reason"] and "\n" not in r["reason"] for r in refused)
    assert all(r["energy_j"] is None for r in refused)


# ------------------------------------------------------------------------------------------- database
def test_rerun_skips_and_serial_equals_pool(tmp_path):
    loaded = spec_from_dict(COST_SPEC)
    s1 = run_sweep(loaded, tmp_path / "serial.duckdb", engine=SerialEngine(), progress=False)
    assert s1["done"] == 24
    again = run_sweep(loaded, tmp_path / "serial.duckdb", engine=SerialEngine(), progress=False)
    assert again["skipped"] == 24 and again["done"] == 0
    pool = PoolEngine(2)
    try:
        run_sweep(loaded, tmp_path / "pool.duckdb", engine=pool, progress=False)
    finally:
        pool.close()
    serial_rows = contents(tmp_path / "serial.duckdb")
    assert len(serial_rows) == 24 and serial_rows == contents(tmp_path / "pool.duckdb")
    with ResultsDB(tmp_path / "pool.duckdb", read_only=True) as db:
        _, rows = db.query('SELECT "axis:preset", workload, min(energy_j), max(energy_j) FROM results '
                               'GROUP BY ALL ORDER BY ALL')
    assert len(rows) == 4 and all(r[2] > 0 for r in rows)


def test_a_row_names_its_whole_design(tmp_path):
    """``bases`` holds each base dump once; base + ``design_patch`` rebuilds the design, whose cost is the row's."""
    import pimtrain
    from pimtrain.explore.spec import with_path

    run_sweep(spec_from_dict(COST_SPEC), tmp_path / "d.duckdb", engine=SerialEngine(), progress=False)
    with ResultsDB(tmp_path / "d.duckdb", read_only=True) as db:
        row = db.rows("WHERE workload = 'vgg16' AND \"axis:preset\" = 'isaac' ORDER BY key LIMIT 1")[0]
        (base_json,) = db.con.execute("SELECT design_json FROM bases WHERE base_key = ?", [row["base_key"]]).fetchone()
        assert db.con.execute("SELECT count(*) FROM bases").fetchone()[0] == 2
    data = json.loads(base_json)
    for path, value in json.loads(row["design_patch"]).items():
        data = with_path(data, path, value)
    design = pimtrain.Design.model_validate(data)
    assert design.array.rows == row["axis:array.rows"] and design.io.forward.adc_bits == row["axis:io.forward.adc_bits"]
    # (the JSON of ``bases`` has sorted keys; the cost engine sums some parts in mapping order: last-bit rounding)
    assert pimtrain.evaluate(design, "vgg16").energy_j == pytest.approx(row["energy_j"], rel=1e-12)


def test_same_contents_on_ray(tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'pimtrain[cluster]')")
    from pimtrain.explore.engines import RayEngine

    loaded = spec_from_dict(COST_SPEC)
    run_sweep(loaded, tmp_path / "serial.duckdb", engine=SerialEngine(), progress=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        s = run_sweep(loaded, tmp_path / "ray.duckdb", engine=RayEngine(), progress=False)
    finally:
        ray.shutdown()
    assert s["engine"] == "ray" and s["done"] == 24
    assert contents(tmp_path / "ray.duckdb") == contents(tmp_path / "serial.duckdb")


def test_sigkill_at_random_moments_then_resume(tmp_path):
    """Kill the sweep driver (SIGKILL) several times mid-run; the finished database equals an uninterrupted run."""
    spec = dict(COST_SPEC, name="t-kill", workloads=["mlp:64-36-10", "mlp:784-300-10", "vgg16"],
                axes={**COST_SPEC["axes"], "io.forward.adc_bits": [1, 2, 3, 4, 5, 6, 7, 8], "io.forward.dac_bits": [1, 2, 4, 8],
                      "array.bits_per_cell": [1, 2]})
    path = write_spec(tmp_path, spec)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1")

    def cmd(db):
        return [sys.executable, "-m", "pimtrain.cli", "sweep", str(path), "--db", str(db), "--workers", "2", "--json"]

    ref = tmp_path / "ref.duckdb"
    t0 = time.monotonic()
    subprocess.run(cmd(ref), env=env, capture_output=True, timeout=300, check=True)
    whole = time.monotonic() - t0                 # one uninterrupted run, start-up included
    db = tmp_path / "killed.duckdb"
    rng = random.Random(13)
    partial = []
    wal = Path(f"{db}.wal")

    def wal_size():
        try:
            return wal.stat().st_size
        except FileNotFoundError:
            return 0

    for round_ in range(3):
        before = wal_size()
        proc = subprocess.Popen(cmd(db), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        if round_ == 2:                           # a moment drawn over the whole run, start-up included
            time.sleep(rng.uniform(0.05, 1.0) * whole)
        else:                                     # just after this run starts committing rows (its WAL grows)
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline and wal_size() < before + 30_000:
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, 0.1))
        proc.send_signal(signal.SIGKILL)          # the driver only: its workers are orphaned, as in real life
        proc.wait()
        try:
            os.killpg(proc.pid, signal.SIGKILL)   # then clear the orphans of this test
        except ProcessLookupError:
            pass
        if db.exists():
            with ResultsDB(db, read_only=True) as handle:
                partial.append(handle.query("SELECT count(*), count(DISTINCT key) FROM results")[1][0])
    done = subprocess.run(cmd(db), check=False, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["failed"] == 0
    assert all(n == d for n, d in partial), partial                   # never a duplicate, even mid-run
    assert contents(db) == contents(ref)
    total = len(contents(ref))
    assert total == 2 * 8 * 3 * 4 * 2 * 3
    assert summary["skipped"] + summary["done"] + summary["refused"] == total
    assert any(0 < n < total for n, _ in partial), partial           # kills landed mid-sweep


# ---------------------------------------------------------------------------------------------- search
EXPLORE_SPEC = {
    "name": "t-explore", "base": "panther-sgd", "workloads": ["mlp:256-128-10"],
    "axes": {"io.forward.adc_bits": [2, 4, 6, 8], "array.rows": [64, 128, 256], "io.forward.dac_bits": [1, 2, 4]},
    "explore": {"objectives": [{"name": "energy_j", "direction": "minimize"},
                               {"name": "latency_s", "direction": "minimize"}],
                "trials": 12, "population": 4, "seed": 1},
}


def test_explore_is_seeded_resumable_and_reports_the_front(tmp_path):
    a = run_explore(spec_from_dict(EXPLORE_SPEC), tmp_path / "a.duckdb", engine=SerialEngine(), progress=False)
    pool = PoolEngine(2)
    try:
        b = run_explore(spec_from_dict(EXPLORE_SPEC), tmp_path / "b.duckdb", engine=pool, progress=False)
    finally:
        pool.close()
    assert a["trials"] == 12 and a["pareto"]
    assert [r["key"] for r in a["pareto"]] == [r["key"] for r in b["pareto"]]
    assert (tmp_path / "a.duckdb.optuna.log").exists()
    with ResultsDB(tmp_path / "a.duckdb", read_only=True) as db:
        rows = db.rows("WHERE status = 'ok'")
    from pimtrain.explore.plots import pareto

    front = {r["key"] for r in pareto(rows, [("energy_j", "minimize"), ("latency_s", "minimize")])}
    assert {r["key"] for r in a["pareto"]} == front
    more = run_explore(spec_from_dict(EXPLORE_SPEC), tmp_path / "a.duckdb", engine=SerialEngine(), progress=False,
                       trials=16)
    assert more["trials"] == 16


def test_explore_objective_needs_its_measure():
    with pytest.raises(PimtrainError, match="test_accuracy needs measure"):
        spec_from_dict({**EXPLORE_SPEC, "explore": {"objectives": [{"name": "test_accuracy", "direction": "maximize"}]}}
                       ).check_explore()


# ------------------------------------------------------------------------------------------ CLI, plots
def test_cli_sweep_results_and_plots(tmp_path):
    path = write_spec(tmp_path, COST_SPEC)
    db = tmp_path / "r.duckdb"
    code, out, err = cli("sweep", path, "--db", db, "--workers", 1, "--json", "--plots", tmp_path / "figs",
                         "--color-by", "preset")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["done"] == 24 and len(summary["plots"]) == 1 + 3
    assert all(Path(p).stat().st_size > 5000 and Path(p).read_bytes()[:4] == b"\x89PNG" for p in summary["plots"])
    code, out, err = cli("results", db, "--json", "--query", "SELECT workload, count(*) AS n FROM results GROUP BY 1 ORDER BY 1")
    assert code == 0 and json.loads(out) == [{"workload": "mlp:64-36-10", "n": 12}, {"workload": "vgg16", "n": 12}]
    code, out, _ = cli("results", db, "--csv")
    assert code == 0 and len(out.strip().splitlines()) == 25 and "axis:io.forward.adc_bits" in out.splitlines()[0]
    code, _, err = cli("results", db, "--parquet", tmp_path / "r.parquet")
    assert code == 0 and (tmp_path / "r.parquet").read_bytes()[:4] == b"PAR1"
    code, out, err = cli("results", db, "--query", "SELECT nosuchcolumn FROM results")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--query" in err
    code, out, err = cli("results", tmp_path / "none.duckdb")
    assert code == 2 and "not found" in err


@pytest.mark.slow
def test_training_points_same_serially_and_in_a_pool(tmp_path):
    """measure: both — accuracy and cost columns filled; the numbers do not depend on the engine."""
    spec = {"name": "t-train", "base": "ideal", "measure": "both",
            "train": {"dataset": "digits", "model": "mlp:64-16-10", "epochs": 1, "seed": 0, "lr": 0.1, "batch_size": 8},
            "axes": {"io.forward.adc_bits": [4, 8]}}
    run_sweep(spec_from_dict(spec), tmp_path / "s.duckdb", engine=SerialEngine(), progress=False)
    pool = PoolEngine(2)
    try:
        run_sweep(spec_from_dict(spec), tmp_path / "p.duckdb", engine=pool, progress=False)
    finally:
        pool.close()
    assert contents(tmp_path / "s.duckdb") == contents(tmp_path / "p.duckdb")
    with ResultsDB(tmp_path / "s.duckdb", read_only=True) as db:
        rows = db.rows()
    assert all(r["status"] == "ok" and 0.1 < r["test_accuracy"] <= 1 and r["energy_j"] > 0 for r in rows)
    assert all(r["energy_per_epoch_j"] == pytest.approx(r["energy_j"] * 478) for r in rows)   # ceil(3823 / 8) steps


@pytest.mark.slow
def test_bench_sweep_reports_rates():
    from pimtrain.explore.bench import bench_sweep

    cases = bench_sweep(points=40, progress=False)
    assert [c["processes"] for c in cases] == [1, 1, 2]
    assert all(c["done"] == 40 and c["points_per_s_per_core"] > 0 and c["reference_seconds"] > 0 for c in cases)
    assert cases[-1]["speedup_vs_1_process"] > 0


def test_example_specs_load():
    from pimtrain.explore import load_spec
    from pimtrain.explore.points import expand

    sweep = load_spec(ROOT / "examples" / "sweep_vgg16" / "sweep.yaml")
    points = expand(sweep)
    assert len(points) >= 500 and not any(p.refused for p in points)
    assert sweep.spec.workloads == ["vgg16"] and len(sweep.preset_bases["preset"]) == 2
    search = load_spec(ROOT / "examples" / "explore_digits" / "explore.yaml")
    ex = search.check_explore()
    assert [o.name for o in ex.objectives] == ["test_accuracy", "energy_j"] and search.spec.measure == "both"
    assert set(search.axis_labels) == {"io.forward.adc_bits", "update.slicing.slices", "update.slicing.carry_interval"}


def test_a_dead_worker_is_one_line_and_keeps_what_arrived(tmp_path):
    """A pool worker killed mid-sweep (out of memory, say) ends the sweep with one PimtrainError line."""
    import threading

    spec = {"name": "t-dead", "base": "ideal", "measure": "train",
            "train": {"dataset": "digits", "model": "mlp:64-16-10", "epochs": 3, "seed": 0, "lr": 0.1, "batch_size": 1},
            "axes": {"io.forward.adc_bits": [4, 6, 8]}}
    pool = PoolEngine(1)

    def kill_worker():
        deadline = time.monotonic() + 60
        while not pool.pool._processes and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)
        for pid in list(pool.pool._processes):
            os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_worker)
    killer.start()
    try:
        with pytest.raises(PimtrainError, match="worker process died"):
            run_sweep(spec_from_dict(spec), tmp_path / "dead.duckdb", engine=pool, progress=False)
    finally:
        killer.join()
        pool.close()
    with ResultsDB(tmp_path / "dead.duckdb", read_only=True) as db:
        assert db.query("SELECT count(*) FROM results WHERE status <> 'ok'")[1][0][0] == 0


def test_axis_of_another_type_in_an_existing_database_is_one_line(tmp_path):
    db = tmp_path / "typed.duckdb"
    first = {"name": "typed", "base": "isaac", "workloads": ["mlp:64-36-10"], "axes": {"device.read_noise": [0, 1]}}
    assert cli("sweep", write_spec(tmp_path, first, "a.yaml"), "--db", db, "--workers", 1)[0] == 0
    again = dict(first, axes={"device.read_noise": [0.01]}, name="typed2")  # DOUBLE values, BIGINT column
    code, out, err = cli("sweep", write_spec(tmp_path, again, "b.yaml"), "--db", db, "--workers", 1)
    assert code == 2, (code, out, err)
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "axes.device.read_noise" in lines[0] and "BIGINT" in lines[0], err
