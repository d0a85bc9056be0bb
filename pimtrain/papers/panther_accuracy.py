"""PANTHER's accuracy side of bit slicing (in the spirit of the paper's Fig. 10, papers.md §2.2/§2.4):
train with ``panther-sgd``'s numerics (bit-sliced OPA, CRS) over slice widths × CRS intervals.

Each run changes only ``update.slicing.slice_bits`` and ``carry_interval`` of the preset; a float run
is the reference. Small by design (digits MLP 64-36-10, batch 1, a few epochs) so that
``pimtrain reproduce panther2020 --plots DIR`` finishes in a few minutes on one CPU core (16 runs of
about 9 s each).

The other two sweeps of the README table are not part of ``--plots`` because they take longer (a
bit-sliced CNN run on the digits takes about 55 s on one core, so :data:`SWEEPS` ``'cnn'`` is about
6 minutes; ``'mnist5k'`` about as long); run them with :func:`run_named`::

    python -c "from pimtrain.papers.panther_accuracy import run_named; run_named('cnn', 'out/')"
    python -c "from pimtrain.papers.panther_accuracy import run_named; run_named('mnist5k', 'out/')"
"""
from __future__ import annotations

import time
from pathlib import Path

from pimtrain.design import atomic_path, atomic_write_text, load_design

#: slice widths (most significant first) swept, as strings of digits
SLICE_CONFIGS = ("33333333", "44444444", "44466555", "55555555")
CRS_INTERVALS = (16, 64, 256, 1024)


def sliced_design(bits: str, interval: int, base: str = "panther-sgd"):
    """``base`` with slice widths ``bits`` (e.g. '44466555') and a CRS every ``interval`` examples."""
    d = load_design(base)
    sl = d.update.slicing.model_copy(update={"slice_bits": [int(c) for c in bits], "slices": len(bits),
                                             "carry_interval": int(interval)})
    return d.model_copy(update={"update": d.update.model_copy(update={"slicing": sl}),
                                "name": f"{base}[{bits},crs{interval}]"})


def sweep(dataset: str = "digits", epochs: int = 2, lr: float = 0.1, seed: int = 0, model=None,
          configs=SLICE_CONFIGS, intervals=CRS_INTERVALS) -> dict:
    """Final test accuracy of every (slice config, CRS interval) and of float training."""
    import torch

    from pimtrain.nn import train, train_float

    torch.set_num_threads(1)
    t0 = time.time()
    ref = train_float(dataset, model=model, epochs=epochs, lr=lr, seed=seed, progress=False)
    runs = []
    for bits in configs:
        for iv in intervals:
            r = train(sliced_design(bits, iv), dataset, model=model, epochs=epochs, lr=lr, seed=seed, progress=False)
            st = r.stats
            runs.append({"slice_bits": bits, "crs_interval": iv, "test_accuracy": r.final_test_accuracy,
                         "saturated_writes": st.get("saturated_writes", 0), "cells_updated": st.get("cells_updated", 0),
                         "carries": st.get("carries", 0)})
    return {"dataset": dataset, "epochs": epochs, "lr": lr, "seed": seed, "float_accuracy": ref.final_test_accuracy,
            "runs": runs, "seconds": time.time() - t0, "run": ref.config}


#: the sweeps behind the README table: keyword arguments of :func:`sweep` (``model`` by name)
SWEEPS = {
    "digits": {"dataset": "digits", "epochs": 2, "lr": 0.1},
    "mnist5k": {"dataset": "mnist5k", "epochs": 1, "lr": 0.1, "configs": ("33333333", "44444444", "44466555"),
                "intervals": (64, 1024)},
    "cnn": {"dataset": "digits", "epochs": 2, "lr": 0.03, "model": "cnn",
            "configs": ("33333333", "44444444", "44466555"), "intervals": (64, 1024)},
}


def run_named(name: str, folder=None) -> dict:
    """Run the sweep ``SWEEPS[name]``; with ``folder``, also write its JSON and PNG there."""
    import json

    if name not in SWEEPS:
        from pimtrain.design import PimtrainError

        raise PimtrainError(f"sweep: unknown {name!r}; allowed: {', '.join(SWEEPS)}")
    kw = dict(SWEEPS[name])
    if kw.get("model") == "cnn":
        from pimtrain.nn import cnn

        kw["model"] = cnn
    acc = sweep(**kw)
    acc["sweep"] = name
    if folder is not None:
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / f"panther2020_accuracy_{name}.json", json.dumps(acc, indent=1))
        acc["plot"] = str(plot_sweep(acc, out / f"panther2020_fig10_slicing_{name}.png"))
    return acc


def plot_sweep(acc: dict, path) -> Path:
    """Test accuracy vs CRS interval, one line per slice configuration; float as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for bits in dict.fromkeys(r["slice_bits"] for r in acc["runs"]):
        pts = [(r["crs_interval"], 100 * r["test_accuracy"]) for r in acc["runs"] if r["slice_bits"] == bits]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"slices {bits}")
    ax.axhline(100 * acc["float_accuracy"], color="k", ls="--", label="float")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("CRS interval (examples)")
    ax.set_ylabel("test accuracy (%)")
    what = "CNN on digits" if acc.get("sweep") == "cnn" else acc["dataset"]
    run = acc.get("run") or {}
    settings = (f"\n{run.get('split', '')} ({run.get('data_origin', '?')}), {run.get('network', '')}, lr {acc['lr']:g}, "
                f"seed {acc['seed']}, pimtrain {run.get('pimtrain_version', '?')}, torch {run.get('torch_version', '?')}"
                if run else "")
    ax.set_title(f"PANTHER bit slicing: {what}, {acc['epochs']} epochs, batch 1{settings}", fontsize=7)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return path


__all__ = ["SLICE_CONFIGS", "CRS_INTERVALS", "SWEEPS", "sliced_design", "sweep", "run_named", "plot_sweep"]
