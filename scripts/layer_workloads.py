"""Accuracy and the cost of one training step of the named sequence / 1-D models (README table, issue 16).

    PYTHONPATH=. OMP_NUM_THREADS=1 python scripts/layer_workloads.py [--epochs 5] [--output FILE.json]

Per workload (lstm and transformer on digits, cnn1d on filetypes) and per design (float, ideal,
marinella2018-analog, panther-sgd): test accuracy after training (``pimtrain train --model``'s loop) and
energy / latency of one training step of the batch (fixed-activity cost model). Results written atomically.
"""
from __future__ import annotations

import argparse
import functools
import json
import time

from pimtrain.design import load_design
from pimtrain.nn import load_dataset, train, train_float
from pimtrain.nn.zoo import build_model
from pimtrain.design.io import atomic_write_text
from pimtrain.runs import epoch_cost

# (model, dataset, lr, batch size): lr chosen on the float run (assumption, not tuned per design)
RUNS = [("lstm", "digits", 0.5, 16), ("transformer", "digits", 0.05, 16), ("cnn1d", "filetypes", 0.1, 8)]
DESIGNS = ["float", "ideal", "marinella2018-analog", "panther-sgd"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--output", default=None)
    parser.add_argument("--only", default=None, help="one model name")
    args = parser.parse_args()
    rows = []
    for name, dataset, lr, batch in RUNS:
        if args.only and name != args.only:
            continue
        data = load_dataset(dataset)
        for design in DESIGNS:
            start = time.time()
            factory = functools.partial(build_model, name, data)
            if design == "float":
                res = train_float(data, model=factory, epochs=args.epochs, batch_size=batch, lr=lr, progress=False)
                step = {}
            else:
                d = load_design(design)
                res = train(d, data, model=factory, epochs=args.epochs, batch_size=batch, lr=lr, progress=False)
                step = epoch_cost(d, res.model, data.train_x.shape[1:], len(data.train_x), batch)["step"]
            row = {"model": name, "dataset": dataset, "design": design, "epochs": args.epochs, "batch_size": batch,
                   "lr": lr, "test_accuracy": res.final_test_accuracy, "step_energy_j": step.get("energy_j"),
                   "step_latency_s": step.get("latency_s"), "wall_s": round(time.time() - start, 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.output:
        atomic_write_text(args.output, json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
