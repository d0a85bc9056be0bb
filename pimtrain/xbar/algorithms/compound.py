"""``CompoundCore`` (kind ``compound``): one weight made of several arrays of the core family, trained by an
analog training algorithm (``update.algorithm``): mixed precision, Tiki-Taka, TTv2, chopped TTv2.

Arrays (each a core of the design's own kind, built by :func:`pimtrain.xbar.make_core` on the design with
``update.algorithm: sgd``, so each has its device draws, encoding, converters and counts):

- ``C``: the slow array, holding the weight (every algorithm);
- ``A``: the fast array (Tiki-Taka family), starting at zero, the gradient written into it; its reads use
  ``algorithm.transfer_io`` (default ``io.forward``);
- ``R``: the reference array (``algorithm.reference: array``), programmed to zero like A at the start and read
  alongside A, the difference A − R being A's value (offset and spread of the programmed zero cancel).

Digital state (:mod:`.transfer`): the mixed-precision accumulator χ, the TTv2 buffer H, the choppers and the
transfer pointer. The weight read by the network is W = γ·(A − R)·diag(chopper signs) + C: ``vmm``/``mvm`` read C, and A (and R)
only when γ > 0, summing the arrays' converted outputs digitally.
"""
from __future__ import annotations

import torch

from pimtrain.design.models import AlgorithmSpec, Design

from ..base import READ_ACTIONS, CoreBase, update_pair
from .transfer import Buffer, Choppers, TransferPointer

#: algorithms whose numerics are built
BUILT = ("mixed_precision", "tiki_taka", "ttv2", "c_ttv2", "agad", "residual")


def _error(msg: str):
    from pimtrain.design import PimtrainError

    return PimtrainError(msg)


def _read_tally(core) -> tuple:
    """(vectors, A/D conversions) the core has read forward so far, without folding its deferred counters (cheap)."""
    t = core._tally["forward"]
    v = core.counters.values
    return t[0] + v.get("vectors_forward", 0), t[1] + v.get("forward.conversions", 0)


def array_design(design: Design, io=None) -> Design:
    """The design of one array of the compound: the same device and encoding, plain SGD, ``io.forward`` replaced."""
    upd = design.update.model_copy(update={"algorithm": AlgorithmSpec()})
    change = {"update": upd}
    if io is not None:
        change["io"] = design.io.model_copy(update={"forward": io})
    return design.model_copy(update=change)


