"""Weight slicing in positional notation and periodic carry (Agarwal et al. 2017; CrossSim manual §6.8).

A weight is held on ``S`` slices; slice ``s`` has significance ``base**(s - (S-1))`` relative to the
most significant one, whose full range is ``array.w_max``: ``W = w_max Σ_s base**(s-S+1) ŵ_s`` with
each normalised slice value ``ŵ_s`` in ``[-1, 1]``. Updates land on slice 0 (least significant), so a
device step there moves the weight ``base**(S-1)`` times less than on a single device.

Every ``carry_interval`` updates, each slice ``s < S-1`` whose ``|ŵ_s|`` exceeds ``carry_threshold``
passes its whole value to slice ``s+1`` (``ŵ_{s+1} += ŵ_s / base``) and is reprogrammed to zero;
both slices are written by direct programming (programming noise, levels and faults apply). With ideal
devices and nothing saturating this conserves the stored weight (up to float rounding).
"""
from __future__ import annotations

import torch


def significances(slices: int, base: float) -> list[float]:
    """Relative weight of each slice, least significant first (the last one is 1)."""
    return [float(base) ** (s - (slices - 1)) for s in range(slices)]


def periodic_carry(core) -> int:
    """Run one carry pass on an :class:`~pimtrain.xbar.core.AnalogCore`; returns cells reprogrammed."""
    spec = core.design.update.slicing
    moved = 0
    for s in range(core.slices - 1):
        v = core.combine(core.c[s])                      # (in, out) normalised slice value
        mask = v.abs() > spec.carry_threshold
        n = int(mask.sum())
        if n == 0:
            continue
        nxt = core.combine(core.c[s + 1])
        target_next = torch.where(mask, (nxt + v / spec.base).clamp_(-1.0, 1.0), nxt)
        m3 = mask.unsqueeze(1)
        prog_next = core.devices[s + 1].program(core.split(target_next))
        core.c[s + 1] = torch.where(m3, prog_next, core.c[s + 1])
        prog_zero = core.devices[s].program(core.split(torch.zeros_like(v)))
        core.c[s] = torch.where(m3, prog_zero, core.c[s])
        moved += 2 * n * core.pairs
    core.refresh_weights()
    return moved
