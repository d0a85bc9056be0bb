"""Logic gates of a row-parallel in-memory step and the counter that records them.

A *gate* acts on one bit column of every active row at once (all rows of a block compute together);
the counts are therefore per row and independent of how many rows work. A technology
(:mod:`pimtrain.pimlogic.tech`) says how many primitive cycles and how much energy each gate costs.
"""
from __future__ import annotations

from collections import Counter

#: gate names: one-output Boolean gates, a 2:1 multiplexer, a full adder (sum and carry), a bit copy
GATES = ("not", "nor", "or", "and", "xor", "mux", "fa", "copy")


class GateCounter:
    """Gate counts (per row) recorded by an algorithm while it runs."""

    def __init__(self):
        self.counts: Counter = Counter()

    def add(self, gate: str, n: int = 1) -> None:
        if gate not in GATES:  # pragma: no cover - programming error
            raise ValueError(f"unknown gate {gate!r}")
        if n > 0:
            self.counts[gate] += int(n)

    def total(self) -> int:
        return int(sum(self.counts.values()))

    def as_dict(self) -> dict[str, int]:
        return {g: int(self.counts.get(g, 0)) for g in GATES}


class _NullCounter(GateCounter):
    def add(self, gate: str, n: int = 1) -> None:
        return None


NULL = _NullCounter()
