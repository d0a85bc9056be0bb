"""Benchmarks: pimtrain against a reference measured in the same run (``pimtrain bench``).

``bench_training`` times training epochs of MNIST-5k 784-256-10 (and a digits CNN) under an analog design (8-bit
DAC and ADC, 1 % read noise, a soft-bounds or lookup-table device, or PANTHER's bit slices) against plain PyTorch
float training of the same network with the same batching loop, in interleaved rounds; the per-round ratio is
what the targets of issue 17 bound.
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


def _cases() -> list[tuple]:
    """(name, dataset, model factory, batch, design, target ratio or None) of ``pimtrain bench training``."""
    from pimtrain.nn.models import cnn, mlp

    def mnist_mlp():
        return mlp(BENCH_LAYERS, activation="sigmoid")

    def digits_mlp():
        return mlp([64, 36, 10], activation="sigmoid")

    def digits_cnn():
        return cnn((1, 8, 8), 10)

    cases = [("mnist5k 784-256-10 batch 1, outer product, soft bounds", "mnist5k", mnist_mlp, 1,
              bench_design("outer_product"), 1.5)]
    if shared_data_dir() is not None:
        cases.append(("mnist5k 784-256-10 batch 1, outer product, TaOx lookup tables", "mnist5k", mnist_mlp, 1,
                      bench_design("outer_product", "lookup_table"), 1.5))
    cases.append(("mnist5k 784-256-10 batch 32, accumulate, soft bounds", "mnist5k", mnist_mlp, 32,
                  bench_design("accumulate"), 2.0))
    cases.append(("digits CNN batch 1, outer product, soft bounds", "digits", digits_cnn, 1,
                  bench_design("outer_product"), None))
    panther = load_design("panther-sgd").model_copy(deep=True)
    panther.name = "bench-panther-sgd"
    cases.append(("digits 64-36-10 batch 1, PANTHER bit-sliced (panther-sgd)", "digits", digits_mlp, 1, panther,
                  None))
    return cases


def bench_training(epochs: int = 2, threads: int = 1, device: str = "cpu", progress: bool = True,
                   rounds: int | None = None, only: str | None = None) -> list[dict]:
    """Per case, one epoch of pimtrain against one epoch of float training of the same network, data order and
    loop, in interleaved rounds (float, pimtrain, float, pimtrain, ...; ``rounds`` = ``epochs``), each ratio taken
    within its round: on a loaded machine both see the same load. Reports the best epoch of each and the median
    and range of the per-round ratios. ``only``: cases whose name contains this text."""
    from pimtrain.nn import load_dataset
    from pimtrain.nn.convert import analog_layers
    from pimtrain.nn.trainer import setup_analog, setup_float

    torch.set_num_threads(threads)
    rounds = int(rounds or epochs)
    jit = None
    if device == "cpu":  # the CPU fast path's kernels: compiled at the first run, loaded from disk after (timed)
        from pimtrain.xbar import fast

        if fast.available() and fast.enabled():
            fast.warmup()
            fast.warmup_mlp()
            jit = fast.compile_note()
    out = []
    datasets: dict = {}
    for name, dname, factory, batch, design, target in _cases():
        if only and only not in name:
            continue
        data = datasets.get(dname) or datasets.setdefault(dname, load_dataset(dname, seed=0))
        common = dict(model=factory, batch_size=batch, lr=0.05, seed=0, device=device)
        ref = setup_float(data, **common)
        ours = setup_analog(design, data, **common)
        driver = None
        times, ref_times = [], []
        for _ in range(rounds):
            for sess, acc in ((ref, ref_times), (ours, times)):
                sess.synchronize()
                t0 = time.perf_counter()
                sess.run_epoch().sum().item()
                sess.synchronize()
                acc.append(time.perf_counter() - t0)
            driver = getattr(ours, "_fast_epoch", None)
        updates = {type(getattr(layer.core, "_update", None)).__name__ for layer in analog_layers(ours.model)}
        batch_write = " + numba batch write" if "FastDense" in updates else ""
        path = (driver.path + batch_write if driver is not None else
                "module path, numba " + ("per-sample update" if "FastRank1" in updates else "batch write")
                if updates & {"FastRank1", "FastDense"} else "module path, torch")
        ratios = sorted(t / r for t, r in zip(times, ref_times))
        out.append({
            "name": name,
            "seconds": min(times),
            "reference_seconds": min(ref_times),
            "ratio": ratios[len(ratios) // 2],
            "ratio_min": ratios[0],
            "ratio_max": ratios[-1],
            "rounds": rounds,
            "target_ratio": target,
            "path": path,
            "unit": "seconds per epoch",
            "reference": "plain PyTorch float training, same network, data order and loop, same round",
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
