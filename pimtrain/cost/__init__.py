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

from pimtrain.design import Design, PimtrainError, load_design

from .components import MODELS
from .checks import check_report
from .engine import run_ledger
from .hardware import Hardware, build_hardware
from .report import CostReport, build_report
from .scaling import area_scale, energy_scale, latency_scale


def evaluate(design, workload, batch_size: int = 1, inference: bool = False, stats: dict | None = None,
             first_layer_backward: bool = False, check_fit: bool = True, counts: dict | None = None, *,
             input_shape=None, digital=None) -> CostReport:
    """Cost of one training step of one batch (or one inference batch with ``inference=True``).

    ``design``: a :class:`Design`, preset name or YAML path. ``workload``: a ``Workload`` or a name
    (``vgg16``, ``resnet50-cifar``, ``mlp:784-300-10``). ``stats`` (optional): per layer name,
    ``{"input_activity": f, "update_activity": f}`` measured by the numerics (fraction of the full-scale
    input pulse / update pulse actually applied) replaces the default activity of the array actions.
    ``first_layer_backward``: also cost the first layer's MVM (not needed in training; on for block
    comparisons). ``counts`` (optional): per layer name, what the numerics counted, per event
    (:func:`pimtrain.mapping.measured_counts` of a core's ``stats``; ``pimtrain train`` passes them): the A/D
    conversions and drives of each read per input vector, the drivers fired, cells written, carries and cells
    per carry of the update per update event, and the measured activities; they replace the Mapping's
    fixed-activity counts (analog designs on the generic engine; the PUMA node model of matrix-unit designs takes neither).
    Raises :class:`PimtrainError` when the weights do not fit the chip.

    ``workload`` may also be a ``torch.nn.Module`` with ``input_shape`` (per sample): it is traced by
    :func:`pimtrain.workloads.from_module` (``digital``: modules to keep digital, as for ``convert``).
    """
    workload = _module_workload(workload, input_shape, digital)
    led, hw, placement, wl, names = run_ledger(design, workload, batch_size, inference, stats,
                                               first_layer_backward, check_fit, counts)
    from .digital_layers import add_default_alu, charge  # the digital modules of a traced torch model

    extra, alu = charge(led, hw, placement, wl, batch_size, inference)
    report = build_report(led, hw, placement, wl, names + [n for n in extra if n not in names], batch_size, inference)
    return check_report(add_default_alu(report, led, hw, placement, alu))


def _module_workload(workload, input_shape, digital):
    """A torch module becomes its traced Workload (the same layer plan as ``convert``); anything else passes."""
    if isinstance(workload, str) or not hasattr(workload, "named_modules"):
        if input_shape is not None or digital is not None:
            raise PimtrainError("evaluate: input_shape and digital apply to a torch.nn.Module workload only")
        return workload
    if input_shape is None:
        raise PimtrainError(f"evaluate: input_shape is required for a {type(workload).__name__} module "
                            "(the shape of one sample, e.g. input_shape=(1, 28, 28))")
    from pimtrain.workloads import from_module

    return from_module(workload, input_shape, digital=digital)


def kernel_costs(design, out_features: int, in_features: int, batch_size: int = 1, reuse: int = 1) -> dict:
    """Per-kernel energy, latency and MACs of one ``(out, in)`` layer: ``{"forward"|"backward"|"update":
    {"energy_j", "latency_s", "macs"}}`` (array kernels only; no activation, buffers or leakage)."""
    from types import SimpleNamespace

    layer = SimpleNamespace(name="block", out_features=out_features, in_features=in_features, reuse=reuse, kind="linear")
    wl = SimpleNamespace(name=f"block{in_features}x{out_features}", layers=[layer])
    rep = evaluate(design, wl, batch_size=batch_size, first_layer_backward=True, check_fit=False)
    return {k: dict(rep.kernel[k]) for k in ("forward", "backward", "update") if k in rep.kernel}


from .peak import design_summary, fill_workload  # noqa: E402 - needs evaluate above


__all__ = ["evaluate", "CostReport", "design_summary", "fill_workload", "kernel_costs", "build_hardware", "Hardware", "MODELS",
           "energy_scale", "area_scale", "latency_scale"]
