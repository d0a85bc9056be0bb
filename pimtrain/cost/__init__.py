"""Energy, latency and area of training (and inference) on a PIM design.

Public API::

    from pimtrain.cost import evaluate, CostReport, design_summary, kernel_costs
    rep = evaluate(design, "vgg16", batch_size=1)       # one training step (forward, backward, update)
    rep.energy_j, rep.latency_s, rep.area_m2, rep.power_w, rep.to_json(), rep.table()

Components (one class per circuit block) are in :mod:`pimtrain.cost.components`, node scaling in
:mod:`pimtrain.cost.scaling`, action counting in :mod:`pimtrain.cost.engine`. This package imports
``pimtrain.design`` and ``pimtrain.mapping`` only (a workload *name* is resolved through
``pimtrain.workloads`` at call time).
"""
from __future__ import annotations

from pimtrain.design import Design, load_design

from .components import MODELS
from .checks import check_report
from .engine import run_ledger
from .hardware import Hardware, build_hardware
from .report import CostReport, build_report
from .scaling import area_scale, energy_scale, latency_scale


def evaluate(design, workload, batch_size: int = 1, inference: bool = False, stats: dict | None = None,
             first_layer_backward: bool = False, check_fit: bool = True) -> CostReport:
    """Cost of one training step of one batch (or one inference batch with ``inference=True``).

    ``design``: a :class:`Design`, preset name or YAML path. ``workload``: a ``Workload`` or a name
    (``vgg16``, ``resnet50-cifar``, ``mlp:784-300-10``). ``stats`` (optional): per layer name,
    ``{"input_activity": f, "update_activity": f}`` measured by the numerics (fraction of the full-scale
    input pulse / update pulse actually applied) replaces the default activity of the array actions.
    ``first_layer_backward``: also cost the first layer's MVM (not needed in training; on for block
    comparisons). Raises :class:`PimtrainError` when the weights do not fit the chip.
    """
    led, hw, placement, wl, names = run_ledger(design, workload, batch_size, inference, stats,
                                               first_layer_backward, check_fit)
    return check_report(build_report(led, hw, placement, wl, names, batch_size, inference))


def kernel_costs(design, out_features: int, in_features: int, batch_size: int = 1, reuse: int = 1) -> dict:
    """Per-kernel energy, latency and MACs of one ``(out, in)`` layer: ``{"forward"|"backward"|"update":
    {"energy_j", "latency_s", "macs"}}`` (array kernels only; no activation, buffers or leakage)."""
    from types import SimpleNamespace

    layer = SimpleNamespace(name="block", out_features=out_features, in_features=in_features, reuse=reuse, kind="linear")
    wl = SimpleNamespace(name=f"block{in_features}x{out_features}", layers=[layer])
    rep = evaluate(design, wl, batch_size=batch_size, first_layer_backward=True, check_fit=False)
    return {k: dict(rep.kernel[k]) for k in ("forward", "backward", "update") if k in rep.kernel}


def design_summary(design) -> dict:
    """``{"area_m2", "peak_power_w", "peak_ops_per_s"}`` of the design's chip (None where n/a): the chip
    its ``hierarchy`` states (``tiles_per_chip`` tiles), even when ``chip_fit: grow`` sizes it per workload.

    Peak: every array (or every MAC unit) doing forward reads back to back: ops/s = 2 × MACs of one
    full read of all arrays / its latency; power = its energy / latency plus all leakage.
    """
    from types import SimpleNamespace

    design = load_design(design)
    hw = build_hardware(design)
    if design.compute == "digital" and design.digital.pim_logic != "none":
        from .digital_pim import pim_summary  # in-memory floating-point logic (pimtrain.pimlogic)

        return pim_summary(design, hw)
    h = design.hierarchy
    a = design.array
    if design.compute == "analog":
        n_arr = h.arrays_per_chip
        per = max(1, (a.cols - (1 if a.weight_mapping == "offset" else 0)) // (2 if a.weight_mapping == "differential" else 1))
        layer = SimpleNamespace(name="peak", out_features=per // max(design.update.slicing.slices, 1), in_features=a.rows, reuse=1)
    else:
        mem = hw.first("weight_memory")
        wb = design.digital.weight_bits or 8
        n_arr = 1
        rows = int(mem.p["capacity_bits"] * mem.count // (wb * 1024)) if mem is not None else a.rows
        layer = SimpleNamespace(name="peak", out_features=1024, in_features=max(rows, 1), reuse=1)
    wl = SimpleNamespace(name="peak", layers=[layer])
    rep = evaluate(design, wl, batch_size=1, inference=True, check_fit=False)
    fwd = rep.kernel.get("forward", {"energy_j": 0.0, "latency_s": 0.0, "macs": 0.0})
    cores = h.cores_per_tile * h.tiles_per_chip if design.compute == "digital" else n_arr
    if fwd["latency_s"] <= 0:
        return {"area_m2": None, "peak_power_w": None, "peak_ops_per_s": None}
    ops = 2 * fwd["macs"] * cores / fwd["latency_s"]
    leak = sum(c.leak_power * hw.multiplicity(c) for c in hw.components.values())
    power = fwd["energy_j"] * cores / fwd["latency_s"] + leak
    stated = design.model_copy(deep=True)  # the chip the hierarchy states, also where 'grow' sizes it per workload
    stated.hierarchy.chip_fit = "error"
    full = evaluate(stated, SimpleNamespace(name="empty", layers=[]), batch_size=1, check_fit=False)
    return {"area_m2": full.area_m2, "peak_power_w": power, "peak_ops_per_s": ops}


__all__ = ["evaluate", "CostReport", "design_summary", "kernel_costs", "build_hardware", "Hardware", "MODELS",
           "energy_scale", "area_scale", "latency_scale"]
