#!/usr/bin/env python
"""Side by side with IBM aihwkit: the same network, data, device and algorithm settings trained by both tools.

    PYTHONPATH=$PWD .venv/bin/python scripts/compare_aihwkit.py --epochs 3 --seeds 0,1,2 \
        --aihwkit-python /work/aihwkit-venv/bin/python --out compare.json

pimtrain runs in this process (its venv), aihwkit in its own venv (``scripts/build_aihwkit.sh``) as a second
process (``scripts/aihwkit_side.py``), started first so both run at once; each writes JSON, this script joins
them into a Markdown table (per algorithm: mean test accuracy over the seeds of each tool, their difference,
and the plain float network for reference).

What is the same on both sides:

- network: the digits sigmoid MLP 64-36-10 with bias (pimtrain's bias is an array row: aihwkit analog bias,
  ``digital_bias`` off), initial weights from ``torch.manual_seed(seed)`` + ``pimtrain.nn.default_model``,
  passed to aihwkit as numbers;
- data: pimtrain's ``digits`` (CrossSim's 3,823 / 1,797 split, features / 16), passed as arrays; the data order
  is the same ``torch.randperm`` stream (a generator seeded by the seed, one permutation per epoch);
- batch 1, SGD at ``--lr``, ``--epochs`` epochs, cross-entropy;
- the device and algorithm: one pimtrain design per algorithm (``design_for``), mapped field by field onto
  aihwkit by :func:`pimtrain.compare.aihwkit_fields` (see its module docstring for each mapping);
- exact forward, backward and transfer reads on both sides (no converters, no read noise): the comparison
  is of the update, the device and the algorithm.

``--only pimtrain`` / ``--only aihwkit`` run one side (``--out`` then holds that side only);
``--join A.json B.json`` joins earlier results without training.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from pimtrain.compare import ALGORITHMS, aihwkit_fields
from pimtrain.design import PimtrainError
from pimtrain.design.models import Design

HERE = Path(__file__).resolve().parent

#: The device and design all algorithms share. The device constants are those of the
#: ``marinella2018-analog`` preset (pimtrain/design/presets: dw_min 0.0066 from the CrossSim manual's TaOx
#: example, up_down -0.2 and d2d 0.1 assumed, write noise 0.1 from the same example, soft bounds); the rest
#: is chosen so that aihwkit can state the same thing: one device per weight (offset mapping), aihwkit's
#: stochastic pulse trains (BL 31, its default), exact converters.
BASE = {
    "name": "aihwkit-comparison",
    "description": "soft-bounds device of marinella2018-analog on one device per weight, stochastic pulse trains, exact I/O",
    "compute": "analog",
    "seed": 0,
    "device": {"model": "soft_bounds", "dw_min": 0.0066, "up_down": -0.2, "nonlinearity": 1.0,
               "write_noise": 0.1, "d2d_variation": 0.1, "read_noise": 0.0},
    "array": {"weight_mapping": "offset", "w_max": 1.0},
    "update": {"rule": "outer_product", "pulse": {"scheme": "stochastic", "bl": 31}},
}

#: algorithm settings, the same on both sides (assumption; transfer_lr 0.1 chosen over 1.0, with which pimtrain's
#: Tiki-Taka family reached 35-59 % after one epoch): a transfer after every update (one sample), one column,
#: transfer_lr 0.1 (absolute), gamma 0 (the network reads C); TTv2 / c-TTv2: the buffer
#: writes whole pulses (buffer_threshold 1 = one pulse = aihwkit buffer_granularity 1);
#: c-TTv2: chopper probability 0.1 (aihwkit's ChoppedTransferCompound default in_chop_prob).
ALGORITHM_SETTINGS = {
    "sgd": {"kind": "sgd"},
    "tiki_taka": {"kind": "tiki_taka", "transfer_every": 1, "columns_per_transfer": 1, "transfer_lr": 0.1},
    "ttv2": {"kind": "ttv2", "transfer_every": 1, "columns_per_transfer": 1, "transfer_lr": 0.1,
             "buffer_threshold": 1.0},
    "c_ttv2": {"kind": "c_ttv2", "transfer_every": 1, "columns_per_transfer": 1, "transfer_lr": 0.1,
               "buffer_threshold": 1.0, "chopper_probability": 0.1},
}


def design_for(algorithm: str, base: dict | None = None) -> Design:
    """The pimtrain design of the comparison for ``algorithm`` (one of :data:`ALGORITHM_SETTINGS`)."""
    if algorithm not in ALGORITHM_SETTINGS:
        raise PimtrainError(f"--algorithms: {algorithm!r} is not compared; allowed: {', '.join(ALGORITHM_SETTINGS)}")
    d = json.loads(json.dumps(base or BASE))
    d["name"] = f"{d['name']}-{algorithm}"
    d["update"]["algorithm"] = dict(ALGORITHM_SETTINGS[algorithm])
    return Design.model_validate(d)


def _csv(text: str, cast, what: str) -> list:
    try:
        out = [cast(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise PimtrainError(f"{what}: {text!r} is not a comma-separated list") from None
    if not out:
        raise PimtrainError(f"{what}: empty; allowed: a comma-separated list")
    return out


def _write_json(path: str | os.PathLike, obj) -> None:
    from pimtrain.design.io import atomic_write_text

    atomic_write_text(path, json.dumps(obj, indent=1))


def initial_weights(data, seed: int) -> tuple[list[int], dict[str, np.ndarray]]:
    """The float network pimtrain's ``train`` starts from (``torch.manual_seed(seed)`` + ``default_model``)."""
    from pimtrain.nn import default_model

    torch.manual_seed(seed)
    model = default_model(data)
    linear = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    sizes = [linear[0].in_features] + [m.out_features for m in linear]
    arrays = {}
    for i, m in enumerate(linear):
        arrays[f"w{i}"] = m.weight.detach().numpy().copy()
        arrays[f"b{i}"] = m.bias.detach().numpy().copy()
    return sizes, arrays


