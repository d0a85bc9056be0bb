"""Seeded fuzzer over every preset and the CLI arguments: no traceback, no hang, no nonsense with exit 0.

Each case mutates one preset (values replaced by inf / nan / negative / huge numbers, wrong types,
strings with units; keys deleted or added) or the command line, runs the CLI in-process (typer's
CliRunner) and requires one of:

* exit 0, and every figure of the JSON result finite and non-negative, and no zero area with energy;
* exit 2 (bad input) or 3 (training diverged) with exactly ONE line on stderr, ``error: ...``.

No case may print a traceback or take 10 s. The quick subset (``QUICK`` cases) runs by default; the
full set (``FULL`` cases, the same generator) is marked slow.
"""
from __future__ import annotations

import copy
import json
import math
import random
import signal
import time

import pytest
import yaml
from typer.testing import CliRunner

from pimtrain.cli import app
from pimtrain.design import preset_names
from pimtrain.design.io import preset_path

#: a case over CASE_SECONDS counts as a hang: one digits epoch under the Neural-PIM dataflow (trained NN peripherals
#: on every read) takes 11 s alone and 23 s on the loaded 2-core machine, so the bound is 60 s
QUICK, FULL, SEED, CASE_SECONDS = 100, 1000, 20261202, 60.0
WORKLOADS = ["mlp:64-36-10", "mlp:8-4"]
BAD_VALUES = [float("inf"), float("-inf"), float("nan"), -1, -1e-9, 0, 1e300, 1e-300, 10**12, 2**64, "abc",
              "1 pJ", "1,5 V", "√2 V", "pJ", "inf V", None, [], {}, True, [1, 2], {"value": 1}, "", "x" * 300]


def _presets():
    return {name: yaml.safe_load(preset_path(name).read_text()) for name in preset_names()}


PRESETS = _presets()


def _leaves(node, path=()):
    if isinstance(node, dict):
        if not node:
            yield path
        for k, v in node.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, (*path, i))
    else:
        yield path


def _set(node, path, value, delete=False):
    for k in path[:-1]:
        node = node[k]
    if delete:
        del node[path[-1]]
    elif isinstance(node, dict) and value == "__add__":
        node["bogus_field"] = 1
    else:
        node[path[-1]] = value


def _mutated_design(rng: random.Random):
    name = rng.choice(sorted(PRESETS))
    data = copy.deepcopy(PRESETS[name])
    leaves = list(_leaves(data))
    for _ in range(rng.choice([1, 1, 2, 3])):
        path = rng.choice(leaves)
        if not path:
            continue
        action = rng.random()
        try:
            if action < 0.1:
                _set(data, path, None, delete=True)
            elif action < 0.15:
                _set(data, path[:-1] + ("x",), "__add__")
            else:
                _set(data, path, rng.choice(BAD_VALUES))
        except (KeyError, IndexError, TypeError):
            continue
        leaves = list(_leaves(data))
    return name, data


