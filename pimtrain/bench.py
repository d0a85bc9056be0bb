"""Benchmarks: pimtrain against a reference measured in the same run (``pimtrain bench``).

``bench_training`` times one training epoch of MNIST-5k 784-256-10 under an analog design (8-bit DAC
and ADC, read noise, a soft-bounds or lookup-table device) against plain PyTorch float training of
the same network with the same batching loop; the ratio is what the targets of issue 3 bound.
``bench_cost`` times the cost model on one VGG-16 training step.
"""
from __future__ import annotations

import time

import torch

from pimtrain.design import Design, load_design
from pimtrain.design.paths import shared_data_dir

BENCH_LAYERS = [784, 256, 10]


def bench_design(rule: str, device: str = "soft_bounds") -> Design:
    """The benchmark design: Marinella's converters (8-bit DAC/ADC) plus read noise, given rule and device."""
    base = load_design("marinella2018-analog-taox" if device == "lookup_table" else "marinella2018-analog")
    d = base.model_copy(deep=True)
    d.name = f"bench-{device}-{rule}"
    d.device.read_noise = 0.01
    d.update.rule = rule
    return d


def _time_epochs(fn, epochs: int) -> float:
    """Fastest epoch (s) of ``fn(epochs)``, which returns per-epoch records with 'seconds'."""
    records = fn(epochs)
    return min(r["seconds"] for r in records)


def bench_training(epochs: int = 2, threads: int = 1, device: str = "cpu", progress: bool = True) -> list[dict]:
    from pimtrain.nn import load_dataset, train, train_float
    from pimtrain.nn.models import mlp

    torch.set_num_threads(threads)
    jit = None
    if device == "cpu":  # the CPU fast path's kernels: compiled at the first run, loaded from disk after (timed)
        from pimtrain.xbar import fast

        if fast.available() and fast.enabled():
            fast.warmup()
            jit = fast.compile_note()
    data = load_dataset("mnist5k", seed=0)
    cases = [("batch 32, accumulate, soft bounds", 32, "accumulate", "soft_bounds", 3.0),
             ("batch 1, outer product, soft bounds", 1, "outer_product", "soft_bounds", 2.0)]
    if shared_data_dir() is not None:
        cases.append(("batch 1, outer product, TaOx lookup", 1, "outer_product", "lookup_table", 2.0))
    out = []
    for name, batch, rule, dev, target in cases:
        design = bench_design(rule, dev)
        common = dict(epochs=epochs, batch_size=batch, seed=0, progress=progress, lr=0.05)

        def run_pim(n, design=design, common=common):
            return train(design, data, model=mlp(BENCH_LAYERS, activation="sigmoid"), device=device, **{**common, "epochs": n}).epochs

        def run_float(n, common=common):
            return train_float(data, model=mlp(BENCH_LAYERS, activation="sigmoid"), device=device, **{**common, "epochs": n}).epochs

        ref = _time_epochs(run_float, epochs)
        ours = _time_epochs(run_pim, epochs)
        out.append({
            "name": f"mnist5k 784-256-10 {name}",
            "seconds": ours,
            "reference_seconds": ref,
            "ratio": ours / ref,
            "target_ratio": target,
            "unit": "seconds per epoch",
            "reference": "plain PyTorch float training, same network, data order and loop",
            "threads": threads,
            "device": device,
            **({"jit": jit} if jit else {}),
        })
    return out


def bench_cost(repeats: int = 20) -> list[dict]:
    from pimtrain.cost import evaluate
    from pimtrain.workloads import get_workload

    budget = 0.005
    out = []
    # one preset per family of the engine: analog crossbars, bit-serial ISAAC-style readout, PUMA matrix
    # units, digital MACs next to SRAM, in-memory floating-point logic
    for design_name in ("marinella2018-analog", "isaac", "panther-sgd", "marinella2018-sram", "floatpim"):
        try:
            design = load_design(design_name)
        except Exception:
            continue
        workload = get_workload("vgg16")
        evaluate(design, workload, batch_size=1)  # warm-up (imports, caches)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            evaluate(design, workload, batch_size=1)
            times.append(time.perf_counter() - t0)
        times.sort()
        sec = times[len(times) // 2]
        out.append({
            "name": f"vgg16 training step cost on {design_name}",
            "seconds": sec,
            "reference_seconds": budget,
            "ratio": sec / budget,
            "target_ratio": 1.0,
            "unit": "seconds per evaluation (median)",
            "reference": "the 5 ms budget for one VGG-16 training step (a sweep of 100 points per second per core)",
        })
    return out
