"""Design fuzzer through ``load_design`` and ``cost``: mutated presets never give a traceback, a hang, or a
non-finite or negative figure; every refusal is one line naming the field.

A seeded generator (:func:`mutated_designs`) takes every preset (as written, with units and inline
provenance, or as the SI mapping ``design_to_dict`` gives) and applies one to three mutations: a value
replaced by ``inf``/``nan``/``-1``/``0``/``1e300``/``1e-300``/strings with and without units/mappings/
lists/``null``/booleans/huge integers, a key deleted or added, a component's model swapped for another
registered one (or an unknown one), odd counts and levels. Each design is written as YAML, loaded with
``load_design`` and costed with ``pimtrain.cost.evaluate`` on a small workload (a few also through the
CLI ``cost`` command). Quick subset by default (~150 cases), the full set (>= 1,000) under ``slow``.
"""
from __future__ import annotations

import copy
import json
import math
import random
import signal
import traceback
from pathlib import Path

import pytest
import yaml

from pimtrain.cost import evaluate, registry
from pimtrain.design import (
    PimtrainError,
    design_to_dict,
    load_design,
    preset_names,
    preset_path,
)

PRESETS = preset_names()
WORKLOADS = ("mlp:64-32-10", "mlp:200-100-10", "mlptra", "mlp:1-1", "vgg16")  # vgg16: large counts, overflow
CASE_TIME_LIMIT_S = 10
QUICK_PER_PRESET = 9     # 18 presets -> 162 cases
FULL_PER_PRESET = 60     # 18 presets -> 1080 cases

ODD_VALUES = (
    math.inf, -math.inf, math.nan, -1, -1e-9, 0, 0.0, 1e300, -1e300, 1e-300, 10**30, -(10**30),
    "abc", "", "1 pJ", "3 ns", "12 furlongs", "1e400", "-5 mW", "nan", "inf ns", {"a": 1}, {}, [1, 2], [],
    None, True, False, 1.5, 7,
)
ODD_COUNTS = (0, -1, 1, 3, 10**9, 2**40, "3", "two", 1.5, True, None, [], {"value": 2, "source": "fuzz", "basis": "assumed"})
ODD_LEVELS = ("array", "core", "tile", "chip", "bogus", None, 3, "")
ODD_KEYS = ("bogus", "convert_energy", "area", "leak_power", "ref_node_nm", "value", "source", "count", "params")
# plausible values with units, to reach the cost path with designs that load (unit per dimension)
UNITS = {"energy": "pJ", "time": "ns", "power": "mW", "area": "um2", "voltage": "V", "current": "uA",
         "frequency": "GHz", "conductance": "uS", "resistance": "kOhm", "length": "nm", "capacitance": "fF"}
MAGNITUDES = (0, 1e-3, 0.5, 1, 3, 100, 1e4)


# ------------------------------------------------------------------------------------------ generator
def _base_mappings() -> dict[str, list[dict]]:
    out = {}
    for name in PRESETS:
        raw = yaml.safe_load(preset_path(name).read_text())
        out[name] = [raw, design_to_dict(load_design(name))]
    return out


_BASES = _base_mappings()