def write_job(folder: Path, data, algorithms: list[str], seeds: list[int], *, epochs: int, lr: float,
              out: Path) -> Path:
    """The aihwkit side's job: data + initial weights (.npz) and settings + mapped fields (.json)."""
    arrays = {"train_x": data.train_x.numpy(), "train_y": data.train_y.numpy(),
              "test_x": data.test_x.numpy(), "test_y": data.test_y.numpy()}
    sizes = None
    for seed in seeds:
        sizes, init = initial_weights(data, seed)
        arrays.update({f"init{seed}/{k}": v for k, v in init.items()})
    npz = folder / "aihwkit_job.npz"
    np.savez(npz, **arrays)
    job = {"data": str(npz), "epochs": epochs, "lr": lr, "batch_size": 1, "seeds": seeds, "sizes": sizes,
           "out": str(out),
           "runs": [{"algorithm": a, "aihwkit": aihwkit_fields(design_for(a))} for a in algorithms]}
    path = folder / "aihwkit_job.json"
    path.write_text(json.dumps(job, indent=1))
    return path


def run_pimtrain(data, algorithms: list[str], seeds: list[int], *, epochs: int, lr: float, float_baseline: bool,
                 out: Path | None = None) -> dict:
    from pimtrain.nn import train, train_float

    import pimtrain

    results = []
    doc = {"tool": "pimtrain", "pimtrain_version": pimtrain.__version__, "torch_version": torch.__version__,
           "results": results}
    runs = (["float"] if float_baseline else []) + algorithms
    for a in runs:
        for seed in seeds:
            start = time.perf_counter()
            if a == "float":
                r = train_float(data, epochs=epochs, batch_size=1, lr=lr, seed=seed, progress=False, device="cpu")
            else:
                r = train(design_for(a), data, epochs=epochs, batch_size=1, lr=lr, seed=seed, progress=False,
                          device="cpu")
            acc = [e["test_accuracy"] for e in r.epochs]
            results.append({"algorithm": a, "seed": seed, "test_accuracy_per_epoch": acc,
                            "final_test_accuracy": acc[-1], "seconds_per_epoch": (time.perf_counter() - start) / epochs})
            print(f"pimtrain {a} seed {seed}: {acc[-1]:.4f}", file=sys.stderr, flush=True)
            if out is not None:
                _write_json(out, doc)
    return doc


