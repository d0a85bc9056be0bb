"""Turn any torch model into its analog twin: every ``nn.Linear`` / ``nn.Conv2d`` becomes an analog layer."""
from __future__ import annotations

import copy
import logging

from torch import nn

from pimtrain.design import Design, PimtrainError, load_design

from .layers import AnalogConv2d, AnalogLayer, AnalogLinear

__all__ = ["convert", "analog_layers"]

log = logging.getLogger("pimtrain.nn")


def convert(model: nn.Module, design: Design | str, seed: int | None = None, *, inplace: bool = False) -> nn.Module:
    """A copy of ``model`` with every ``nn.Linear`` and ``nn.Conv2d`` replaced by an analog layer.

    Weights and biases are copied into the cores. ``layer_index`` is the order of appearance in
    ``model.named_modules()`` (which seeds each core's random generator together with ``seed``).
    Other modules (activations, pooling, BatchNorm …) stay digital and are trained by plain SGD.
    ``model`` itself is left untouched unless ``inplace=True``; a bare ``nn.Linear``/``nn.Conv2d`` is
    returned as its analog layer.
    """
    design = load_design(design)
    if not isinstance(model, nn.Module):
        raise PimtrainError(f"convert: model must be a torch.nn.Module, got {type(model).__name__}")
    target = model if inplace else copy.deepcopy(model)
    counter = [0]

    def analog_of(module: nn.Module) -> AnalogLayer | None:
        if isinstance(module, AnalogLayer):
            return None
        if isinstance(module, nn.Linear):
            layer = AnalogLinear.from_linear(module, design, layer_index=counter[0], seed=seed)
        elif isinstance(module, nn.Conv2d):
            layer = AnalogConv2d.from_conv(module, design, layer_index=counter[0], seed=seed)
        else:
            return None
        counter[0] += 1
        layer.train(module.training)
        return layer

    root = analog_of(target)
    if root is not None:
        _log_fast_paths([root])
        return root
    _replace_children(target, analog_of, {})
    _log_fast_paths(analog_layers(target))
    return target


def _replace_children(module: nn.Module, analog_of, done: dict[int, nn.Module]) -> None:
    """Depth-first, in registration order, so layer indices follow the order of appearance.

    A module shared at several places stays shared (one analog layer). Attention blocks keep their
    projections digital: ``nn.MultiheadAttention`` reads ``out_proj.weight`` directly.
    """
    for name, child in list(module.named_children()):
        if id(child) in done:
            if done[id(child)] is not child:
                setattr(module, name, done[id(child)])
            continue
        if isinstance(child, nn.MultiheadAttention):
            log.warning("convert: %s (MultiheadAttention) stays digital", name)
            done[id(child)] = child
            continue
        replacement = analog_of(child)
        if replacement is not None:
            setattr(module, name, replacement)
            done[id(child)] = replacement
        else:
            done[id(child)] = child
            _replace_children(child, analog_of, done)


def analog_layers(model: nn.Module) -> list[AnalogLayer]:
    """The analog layers of ``model`` in order of appearance."""
    return [m for m in model.modules() if isinstance(m, AnalogLayer)]


def _log_fast_paths(layers: list[AnalogLayer]) -> None:
    for layer in layers:
        fast = getattr(layer.core, "fast_path", None)
        if fast:
            log.info("layer %d (%s): fast path %s", layer.layer_index, type(layer).__name__, fast)
