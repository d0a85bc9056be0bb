"""A workload's step costed by compiling and executing it (``pimtrain cost --executor program``).

The workload must be an MLP (every layer ``linear``, used once per example: ``mlp:…``, mlpPanther,
mlpPantherBig, mlpTrA) at batch 1; the network is built with sigmoid hidden layers and biases (weights seeded,
they do not change the timing), compiled by :func:`pimtrain.isa.compiler.compile_mlp` and timed by
:class:`pimtrain.isa.timing.TimedExecutor` on the design's components. Leakage is not charged (the executed
program's dynamic energy).
"""
from __future__ import annotations

import torch

from pimtrain.design import PimtrainError, load_design


def program_cost(design, workload: str, batch_size: int = 1, inference: bool = False, seed: int = 0) -> dict:
    from pimtrain.nn.models import mlp
    from pimtrain.workloads import get_workload

    from .compiler import compile_mlp, unit_weights
    from .stats import program_stats
    from .timing import TimedExecutor

    d = load_design(design)
    wl = get_workload(workload) if isinstance(workload, str) else workload
    if batch_size != 1:
        raise PimtrainError(f"--batch-size: {batch_size} with --executor program; allowed: 1 (the compiled step is one example)")
    bad = [L.name for L in wl.layers if L.kind != "linear" or int(L.reuse) != 1]
    if bad:
        raise PimtrainError(f"--executor program: workload {wl.name!r} has layers {', '.join(bad[:3])} that are not "
                            "fully connected; allowed: an MLP workload (mlp:..., mlppanther, mlppantherbig, mlptra)")
    sizes = [wl.layers[0].in_features] + [L.out_features for L in wl.layers]
    torch.manual_seed(seed)
    model = mlp(sizes, "sigmoid").double()
    compiled = compile_mlp(model, d, train=not inference, lr=0.25)
    g = torch.Generator().manual_seed(seed)
    inputs = {"x": torch.randn(sizes[0], generator=g, dtype=torch.float64)}
    if not inference:
        inputs["d"] = torch.randn(sizes[-1], generator=g, dtype=torch.float64)
    r = TimedExecutor(compiled.program, d, unit_weights(compiled, model)).run_timed(inputs)
    r["critical_path_length"] = len(r.pop("critical_path"))
    stats = program_stats(compiled.program)
    return {"design": d.name, "workload": wl.name, "inference": inference, "executor": "program", **r,
            "matrix_units": sum(lp.row_blocks * lp.col_blocks for lp in compiled.layers),
            "program": {k: stats[k] for k in ("instructions", "by_class", "matrix_unit_ops", "cores_used", "tiles_used")}}


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