def _case(i: int, tmp_path):
    """Command line of case ``i`` (deterministic in i)."""
    rng = random.Random(SEED * 7919 + i)
    kind = rng.random()
    if kind < 0.8:  # a mutated design, costed
        _name, data = _mutated_design(rng)
        path = tmp_path / f"case{i}.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True))
        if rng.random() < 0.04:  # a few are trained (1 epoch, large batches: fast)
            return ["train", "-d", str(path), "--epochs", "1", "--batch-size", "512", "--json"]
        return ["cost", "-d", str(path), "-w", rng.choice(WORKLOADS), "--json"]
    # CLI arguments
    options = {
        "--seed": ["-1", str(2**32), str(2**64), "abc", "0", "4294967295"],
        "--lr": ["inf", "nan", "-1", "0", "1e4", "1e-30", "x"],
        "--batch-size": ["0", "-3", "1e3", "4096"],
        "--epochs": ["0", "-1", "abc"],
        "--output": [str(tmp_path), str(tmp_path / "f.json" / "x"), "/sys/x.json", "", "x" * 300, "/dev/null"],
        "--dataset": ["cifar", "", "digits-sklearn"],
    }
    opt = rng.choice(sorted(options))
    args = ["train", "-d", rng.choice(["ideal", "nonexistent-preset", "marinella2018-analog"]), "--epochs", "1",
            "--batch-size", "512", "--json", opt, rng.choice(options[opt])]
    if opt == "--output":
        (tmp_path / "f.json").write_text("{}")
    if rng.random() < 0.15:
        return rng.choice([
            ["reproduce", "bogus", "--json"], ["reproduce", "marinella2018", "--plots", str(tmp_path / "f.json"), "--json"],
            ["reproduce", "marinella2018", "--json", "--output", str(tmp_path)], ["compare", "--designs", "ideal", "-w", "mlp:8-4"],
            ["compare", "--designs", "ideal,,x.yaml", "-w", "mlp:8-4", "--json"], ["designs", "--json"],
            ["cost", "-d", "ideal", "-w", "mlp:8-4", "--batch-size", "0", "--json"], ["bench", "cost", "--repeats", "-1"],
            ["train", "-d", "ideal", "--threads", "0"], ["demo", "--epochs", "0"], ["demo", "--plot", str(tmp_path)],
        ])
    if rng.random() < 0.3:
        args = ["cost", "-d", rng.choice(["ideal", "isaac", "x.yaml"]), "-w",
                rng.choice(["mlp:64-0-10", "mlp:", "vgg16", "resnet999", "mlp:99999999999-2"]), "--json"]
    return args


def _figures(obj, path=""):
    if isinstance(obj, dict):
        if obj.get("area_m2") == 0 and (obj.get("energy_j") or 0) > 0:
            yield path, "zero area with energy"
        for k, v in obj.items():
            yield from _figures(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _figures(v, f"{path}.{i}")
    elif isinstance(obj, float) and (
            not math.isfinite(obj) or (obj < 0 and path.rsplit(".", 1)[-1].endswith(("_j", "_s", "_m2", "_w")))):
        yield path, obj


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def run_case(i: int, tmp_path) -> str | None:
    """None when case ``i`` behaves; else what went wrong."""
    args = _case(i, tmp_path)
    runner = CliRunner()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
    start = time.perf_counter()
    try:
        res = runner.invoke(app, args)
    except _Timeout:
        return f"case {i} {args}: took more than {CASE_SECONDS} s"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    seconds = time.perf_counter() - start
    if seconds > CASE_SECONDS:
        return f"case {i} {args}: took {seconds:.1f} s"
    out, err = res.stdout, res.stderr
    if "Traceback" in out + err or (res.exception is not None and not isinstance(res.exception, SystemExit)):
        return f"case {i} {args}: traceback / exception {res.exception!r}: {err[-300:]}"
    if res.exit_code == 0:
        try:
            data = json.loads(out)
        except json.JSONDecodeError:
            return f"case {i} {args}: exit 0 without a JSON result: {out[:200]!r}"
        bad = list(_figures(data))
        if bad:
            return f"case {i} {args}: exit 0 with bad figures {bad[:3]}"
        return None
    if res.exit_code not in (2, 3):
        return f"case {i} {args}: exit {res.exit_code}: {err.strip()[-300:]}"
    lines = err.splitlines()
    if len(lines) != 1 or not lines[0].startswith("error: "):
        return f"case {i} {args}: exit {res.exit_code} with {len(lines)} lines on stderr: {err[:300]!r}"
    return None


def _warm_up(tmp_path):
    """Imports and dataset caches once, so that the 10 s limit times the cases, not the first import."""
    CliRunner().invoke(app, ["train", "-d", "ideal", "--epochs", "1", "--batch-size", "4096", "--json"])
    CliRunner().invoke(app, ["train", "-d", "ideal", "--dataset", "digits-sklearn", "--epochs", "1", "--batch-size", "4096"])
    CliRunner().invoke(app, ["cost", "-d", "ideal", "-w", "mlp:8-4", "--json"])


def _run(n: int, tmp_path):
    _warm_up(tmp_path)
    failures = [f for f in (run_case(i, tmp_path) for i in range(n)) if f]
    assert not failures, f"{len(failures)} of {n} cases failed:\n" + "\n".join(failures[:15])


def test_fuzz_quick(tmp_path):
    _run(QUICK, tmp_path)


@pytest.mark.slow
def test_fuzz_full(tmp_path):
    _run(FULL, tmp_path)


def test_the_fuzzer_catches_a_traceback(tmp_path, monkeypatch):
    """The checker itself: a command that raises outside the CLI's handlers is reported."""
    from pimtrain import cli

    def boom(*a, **k):
        raise KeyError("boom")

    monkeypatch.setattr(cli, "load_design", boom)
    monkeypatch.setattr(cli, "user_errors", lambda fn: fn)
    res = CliRunner().invoke(app, ["cost", "-d", "ideal", "-w", "mlp:8-4", "--json"])
    assert res.exit_code != 0  # the wrapped command turns it into exit 1 "internal error", which run_case rejects


# ------------------------------------------------------------------- the issue's minimal reproductions
def _design_file(tmp_path, name, text=None, data=None, raw=None, base="marinella2018-analog", **changes):
    path = tmp_path / name
    if raw is not None:
        path.write_bytes(raw)
    elif text is not None:
        path.write_text(text)
    else:
        data = copy.deepcopy(PRESETS[base]) if data is None else data
        for dotted, value in changes.items():
            node = data
            keys = dotted.split("__")
            for k in keys[:-1]:
                node = node.setdefault(k, {})
            node[keys[-1]] = value
        path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return str(path)


def _all_counts_zero():
    data = copy.deepcopy(PRESETS["marinella2018-analog"])
    for comp in data["circuits"]["components"].values():
        comp["count"] = 0
    return data


BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))

