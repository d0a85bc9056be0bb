"""One carry mechanism for sliced weights: a schedule (the interval) and a policy (what a carry rewrites).

A weight held on several slices takes its updates on the low-order slice(s); every ``carry_interval``
update events (``update.slicing.carry_interval``) a carry step moves what accumulated there into the
higher slices. Two policies, one schedule:

- ``periodic`` (Agarwal et al. 2017; CrossSim manual §6.8; the analog core): each slice ``s < S-1`` whose
  ``|ŵ_s|`` exceeds ``carry_threshold`` passes its value to slice ``s+1`` and is reprogrammed to zero
  (:func:`pimtrain.xbar.slicing.periodic_carry`);
- ``resolve`` (PANTHER's carry-resolution step, Ankit et al. IEEE TC 2020; the bit-sliced core): every
  slice is read, the integer weight formed and rewritten in canonical digits
  (:meth:`pimtrain.xbar.bitslice.BitSlicedCore.resolve_carries`).

The core counts one event per update the way it always has (analog: a rank-1 update, or one batch write
for ``accumulate`` / ``serial``; bit-sliced: one per example), and the schedule fires the policy. Both
policies return the cells they reprogrammed; :meth:`CarrySchedule.tick` counts ``update.carries`` and
``update.carry_cells`` under the Mapping's names.
"""
from __future__ import annotations

POLICIES = ("periodic", "resolve")


class CarrySchedule:
    """Counts update events and fires ``policy()`` (returns cells reprogrammed) every ``interval`` events."""

    def __init__(self, interval: int, policy, name: str, count_steps: bool = True):
        if name not in POLICIES:
            raise ValueError(f"carry policy {name!r}; allowed: {', '.join(POLICIES)}")
        self.interval = int(interval)
        self.policy = policy
        self.name = name
        self.since = 0
        #: False for a second weight copy: its carries reprogram cells (counted), the step is counted once (copy 0)
        self.count_steps = count_steps

    def tick(self, events: int, counters) -> bool:
        """Add ``events``; run one carry step when the interval is reached (returns whether it ran)."""
        self.since += events
        if self.since < self.interval:
            return False
        self.since = 0
        cells = self.policy()
        if self.count_steps:
            counters.add("update.carries", 1)
        counters.add("update.carry_cells", cells)
        counters.add("cells_reprogrammed", cells)
        return True

    def state_dict(self) -> dict:
        return {"since": self.since}

    def load_state_dict(self, sd: dict) -> None:
        self.since = int(sd.get("since", 0))


__all__ = ["CarrySchedule", "POLICIES"]