def _paths(node, prefix=()):
    """Every (path, container-kind) in a nested mapping/list: leaves and inner nodes."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield (*prefix, i)
            yield from _paths(v, (*prefix, i))


def _get(node, path):
    for p in path:
        node = node[p]
    return node


def _components(data) -> dict:
    comps = (data.get("circuits") or {}).get("components") if isinstance(data.get("circuits"), dict) else None
    return comps if isinstance(comps, dict) else {}


def _mutate(data: dict, rng: random.Random) -> str:
    """Apply one mutation in place; return a short description."""
    comps = _components(data)
    kind = rng.choice(("value", "value", "delete", "add", "model", "count", "level", "param", "param", "scale",
                       "good_param", "good_param", "good_param", "good_model", "good_count", "scale"))
    if kind in ("model", "count", "level", "param", "good_param", "good_model", "good_count") and comps:
        name = rng.choice(sorted(comps))
        comp = comps[name]
        if not isinstance(comp, dict):
            comps[name] = rng.choice(ODD_VALUES)
            return f"circuits.components.{name} = odd"
        model = comp.get("model")
        known = isinstance(model, str) and model in registry.MODELS
        if kind == "good_model" and known:  # another model that can play the same role
            role = comp.get("role") or registry.default_role(model)
            comp["model"] = rng.choice([m for m in registry.models() if role in registry.roles_of(m)])
            if comp["model"] != model:
                comp.pop("params", None)
            return f"{name}.model = {comp['model']!r} (role {role})"
        if kind == "good_count":
            comp["count"] = rng.choice((1, 2, 16, 1024, 10**5))
            comp["level"] = rng.choice(("array", "core", "tile", "chip"))
            return f"{name}.count/level = {comp['count']}/{comp['level']}"
        if kind == "good_param" and known:
            dims = registry.MODELS[model]._DIMS
            key = rng.choice(sorted(dims))
            unit = UNITS.get(dims[key], "")
            value = rng.choice(MAGNITUDES)
            comp.setdefault("params", {})
            if isinstance(comp["params"], dict):
                comp["params"][key] = f"{value} {unit}".strip() if unit and rng.random() < 0.7 else value
                return f"{name}.params.{key} = {comp['params'][key]!r}"
        if kind in ("model", "good_model"):
            comp["model"] = rng.choice([*registry.models(), "nosuch", "", 3, None])
            return f"{name}.model = {comp['model']!r}"
        if kind == "count":
            comp["count"] = rng.choice(ODD_COUNTS)
            return f"{name}.count = {comp['count']!r}"
        if kind == "level":
            comp["level"] = rng.choice(ODD_LEVELS)
            return f"{name}.level = {comp['level']!r}"
        params = comp.setdefault("params", {})
        if not isinstance(params, dict):
            comp["params"] = rng.choice(ODD_VALUES)
            return f"{name}.params = odd"
        fields = []
        if known:
            fields = sorted(registry.MODELS[model].Params.model_fields)
        key = rng.choice(fields + list(params) + ["bogus"]) if (fields or params) else "bogus"
        params[key] = rng.choice(ODD_VALUES)
        return f"{name}.params.{key} = {params[key]!r}"
    paths = list(_paths(data))
    if not paths:
        return "empty"
    path = rng.choice(paths)
    parent = _get(data, path[:-1])
    if kind == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
        return f"del {'.'.join(map(str, path))}"
    if kind == "add":
        target = _get(data, path)
        if isinstance(target, dict):
            key = rng.choice(ODD_KEYS)
            target[key] = rng.choice(ODD_VALUES)
            return f"add {'.'.join(map(str, path))}.{key}"
    old = parent[path[-1]]
    if kind == "scale" and isinstance(old, (int, float)) and not isinstance(old, bool):
        parent[path[-1]] = type(old)(old * rng.choice((1e6, 1e-6, -1, 1e12, 2, 2, 0.5, 0.5, 10)))
    else:
        parent[path[-1]] = rng.choice(ODD_VALUES)
    return f"{'.'.join(map(str, path))} = {parent[path[-1]]!r}"


def mutated_designs(seed: int, preset: str, n: int):
    """``n`` (description, mapping, workload, batch, inference) cases from ``preset``, reproducible by seed."""
    rng = random.Random(f"{seed}-{preset}")
    for i in range(n):
        data = copy.deepcopy(rng.choice(_BASES[preset]))
        what = [_mutate(data, rng) for _ in range(rng.choice((1, 1, 2, 3)))]
        yield (f"{preset}#{i}: " + "; ".join(what), data, rng.choice(WORKLOADS), rng.choice((1, 2, 4, 64)), rng.random() < 0.3)


# ------------------------------------------------------------------------------------------ checks
class CaseTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise CaseTimeout(f"case took more than {CASE_TIME_LIMIT_S} s")


def bad_figures(obj, path="report") -> list[str]:
    """Every number in a report's JSON that is not finite and >= 0."""
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += bad_figures(v, f"{path}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out += bad_figures(v, f"{path}[{i}]")
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool) and not (math.isfinite(obj) and obj >= 0):
        out.append(f"{path} = {obj!r}")
    return out


