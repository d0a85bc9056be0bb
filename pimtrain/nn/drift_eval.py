"""Accuracy of a trained network read at times after programming (``pimtrain train --eval-at 1s,1h,1d,1y``).

Each analog layer's trained weight (``core.get_weight()``) is taken as programmed on PCM differential pairs at
t = 0 (the layer's largest |weight| at g_max) and read at each time through :func:`pimtrain.devices.drift.weights_at` (conductance-dependent drift, growing
read noise; one draw of the drift exponents per layer, kept across the times). The drifted weight is read by a
core of the layer's design with an ideal cell (the design's converters kept; no further write or programming
noise). With compensation, each layer's outputs are scaled by one factor calibrated at read time on an all-ones
input (:func:`pimtrain.devices.drift.global_drift_compensation`, aihwkit's ``GlobalDriftCompensation``).
"""
from __future__ import annotations

import torch

from pimtrain.design.models import AlgorithmSpec, DeviceSpec
from pimtrain.devices.drift import PcmDrift, drift_coefficients, global_drift_compensation, weights_at


def accuracy_at(model, test_x: torch.Tensor, test_y: torch.Tensor, times: list[float], seed: int = 0,
                spec: PcmDrift = PcmDrift()) -> list[dict]:
    """``[{"t_s", "accuracy", "accuracy_compensated"}]`` for each read time (seconds after programming)."""
    from pimtrain.xbar import make_core

    from .convert import analog_layers
    from .trainer import evaluate

    g = torch.Generator().manual_seed(int(seed) * 1000003 + 17)
    layers = []
    for layer in analog_layers(model):
        w0 = layer.core.get_weight().detach().cpu().float()
        # the layer's largest |weight| on g_max (aihwkit's single-pair converter): the range the programming uses
        w_max = float(w0.abs().max().clamp_min(1e-12))
        # the pair's exponents from each device's programmed conductance relative to g_max (G± ∝ max(±w, 0))
        nu = tuple(drift_coefficients((s * w0).clamp(min=0.0) / w_max, g, spec) for s in (1.0, -1.0))
        read_design = layer.design.model_copy(update={
            "device": DeviceSpec(),
            "update": layer.design.update.model_copy(update={"algorithm": AlgorithmSpec()}),
        })
        layers.append((layer, w0, w_max, nu, read_design))
    own = {layer: layer.core for layer, *_ in layers}
    rows = []
    for t in times:
        row = {"t_s": float(t)}
        drifted = [weights_at(w0, w_max, t, g, spec, nu=nu) for _, w0, w_max, nu, _ in layers]
        for key, compensate in (("accuracy", False), ("accuracy_compensated", True)):
            try:  # the layers read through drifted cores for this evaluation, their own cores put back after
                for (layer, w0, _, _, rd), wt in zip(layers, drifted):
                    if compensate:
                        wt = wt * global_drift_compensation(w0, wt, torch.ones(1, w0.shape[1]))
                    layer.core = make_core(wt.to(getattr(own[layer], "device", "cpu")), rd, layer_index=layer.layer_index,
                                           seed=seed)
                row[key] = float(evaluate(model, test_x, test_y))
            finally:
                for layer, core in own.items():
                    layer.core = core
        rows.append(row)
    return rows


__all__ = ["accuracy_at"]
