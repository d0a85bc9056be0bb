#!/usr/bin/env python
"""Accuracy table of the Marinella 2018 analog designs against float training (batch 1, fixed seed).

Trains the dataset's default sigmoid MLP (digits: 64-36-10, mnist5k: 784-300-10) with plain float SGD
(``train_float``) and with each design's crossbar numerics (``train``), all from the same initial
weights, data order and learning rate, and prints a Markdown table plus the command that made it.

    .venv/bin/python scripts/accuracy_table.py                       # the README table
    .venv/bin/python scripts/accuracy_table.py --datasets digits --epochs 3 --json out.json

``--epochs`` is one number for every dataset or ``name=N`` pairs (``digits=10,mnist5k=8``).
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time

import torch

from pimtrain.nn import load_dataset, train, train_float

DESIGNS = ["float", "ideal", "marinella2018-analog", "marinella2018-analog-carry",
           "marinella2018-analog-taox", "marinella2018-analog-taox-carry"]
DATASETS = ["digits", "mnist5k"]
DEFAULT_EPOCHS = {"digits": 10, "mnist5k": 8}  # the README table: ~6 min on one CPU thread
# One learning rate per dataset, the same for every design (float SGD reaches ~95-96 % with it).
DEFAULT_LR = {"digits": 0.1, "mnist5k": 0.1}


def _per_dataset(text: str | None, default: dict, cast, datasets: list[str]) -> dict:
    """'N' (all datasets) or 'name=N,name=M' -> {dataset: value}."""
    out = {d: default.get(d, next(iter(default.values()))) for d in datasets}
    if not text:
        return out
    if "=" not in text:
        return {d: cast(text) for d in datasets}
    for part in text.split(","):
        name, value = part.split("=", 1)
        out[name.strip()] = cast(value)
    return out


def run_one(design: str, data, *, epochs: int, lr: float, seed: int, progress: bool) -> dict:
    start = time.perf_counter()
    if design == "float":
        result = train_float(data, epochs=epochs, batch_size=1, lr=lr, seed=seed, progress=progress, device="cpu")
    else:
        result = train(design, data, epochs=epochs, batch_size=1, lr=lr, seed=seed, progress=progress, device="cpu")
    wall = time.perf_counter() - start
    train_s = sum(e["seconds"] for e in result.epochs)
    return {
        "design": design, "dataset": data.name, "epochs": epochs, "lr": lr, "seed": seed,
        "final_test_accuracy": result.final_test_accuracy,
        "test_accuracy_per_epoch": [e["test_accuracy"] for e in result.epochs],
        "seconds_per_epoch": train_s / max(epochs, 1), "wall_seconds": wall, "run": result.config,
    }


def markdown(rows: list[dict]) -> str:
    """The table; 'last 3 epochs' = mean (min-max) test accuracy of the last three epochs, since the
    single-device runs swing by 10-20 points from one epoch to the next."""
    lines = ["| design | dataset | epochs | lr | final test accuracy | last 3 epochs: mean (min-max) | s/epoch |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        last = [100 * a for a in r["test_accuracy_per_epoch"][-3:]] or [100 * r["final_test_accuracy"]]
        lines.append(f"| {r['design']} | {r['dataset']} | {r['epochs']} | {r['lr']:g} | "
                     f"{100 * r['final_test_accuracy']:.1f} % | {sum(last) / len(last):.1f} % "
                     f"({min(last):.1f}-{max(last):.1f}) | {r['seconds_per_epoch']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated (default: %(default)s)")
    ap.add_argument("--designs", default=",".join(DESIGNS),
                    help="comma-separated; 'float' is the torch.optim.SGD reference (default: all)")
    ap.add_argument("--epochs", default=None,
                    help="N for all datasets, or name=N pairs (default: digits=10,mnist5k=8)")
    ap.add_argument("--lr", default=None, help="lr for all datasets, or name=lr pairs (default: 0.1 each)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1: fastest at batch 1)")
    ap.add_argument("--json", dest="json_out", default=None, help="also write the rows to this JSON file")
    ap.add_argument("--progress", action="store_true", help="show progress bars")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    designs = [d.strip() for d in args.designs.split(",") if d.strip()]
    epochs = _per_dataset(args.epochs, DEFAULT_EPOCHS, int, datasets)
    lrs = _per_dataset(args.lr, DEFAULT_LR, float, datasets)
    command = "scripts/accuracy_table.py " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))

    rows = []
    for ds in datasets:
        data = load_dataset(ds, seed=args.seed)
        for design in designs:
            row = run_one(design, data, epochs=epochs[ds], lr=lrs[ds], seed=args.seed, progress=args.progress)
            rows.append(row)
            print(f"# {design} / {ds}: {100 * row['final_test_accuracy']:.1f} % "
                  f"(per epoch {[round(100 * a, 1) for a in row['test_accuracy_per_epoch']]}, "
                  f"{row['seconds_per_epoch']:.1f} s/epoch)", file=sys.stderr, flush=True)

    print(markdown(rows))
    print()
    print(f"Command: `.venv/bin/python {command.strip()}` (batch 1, seed {args.seed}, "
          f"{torch.get_num_threads()} torch thread(s), CPU)")
    from pimtrain.report.render import run_caption

    for line in dict.fromkeys(run_caption({"run": r["run"]}) for r in rows):
        print(f"Ran on: {line}")
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump({"command": command.strip(), "rows": rows}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