def run_case(path: Path, data: dict, workload: str, batch: int, inference: bool) -> str | None:
    """Load and cost one mutated design; None when it behaved, else what went wrong."""
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_TIME_LIMIT_S)
    try:
        design = load_design(str(path))
        rep = evaluate(design, workload, batch_size=batch, inference=inference)
        j = rep.to_json()
    except PimtrainError as exc:
        msg = str(exc)
        if "\n" in msg or not msg.strip():
            return f"refusal not one line: {msg!r}"
        return None
    except CaseTimeout as exc:
        return f"hang: {exc}"
    except Exception as exc:  # noqa: BLE001  (that is what the fuzzer looks for)
        tb = traceback.extract_tb(exc.__traceback__)[-1]
        return f"{type(exc).__name__}: {exc} at {Path(tb.filename).name}:{tb.lineno}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    bad = bad_figures(j)
    for key in ("energy_j", "latency_s", "area_m2", "power_w"):
        if not (math.isfinite(getattr(rep, key)) and getattr(rep, key) >= 0):
            bad.append(f"{key} = {getattr(rep, key)!r}")
    return f"bad figures: {', '.join(bad[:4])}" if bad else None


def _fuzz(preset: str, n: int, tmp_path: Path, seed: int = 11) -> None:
    failures = []
    for i, (what, data, wl, batch, inference) in enumerate(mutated_designs(seed, preset, n)):
        problem = run_case(tmp_path / f"case{i}.yaml", data, wl, batch, inference)
        if problem:
            failures.append(f"{what} [{wl}, batch {batch}, inference {inference}] -> {problem}")
    assert not failures, f"{len(failures)} of {n} cases misbehaved:\n" + "\n".join(failures[:20])


# ------------------------------------------------------------------------------------------ tests
def test_generator_is_seeded_and_mutates():
    a = [w for w, *_ in mutated_designs(3, "isaac", 20)]
    b = [w for w, *_ in mutated_designs(3, "isaac", 20)]
    c = [w for w, *_ in mutated_designs(4, "isaac", 20)]
    assert a == b and a != c
    assert len(PRESETS) * FULL_PER_PRESET >= 1000


