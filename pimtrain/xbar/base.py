"""What every core is made of: identity, generator, counters, device moves. Nothing here imports a core.

A core (:mod:`pimtrain.xbar.registry` lists the kinds) subclasses :class:`CoreBase` and gets

- its identity (design, layer index, seed, torch device, ``(out, in)`` shape: :meth:`CoreBase._identity`);
- one ``torch.Generator`` seeded ``seed*1000003 + layer_index`` (:func:`make_generator`); a move to another
  torch device re-seeds it there with a salt that counts the moves (:meth:`CoreBase._reseed`), the one
  way of re-seeding for every core (a generator's state cannot travel between device types);
- :class:`Counters`, whose names are the Mapping's action names (:mod:`pimtrain.mapping`, ``ReadCounts`` /
  ``UpdateCounts``) per kernel plus the core's own bookkeeping (calls, samples, clipping).
"""
from __future__ import annotations

import logging

import torch

from pimtrain.design.models import Design


log = logging.getLogger("pimtrain")
_LOGGED: set[str] = set()

#: action names of one read kernel, as :class:`pimtrain.mapping.ReadCounts` (``cells_read`` summed per vector)
READ_ACTIONS = ("drives", "cells_read", "conversions", "samples", "shift_adds", "outputs", "accumulations")
#: action names of the update, as :class:`pimtrain.mapping.UpdateCounts` (plus ``pulses``: coincidences fired)
UPDATE_ACTIONS = ("pulsed_cells", "row_drives", "col_drives", "cells_written", "rows_written", "carries", "carry_cells",
                  "pulses")
#: the core's bookkeeping (not actions the cost charges)
BOOK = ("vmm_calls", "mvm_calls", "opu_calls", "samples_updated", "vectors_forward", "vectors_backward",
        "activity_vectors_forward", "activity_vectors_backward",
        "update_events", "input_sum_forward", "input_sum_backward", "dac_conversions", "cells_updated",
        "saturated_writes", "cells_reprogrammed")


_VECTORS = {"forward": "vectors_forward", "backward": "vectors_backward"}
_CONVERSIONS = {"forward": "forward.conversions", "backward": "backward.conversions"}
_CALLS = {"forward": "vmm_calls", "backward": "mvm_calls"}
_MEASURED = {"forward": "activity_vectors_forward", "backward": "activity_vectors_backward"}
#: the input activity of reads of more than 4096 values is taken on every ACTIVITY_SAMPLE-th of them (a systematic
#: sample over shuffled data: the epoch mean, without a pass over every large input); smaller reads are all measured
ACTIVITY_SAMPLE = 8


def log_once(message: str) -> None:
    """Log ``message`` at INFO the first time it is seen in this process."""
    if message not in _LOGGED:
        _LOGGED.add(message)
        log.info(message)


def make_generator(seed: int, layer_index: int, device, salt: int = 0) -> torch.Generator:
    """The core's generator, seeded ``seed*1000003 + layer_index`` (plus ``salt`` after a device move)."""
    g = torch.Generator(device=device)
    g.manual_seed((int(seed) * 1000003 + int(layer_index) + int(salt) * 7919) % (2 ** 63 - 1))
    return g


