"""A workload's step costed by compiling and executing it (``pimtrain cost --executor program``, ``pimtrain
reproduce panther2020 --executor program``).

:func:`workload_model` builds a torch network for a workload's layer list: fully-connected layers (``linear``, used
once per example) as ``Linear``; ``conv`` layers (a matrix of ``C·3·3`` inputs used at ``reuse`` = ``s×s`` output
positions) as 3×3 ``Conv2d`` with padding 1 on an ``s×s`` input — where the positions halve from one layer to the next
(VGG-16's 2×2 pooling between them, e.g. convA's conv 10 → 11) the next convolution has stride 2, the same matrix at
the same positions (the workload counts no pooling). No biases (the workloads' matrices have none); hidden layers
sigmoid (MLPs) or ReLU (conv sets); weights seeded (they do not change the timing). The model is compiled by
:func:`pimtrain.isa.netcompile.compile_model` (PANTHER's benchmark layers are mid-network: the first layer's
transposed read is compiled too, as the analytical count charges it) and timed by
:class:`pimtrain.isa.timing.TimedExecutor` on the design's components. Leakage is not charged (the executed program's
dynamic energy).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from pimtrain.design import PimtrainError, load_design

#: matrix-unit operations of one step above which a workload is not executed (seconds of Python per 10^4)
MAX_UNIT_OPS = 200_000


def workload_model(wl, seed: int = 0) -> tuple[nn.Module, tuple]:
    """``(model, input shape of one example)`` of workload ``wl`` (module docstring); one line for what it cannot build."""
    torch.manual_seed(seed)
    mods: list = []
    shape = None
    prev = None
    for L in wl.layers:
        if L.kind == "linear" and int(L.reuse) == 1:
            if shape is None:
                shape = (L.in_features,)
            elif len(shape) == 3:
                if math.prod(shape) != L.in_features:
                    break
                mods.append(nn.Flatten())
            mods += [nn.Linear(L.in_features, L.out_features, bias=False), nn.Sigmoid()]
            prev = ("linear", L.out_features, 1)
            continue
        s = math.isqrt(int(L.reuse))
        if L.kind != "conv" or s * s != L.reuse or L.in_features % 9:
            break
        c_in = L.in_features // 9
        if shape is None:
            shape, stride = (c_in, s, s), 1
        elif prev and prev[0] == "conv" and prev[1] == c_in and prev[2] in (s, 2 * s):
            stride = prev[2] // s
        else:
            break
        mods += [nn.Conv2d(c_in, L.out_features, 3, stride=stride, padding=1, bias=False), nn.ReLU()]
        prev = ("conv", L.out_features, s)
    else:
        if mods and isinstance(mods[-1], nn.Sigmoid):
            mods.pop()  # the output layer is linear
        return nn.Sequential(*mods).double(), shape
    raise PimtrainError(f"--executor program: workload {wl.name!r}: layer {L.name} ({L.kind}, {L.in_features} → "
                        f"{L.out_features}, reuse {L.reuse}) does not chain; allowed: fully-connected layers and 3×3 "
                        "convolutions on square maps (mlppanther, mlppantherbig, mlptra, conva … convg, mlp:...)")


def program_cost(design, workload: str, batch_size: int = 1, inference: bool = False, seed: int = 0,
                 first_layer_backward: bool | None = None) -> dict:
    """Compile and time one step of ``workload`` on ``design``: latency, energy by class and component, utilisation,
    critical path by opcode, program statistics. ``first_layer_backward``: default True for PANTHER's single-matrix
    benchmarks (``conv*``: mid-network layers), else False."""
    from pimtrain.workloads import get_workload

    from .netcompile import compile_model, host_input, net_unit_weights
    from .stats import program_stats
    from .timing import TimedExecutor

    d = load_design(design) if isinstance(design, str) else design
    wl = get_workload(workload) if isinstance(workload, str) else workload
    if not isinstance(batch_size, int) or batch_size < 1:
        raise PimtrainError(f"--batch-size: {batch_size!r}; allowed: a positive integer")
    model, shape = workload_model(wl, seed)
    ops = sum(L.reuse * math.ceil(L.in_features / d.array.rows) * math.ceil(L.out_features / d.array.cols)
              for L in wl.layers) * batch_size * (1 if inference else 3)
    if ops > MAX_UNIT_OPS:
        raise PimtrainError(f"--executor program: workload {wl.name!r} at batch {batch_size} needs {ops} matrix-unit "
                            f"operations; allowed: at most {MAX_UNIT_OPS} (the executor runs every instruction in Python)")
    if first_layer_backward is None:
        first_layer_backward = wl.name.lower().startswith("conv")
    compiled = compile_model(model, d, train=not inference, lr=0.25, batch=batch_size, input_shape=shape,
                             first_layer_backward=first_layer_backward)
    g = torch.Generator().manual_seed(seed)
    inputs = {"x": host_input(compiled, torch.randn(batch_size, *shape, generator=g, dtype=torch.float64))}
    if not inference:
        n = max(p.offset + p.vec for p in compiled.program.ports if p.name == "d")
        inputs["d"] = torch.randn(n, generator=g, dtype=torch.float64)
    r = TimedExecutor(compiled.program, d, net_unit_weights(compiled, model)).run_timed(inputs)
    r["critical_path_length"] = len(r.pop("critical_path"))
    stats = program_stats(compiled.program)
    return {"design": d.name, "workload": wl.name, "inference": inference, "batch_size": batch_size,
            "executor": "program", **r, "matrix_units": sum(lp.row_blocks * lp.col_blocks for lp in compiled.layers),
            "edram_words_per_tile": compiled.program.machine.edram,
            "program": {k: stats[k] for k in ("instructions", "by_class", "matrix_unit_ops", "crs_unit_ops",
                                              "network_words_sent", "cores_used", "tiles_used")}}


def program_table(res: dict):
    from rich.table import Table

    t = Table(title=f"{res['workload']} on {res['design']}: executed program ({'inference' if res['inference'] else 'training step'})")
    t.add_column("quantity")
    t.add_column("value", justify="right")
    t.add_row("latency (µs)", f"{res['latency_s'] * 1e6:.4g}")
    t.add_row("energy, dynamic (µJ)", f"{res['energy_j'] * 1e6:.4g}")
    for k, v in res["energy_by_component_j"].items():
        t.add_row(f"  energy {k} (µJ)", f"{v * 1e6:.4g}")
    for k, v in res["utilisation"].items():
        t.add_row(f"utilisation {k}", f"{v:.3f}")
    t.add_row("matrix units / cores / tiles", f"{res['matrix_units']} / {res['program']['cores_used']} / {res['program']['tiles_used']}")
    return t