REPRODUCTIONS = [  # (id, design file builder, extra args, expected exit, words in the message)
    ("non-utf8", lambda t: _design_file(t, "u.yaml", raw=b"name: \xff\n"), [], 2, ["UTF-8"]),
    ("self-alias", lambda t: _design_file(t, "s.yaml", text="a: &a [*a]\n"), [], 2, ["self-reference"]),
    ("deep", lambda t: _design_file(t, "d.yaml", text="a: " + "[" * 5000 + "]" * 5000 + "\n"), [], 2, ["deeper"]),
    ("alias-bomb", lambda t: _design_file(t, "b.yaml", text=BOMB), [], 2, ["alias"]),
    ("top-level-value", lambda t: _design_file(t, "v.yaml", text="value: 1\n"), [], 2, ["name"]),
    ("list", lambda t: _design_file(t, "l.yaml", text="- 1\n"), [], 2, ["mapping"]),
    ("long-name", lambda t: "x" * 300 + ".yaml", [], 2, ["too long"]),
    ("cols-1", lambda t: _design_file(t, "c.yaml", array__cols=1), [], 2, ["array", "cols"]),
    ("bits-per-cycle", lambda t: _design_file(t, "i.yaml", io__forward__input_bits_per_cycle=10**9), [], 2, ["input_bits_per_cycle"]),
    ("read-noise-inf", lambda t: _design_file(t, "r.yaml", device__read_noise=float("inf")), [], 2, ["read_noise", "finite"]),
    ("g-max-inf", lambda t: _design_file(t, "g.yaml", device__g_max=float("inf")), [], 2, ["g_max", "finite"]),
    ("read-voltage-inf", lambda t: _design_file(t, "rv.yaml", array__read_voltage="inf V"), [], 2, ["read_voltage"]),
    ("read-time-inf", lambda t: _design_file(t, "rt.yaml", array__read_time=float("inf")), [], 2, ["read_time"]),
    ("comma-decimal", lambda t: _design_file(t, "cv.yaml", array__read_voltage="1,5 V"), [], 2, ["read_voltage", "1,5 V"]),
    ("sqrt", lambda t: _design_file(t, "sq.yaml", array__read_voltage="√2 V"), [], 2, ["read_voltage"]),
    ("bare-unit", lambda t: _design_file(t, "pj.yaml", array__read_voltage="V"), [], 2, ["read_voltage"]),
    ("fixed-range-inf", lambda t: _design_file(t, "fr.yaml", io__forward__input_range={"policy": "fixed", "value": float("inf")}),
     [], 2, ["input_range"]),
    ("count-0", lambda t: _design_file(t, "n.yaml", data=_all_counts_zero()), [], 2, ["count"]),
    ("output-dir", lambda t: "ideal", ["--output", "{tmp}"], 2, ["--output", "folder"]),
    ("output-under-file", lambda t: "ideal", ["--output", "{tmp}/f.json/x.json"], 2, ["--output", "under"]),
    ("seed-2**64", lambda t: "ideal", ["--seed", str(2**64)], 2, ["--seed"]),
    ("seed-2**32", lambda t: "ideal", ["--seed", str(2**32)], 2, ["--seed"]),
]


