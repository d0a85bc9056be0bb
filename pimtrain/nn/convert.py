"""Turn any torch model into its analog twin, layer by layer as :mod:`pimtrain.nn.layer_registry` says."""
from __future__ import annotations

import copy
import logging

from torch import nn

from pimtrain.design import Design, PimtrainError, load_design

from .layer_registry import is_analog_module, plan
from .layers import AnalogLayer

__all__ = ["convert", "analog_layers"]

log = logging.getLogger("pimtrain.nn")


def convert(model: nn.Module, design: Design | str, seed: int | None = None, *, inplace: bool = False,
            digital=None) -> nn.Module:
    """A copy of ``model`` with every layer the registry maps onto cores replaced by its analog layer.

    Where each module runs comes from :func:`pimtrain.nn.layer_registry.plan` — the same plan the cost
    tracer (:func:`pimtrain.workloads.from_module`) follows: ``nn.Linear``, ``nn.Conv1d``, ``nn.Conv2d`` (any
    ``groups``: one core per group) and ``nn.ConvTranspose2d`` go on cores; normalisation, activation, pooling,
    dropout and reshapes stay digital (plain SGD); any other module with weights (``nn.LSTM``,
    ``nn.MultiheadAttention`` …) is refused with a one-line :class:`PimtrainError` unless named in ``digital``
    (qualified names such as ``'encoder.0'``, class names such as ``'LSTM'``, or classes).

    Weights and biases are copied into the cores. ``layer_index`` (which seeds each core's random generator
    together with ``seed``) counts the cores in order of appearance in ``model.named_modules()``. ``model``
    itself is left untouched unless ``inplace=True``; a bare layer is returned as its analog layer.
    """
    design = load_design(design)
    if not isinstance(model, nn.Module):
        raise PimtrainError(f"convert: model must be a torch.nn.Module, got {type(model).__name__}")
    try:
        placements = plan(model, digital)
    except PimtrainError as exc:
        raise PimtrainError(f"convert: {exc}") from None
    target = model if inplace else copy.deepcopy(model)
    if not inplace:  # the same plan on the copy (same order, same roles)
        placements = plan(target, digital)
    counter = [0]

    def next_index() -> int:
        counter[0] += 1
        return counter[0] - 1

    replacements: dict[int, nn.Module] = {}
    for p in placements:
        if p.role != "analog" or is_analog_module(p.module):
            continue
        layer = p.spec.convert(p.module, design, next_index, seed)
        layer.train(p.module.training)
        replacements[id(p.module)] = layer
    if id(target) in replacements:
        root = replacements[id(target)]
        _log_fast_paths(analog_layers(root))
        return root
    _replace_children(target, replacements, set())
    _log_fast_paths(analog_layers(target))
    return target


def _replace_children(module: nn.Module, replacements: dict[int, nn.Module], seen: set[int]) -> None:
    """Put every replacement at each place its module appears (a shared module stays shared)."""
    if id(module) in seen:
        return
    seen.add(id(module))
    for name, child in list(module.named_children()):
        if id(child) in replacements:
            setattr(module, name, replacements[id(child)])
        else:
            _replace_children(child, replacements, seen)


def analog_layers(model: nn.Module) -> list[AnalogLayer]:
    """The analog layers of ``model`` in order of appearance."""
    return [m for m in model.modules() if isinstance(m, AnalogLayer)]


def _log_fast_paths(layers: list[AnalogLayer]) -> None:
    for layer in layers:
        fast = getattr(layer.core, "fast_path", None)
        if fast:
            log.info("layer %d (%s): fast path %s", layer.layer_index, type(layer).__name__, fast)
