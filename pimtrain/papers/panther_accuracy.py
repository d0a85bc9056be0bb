"""PANTHER's accuracy side of bit slicing (in the spirit of the paper's Fig. 10, docs/sources.md §2.2/§2.4):
train with ``panther-sgd``'s numerics (bit-sliced OPA, CRS) over slice widths × CRS intervals.

Each run changes only ``update.slicing.slice_bits`` and ``carry_interval`` of the preset; a float run
is the reference. Small by design (digits MLP 64-36-10, batch 1, a few epochs) so that
``pimtrain reproduce panther2020 --plots DIR`` finishes in a few minutes on one CPU core (16 runs of
about 9 s each). The runs go through :mod:`pimtrain.explore` (:func:`slicing_spec` is the sweep spec),
so they use every core and show a progress bar; ``pimtrain sweep`` runs the same spec from a file.

The other two sweeps of the README table are not part of ``--plots`` because they take longer (a
bit-sliced CNN run on the digits takes about 55 s on one core, so :data:`SWEEPS` ``'cnn'`` is about
6 minutes; ``'mnist5k'`` about as long); run them with :func:`run_named`::

    python -c "from pimtrain.papers.panther_accuracy import run_named; run_named('cnn', 'out/')"
    python -c "from pimtrain.papers.panther_accuracy import run_named; run_named('mnist5k', 'out/')"
"""
from __future__ import annotations

import json
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


def slicing_spec(dataset: str = "digits", epochs: int = 2, lr: float = 0.1, seed: int = 0, model: str = "default",
                 configs=SLICE_CONFIGS, intervals=CRS_INTERVALS, base: str = "panther-sgd") -> dict:
    """The sweep spec (``pimtrain sweep`` format) of slice widths × CRS intervals on ``base``: one patch axis
    (``slice_bits`` and ``slices`` changed together) and the carry interval, each point trained."""
    patches = {bits: {"update.slicing.slice_bits": [int(c) for c in bits], "update.slicing.slices": len(bits)}
               for bits in configs}
    return {"name": f"panther2020-slicing-{dataset}-{model}", "base": base, "measure": "train",
            "train": {"dataset": dataset, "model": model, "epochs": epochs, "seed": seed, "lr": lr, "batch_size": 1},
            "axes": {"slice_bits": {"patches": patches},
                     "update.slicing.carry_interval": {"values": [int(i) for i in intervals]}}}


def _model_name(model) -> str:
    if model is None:
        return "default"
    if isinstance(model, str):
        return model
    from pimtrain.nn import cnn

    if model is cnn:
        return "cnn"
    from pimtrain.design import PimtrainError

    raise PimtrainError("sweep: model must be None, 'cnn', 'mlp:<in>-...-<out>' or pimtrain.nn.cnn")


def sweep(dataset: str = "digits", epochs: int = 2, lr: float = 0.1, seed: int = 0, model=None,
          configs=SLICE_CONFIGS, intervals=CRS_INTERVALS, workers: int | None = None, db=None,
          progress: bool | None = None) -> dict:
    """Final test accuracy of every (slice config, CRS interval) and of float training.

    The runs go through :mod:`pimtrain.explore` (a local process pool of ``workers`` processes, default
    all cores; ``workers=1`` runs them in this process) into the results database ``db`` (default: in
    memory, so every call measures afresh). The numbers equal a serial loop of ``pimtrain.nn.train`` with
    the same seed: each run is seeded on its own and trains with one torch thread.
    """
    import sys

    import torch

    from pimtrain.explore import ResultsDB, run_sweep, spec_from_dict
    from pimtrain.nn import train_float

    torch.set_num_threads(1)
    t0 = time.time()
    ref = train_float(dataset, model=model, epochs=epochs, lr=lr, seed=seed, progress=False)
    loaded = spec_from_dict(slicing_spec(dataset, epochs, lr, seed, _model_name(model), configs, intervals),
                            where="panther2020 sweep")
    db = ":memory:" if db is None else db
    with ResultsDB(db) as handle:
        summary = run_sweep(loaded, db_handle=handle, workers=workers,
                            progress=sys.stderr.isatty() if progress is None else progress)
        rows = {(r["axis:slice_bits"], r["axis:update.slicing.carry_interval"]): r
                for r in handle.rows("WHERE sweep = ?", [loaded.spec.name])}
    runs = []
    for bits in configs:
        for iv in intervals:
            r = rows.get((bits, int(iv)))
            if r is None or r["status"] != "ok":
                from pimtrain.design import PimtrainError

                raise PimtrainError(f"panther2020 sweep: run {bits}/crs{iv} {r['status'] if r else 'missing'}: "
                                    f"{r['reason'] if r else ''}")
            st = json.loads(r["train_stats"] or "{}")
            runs.append({"slice_bits": bits, "crs_interval": int(iv), "test_accuracy": r["test_accuracy"],
                         "saturated_writes": st.get("saturated_writes", 0), "cells_updated": st.get("cells_updated", 0),
                         "carries": st.get("carries", 0)})
    return {"dataset": dataset, "epochs": epochs, "lr": lr, "seed": seed, "float_accuracy": ref.final_test_accuracy,
            "runs": runs, "seconds": time.time() - t0, "run": ref.config, "workers": summary["workers"]}


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


__all__ = ["CRS_INTERVALS", "SLICE_CONFIGS", "SWEEPS", "plot_sweep", "run_named", "sliced_design", "slicing_spec", "sweep"]
