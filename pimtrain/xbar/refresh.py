"""Refresh of one-sided differential pairs (``device.refresh_threshold``; PCM).

A PCM cell only climbs gradually (SET); a differential pair G+ − G− moves both ways by SETting one side or the
other, so both devices climb with use until the pair saturates and stops learning. The refresh (Burr et al., IEEE
TED 62(11) 2015, the "occasional RESET"; Nandakumar et al., Front. Neurosci. 14:406 2020) restores the headroom:
after each update call (``opu``: a sample at batch 1, else a batch), every pair with either device past ``refresh_threshold`` of its range is

1. read (its difference ``ŵ = c+ − c−``, in normalised range units),
2. RESET on both devices (abrupt, to the bottom of the range: an amorphising melt-quench pulse),
3. re-programmed: the difference onto the side of its sign (``c± = −0.5 + max(±ŵ, 0)``), the other left at
   the bottom; through the device's programming (its programming noise, bounds and faults).

Counted per core (``refresh.pairs``, ``refresh.cells_read``, ``refresh.cells_reset``, ``refresh.cells_programmed``,
``refresh.rows``); the cost engine charges them as a serial read, and RESET plus programming as serial cell writes,
of the rows touched (:mod:`pimtrain.cost.refresh`).
"""
from __future__ import annotations

import torch

#: the counters a refresh adds (summed over the run)
KEYS = ("refresh.pairs", "refresh.cells_read", "refresh.cells_reset", "refresh.cells_programmed", "refresh.rows")


def wants_refresh(core) -> bool:
    """True for an analog core whose design asks for pair refresh (it must store one slice on differential pairs:
    anything else is refused in one line, naming the field)."""
    d = core.design
    if d.device.refresh_threshold is None or core.ideal:
        return False
    if getattr(core, "pairs", 0) != 2 or getattr(core, "slices", 0) != 1:
        from pimtrain.design import PimtrainError

        raise PimtrainError("device.refresh_threshold: refreshes differential pairs of one analog slice; allowed with "
                            "array.weight_mapping differential and one weight slice (got "
                            f"{d.array.weight_mapping}, {getattr(core, 'slices', '?')} slices)")
    return True


def refresh_pairs(core) -> int:
    """Refresh the saturated pairs of ``core``'s active array set (see the module docstring); the pairs refreshed."""
    thr = float(core.design.device.refresh_threshold)
    c = core.c[0]  # (in, 2, out): centred states, fraction of the range = c + 0.5
    hit = (c.amax(dim=1) + 0.5) >= thr  # (in, out)
    n = int(hit.sum())
    if n == 0:
        return 0
    diff = c[:, 0] - c[:, 1]
    bottom = torch.full_like(diff, -0.5)
    target = torch.stack((torch.where(diff > 0, bottom + diff, bottom), torch.where(diff < 0, bottom - diff, bottom)), 1)
    new = core.devices[0].program(target)
    mask = hit.unsqueeze(1).expand_as(c)
    c.copy_(torch.where(mask, new, c))
    core.refresh_weights()
    add = core.counters.add
    add("refresh.pairs", n)
    add("refresh.cells_read", 2 * n)
    add("refresh.cells_reset", 2 * n)
    add("refresh.cells_programmed", int(torch.count_nonzero(diff[hit])))
    add("refresh.rows", int(hit.any(dim=1).sum()))
    return n


__all__ = ["refresh_pairs", "wants_refresh", "KEYS"]
