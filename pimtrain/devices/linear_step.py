"""Linear-step device (aihwkit ConstantStep-like): constant, possibly asymmetric steps, hard bounds."""
from __future__ import annotations

from .base import DeviceModel, Request


class LinearStepDevice(DeviceModel):
    """``Δc = r (1 + up_down·sign r)`` clipped at ``[g_min, g_max]``; the step does not depend on G.

    ``nonlinearity`` is ignored here (use ``soft_bounds`` for state-dependent steps).
    """

    name = "linear_step"
    state_dependent = True  # hard bounds make sequential and summed updates differ

    def mean_step(self, c, req: Request, rows):
        ud = float(self.spec.up_down)
        if ud == 0.0:
            return req.fresh_r()
        # r (1 + ud s) = r + ud |r|
        return req.r.add(req.abs, alpha=ud)