def _by_algorithm(doc: dict) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for r in doc.get("results", []):
        out.setdefault(r["algorithm"], []).append(float(r["final_test_accuracy"]))
    return out


def _fmt(values: list[float]) -> str:
    if not values:
        return "—"
    m = statistics.mean(values)
    if len(values) == 1:
        return f"{100 * m:.1f} %"
    return f"{100 * m:.1f} % ({100 * min(values):.1f}–{100 * max(values):.1f})"


def join(pim: dict, aih: dict) -> dict:
    """Rows per algorithm: the two tools' accuracies over the seeds, and the difference of the means."""
    p, a = _by_algorithm(pim), _by_algorithm(aih)
    rows = []
    for alg in [k for k in p if k != "float"] + [k for k in a if k not in p]:
        pv, av = p.get(alg, []), a.get(alg, [])
        diff = 100 * (statistics.mean(pv) - statistics.mean(av)) if pv and av else None
        rows.append({"algorithm": alg, "pimtrain": pv, "aihwkit": av, "difference_points": diff})
    return {"rows": rows, "float": p.get("float", []), "pimtrain": pim, "aihwkit": aih}


def markdown(joined: dict, seeds: list[int], epochs: int) -> str:
    n = len(seeds)
    lines = ["| algorithm | pimtrain | aihwkit | difference (points) |", "|---|---:|---:|---:|"]
    for r in joined["rows"]:
        d = "—" if r["difference_points"] is None else f"{r['difference_points']:+.1f}"
        lines.append(f"| {r['algorithm']} | {_fmt(r['pimtrain'])} | {_fmt(r['aihwkit'])} | {d} |")
    if joined["float"]:
        lines.append(f"| float (plain PyTorch, reference) | {_fmt(joined['float'])} | | |")
    lines.append("")
    lines.append(f"Final test accuracy after {epochs} epochs, mean over {n} seed(s) ({', '.join(map(str, seeds))}), "
                 "range in brackets.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--algorithms", default=",".join(ALGORITHMS), help="comma-separated: " + ", ".join(ALGORITHMS))
    ap.add_argument("--seeds", default="0", help="comma-separated seeds")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--aihwkit-python", default="/work/aihwkit-venv/bin/python",
                    help="the python of aihwkit's venv (scripts/build_aihwkit.sh)")
    ap.add_argument("--device", default="", help="override device fields of the comparison, e.g. up_down=0,write_noise=0")
    ap.add_argument("--only", choices=["pimtrain", "aihwkit"], default=None, help="run one side only")
    ap.add_argument("--no-float", action="store_true", help="skip the float reference row")
    ap.add_argument("--join", nargs=2, metavar=("PIMTRAIN_JSON", "AIHWKIT_JSON"), help="join earlier results")
    ap.add_argument("--out", default=None, help="JSON file for the joined result (written atomically)")
    args = ap.parse_args(argv)
    try:
        return _run(args, argv)
    except PimtrainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _sides(docs: list[dict]) -> tuple[dict, dict]:
    """The pimtrain and aihwkit result documents among ``docs`` (each a side's document or a joined one)."""
    found = {}
    for doc in docs:
        if doc.get("tool") in ("pimtrain", "aihwkit"):
            found.setdefault(doc["tool"], doc)
        for tool in ("pimtrain", "aihwkit"):
            if doc.get(tool, {}).get("results"):
                found.setdefault(tool, doc[tool])
    missing = [t for t in ("pimtrain", "aihwkit") if t not in found]
    if missing:
        raise PimtrainError(f"--join: no {' or '.join(missing)} results in the files given")
    return found["pimtrain"], found["aihwkit"]


