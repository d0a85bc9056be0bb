#!/usr/bin/env python
"""The accuracy–cost table of the analog training algorithms (README "Measured results", algorithms part).

For each network (the digits MLP 64-36-10 and the digits CNN of ``pimtrain train --model cnn``), each device design
(the Marinella 2018 TaOx-like soft-bounds block ``marinella2018-analog`` and the PCM differential-pair preset
``pcm-differential``) and each algorithm, trains with ``pimtrain.runs.train_with_cost``'s pieces (batch 1, seed 0)
and costs the epoch with what the numerics counted. The algorithm settings are ``SETTINGS`` below (one per
algorithm, the same on both devices; assumptions, not tuned). Prints a Markdown table (accuracy, energy per training
step, area of the occupied arrays and digital blocks, the algorithm's shares) and the command; ``--json`` writes
every row.

Run time: every run is one epoch; the CNN trains on the first ``--cnn-samples`` training images (default 1000) to
keep the table to a few minutes (``--jobs 2``: about 4 min on two cores).

    .venv/bin/python scripts/algorithm_costs.py --jobs 2 --json algorithm_costs.json
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor

DESIGNS = ["marinella2018-analog", "pcm-differential"]
NETWORKS = ["mlp", "cnn"]
#: per algorithm: update.algorithm settings (assumptions: one column per update, transfer_lr 1, threshold 1 step)
SETTINGS = {
    "sgd": {"kind": "sgd"},
    "mixed_precision": {"kind": "mixed_precision", "buffer_threshold": 1.0},
    "tiki_taka": {"kind": "tiki_taka", "transfer_lr": 1.0, "columns_per_transfer": 1},
    "ttv2": {"kind": "ttv2", "transfer_lr": 1.0, "columns_per_transfer": 1, "buffer_threshold": 1.0},
    "c_ttv2": {"kind": "c_ttv2", "transfer_lr": 1.0, "columns_per_transfer": 1, "buffer_threshold": 1.0,
               "chopper_probability": 0.1},
    "agad": {"kind": "agad", "transfer_lr": 1.0, "columns_per_transfer": 1, "buffer_threshold": 1.0,
             "chopper_probability": 0.1},
    "residual": {"kind": "residual", "transfer_lr": 1.0, "columns_per_transfer": 1, "gamma": 0.5},
}


def design_with(name: str, algorithm: dict):
    from pimtrain.design import load_design
    from pimtrain.design.models import AlgorithmSpec

    d = load_design(name)
    upd = d.update.model_copy(update={"algorithm": AlgorithmSpec.model_validate(algorithm)})
    return d.model_copy(update={"update": upd, "name": f"{d.name}+{algorithm['kind']}"})


def run_one(design_name: str, algorithm: str, network: str, epochs: int, cnn_samples: int, seed: int) -> dict:
    import torch

    from pimtrain.nn import load_dataset, train
    from pimtrain.nn.zoo import build_model
    from pimtrain.runs import epoch_cost, measured_layer_counts

    torch.set_num_threads(1)
    d = design_with(design_name, SETTINGS[algorithm])
    data = load_dataset("digits", seed=seed)
    if network == "cnn" and cnn_samples:
        import dataclasses

        data = dataclasses.replace(data, train_x=data.train_x[:cnn_samples], train_y=data.train_y[:cnn_samples])
    start = time.perf_counter()
    res = train(d, data, epochs=epochs, batch_size=1, seed=seed, progress=False, device="cpu",
                model=lambda: build_model(network, data))
    counts = measured_layer_counts(res.model)
    cost = epoch_cost(d, res.model, data.train_x.shape[1:], len(data.train_x), 1, counts=counts)
    step = cost["measured"]["step"]
    alg = step.get("algorithm") or {}
    weights, extra, area = occupied(d, res.model, data.train_x.shape[1:], alg)
    return {
        "design": design_name, "algorithm": algorithm, "settings": SETTINGS[algorithm], "network": network,
        "epochs": epochs, "train_samples": len(data.train_x), "seed": seed,
        "test_accuracy": res.final_test_accuracy,
        "energy_j_per_step": step["energy_j"], "energy_j_per_epoch": cost["measured"]["energy_j_per_epoch"],
        "latency_s_per_step": step["latency_s"], "arrays": {"weights": weights, "extra": extra},
        "area_occupied_m2": area, "chip_area_m2": step["area_m2"],
        "algorithm_parts": alg, "kernels": step["breakdown"]["kernel"],
        "seconds": time.perf_counter() - start,
    }


def occupied(design, model, input_shape, alg: dict) -> tuple[int, int, float]:
    """(weight arrays, extra arrays, area): the arrays the network and the algorithm's extra arrays occupy, each with
    the design's array-level periphery, plus the algorithm's digital blocks (the fixed chip of a preset is larger)."""
    from pimtrain.cost import build_hardware
    from pimtrain.cost.algorithms import extra_array_maps
    from pimtrain.mapping import LayerMapping
    from pimtrain.workloads import from_module

    wl = from_module(model, tuple(input_shape))
    maps = [LayerMapping(L.out_features, L.in_features, design, max(int(L.reuse), 1)) for L in wl.layers]
    weights = sum(m.arrays for m in maps)
    extra = sum(m.arrays for m in extra_array_maps(design, maps))
    hw = build_hardware(design)
    per_array = sum(c.area * c.count for c in hw.components.values() if c.level == "array")
    digital = sum(v for k, v in (alg.get("area_m2") or {}).items() if k != "extra_arrays")
    return weights, extra, per_array * (weights + extra) + digital


def _si(x, unit):
    for f, p in ((1, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p")):
        if abs(x) >= f:
            return f"{x / f:.3g} {p}{unit}"
    return f"{x:.3g} {unit}"


def table(rows: list[dict]) -> str:
    cols = ["network", "design", "algorithm", "test acc.", "energy / step", "latency / step", "arrays (weights + extra)",
            "occupied area", "transfers", "buffer", "choppers", "extra arrays' leakage", "all leakage"]
    out = ["| " + " | ".join(cols) + " |", "|" + "|".join(["---"] * len(cols)) + "|"]
    for r in rows:
        sh = (r["algorithm_parts"] or {}).get("energy_share")
        pct = (lambda v: f"{100 * v:.1f} %") if sh else (lambda v: "—")  # noqa: E731
        sh = sh or {}
        leak = (r["kernels"].get("leakage") or {}).get("energy_j", 0.0) / r["energy_j_per_step"]
        cells = [r["network"], r["design"], r["algorithm"], f"{r['test_accuracy']:.3f}", _si(r["energy_j_per_step"], "J"),
                 _si(r["latency_s_per_step"], "s"),
                 f"{r['arrays']['weights']} + {r['arrays']['extra']}", f"{r['area_occupied_m2'] * 1e6:.4f} mm²",
                 pct(sh.get("transfer_reads", 0) + sh.get("transfer_writes", 0)), pct(sh.get("buffer", 0)),
                 pct(sh.get("choppers", 0)), pct(sh.get("extra_arrays_leakage", 0)), f"{100 * leak:.1f} %"]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--designs", default=",".join(DESIGNS))
    ap.add_argument("--algorithms", default=",".join(SETTINGS))
    ap.add_argument("--networks", default=",".join(NETWORKS))
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--cnn-samples", type=int, default=1000, help="training images of the CNN runs (0: all 3823)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--json", default=None, help="write every row here (atomically)")
    ap.add_argument("--table-from", default=None, help="print the table of a --json file written before (no training)")
    args = ap.parse_args(argv)
    if args.table_from:
        with open(args.table_from) as f:
            print(table(json.load(f)["rows"]))
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    jobs = [(d, a, n, args.epochs, args.cnn_samples, args.seed) for n in args.networks.split(",")
            for d in args.designs.split(",") for a in args.algorithms.split(",")]
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as ex:
            rows = list(ex.map(run_one, *zip(*jobs)))
    else:
        rows = [run_one(*j) for j in jobs]
    print(table(rows))
    print(f"\ncommand: {' '.join(shlex.quote(a) for a in [sys.executable.split('/')[-1], 'scripts/algorithm_costs.py'] + (argv if argv is not None else sys.argv[1:]))}")
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"rows": rows}, f, indent=1)
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
