"""Accuracy and the cost of one training step of the named sequence / 1-D models (README table, issue 16).

    PYTHONPATH=. OMP_NUM_THREADS=1 python scripts/layer_workloads.py [--epochs 5] [--jobs 2] [--output FILE.json]

Per workload (lstm and transformer on digits, cnn1d on filetypes) and per design (float, ideal,
marinella2018-analog, panther-sgd): test accuracy after training (``pimtrain train --model``'s loop) and the
energy / latency of one training step of the batch (fixed-activity cost model, the digital work included).

Learning rate per design: float uses the workload's float lr (``RUNS``), and so does ``ideal`` (it equals float
step by step). Each PIM design's lr is chosen from ``GRID`` × the float lr by the validation accuracy after
``--sweep-epochs`` epochs on a seeded 80/20 split of the *training* set (the test set is not looked at); within
2 points of the best, by the lower training loss (:func:`choose`). Jobs run
in ``--jobs`` processes (one torch thread each); the same seed gives the same numbers. Results written atomically.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import time
from concurrent.futures import ProcessPoolExecutor

# (model, dataset, float lr, batch size): the float lr as chosen on the float run (assumption)
RUNS = [("lstm", "digits", 0.5, 16), ("transformer", "digits", 0.05, 16), ("cnn1d", "filetypes", 0.1, 8)]
DESIGNS = ["float", "ideal", "marinella2018-analog", "panther-sgd"]
SWEPT = ["marinella2018-analog", "panther-sgd"]
GRID = (0.3, 1.0, 3.0)  # multiples of the float lr tried per PIM design


def _validation_split(data, seed: int = 0):
    """The training set split 80/20 (seeded): train on the first part, 'test' on the held-out one."""
    import torch

    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(data.train_y), generator=g)
    cut = int(0.8 * len(order))
    a, b = order[:cut], order[cut:]
    return dataclasses.replace(data, train_x=data.train_x[a], train_y=data.train_y[a], test_x=data.train_x[b],
                               test_y=data.train_y[b], name=f"{data.name}-validation")


def run_job(model: str, dataset: str, design: str, lr: float, epochs: int, batch: int, validation: bool) -> dict:
    import torch

    from pimtrain.design import load_design
    from pimtrain.nn import load_dataset, train, train_float
    from pimtrain.nn.zoo import build_model
    from pimtrain.runs import epoch_cost

    torch.set_num_threads(1)
    start = time.time()
    data = load_dataset(dataset)
    if validation:
        data = _validation_split(data)
    factory = functools.partial(build_model, model, data)
    step = {}
    if design == "float":
        res = train_float(data, model=factory, epochs=epochs, batch_size=batch, lr=lr, progress=False, device="cpu")
    else:
        d = load_design(design)
        res = train(d, data, model=factory, epochs=epochs, batch_size=batch, lr=lr, progress=False, device="cpu")
        if not validation:
            step = epoch_cost(d, res.model, data.train_x.shape[1:], len(data.train_x), batch)["step"]
    return {"model": model, "dataset": dataset, "design": design, "epochs": epochs, "batch_size": batch, "lr": lr,
            "validation": validation, "accuracy": res.final_test_accuracy,
            "train_loss": res.epochs[-1]["train_loss"] if res.epochs else None, "step_energy_j": step.get("energy_j"),
            "step_latency_s": step.get("latency_s"), "wall_s": round(time.time() - start, 1)}


def _run_all(jobs: list[tuple], workers: int) -> list[dict]:
    if workers <= 1:
        out = []
        for j in jobs:
            out.append(run_job(*j))
            print(json.dumps(out[-1]), flush=True)
        return out
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run_job, *j) for j in jobs]
        out = []
        for f in futures:
            out.append(f.result())
            print(json.dumps(out[-1]), flush=True)
        return out


def choose(tried: list[dict], tie: float = 0.02) -> float:
    """The lr of the best validation accuracy; among those within ``tie`` of it (e.g. all still at chance after
    a short sweep), the one with the lowest training loss of the last epoch."""
    best = max(r["accuracy"] for r in tried)
    close = [r for r in tried if r["accuracy"] >= best - tie]
    return min(close, key=lambda r: (r["train_loss"] if r["train_loss"] is not None else float("inf"), r["lr"]))["lr"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--sweep-epochs", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--output", default=None)
    parser.add_argument("--only", default=None, help="one model name")
    parser.add_argument("--recost", default=None, help="a FILE.json of an earlier run: recompute the step costs "
                        "with the current cost model (fixed activity: independent of the trained weights), no training")
    args = parser.parse_args()
    if args.recost:
        return recost(args.recost, args.output)
    runs = [r for r in RUNS if not args.only or r[0] == args.only]
    sweep = [(m, ds, d, round(lr * k, 6), args.sweep_epochs, b, True) for m, ds, lr, b in runs for d in SWEPT for k in GRID]
    swept = _run_all(sweep, args.jobs)
    chosen = {}
    for m, _ds, lr, _b in runs:
        for d in DESIGNS:
            tried = [r for r in swept if r["model"] == m and r["design"] == d]
            chosen[m, d] = choose(tried) if tried else lr
    final = _run_all([(m, ds, d, chosen[m, d], args.epochs, b, False) for m, ds, lr, b in runs for d in DESIGNS],
                     args.jobs)
    result = {"epochs": args.epochs, "sweep_epochs": args.sweep_epochs, "grid": list(GRID), "sweep": swept,
              "rows": final}
    if args.output:
        from pimtrain.design.io import atomic_write_text

        atomic_write_text(args.output, json.dumps(result, indent=1))
    print(markdown(result))


def recost(path: str, output: str | None) -> None:
    """The step-cost columns of an earlier run's JSON recomputed (the fixed-activity cost of a step does not
    depend on the weights: the untrained model of the same workload traces to the same layers)."""
    from pimtrain.design import load_design
    from pimtrain.nn import load_dataset
    from pimtrain.nn.zoo import build_model
    from pimtrain.runs import epoch_cost

    with open(path, encoding="utf-8") as fh:
        result = json.load(fh)
    for r in result["rows"]:
        if r["design"] == "float":
            continue
        data = load_dataset(r["dataset"])
        step = epoch_cost(load_design(r["design"]), build_model(r["model"], data), data.train_x.shape[1:],
                          len(data.train_x), r["batch_size"])["step"]
        r["step_energy_j"], r["step_latency_s"] = step["energy_j"], step["latency_s"]
    if output:
        from pimtrain.design.io import atomic_write_text

        atomic_write_text(output, json.dumps(result, indent=1))
    print(markdown(result))


def _si(x, unit):
    from pimtrain.report.render import si

    return "—" if x is None else si(x, unit)


def markdown(result: dict) -> str:
    lines = ["| model (data, batch) | design | lr | test accuracy | energy / step | latency / step |",
             "|---|---|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['model']} ({r['dataset']}, {r['batch_size']}) | {r['design']} | {r['lr']:.3g} | "
                     f"{100 * r['accuracy']:.1f} % | {_si(r['step_energy_j'], 'J')} | {_si(r['step_latency_s'], 's')} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