def _run(args, argv) -> int:
    if args.join:
        pim, aih = _sides([json.loads(Path(p).read_text()) for p in args.join])
        seeds = sorted({r["seed"] for r in pim["results"]})
        epochs = len(pim["results"][0]["test_accuracy_per_epoch"]) if pim["results"] else 0
        joined = join(pim, aih)
        print(markdown(joined, seeds, epochs))
        if args.out:
            _write_json(args.out, joined)
        return 0
    if args.device:
        for item in _csv(args.device, str, "--device"):
            key, _, value = item.partition("=")
            keys = [k for k in BASE["device"] if k != "model"]
            try:
                number = float(value)
            except ValueError:
                number = None
            if key not in keys or number is None:
                raise PimtrainError(f"--device: {item!r}; allowed: KEY=NUMBER with KEY one of {', '.join(keys)}")
            BASE["device"][key] = number
    algorithms = _csv(args.algorithms, str, "--algorithms")
    for a in algorithms:
        design_for(a)  # refuses an unknown algorithm before any work
    seeds = _csv(args.seeds, int, "--seeds")
    if args.epochs < 1:
        raise PimtrainError(f"--epochs: {args.epochs} is not allowed; allowed: 1 or more")
    if not (args.lr > 0):
        raise PimtrainError(f"--lr: {args.lr} is not allowed; allowed: a positive number")
    torch.set_num_threads(1)
    from pimtrain.nn import load_dataset

    data = load_dataset("digits")
    with tempfile.TemporaryDirectory(prefix="compare-aihwkit-") as tmp:
        folder = Path(tmp)
        aih_out = folder / "aihwkit.json"
        proc = None
        if args.only != "pimtrain":
            if not Path(args.aihwkit_python).exists():
                raise PimtrainError(f"--aihwkit-python: {args.aihwkit_python} does not exist; build it with "
                                    "scripts/build_aihwkit.sh")
            job = write_job(folder, data, algorithms, seeds, epochs=args.epochs, lr=args.lr, out=aih_out)
            env = {**os.environ, "OMP_NUM_THREADS": "1"}
            env.pop("PYTHONPATH", None)
            proc = subprocess.Popen([args.aihwkit_python, str(HERE / "aihwkit_side.py"), str(job)], env=env)
        pim = {"tool": "pimtrain", "results": []}
        if args.only != "aihwkit":
            pim = run_pimtrain(data, algorithms, seeds, epochs=args.epochs, lr=args.lr,
                               float_baseline=not args.no_float)
        aih = {"tool": "aihwkit", "results": []}
        if proc is not None:
            rc = proc.wait()
            if rc != 0 or not aih_out.exists():
                print(f"error: the aihwkit side exited with {rc}", file=sys.stderr)
                return 1
            aih = json.loads(aih_out.read_text())
    joined = join(pim, aih)
    joined["command"] = "PYTHONPATH=$PWD .venv/bin/python scripts/compare_aihwkit.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    joined["settings"] = {"epochs": args.epochs, "lr": args.lr, "seeds": seeds, "batch_size": 1,
                          "designs": {a: design_for(a).model_dump(mode="json", exclude_none=True,
                                                                   include={"device", "array", "update"})
                                      for a in algorithms},
                          "aihwkit_fields": {a: aihwkit_fields(design_for(a)) for a in algorithms}}
    print(markdown(joined, seeds, args.epochs))
    if args.out:
        _write_json(args.out, joined)
    return 0


if __name__ == "__main__":
    sys.exit(main())