@pytest.mark.parametrize("case", REPRODUCTIONS, ids=[c[0] for c in REPRODUCTIONS])
def test_issue_reproductions_are_one_line_errors(tmp_path, case):
    _, build, extra, code, words = case
    (tmp_path / "f.json").write_text("{}")
    design = build(tmp_path)
    extra = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    command = ["train", "-d", design, "--epochs", "1", "--batch-size", "512", *extra] if "--seed" in extra else \
        ["cost", "-d", design, "-w", "mlp:64-36-10", *extra]
    start = time.perf_counter()
    res = CliRunner().invoke(app, command)
    assert time.perf_counter() - start < CASE_SECONDS
    lines = res.stderr.splitlines()
    assert res.exit_code == code, res.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


def change_field(change: dict) -> str:
    return ".".join(next(iter(change)).split("__"))


@pytest.mark.parametrize("change, cause", [({"device__read_noise": 1e300}, "overflows"),
                                           ({"array__w_max": 1e-300}, "loss is nan")])
def test_divergence_is_exit_3_naming_epoch_and_cause(tmp_path, change, cause):
    design = _design_file(tmp_path, "n.yaml", **change)
    res = CliRunner().invoke(app, ["train", "-d", design, "--epochs", "2", "--batch-size", "256"])
    lines = res.stderr.splitlines()
    assert res.exit_code == 3 and len(lines) == 1, res.stderr
    assert "diverged at epoch 1" in lines[0] and cause in lines[0] and "likely cause" in lines[0]
    assert change_field(change) in lines[0]  # the suspect design value is named


def test_chance_accuracy_is_a_warning_and_a_json_field():
    res = CliRunner().invoke(app, ["train", "-d", "ideal", "--epochs", "1", "--batch-size", "64", "--lr", "1e4", "--json"])
    data = json.loads(res.stdout)
    assert res.exit_code == 0 and data["at_chance"] is True and "chance" in data["warnings"][0]


def test_train_json_says_what_it_ran_on(monkeypatch, tmp_path):
    monkeypatch.setenv("PIMTRAIN_DATA", str(tmp_path / "absent"))
    res = CliRunner().invoke(app, ["train", "-d", "ideal", "--epochs", "1", "--batch-size", "64", "--seed", "3", "--json"])
    run = json.loads(res.stdout)["run"]
    assert run["split"] == "3823 train / 1797 test" and run["data_origin"] == "packaged"
    assert run["network"] == "mlp 64-36-10 (sigmoid)" and run["lr"] == 0.1 and run["batch_size"] == 64 and run["seed"] == 3
    import torch

    import pimtrain

    assert run["pimtrain_version"] == pimtrain.__version__ and run["torch_version"] == torch.__version__
    version = CliRunner().invoke(app, ["--version"])
    assert version.exit_code == 0 and pimtrain.__version__ in version.stdout


def test_parser_errors_are_one_line():
    for args in (["train", "--bogus"], ["bogus"], ["train"], ["train", "-d", "ideal", "--epochs", "x"]):
        res = CliRunner().invoke(app, args)
        lines = res.stderr.splitlines()
        assert res.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (args, res.stderr)