@pytest.mark.parametrize("preset", PRESETS)
def test_fuzz_quick(preset, tmp_path):
    _fuzz(preset, QUICK_PER_PRESET, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_fuzz_full(preset, tmp_path):
    _fuzz(preset, FULL_PER_PRESET, tmp_path, seed=1011)


EXTREME_PRESETS = ("marinella2018-analog", "isaac", "panther-sgd")


@pytest.mark.slow
@pytest.mark.parametrize("preset", EXTREME_PRESETS)
def test_every_number_at_its_extremes(preset, tmp_path):
    """Each number of the preset in turn set to 1e300 or 1e-300, costed on VGG-16 with batch 64."""
    base = _BASES[preset][1]
    failures = []
    leaves = [p for p in _paths(base) if isinstance(_get(base, p), (int, float)) and not isinstance(_get(base, p), bool)]
    for i, path in enumerate(leaves):
        for value in (1e300, 1e-300):
            data = copy.deepcopy(base)
            _get(data, path[:-1])[path[-1]] = value
            problem = run_case(tmp_path / f"x{i}.yaml", data, "vgg16", 64, False)
            if problem:
                failures.append(f"{'.'.join(map(str, path))} = {value!r} -> {problem}")
    assert not failures, f"{len(failures)} misbehaved:\n" + "\n".join(failures[:20])


def test_fuzzer_catches_what_it_should(tmp_path, monkeypatch):
    """The checks can fail: a traceback, a bad figure, a multi-line refusal and a hang are all reported."""
    import sys
    from types import SimpleNamespace

    assert bad_figures({"a": [1.0, -1.0], "b": {"c": math.nan}}) == ["report.a[1] = -1.0", "report.b.c = nan"]
    data = copy.deepcopy(_BASES["isaac"][1])
    assert run_case(tmp_path / "ok.yaml", data, "mlp:8-4", 1, False) is None
    mod = sys.modules[__name__]

    def crash(*a, **k):
        raise TypeError("float() argument must be a string or a real number, not 'dict'")

    monkeypatch.setattr(mod, "evaluate", crash)
    assert run_case(tmp_path / "c.yaml", data, "mlp:8-4", 1, False).startswith("TypeError")
    fake = SimpleNamespace(energy_j=math.inf, latency_s=1.0, area_m2=1.0, power_w=-1.0,
                           to_json=lambda: {"energy_j": math.inf, "breakdown": {"kernel": {"x": {"energy_j": -1.0}}}})
    monkeypatch.setattr(mod, "evaluate", lambda *a, **k: fake)
    assert "report.breakdown.kernel.x.energy_j = -1.0" in run_case(tmp_path / "f.yaml", data, "mlp:8-4", 1, False)

    class Multi(PimtrainError):
        def __str__(self):
            return "line one\nline two"

    monkeypatch.setattr(mod, "evaluate", lambda *a, **k: (_ for _ in ()).throw(Multi("m")))
    assert run_case(tmp_path / "m.yaml", data, "mlp:8-4", 1, False).startswith("refusal not one line")
    monkeypatch.setattr(mod, "CASE_TIME_LIMIT_S", 1)

    def slow(*a, **k):
        import time

        time.sleep(3)

    monkeypatch.setattr(mod, "evaluate", slow)
    assert run_case(tmp_path / "h.yaml", data, "mlp:8-4", 1, False).startswith("hang")


# ------------------------------------------------------------------------------------------ CLI path
def _cli_cases(n: int):
    rng = random.Random("cli")
    cases = []
    for preset in rng.sample(PRESETS, n):
        cases += list(mutated_designs(rng.randrange(10**6), preset, 1))
    return cases


@pytest.mark.parametrize("case", _cli_cases(6), ids=lambda c: c[0].split(":")[0])
def test_fuzz_cli_cost(case, tmp_path):
    from typer.testing import CliRunner

    from pimtrain.cli import app

    what, data, wl, batch, inference = case
    path = tmp_path / "design.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    args = ["cost", "--design", str(path), "--workload", wl, "--batch-size", str(batch), "--json"]
    res = CliRunner().invoke(app, args + (["--inference"] if inference else []))
    assert res.exception is None or isinstance(res.exception, SystemExit), (what, res.exception)
    if res.exit_code == 0:
        assert not bad_figures(json.loads(res.stdout)), what
    else:
        assert res.exit_code == 2, (what, res.output)
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), (what, res.stderr)
        assert "Traceback" not in res.output


def test_cli_refusal_names_the_field(tmp_path):
    from typer.testing import CliRunner

    from pimtrain.cli import app

    data = copy.deepcopy(_BASES["isaac"][1])
    data["circuits"]["components"]["adc"]["params"] = {"convert_energy": {"a": 1}}
    path = tmp_path / "design.yaml"
    path.write_text(yaml.safe_dump(data))
    res = CliRunner().invoke(app, ["cost", "--design", str(path), "--workload", "mlp:8-4"])
    assert res.exit_code == 2
    assert res.stderr.strip() == ("error: design.yaml: circuits.components.adc.params.convert_energy: "
                                  "expected an energy such as '1.2 pJ' (got a mapping)")
