"""Binary cell: stores one bit (g_min or g_max); a write sets it where the target crosses mid-range."""
from __future__ import annotations

import torch

from .base import DeviceModel, Request
from .nonideal import C_HI, C_LO


class BinaryDevice(DeviceModel):
    """``c' = +0.5 if c + r > 0 else −0.5`` for cells with a nonzero request; others keep their bit.

    Used for digital-storage cells (one bit per cell); weights are then built from several slices.
    """

    name = "binary"

    def mean_step(self, c, req: Request, rows):
        r = req.r
        target = torch.where(c + r > 0, C_HI, C_LO).to(c.dtype)
        return (target - c).mul_(r != 0)

    def noise_step(self, delta, c, req, rows):  # a bit has no analog write noise
        return None

    def finish(self, c, rows=None):
        c = torch.where(c > 0, C_HI, C_LO).to(c.dtype) if self.levels is None else c
        if self.stuck is not None:
            self.stuck.apply(c, rows)
        return c

    def step(self, c, req: Request, rows=None):
        delta = self.mean_step(c, req, rows)
        c.add_(delta)
        return c.copy_(self.finish(c, rows))

    def step_delta(self, c, req: Request, rows):
        new = c.clone()
        return self.step(new, req, rows).sub_(c)

    def program(self, target, rows=None):
        c = target.to(device=self.device, dtype=torch.float32).clone()
        return self.finish(c, rows)
