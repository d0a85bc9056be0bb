"""A device model's pulse response measured by simulation: ΔG of one up / down pulse against G.

:func:`pulse_response` builds the design's device model (the same :func:`make_device` the cores use)
for ``devices`` cells, places every cell at each of ``levels`` conductances, and applies one pulse
(a request of ``±dw_min``, the model's own mean step) ``cycles`` times from that same state. The spread
over cycles is the cycle-to-cycle (write) noise of one device; the spread of the per-device means is
the device-to-device variation (``d2d_variation``, or one measured table per cell for several lookup
tables). Stuck-at faults are left out (a stuck cell does not respond; their fractions are reported).
"""
from __future__ import annotations

import numpy as np
import torch

from pimtrain.design.models import DeviceSpec, StuckAtSpec

from . import make_device
from .base import Request, to_siemens
from .nonideal import quantize_levels


def pulse_response(spec: DeviceSpec, base_path: str | None = None, *, devices: int = 64, levels: int = 41,
                   cycles: int = 64, seed: int = 0, quantiles: tuple[float, float] = (0.05, 0.95)) -> dict:
    """ΔG (S) of one up and one down pulse at ``levels`` conductances (S) for ``devices`` cells.

    Returns ``{"g_s": (levels,), "g_min_s", "g_max_s", "dw_min", "devices", "cycles", "quantiles",
    "model", "stuck_at": (at_gmin, at_gmax), "levels", "up"/"down": {"mean": (levels,) mean over devices and
    cycles, "typical": (levels,) mean of the median device, "c2c_lo"/"c2c_hi": (levels,) quantiles over
    cycles of the median device, "d2d_lo"/"d2d_hi": (levels,) lowest / highest per-device mean}}``
    (numpy arrays). The same seed gives the same numbers.
    """
    gen = torch.Generator().manual_seed(int(seed))
    quiet = spec.model_copy(update={"stuck_at": StuckAtSpec()})
    model = make_device(quiet, (devices, 1, 1), gen, base_path=base_path)
    g_min = float(getattr(model, "g_min", spec.g_min))
    g_max = float(getattr(model, "g_max", spec.g_max))
    grid = torch.linspace(-0.5, 0.5, levels)
    if spec.levels is not None or spec.model == "binary":  # only the states a cell can hold
        quantize_levels(grid, spec.levels or 2)
    c0 = grid.view(1, levels, 1).expand(devices, levels, cycles).contiguous()
    dw = float(model.dw_min)
    out = {"g_s": to_siemens(grid, g_min, g_max).numpy().astype(np.float64), "g_min_s": g_min, "g_max_s": g_max,
           "dw_min": dw, "devices": devices, "cycles": cycles, "quantiles": tuple(quantiles), "model": model.describe(),
           "stuck_at": (spec.stuck_at.at_gmin, spec.stuck_at.at_gmax), "levels": spec.levels}
    for name, sign in (("up", 1.0), ("down", -1.0)):
        c = c0.clone()
        model.step(c, Request(r=torch.full_like(c0, sign * dw)))
        dg = ((c - c0) * (g_max - g_min)).double()  # (devices, levels, cycles), siemens
        per_dev = dg.mean(2)  # (devices, levels)
        order = per_dev.mean(1).argsort()
        typical = int(order[devices // 2])
        q = torch.tensor(quantiles, dtype=torch.float64)
        lo, hi = torch.quantile(dg[typical], q, dim=1)
        out[name] = {"mean": dg.mean((0, 2)).numpy(), "typical": per_dev[typical].numpy(),
                     "c2c_lo": lo.numpy(), "c2c_hi": hi.numpy(),
                     "d2d_lo": per_dev.min(0).values.numpy(), "d2d_hi": per_dev.max(0).values.numpy()}
    return out
