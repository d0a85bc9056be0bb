"""GPU baseline: a per-layer roofline of a training step (or an inference pass) from vendor figures.

Each layer of a workload runs as separate kernels (forward GEMM, activation, backward-data GEMM,
activation derivative, weight-gradient GEMM, SGD update). A kernel takes the longer of its arithmetic
time (FLOPs / attainable FLOP/s) and its memory time (bytes / attainable bandwidth), plus a launch
overhead; the layers run one after another. Board power rises from idle to the rated board power with
how busy the kernels keep the chip; energy = power × time.

Vendor figures are exact (sources in ``GPUS``); the efficiencies, the launch overhead and the idle power
are assumptions, named as such, and are the same for every GPU. Counting per training step of batch B:
FLOPs 6·MACs·B (2 per MAC in each of forward, backward-data, weight-gradient); weight traffic 6·W words
(read forward and backward, write gradient, read weight and gradient and write weight in the update,
independent of B); activation traffic per sample 3·(input + output) words (forward reads the input and
writes the output; backward reads the output gradient, writes the input gradient and reads the input
again for the weight gradient). An inference pass: 2·MACs·B FLOPs, W + B·(input + output) words.
A layer's input is the previous layer's output (the network input for the first).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from pimtrain.design.errors import PimtrainError


@dataclass(frozen=True)
class GpuSpec:
    name: str
    peak_flops: float  # FLOP/s in fp32 (FMA = 2 FLOPs)
    peak_flops_half: float  # FLOP/s in fp16 / bf16 without tensor cores
    bandwidth: float  # B/s of device memory
    board_power: float  # W, rated
    idle_power: float  # W
    die_area: float  # m²
    node_nm: float
    source: str


#: the GPUs the seed papers compare with (docs/sources.md §10)
GPUS: dict[str, GpuSpec] = {
    "rtx2080ti": GpuSpec(
        "NVIDIA GeForce RTX 2080 Ti", peak_flops=4352 * 2 * 1.545e9, peak_flops_half=2 * 4352 * 2 * 1.545e9,
        bandwidth=616e9, board_power=250.0, idle_power=15.0, die_area=754e-6, node_nm=12.0,
        source="NVIDIA reference specification: 4,352 CUDA cores, 1,545 MHz boost (13.45 TFLOPS fp32, "
               "fp16 2:1), 11 GB GDDR6 352-bit 616 GB/s, 250 W board power; TU102 754 mm² at 12 nm "
               "(PANTHER Table 3 quotes 750 mm², 250 W, docs/sources.md §10); idle 15 W assumed"),
    "gtx1080": GpuSpec(
        "NVIDIA GeForce GTX 1080", peak_flops=2560 * 2 * 1.733e9, peak_flops_half=2560 * 2 * 1.733e9 / 64,
        bandwidth=320e9, board_power=180.0, idle_power=8.0, die_area=314e-6, node_nm=16.0,
        source="NVIDIA specification: 2,560 CUDA cores, 1,733 MHz boost (8.87 TFLOPS fp32; GP104 fp16 at "
               "1/64 rate), 8 GB GDDR5X 256-bit 320 GB/s, 180 W board power; GP104 314 mm² at 16 nm; "
               "idle 8 W assumed"),
}

#: assumptions shared by every GPU (not calibrated to any paper)
COMPUTE_EFFICIENCY = 0.7  # attainable fraction of peak FLOP/s on large GEMMs (cuBLAS/cuDNN, assumed)
MEMORY_EFFICIENCY = 0.8  # attainable fraction of peak bandwidth on streaming kernels (assumed)
LAUNCH_OVERHEAD = 5e-6  # s per kernel: launch + synchronisation of the framework (assumed)
KERNELS_TRAINING = 6  # forward GEMM, activation, backward GEMM, activation derivative, weight GEMM, update
KERNELS_INFERENCE = 2  # GEMM, activation

_WORD_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}


def gpu_names() -> list[str]:
    return sorted(GPUS)


def gpu_spec(gpu: str) -> GpuSpec:
    key = str(gpu).strip().lower().replace(" ", "").replace("-", "").replace("_", "")
    if key not in GPUS:
        raise PimtrainError(f"gpu: unknown {gpu!r}; allowed: {', '.join(gpu_names())}")
    return GPUS[key]


def gpu_step_cost(gpu: str, workload, batch_size: int = 1, training: bool = True, dtype: str = "fp32") -> dict:
    """Latency (s), energy (J) and their per-layer split for one step of ``batch_size`` samples of
    ``workload`` (a name or a ``Workload``) on ``gpu``."""
    from pimtrain.workloads import Workload, get_workload

    spec = gpu_spec(gpu)
    wl = workload if isinstance(workload, Workload) else get_workload(workload)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise PimtrainError(f"batch_size: {batch_size!r} must be a positive integer")
    if dtype not in _WORD_BYTES:
        raise PimtrainError(f"dtype: {dtype!r}; allowed: {', '.join(_WORD_BYTES)}")
    word = _WORD_BYTES[dtype]
    peak = (spec.peak_flops if dtype == "fp32" else spec.peak_flops_half) * COMPUTE_EFFICIENCY
    bw = spec.bandwidth * MEMORY_EFFICIENCY
    kernels = KERNELS_TRAINING if training else KERNELS_INFERENCE
    prev_out = math.prod(wl.input_shape) if wl.input_shape else None
    layers, t_total, t_busy, flops_total, bytes_total = [], 0.0, 0.0, 0.0, 0.0
    for L in wl.layers:
        out_act = L.out_features * L.reuse
        in_act = prev_out if prev_out is not None else L.in_features * L.reuse
        if training:
            flops = 6.0 * L.macs * batch_size
            nbytes = word * (6.0 * L.weights + 3.0 * batch_size * (in_act + out_act))
        else:
            flops = 2.0 * L.macs * batch_size
            nbytes = word * (L.weights + batch_size * (in_act + out_act))
        busy = max(flops / peak, nbytes / bw)
        t = busy + kernels * LAUNCH_OVERHEAD
        layers.append({"layer": L.name, "flops": flops, "bytes": nbytes, "latency_s": t,
                       "bound": "compute" if flops / peak >= nbytes / bw else "memory"})
        t_total += t
        t_busy += busy
        flops_total += flops
        bytes_total += nbytes
        prev_out = out_act
    utilisation = t_busy / t_total if t_total > 0 else 0.0
    power = spec.idle_power + (spec.board_power - spec.idle_power) * utilisation
    for row in layers:
        row["energy_j"] = power * row["latency_s"]
    return {
        "gpu": spec.name, "workload": wl.name, "batch_size": batch_size, "training": training, "dtype": dtype,
        "latency_s": t_total, "energy_j": power * t_total, "power_w": power, "utilisation": utilisation,
        "flops": flops_total, "bytes": bytes_total, "area_m2": spec.die_area,
        "latency_per_sample_s": t_total / batch_size, "energy_per_sample_j": power * t_total / batch_size,
        "layers": layers, "source": spec.source,
    }


__all__ = ["GpuSpec", "GPUS", "gpu_names", "gpu_spec", "gpu_step_cost"]