def update_pair(x: torch.Tensor, d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """An update's inputs as detached float32 ``(B, in)`` and ``(B, out)`` (one sample may be 1-D)."""
    x = x.detach().to(torch.float32)
    d = d.detach().to(torch.float32)
    if x.dim() == 1:
        x, d = x.unsqueeze(0), d.unsqueeze(0)
    return x, d


class Counters:
    """Counts of one core: plain numbers, or tensor accumulators (no host sync per call) read on demand.

    Keys: ``<kernel>.<action>`` for the Mapping's actions (kernel ``forward`` / ``backward`` / ``update``)
    and the bookkeeping names of :data:`BOOK`.
    """

    def __init__(self):
        self.values: dict[str, object] = {}

    def add(self, key: str, value) -> None:
        self.values[key] = self.values.get(key, 0) + value

    def get(self, key: str) -> float:
        v = self.values.get(key, 0)
        return float(v) if isinstance(v, torch.Tensor) else v

    def read(self) -> dict:
        out = {}
        for k, v in self.values.items():
            if isinstance(v, torch.Tensor):
                v = float(v)
            out[k] = int(v) if float(v).is_integer() else float(v)
        return out

    def load(self, sd: dict) -> None:
        self.values = {k: v for k, v in (sd or {}).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}

    def to(self, device) -> None:
        self.values = {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in self.values.items()}


class CoreBase:
    """Identity, generator, counters and device moves shared by every core kind."""

    kind = "base"

    def _identity(self, weight: torch.Tensor, design: Design, layer_index: int, seed: int | None) -> None:
        """Record design, layer index, seed, torch device and ``(out, in)`` shape; seed the generator."""
        from pimtrain.design import PimtrainError

        if weight.dim() != 2:
            raise PimtrainError(f"weight: must be 2-D (out, in), got shape {tuple(weight.shape)}")
        self.design = design
        self.layer_index = int(layer_index)
        self.seed = design.seed if seed is None else int(seed)
        self.device = weight.device
        self.out_features, self.in_features = (int(s) for s in weight.shape)
        self._moves = 0
        self.generator = make_generator(self.seed, self.layer_index, self.device)
        self.counters = Counters()
        self._reset_pending()
        self._large_reads = {"forward": 0, "backward": 0}  # per kernel: the activity sample of large reads

    @property
    def shape(self) -> tuple[int, int]:
        return (self.out_features, self.in_features)

    def _reseed(self, device: torch.device) -> None:
        """The one way a core re-seeds after moving to ``device``: salt = number of moves so far."""
        self._flush_inputs()  # deferred input statistics live on the old device
        self._moves += 1
        self.generator = make_generator(self.seed, self.layer_index, device, salt=self._moves)

    # --- counting under the Mapping's names --------------------------------------------------------------
    def _reset_pending(self) -> None:
        #: per kernel: [vectors, conversions, vectors measured, calls] since the last fold (plain ints)
        self._tally = {"forward": [0, 0, 0, 0], "backward": [0, 0, 0, 0]}
        #: (kernel, shape, form) -> [(input or its 1-norm, full scale)] since the last fold
        self._groups: dict = {}
        self._pending = 0

    def _count_read(self, kernel: str, xq: torch.Tensor, full_scale, conversions=None) -> None:
        """Count one read (a ``vmm`` / ``mvm`` call) of the (quantised) inputs ``xq`` (B, n) under ``kernel``.

        Deferred: a few integer additions and one list append per read; the input activity is folded every 256
        reads (:meth:`_flush_inputs`: one stacked tensor op per group of reads of one shape and kind of scale, no
        host sync, no Python loop over the reads).

        ``conversions``: the A/D conversions the numerics made (counted by the core's converters). The actions the
        numerics do not model one by one (drives, cells read, samples, shift-and-adds, outputs, accumulations)
        are the Mapping's per-vector counts (``self._read_counts[kernel]``) times the vectors read, formed when
        the counters are read (:meth:`_read_stats`). ``full_scale``: the DAC's range (float or tensor),
        ``"max"`` for the read's max |x| (an ideal DAC), None when unknown. Reads of more than 4096 values have
        their activity taken on every ``ACTIVITY_SAMPLE``-th of them per kernel (a systematic sample over shuffled
        data: the epoch mean; per kernel, so that alternating forward and backward reads are both sampled)."""
        x = xq.detach() if xq.requires_grad else xq  # never hold an autograd graph
        b = x.shape[0]
        t = self._tally[kernel]
        t[0] += b
        t[3] += 1
        if conversions is not None:
            t[1] += conversions
        if full_scale is None:
            return
        cls = full_scale.__class__
        if x.numel() > 4096:  # a large read: never held (its buffer is reused); every ACTIVITY_SAMPLE-th measured now
            self._large_reads[kernel] += 1
            if self._large_reads[kernel] % ACTIVITY_SAMPLE:
                return
            t[2] += b
            if cls is float and full_scale <= 0.0:
                return
            if cls is str:
                a = x.abs()
                item, form = (a.sum() / a.amax().clamp_min(1e-30), 1.0), "tensor"
            else:
                item, form = (torch.linalg.vector_norm(x, ord=1), full_scale), "tensor"
            key = (kernel, None, form)
        else:
            t[2] += b
            if cls is float:
                if full_scale <= 0.0:  # an all-zero input: measured, no activity
                    return
                form = "host"
            else:
                form = "max" if cls is str else "tensor"
            item, key = (x, full_scale), (kernel, x.shape, form)
        g = self._groups.get(key)
        if g is None:
            self._groups[key] = [item]
        else:
            g.append(item)
        self._pending += 1
        if self._pending >= 256:
            self._flush_inputs()

    def _flush_inputs(self) -> None:
        """Fold the deferred reads into the counters: vectors, conversions, calls and ``input_sum_<kernel>``
        (Σ|x| / full scale, a tensor accumulator)."""
        tally, groups = self._tally, self._groups
        self._reset_pending()
        v = self.counters.values
        for kernel, (nv, nc, nm, calls) in tally.items():
            for key, n in ((_VECTORS[kernel], nv), (_CONVERSIONS[kernel], nc), (_MEASURED[kernel], nm), (_CALLS[kernel], calls)):
                if n:
                    v[key] = v.get(key, 0) + n
        for (kernel, _shape, form), items in groups.items():
            if form == "max":  # the read's own max |x| as its full scale (an ideal DAC)
                flat = torch.stack([x for x, _ in items]).reshape(len(items), -1).abs()
                add = (flat.sum(1) / flat.amax(1).clamp_min(1e-30)).sum()
            elif form == "host":  # host scales: one stacked norm and one division per group
                t = torch.stack([x for x, _ in items])
                norms = torch.linalg.vector_norm(t.reshape(len(items), -1), ord=1, dim=1)
                scales = torch.tensor([f for _, f in items], dtype=norms.dtype, device=norms.device)
                add = (norms / scales).sum()
            else:  # a tensor scale, or a large read's norm: one each
                add = 0
                for x, f in items:
                    n = x if x.dim() == 0 else torch.linalg.vector_norm(x, ord=1)
                    if isinstance(f, str):
                        f = x.abs().amax().clamp_min(1e-30)
                    add = add + (n / f).sum()
            key = f"input_sum_{kernel}"
            prev = v.get(key, 0)
            v[key] = add + (prev.to(add.device) if isinstance(prev, torch.Tensor) and isinstance(add, torch.Tensor) else prev)

    def _read_stats(self) -> dict:
        """The counters as a plain dict, with the read actions the Mapping derives per vector and the activities."""
        self._flush_inputs()
        s = self.counters.read()
        for key in ("vmm_calls", "mvm_calls", "opu_calls", "samples_updated", "cells_updated", "cells_reprogrammed"):
            s.setdefault(key, 0)
        for kernel, counts in (getattr(self, "_read_counts", None) or {}).items():
            n = s.get(_VECTORS[kernel], 0)
            if counts is None or not n:
                continue
            for name in READ_ACTIONS:
                key = f"{kernel}.{name}"
                if key in s and name == "conversions":
                    continue  # counted by the converters
                val = n * getattr(counts, name)
                if val:
                    s[key] = val
        self._event_counts(s)
        s.update(activity_of(s, self.in_features, self.out_features))
        return s

    def _event_counts(self, s: dict) -> None:
        """Hook: add the update counts that follow from the events alone to the stats dict ``s``."""

    # ------------------------------------------------------------------ array sets (weight copies, delta arrays)
    def _use(self, i: int) -> None:
        """Make array set ``i`` (a weight copy or the delta arrays) the one reads and writes act on; a core
        with several sets keeps ``_sets``, ``_active`` and ``_set_state()``."""
        if i == self._active:
            return
        self._sets[self._active] = self._set_state()
        for k, v in self._sets[i].items():
            setattr(self, k, v)
        self._active = i
        self._after_use()

    def _after_use(self) -> None:
        """Hook after a switch of array set (the analog core rebuilds its weight views)."""

    def activity(self) -> dict:
        """``input_activity`` and ``update_activity`` of the counted work (see :func:`activity_of`)."""
        s = self.stats
        return {k: s.get(k) for k in ("input_activity", "update_activity")}


def activity_of(s: dict, in_features: int, out_features: int) -> dict:
    """Measured activity from a core's stats ``s``: ``input_activity`` (mean |input| / full scale over the driven
    inputs measured, both read kernels) and ``update_activity`` (pulses fired / the most the pulse scheme could fire
    on the cells pulsed), each None when nothing was counted."""
    n = sum((s.get(_MEASURED[k]) or 0) * (in_features if k == "forward" else out_features) for k in ("forward", "backward"))
    tot = (s.get("input_sum_forward") or 0) + (s.get("input_sum_backward") or 0)
    out = {"input_activity": (min(tot / n, 1.0) if n else None), "update_activity": None}
    full = s.get("update.pulse_capacity")
    if full:
        out["update_activity"] = min((s.get("update.pulses") or 0) / full, 1.0)
    return out


__all__ = ["CoreBase", "Counters", "make_generator", "update_pair", "log_once", "READ_ACTIONS", "UPDATE_ACTIONS", "BOOK"]
