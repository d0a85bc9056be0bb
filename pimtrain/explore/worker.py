"""What runs a point, in whatever process the engine chose: cost, training, or both.

``run_point(task)`` takes a plain mapping (the design as a dump, so it travels to any worker) and
returns a plain mapping of output figures plus ``status`` (``ok``, ``refused`` when pimtrain refuses
the point with a one-line :class:`~pimtrain.design.PimtrainError`, ``failed`` for anything else) and
``reason``. It never raises. It uses the public API only: ``pimtrain.evaluate``, ``pimtrain.nn.train``,
``pimtrain.workloads``.
"""
from __future__ import annotations

import os
import socket
import time
from typing import Any

from pimtrain.design import PimtrainError

_DATASETS: dict = {}


def parse_model(text: str):
    """``default`` -> None (the dataset's default MLP), ``cnn``, ``mlp:64-36-10[:act]`` -> a factory."""
    if text in ("default", "", None):
        return None
    if text == "cnn":
        from pimtrain.nn import cnn

        return cnn
    if text.startswith("mlp:"):
        parts = text[4:].split(":")
        try:
            sizes = [int(x) for x in parts[0].split("-")]
        except ValueError:
            sizes = []
        act = parts[1] if len(parts) > 1 else "sigmoid"
        from pimtrain.nn.models import ACTIVATIONS

        if len(sizes) < 2 or any(s < 1 for s in sizes) or act not in ACTIVATIONS:
            raise PimtrainError(f"model {text!r}; allowed: mlp:<in>-...-<out>[:{'|'.join(ACTIVATIONS)}]")
        from functools import partial

        from pimtrain.nn import mlp

        return partial(mlp, sizes, activation=act)
    raise PimtrainError(f"unknown model {text!r}; allowed: default, cnn, mlp:<in>-...-<out>[:activation]")


def _dataset(name: str):
    if name not in _DATASETS:
        from pimtrain.nn import load_dataset

        _DATASETS[name] = load_dataset(name)
    return _DATASETS[name]


def _cost_figures(rep, prefix: str = "") -> dict:
    out = {"energy_j": rep.energy_j, "latency_s": rep.latency_s, "area_m2": rep.area_m2, "power_w": rep.power_w,
           "macs": float(rep.macs)}
    for k in ("forward", "backward", "update"):
        v = (rep.kernel or {}).get(k)
        out[f"energy_{k}_j"] = float(v["energy_j"]) if v else None
        out[f"latency_{k}_s"] = float(v["latency_s"]) if v else None
    return out


def _run(task: dict, device_override: str | None) -> dict:
    import pimtrain

    design = pimtrain.Design.model_validate(task["design"])
    s = task["settings"]
    out: dict[str, Any] = {}
    if s["measure"] == "cost":
        rep = pimtrain.evaluate(design, task["workload"], batch_size=s["batch_size"], inference=s["inference"])
        out.update(_cost_figures(rep))
        return out
    import torch

    from pimtrain.nn import train

    t = s["train"]
    torch.set_num_threads(int(task.get("threads", 1)))
    data = _dataset(t["dataset"])
    device = device_override or ("cpu" if t["device"] == "auto" and not torch.cuda.is_available() else t["device"])
    t0 = time.perf_counter()
    r = train(design, data, model=parse_model(t["model"]), epochs=t["epochs"], batch_size=t["batch_size"],
              lr=t["lr"], seed=t["seed"], progress=False, device=device)
    out["train_seconds"] = time.perf_counter() - t0
    out["test_accuracy"] = float(r.final_test_accuracy)
    out["train_loss"] = float(r.epochs[-1]["train_loss"]) if r.epochs else None
    out["epochs_json"] = [{"epoch": e["epoch"], "train_loss": e["train_loss"], "test_accuracy": e["test_accuracy"]}
                          for e in r.epochs]
    out["train_stats"] = {k: (float(v) if isinstance(v, float) else v) for k, v in r.stats.items()
                          if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if s["measure"] == "both":
        from pimtrain.workloads import from_module

        wl = from_module(r.model, tuple(data.train_x.shape[1:]), name=task["workload"])
        rep = pimtrain.evaluate(design, wl, batch_size=t["batch_size"], inference=s.get("inference", False))
        out.update(_cost_figures(rep))
        steps = -(-len(data.train_y) // t["batch_size"])
        out["energy_per_epoch_j"] = rep.energy_j * steps
    return out


def run_point(task: dict, device_override: str | None = None) -> dict:
    """Outputs of one point, never raising; ``seconds`` and ``worker`` are timings, not results."""
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        out = _run(task, device_override)
        out.update(status="ok", reason=None)
    except PimtrainError as exc:
        out = {"status": "refused", "reason": " ".join(str(exc).split())}
    except Exception as exc:  # noqa: BLE001 - a worker bug must not end the sweep: recorded, retried on the next run
        out = {"status": "failed", "reason": f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:500]}
    out["key"] = task["key"]
    out["seconds"] = time.perf_counter() - t0
    out["cpu_seconds"] = time.process_time() - c0
    out["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    return out


def run_chunk(tasks: list[dict], device_override: str | None = None) -> list[dict]:
    return [run_point(t, device_override) for t in tasks]


__all__ = ["parse_model", "run_chunk", "run_point"]