class CompoundCore(CoreBase):
    """A weight on several arrays, trained by ``design.update.algorithm`` (see the module docstring)."""

    kind = "compound"

    def __init__(self, weight: torch.Tensor, design: Design, layer_index: int = 0, seed: int | None = None):
        from ..registry import make_core

        alg = design.update.algorithm
        if alg.kind not in BUILT:
            raise _error(f"update.algorithm.kind: {alg.kind!r} is not built yet; allowed: sgd, {', '.join(BUILT)}")
        if alg.kind == "residual" and alg.gamma <= 0:
            raise _error("update.algorithm.gamma: residual learning reads W = gamma*A + C; allowed: gamma > 0")
        if design.update.weight_copies != 1 or design.update.delta_arrays:
            raise _error("update.weight_copies / delta_arrays: a compound (update.algorithm) core writes one copy per "
                         "array; allowed: weight_copies 1, delta_arrays false")
        self._identity(weight, design, layer_index, seed)
        self.alg = alg
        self.w_max = design.array.w_max
        #: one device step in weight units: the mean change of one pulse, dw_min of the weight range
        #: [-w_max, w_max] (the core's centred ŵ moves 2·dw_min per pulse)
        self.step = 2.0 * design.device.dw_min * self.w_max
        base = array_design(design)
        # the arrays get distinct generators: C at the layer's own index, A and R at offsets of it
        idx = int(layer_index)
        self.C = make_core(weight, base, layer_index=idx, seed=self.seed)
        self.arrays = {"C": self.C}
        self.A = self.R = None
        zero = torch.zeros_like(weight, dtype=torch.float32)
        if alg.kind != "mixed_precision":
            fast = array_design(design, alg.transfer_io)
            self.A = make_core(zero, fast, layer_index=idx + 7_000_001, seed=self.seed)
            self.arrays["A"] = self.A
            if alg.reference == "array":
                self.R = make_core(zero, fast, layer_index=idx + 14_000_002, seed=self.seed)
                self.arrays["R"] = self.R
        elif alg.reference != "none" or alg.gamma > 0:
            raise _error("update.algorithm.reference: mixed_precision has no fast array; allowed: none")
        dev = weight.device
        out, inp = self.shape
        self.chi = Buffer((out, inp), dev) if alg.kind == "mixed_precision" else None
        self.H = Buffer((out, inp), dev) if alg.kind in ("ttv2", "c_ttv2", "agad") else None
        self.choppers = Choppers(inp, alg.chopper_probability, dev) if alg.kind in ("c_ttv2", "agad") else None
        #: AGAD's on-the-fly reference: per column, A's read at the column's last chopper flip (digital)
        self.P = Buffer((out, inp), dev) if alg.kind == "agad" else None
        self.pointer = TransferPointer(inp, alg.columns_per_transfer)
        self._updates = 0
        self.fast_path = "compound: " + ", ".join(f"{k}: {getattr(c, 'fast_path', c.kind)}" for k, c in self.arrays.items())

    # ------------------------------------------------------------------------------------------ reads
    def _a(self, read: str, v: torch.Tensor, reference: bool = False) -> torch.Tensor:
        """A's value read (A − R with a reference array; ``reference``: less AGAD's digital reference P, computed
        digitally beside the analog read)."""
        y = getattr(self.A, read)(v)
        if self.R is not None:
            y = y - getattr(self.R, read)(v)
        if reference and self.P is not None:
            y = y - (v @ self.P.value.t() if read == "vmm" else v @ self.P.value)
            self.counters.add("buffer.macs", v.shape[0] * self.out_features * self.in_features)
        return y

    def vmm(self, x: torch.Tensor) -> torch.Tensor:
        y = self.C.vmm(x)
        if self.A is not None and self.alg.gamma > 0:  # A holds the chopped weight: its inputs chopped too
            xc = x
            if self.choppers is not None:
                xc = x * self.choppers.signs
                self.counters.add("chopper.sign_flips_applied", x.numel())
            y = y + self.alg.gamma * self._a("vmm", xc, reference=True)
        return y

    def mvm(self, d: torch.Tensor) -> torch.Tensor:
        y = self.C.mvm(d)
        if self.A is not None and self.alg.gamma > 0:
            ya = self._a("mvm", d, reference=True)
            if self.choppers is not None:
                ya = ya * self.choppers.signs
                self.counters.add("chopper.sign_flips_applied", ya.numel())
            y = y + self.alg.gamma * ya
        return y

    # ------------------------------------------------------------------------------------------ update
    def opu(self, x: torch.Tensor, d: torch.Tensor, lr: float) -> None:
        """The algorithm's update: the gradient into χ (mixed precision) or into A (Tiki-Taka family), then every
        ``transfer_every`` updates a transfer."""
        x, d = update_pair(x, d)
        v = self.counters.values
        v["opu_calls"] = v.get("opu_calls", 0) + 1
        v["samples_updated"] = v.get("samples_updated", 0) + x.shape[0]
        if self.chi is not None:
            self.chi.add(d.t() @ x, -float(lr))  # the digital accumulator: B·out·in multiply-adds
            v["buffer.macs"] = v.get("buffer.macs", 0) + x.shape[0] * self.out_features * self.in_features
        else:
            if self.choppers is not None:
                x = x * self.choppers.signs  # input choppers: A learns the chopped gradient
                v["chopper.sign_flips_applied"] = v.get("chopper.sign_flips_applied", 0) + x.shape[0] * self.in_features
            self.A.opu(x, d, lr)
        self._updates += 1
        if self._updates % self.alg.transfer_every == 0:
            self.transfer()

    def transfer(self) -> None:
        """One transfer (see the module docstring of :mod:`.transfer` for what each algorithm moves). What A (and R)
        read during it is kept apart (``transfer.read.*``), so the cost charges it as transfers, not as the network's
        reads; C is written by transfers only, so its update counts are the transfer writes (``transfer.write.*``)."""
        before = [_read_tally(c) for c in self._fast()]
        try:
            self._transfer()
        finally:
            for (v0, c0), core in zip(before, self._fast()):
                v1, c1 = _read_tally(core)
                self.counters.add("transfer.read.vectors_forward", v1 - v0)
                self.counters.add("transfer.read.conversions", c1 - c0)

    def _fast(self) -> list:
        return [c for c in (self.A, self.R) if c is not None]

    def _transfer(self) -> None:
        v = self.counters.values
        v["transfers"] = v.get("transfers", 0) + 1
        if self.chi is not None:
            self._write_whole_steps(self.chi, None)
            return
        cols = self.pointer.next()
        n = cols.numel()
        e = torch.zeros(n, self.in_features, device=self.device)
        e[torch.arange(n, device=self.device), cols] = 1.0
        y = self._a("vmm", e)  # (n, out): A's columns, read through A's (transfer) converters
        v["transfer.reads"] = v.get("transfer.reads", 0) + n
        if self.choppers is not None:
            raw = y
            if self.P is not None:  # AGAD: the change since the column's last chopper flip (its reference P)
                y = y - self.P.value[:, cols].t()
                v["buffer.adds"] = v.get("buffer.adds", 0) + n * self.out_features
            y = y * self.choppers.signs[cols].unsqueeze(1)  # undo the chopper the column was learnt under
            v["chopper.sign_flips_applied"] = v.get("chopper.sign_flips_applied", 0) + n * self.out_features
            flip = self.choppers.maybe_flip(cols, self.generator)
            if self.P is not None and flip is not None and bool(flip.any()):  # the new period's reference: this read
                self.P.value[:, cols[flip]] = raw[flip].t()
                v["buffer.reference_writes"] = v.get("buffer.reference_writes", 0) + int(flip.sum()) * self.out_features
        if self.H is None:  # Tiki-Taka: the read, scaled, written into C's columns
            self._write_columns(cols, self.alg.transfer_lr * y)
            return
        self.H.decay(cols, self.alg.buffer_decay)
        self.H.add_columns(cols, y.t(), self.alg.transfer_lr)
        v["buffer.adds"] = v.get("buffer.adds", 0) + n * self.out_features
        # H ← (1 − decay)·H + lr·y: one multiply per entry for the decay, one for the scale (when not 1)
        mults = n * self.out_features * ((self.alg.buffer_decay > 0) + (self.alg.transfer_lr != 1.0))
        if mults:
            v["buffer.multiplies"] = v.get("buffer.multiplies", 0) + mults
        self._write_whole_steps(self.H, cols)

    def _write_whole_steps(self, buf: "Buffer", cols: torch.Tensor | None) -> None:
        """Write the whole ``buffer_threshold`` steps of ``buf`` (all columns, or ``cols``) into C; keep the rest."""
        v = self.counters.values
        thr = self.alg.buffer_threshold * self.step
        take = buf.take_whole(thr, cols)  # (out, in) or (out, n): whole multiples of thr, removed from the buffer
        v["buffer.compares"] = v.get("buffer.compares", 0) + take.numel()
        nz = int(torch.count_nonzero(take))
        v["transfer.cells_written"] = v.get("transfer.cells_written", 0) + nz
        if nz == 0:
            return
        if cols is None:
            cols = torch.arange(self.in_features, device=self.device)
        self._write_columns(cols, take.t())

    def _write_columns(self, cols: torch.Tensor, change: torch.Tensor) -> None:
        """C[:, cols] += change (n, out) through C's update rule and device: one rank-1 update per column."""
        n = cols.numel()
        e = torch.zeros(n, self.in_features, device=self.device)
        e[torch.arange(n, device=self.device), cols] = 1.0
        self.C.opu(e, -change, 1.0)
        v = self.counters.values
        v["transfer.columns_written"] = v.get("transfer.columns_written", 0) + n

    # ------------------------------------------------------------------------------------------ state
    def get_weight(self) -> torch.Tensor:
        w = self.C.get_weight()
        if self.A is not None and self.alg.gamma > 0:
            a = self.A.get_weight() - (self.R.get_weight() if self.R is not None else 0)
            if self.P is not None:
                a = a - self.P.value
            if self.choppers is not None:
                a = a * self.choppers.signs
            w = w + self.alg.gamma * a
        return w

    def set_weight(self, w: torch.Tensor) -> None:
        """Program ``w`` into C; A (and R) to zero; the digital state cleared."""
        self.C.set_weight(w)
        if self.A is not None:
            z = torch.zeros(self.shape, device=self.device)
            self.A.set_weight(z)
            if self.R is not None:
                self.R.set_weight(z)
        for b in (self.chi, self.H, self.P):
            if b is not None:
                b.value.zero_()

    @property
    def stats(self) -> dict:
        """The arrays' counts under ``<array>.<key>`` (``C.update.pulses``, ``A.forward.conversions`` ...), the
        network's reads and the update (C's, plus A's and R's where they take part) under the plain Mapping names,
        and the algorithm's own counts: ``transfers``, ``transfer.reads`` (columns read), ``transfer.columns_written``,
        ``transfer.cells_written``, ``transfer.read.*`` / ``transfer.write.*`` (what A and R counted in the transfer
        reads, what C counted in the transfer writes; taken out of the plain names), ``transfer.write_activity``,
        ``buffer.macs`` (mixed precision's χ), ``buffer.adds``, ``buffer.multiplies``, ``buffer.compares``,
        ``buffer.cells`` (digital storage), ``chopper.flips``, ``chopper.sign_flips_applied``."""
        s = self.counters.read()
        for k in ("opu_calls", "samples_updated", "transfers"):
            s.setdefault(k, 0)
        per = {name: core.stats for name, core in self.arrays.items()}
        for name, st in per.items():
            for k, val in st.items():
                if isinstance(val, (int, float)):
                    s[f"{name}.{k}"] = val
        c = per["C"]
        # the network's reads and update events: C's vectors (the network reads C), this core's update calls
        for k in ("vmm_calls", "mvm_calls", "vectors_forward", "vectors_backward", "activity_vectors_forward",
                  "activity_vectors_backward", "input_activity"):
            if k in c:
                s[k] = c[k]
        rule = self.design.update.rule
        s["update_events"] = s["samples_updated"] if rule == "outer_product" else s["opu_calls"]
        # every array's actions summed under the Mapping's names, less what the transfers did (transfer.read.*: A's
        # and R's reads; transfer.write.*: C's writes): the network's reads and the gradient's writes; the transfers
        # are charged by pimtrain.cost.algorithms from the transfer.* counts
        for st in per.values():
            for k, val in st.items():
                if k.startswith(("forward.", "backward.", "update.", "refresh.")) and isinstance(val, (int, float)):
                    s[k] = s.get(k, 0) + val
        # transfer reads: the vectors A and R read in transfers times their per-vector counts (conversions as counted)
        nv = s.get("transfer.read.vectors_forward", 0)
        rc = (getattr(self.A, "_read_counts", None) or {}).get("forward") if self.A is not None else None
        if nv and rc is not None:
            for name in READ_ACTIONS:
                if name != "conversions" and getattr(rc, name):
                    s[f"transfer.read.{name}"] = nv * getattr(rc, name)
        # transfer writes: all of C's writes (C is written by transfers only)
        for k, val in c.items():
            if (k.startswith("update.") or k == "update_events") and isinstance(val, (int, float)):
                s[f"transfer.write.{k.split('.', 1)[-1]}"] = val
        for k in list(s):
            for side, kern in (("read", "forward"), ("write", "update")):
                pre = f"transfer.{side}."
                if k.startswith(pre) and f"{kern}.{k[len(pre):]}" in s:
                    s[f"{kern}.{k[len(pre):]}"] = max(s[f"{kern}.{k[len(pre):]}"] - s[k], 0)
        cap = s.get("transfer.write.pulse_capacity")
        s["transfer.write_activity"] = min(s.get("transfer.write.pulses", 0) / cap, 1.0) if cap else None
        src = per.get("A")
        if src is not None and src.get("update_activity") is not None:
            s["update_activity"] = src["update_activity"]  # the gradient's writes land on A
        elif src is None:
            s["update_activity"] = None  # mixed precision: the gradient goes into the digital χ, C gets transfers only
        s["buffer.cells"] = sum(b.value.numel() for b in (self.chi, self.H, self.P) if b is not None)
        s["chopper.flips"] = self.choppers.flips if self.choppers is not None else 0
        s["arrays"] = len(self.arrays)
        return s

    def state_dict(self) -> dict:
        return {
            "kind": self.kind, "updates": self._updates, "generator": self.generator.get_state(),
            "counters": dict(self.counters.values), "pointer": self.pointer.position,
            "arrays": {k: c.state_dict() for k, c in self.arrays.items()},
            "chi": None if self.chi is None else self.chi.value.clone(),
            "H": None if self.H is None else self.H.value.clone(),
            "P": None if self.P is None else self.P.value.clone(),
            "choppers": None if self.choppers is None else (self.choppers.signs.clone(), self.choppers.flips),
        }

    def load_state_dict(self, sd: dict) -> None:
        self._updates = int(sd["updates"])
        self.generator.set_state(sd["generator"])
        self.counters.load(sd["counters"])
        self.pointer.position = int(sd["pointer"])
        for k, c in self.arrays.items():
            c.load_state_dict(sd["arrays"][k])
        if self.chi is not None:
            self.chi.value.copy_(sd["chi"])
        if self.H is not None:
            self.H.value.copy_(sd["H"])
        if self.P is not None:
            self.P.value.copy_(sd["P"])
        if self.choppers is not None:
            self.choppers.signs.copy_(sd["choppers"][0])
            self.choppers.flips = int(sd["choppers"][1])

    def to(self, device) -> "CompoundCore":
        device = torch.device(device)
        for c in self.arrays.values():
            c.to(device)
        for b in (self.chi, self.H, self.P):
            if b is not None:
                b.value = b.value.to(device)
        if self.choppers is not None:
            self.choppers.signs = self.choppers.signs.to(device)
        self._reseed(device)
        self.device = device
        return self

    def __repr__(self) -> str:
        return f"CompoundCore({self.alg.kind}, shape={self.shape}, arrays={list(self.arrays)})"
