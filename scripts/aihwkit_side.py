#!/usr/bin/env python
"""The aihwkit half of ``scripts/compare_aihwkit.py``; runs in aihwkit's own venv (see scripts/build_aihwkit.sh).

    /work/aihwkit-venv/bin/python scripts/aihwkit_side.py JOB.json

Imports torch, numpy and aihwkit only (not pimtrain). ``JOB.json`` (written by compare_aihwkit.py) names the
data file (train/test arrays and, per seed, the float network's initial weights), the epochs, learning rate,
batch size, seeds, and per algorithm the aihwkit field values made by ``pimtrain.compare.aihwkit_fields``.
Trains a sigmoid MLP of AnalogLinear layers with AnalogSGD in the same data order as pimtrain (the same
``torch.randperm`` stream of a generator seeded by the seed) and writes ``{"results": [...]}`` to the job's
``out`` path (atomically). aihwkit's CPU simulator seeds its update RNG from the clock, so its runs are not
bit-reproducible; its device-to-device draws use ``construction_seed`` = seed + 1.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F


def _set(obj, fields: dict):
    """Set dataclass fields by name; a field aihwkit does not have is an error (a version mismatch)."""
    from aihwkit.simulator.parameters.enums import PulseType

    for key, value in fields.items():
        if not hasattr(obj, key):
            raise SystemExit(f"aihwkit_side: {type(obj).__name__} has no field {key!r} (aihwkit version?)")
        if key == "pulse_type":
            value = PulseType[value]
        setattr(obj, key, value)
    return obj


def _io(fields: dict):
    from aihwkit.simulator.configs import IOParameters

    return _set(IOParameters(), fields)


def _update(fields: dict):
    from aihwkit.simulator.configs import UpdateParameters

    return _set(UpdateParameters(), fields)


def rpu_config(m: dict, seed: int):
    """The aihwkit RPU config for one mapped design (``pimtrain.compare.aihwkit_fields``)."""
    from aihwkit.simulator import configs as C

    def device():
        d = _set(getattr(C, m["device_class"])(), m["device"])
        d.construction_seed = seed + 1
        return d

    alg = m["algorithm"]
    if alg["config"] == "SingleRPUConfig":
        cfg = C.SingleRPUConfig(device=device())
    else:
        fields = dict(alg["fields"])
        tf, tu = fields.pop("transfer_forward"), fields.pop("transfer_update")
        compound = getattr(C, alg["compound"])(unit_cell_devices=[device(), device()])
        _set(compound, fields)
        compound.transfer_forward = _io(tf)
        compound.transfer_update = _update(tu)
        cfg = C.UnitCellRPUConfig(device=compound)
    cfg.forward = _io(m["forward"])
    cfg.backward = _io(m["backward"])
    cfg.update = _update(m["update"])
    _set(cfg.mapping, m["mapping"])
    return cfg


def build_model(cfg, init: dict[str, np.ndarray], sizes: list[int]):
    from aihwkit.nn import AnalogLinear, AnalogSequential

    layers = []
    for i in range(len(sizes) - 1):
        layer = AnalogLinear(sizes[i], sizes[i + 1], bias=True, rpu_config=cfg)
        layer.set_weights(torch.tensor(init[f"w{i}"]), torch.tensor(init[f"b{i}"]))
        layers.append(layer)
        if i < len(sizes) - 2:
            layers.append(torch.nn.Sigmoid())
    return AnalogSequential(*layers)


@torch.no_grad()
def accuracy(model, x, y) -> float:
    model.eval()
    correct = 0
    for xb, yb in zip(x.split(1000), y.split(1000)):
        correct += int((model(xb).argmax(1) == yb).sum())
    model.train()
    return correct / len(y)


def train_one(m: dict, data, init: dict, sizes: list[int], *, epochs: int, lr: float, batch_size: int, seed: int) -> dict:
    from aihwkit.optim import AnalogSGD

    tx, ty, vx, vy = data
    torch.manual_seed(seed)
    model = build_model(rpu_config(m, seed), init, sizes)
    opt = AnalogSGD(model.parameters(), lr=lr)
    opt.regroup_param_groups(model)
    gen = torch.Generator().manual_seed(seed)  # pimtrain's data order (pimtrain/nn/trainer.py epoch_once)
    per_epoch, seconds = [], []
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(tx.shape[0], generator=gen)
        for xb, yb in zip(tx.index_select(0, order).split(batch_size), ty.index_select(0, order).split(batch_size)):
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
        seconds.append(time.perf_counter() - start)
        per_epoch.append(accuracy(model, vx, vy))
    return {"test_accuracy_per_epoch": per_epoch, "final_test_accuracy": per_epoch[-1],
            "seconds_per_epoch": sum(seconds) / max(len(seconds), 1)}


def write_json_atomic(path: str, obj) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: aihwkit_side.py JOB.json", file=sys.stderr)
        return 2
    import aihwkit

    torch.set_num_threads(1)
    with open(argv[0]) as f:
        job = json.load(f)
    z = np.load(job["data"])
    data = (torch.tensor(z["train_x"], dtype=torch.float32), torch.tensor(z["train_y"], dtype=torch.int64),
            torch.tensor(z["test_x"], dtype=torch.float32), torch.tensor(z["test_y"], dtype=torch.int64))
    results = []
    out = {"tool": "aihwkit", "aihwkit_version": aihwkit.__version__, "torch_version": torch.__version__,
           "results": results}
    for run in job["runs"]:
        for seed in job["seeds"]:
            init = {k.split("/", 1)[1]: z[k] for k in z.files if k.startswith(f"init{seed}/")}
            r = train_one(run["aihwkit"], data, init, job["sizes"], epochs=job["epochs"], lr=job["lr"],
                          batch_size=job["batch_size"], seed=seed)
            results.append({"algorithm": run["algorithm"], "seed": seed, **r})
            print(f"aihwkit {run['algorithm']} seed {seed}: {r['final_test_accuracy']:.4f} "
                  f"({r['seconds_per_epoch']:.1f} s/epoch)", file=sys.stderr, flush=True)
            write_json_atomic(job["out"], out)  # after every run: nothing already measured is lost
    write_json_atomic(job["out"], out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
