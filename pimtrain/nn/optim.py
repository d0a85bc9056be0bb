"""The optimizer that routes weight updates into the analog cores.

``AnalogSGD.step()`` calls ``layer.core.opu(x, d, lr)`` for every analog layer with the input rows and
output-error rows saved during forward/backward (the design's update rule decides what the hardware
does with them), and applies plain SGD ``p ← p − lr·grad`` to every ordinary (digital) parameter, such
as BatchNorm's. ``zero_grad()`` clears both the saved pairs and the digital gradients.

It subclasses :class:`torch.optim.Optimizer` only for its ``param_groups`` (learning-rate schedulers
work); ``step`` itself is a lean loop without the base class' profiler wrapper and step hooks, so that
a batch-1 step costs a few microseconds of Python.
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from pimtrain.design import PimtrainError

from .layers import AnalogLayer, analog_layer_of

__all__ = ["AnalogSGD"]


class AnalogSGD(torch.optim.Optimizer):
    """SGD whose analog part is the cores' outer-product update.

    ``model_or_params``: an ``nn.Module`` (recommended), or an iterable of parameters / param-group
    dicts as for ``torch.optim.SGD`` (an analog layer is recognised by its ``analog_ctx`` parameter).
    """

    def __init__(self, model_or_params: nn.Module | Iterable, lr: float):
        if not (isinstance(lr, (int, float)) and lr > 0):
            raise PimtrainError(f"AnalogSGD: lr={lr!r} is not allowed; allowed: a positive number")
        params = model_or_params.parameters() if isinstance(model_or_params, nn.Module) else model_or_params
        super().__init__(params, {"lr": float(lr)})
        self._plan: list[tuple[dict, tuple[AnalogLayer, ...], tuple[torch.Tensor, ...]]] = []
        self._rebuild_plan()

    def _rebuild_plan(self) -> None:
        """Split every group once into analog layers and digital parameters (the step loops over these)."""
        self._plan = []
        for group in self.param_groups:
            layers, digital = [], []
            for p in group["params"]:
                layer = analog_layer_of(p)
                if layer is not None:
                    layers.append(layer)
                else:
                    digital.append(p)
            self._plan.append((group, tuple(layers), tuple(digital)))

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        if hasattr(self, "_plan"):
            self._rebuild_plan()

    @property
    def analog_layers(self) -> list[AnalogLayer]:
        return [layer for _, layers, _ in self._plan for layer in layers]

    @torch.no_grad()
    def step(self, closure=None):
        """One update: ``core.opu`` for analog layers, ``p -= lr·grad`` for digital parameters."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group, layers, digital in self._plan:
            lr = group["lr"]
            for layer in layers:
                if layer._saved_d is not None:
                    layer.core.opu(layer._saved_x, layer._saved_d, lr)
            for p in digital:
                if p.grad is not None:
                    p.add_(p.grad, alpha=-lr)
        return loss

    # Tell torch.optim.Optimizer not to wrap ``step`` in its profiler/hook wrapper (tens of µs per call
    # at batch 1); step hooks registered on this optimizer are therefore not called.
    step.hooked = True

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the saved ``(x, d)`` pairs of the analog layers and the digital gradients."""
        for _, layers, digital in self._plan:
            for layer in layers:
                layer._saved_x = None
                layer._saved_d = None
            for p in digital:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad.zero_()
