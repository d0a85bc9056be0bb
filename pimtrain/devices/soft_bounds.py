"""Soft-bounds device (aihwkit SoftBounds / Agarwal et al. 2016 nonlinear model).

With ``u = c + 0.5`` the fraction of the range, ``α = nonlinearity`` and ``ud = up_down``:

- up   (r > 0): ``Δc = r (1 + ud) (1 − α u)       / (1 − α/2)``
- down (r < 0): ``Δc = r (1 − ud) (1 − α (1 − u)) / (1 − α/2)``

normalised so that a cell at mid-range moves by exactly the request (as aihwkit, whose step is
``dw_min`` at w = 0 and falls to zero at the bound approached when ``α = 1``). For ``α <= 1`` both
cases are one branch-free expression, ``Δc = R − k |R| c`` with ``k = α / (1 − α/2)``,
``R = r + ud·|r|`` and ``|R| = |r| + ud·r`` (``torch.where`` is slow on CPU). For ``α > 1`` the factor
is clipped at zero (no step beyond ``u = 1/α``); for ``α >= 2`` no normalisation is applied.
"""
from __future__ import annotations

import torch

from .base import DeviceModel, Request


class SoftBoundsDevice(DeviceModel):
    name = "soft_bounds"

    def mean_step(self, c, req: Request, rows):
        ud = float(self.spec.up_down)
        alpha = float(self.spec.nonlinearity)
        if req.factored and req.a_sign and 0.0 < alpha <= 1.0:
            # a of one sign σ: R = a (b + ud σ|b|), |R| = σ a (|b| + ud σ b), Δ = a (bR − kσ bA c)
            sg = float(req.a_sign)
            b, ab = req.b, req.abs_b
            bR = b.add(ab, alpha=ud * sg) if ud else b
            bA = ab.add(b, alpha=ud * sg) if ud else ab
            k = alpha / (1.0 - alpha / 2.0)
            return torch.add(bR, bA * c, alpha=-k * sg).mul_(req.a)
        if req.b_unit and 0.0 < alpha <= 1.0:
            # |b| = 1: R = a b + ud |a|, |R| = |a| + ud a b  (two full-size passes, no |r| pass)
            a, b, aa = req.a, req.b, req.abs_a
            big_r = torch.addcmul(aa * ud, a, b) if ud else a * b
            abs_r = torch.addcmul(aa, a, b, value=ud) if ud else aa.expand_as(big_r).clone()
            k = alpha / (1.0 - alpha / 2.0)
            return big_r.add_(abs_r.mul_(c), alpha=-k)
        r, ar = req.r, req.abs
        if ud != 0.0:
            big_r = r.add(ar, alpha=ud)
            abs_r = ar.add(r, alpha=ud)
        else:
            big_r, abs_r = r, ar
        if alpha == 0.0:
            return req.fresh_r() if big_r is r else big_r
        norm = 1.0 - alpha / 2.0 if alpha < 2.0 else 1.0
        if alpha <= 1.0:
            # R - k |R| c
            return (abs_r * c).mul_(-alpha / norm).add_(big_r)
        # factor (1 - α/2 - α s c) clipped at 0, times R / norm
        s = req.negative().float().mul_(-2.0).add_(1.0)  # +1 up, -1 down
        factor = (s * c).mul_(-alpha).add_(1.0 - alpha / 2.0).clamp_(min=0.0)
        return factor.mul_(big_r).div_(norm)
