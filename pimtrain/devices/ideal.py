"""Ideal device: the conductance moves exactly as requested (clipped at the range ends)."""
from __future__ import annotations

from .base import DeviceModel, Request


class IdealDevice(DeviceModel):
    """``Δc = r`` (write noise, d2d, levels and faults still apply if the spec switches them on)."""

    name = "ideal"
    state_dependent = False

    def mean_step(self, c, req: Request, rows):
        return req.fresh_r()
