"""PANTHER bit-sliced weights: outer-product accumulate (OPA) on heterogeneous slices + carry resolution.

A weight is a signed fixed-point number of ``T = S·b`` bits (``S`` slices, ``b = log2(base)`` nominal
bits per slice, ``base = update.slicing.base``, e.g. 8 slices x 2 bits = 16-bit 4.12 fixed point with
``array.w_max = 8``): ``W = LSB · Σ_s base**s · v_s`` with ``LSB = w_max / 2**(T-1)`` and ``v_s`` the
signed level of slice ``s`` (least significant first inside this module). Each slice is a cell of
``slice_bits[s]`` bits (``update.slicing.slice_bits``, written most significant first as in the paper's
"44466555"), so it holds levels ``-2**(k-1) .. 2**(k-1)-1``: more than the ``base`` levels a digit needs.
That headroom is what lets updates accumulate in place between carry steps.

Kernels (Ankit et al., IEEE TC 2020, via docs/sources.md §2.2):

- ``vmm`` / ``mvm``: every slice is read (DAC per ``io.*.dac_bits``; one ADC conversion per slice
  partial sum, ``io.*.adc_bits``, batch-max range per slice) and the slices are shifted and added
  digitally (``base**s``). Simplifications: inputs are quantised as one value (the bit-serial 1-bit
  DAC streaming is exact for a ``dac_bits`` input), and a slice's partial sum is converted over the
  whole input length, not per 128-row physical crossbar.
- ``opu`` (OPA): per example the update ``ΔW = -lr·dᵀx`` is rounded to the LSB grid (nearest), its
  magnitude written in base ``base`` and digit ``s`` added with the update's sign to slice ``s``
  (assumption: the paper's exact bit-to-slice routing is not in our sources; sign-magnitude digits
  keep the slices' drift zero-mean). A slice that would leave its level range saturates there (the
  write is lost): small updates only touch the low-order slices, so those saturate first.
- CRS (carry-resolution step) every ``carry_interval`` examples: read all slices (rounded to levels),
  form the integer weight, clip it to ``T`` bits and rewrite it in canonical digits (``-base/2 ..
  base/2-1`` on all slices but the top one, which takes the remainder). With ideal devices and no
  saturation this conserves the stored weight exactly.

Device non-idealities: each slice has its own device model from :mod:`pimtrain.devices` (cell state
``c = (v + 0.5)/2**k``); writes go through ``device.step`` (nonlinearity, write noise, d2d, faults),
CRS through ``device.program`` (programming noise). Read noise adds ``device.read_noise`` x ``2**k`` levels
of std per cell read. With the ideal device the levels are kept exactly (no device call: fast path).
"""
from __future__ import annotations


import torch

from pimtrain.design import PimtrainError
from pimtrain.design.models import Design
from pimtrain.devices import NoiseSource, Request, make_device
from pimtrain.mapping import LayerMapping, weight_slices

from .base import CoreBase, update_pair
from .encoding import WeightEncoding, canonical_digits, digits_of
from .quantizers import AdcQuantizer, DacQuantizer


class BitSlicedCore(CoreBase):
    """One (out, in) weight matrix on PANTHER bit slices. Same interface as ``AnalogCore``."""

    kind = "bitsliced"

    def __init__(self, weight: torch.Tensor, design: Design, layer_index: int = 0, seed: int | None = None):
        if weight.dim() != 2:
            raise PimtrainError(f"weight: must be 2-D (out, in), got shape {tuple(weight.shape)}")
        for k in ("forward", "backward"):
            if getattr(design.io, k).accumulation != "single_read":
                raise PimtrainError(f"io.{k}.accumulation: {getattr(design.io, k).accumulation!r} is not read by the bit-sliced "
                                    "core (PANTHER reads every slice once); allowed: single_read")
        if design.update.pulse.scheme != "none":
            raise PimtrainError(f"update.pulse.scheme: {design.update.pulse.scheme!r}; the bit-sliced core writes each slice's "
                                "digit as that many level steps; allowed: none")
        default_threshold = type(design.update.slicing).model_fields["carry_threshold"].default
        if design.update.slicing.carry_threshold != default_threshold:
            raise PimtrainError("update.slicing.carry_threshold: the carry-resolution step rewrites every slice, no threshold "
                                f"applies; allowed: {default_threshold}")
        sl = design.update.slicing
        a = design.array
        # a digital weight stored in bit slices with no headroom (array.weight_bits over array.bits_per_cell, no
        # slicing.slice_bits): every update is a read-modify-write of the whole weight (serial write, Base_mvm)
        self.rmw = sl.slice_bits is None
        if self.rmw:
            if a.weight_bits is None or a.bits_per_cell is None:
                raise PimtrainError("update.slicing.slice_bits: required for a bit-sliced core without array.weight_bits "
                                    "and array.bits_per_cell; allowed: a list of slices ints 1..16")
            n = weight_slices(design)  # the Mapping's bit slices of array.weight_bits
            sl = sl.model_copy(update={"slices": n, "base": float(2 ** a.bits_per_cell), "slice_bits": [a.bits_per_cell] * n})
        base = float(sl.base)
        if base != int(base) or int(base) < 2 or (int(base) & (int(base) - 1)):
            raise PimtrainError(f"update.slicing.base: must be a power of two for bit slicing (got {base:g}); allowed: 2, 4, 8, 16")
        allowed = ("outer_product", "accumulate", "serial") if self.rmw else ("outer_product", "accumulate")
        if design.update.rule not in allowed:
            raise PimtrainError(f"update.rule: {design.update.rule!r} not supported by bit slicing; allowed: {', '.join(allowed)}")
        self.slicing = sl
        self._identity(weight, design, layer_index, seed)
        self.mapping = LayerMapping(self.out_features, self.in_features, design)
        self._read_counts = {k: self.mapping.read_counts(k) for k in ("forward", "backward")}
        self._update_counts = self.mapping.update_counts()
        # the bit-serial input stream is read as one value (exact for a dac_bits input); each simulated conversion
        # stands for one per input cycle, as the hardware converts
        self._cycles = {k: self.mapping.input_cycles(k) for k in ("forward", "backward")}
        dev = self.device
        # the weight encoding (fixed-point bit slices, carry resolution): its own object (.encoding); the hot paths
        # read its constants through these names
        self.enc = enc = WeightEncoding(design, dev, "fixed_point", spec=sl)
        self.base, self.S, self.cap_bits, self.total_bits = enc.base, enc.S, enc.cap_bits, enc.total_bits
        self.w_max, self.lsb, self.k_max, self.k_min = enc.w_max, enc.lsb, enc.k_max, enc.k_min
        self.levels, self.v_hi, self.v_lo, self.pows = enc.levels, enc.v_hi, enc.v_lo, enc.pows
        dspec = design.device
        self.device_ideal = dspec.ideal_updates  # the one ideal-device check (pimtrain.design.models.DeviceSpec)
        self.read_sigma = float(dspec.read_noise)
        cells = self.in_features * self.out_features
        self._pool_size = int(min(max(4 * cells, 1 << 16), 1 << 22))
        self.noise = NoiseSource(self.generator, dev, pool_size=self._pool_size)
        self.devices = None if self.device_ideal else [
            make_device(dspec, (self.in_features, 1, self.out_features), self.generator, self.noise, dev,
                        base_path=design.source_path) for _ in range(self.S)]
        io = design.io  # the analog core's converters: range policies (fixed / calibrated / batch_max), output noise
        self.fwd_dac, self.fwd_adc = DacQuantizer.from_io(io.forward), AdcQuantizer.from_io(io.forward)
        self.bwd_dac, self.bwd_adc = DacQuantizer.from_io(io.backward), AdcQuantizer.from_io(io.backward)
        for q in self._quantizers().values():
            q.host_scale = False
        self.v = torch.zeros(self.S, self.in_features, self.out_features, device=dev)
        self.carry_schedule = enc.carry(self.resolve_carries)
        self._sat = self._upd = self._cells = 0  # tensor accumulators (read in ``stats``, no sync per update)
        self.ideal = False
        # slice sets (update.weight_copies, update.delta_arrays): set 0 the forward copy (vmm, get_weight), a second
        # copy the backward one (mvm), each written with its own device response; delta slices take the OPA digits
        # of a batch and are folded into every copy at its end
        self.copies = design.update.weight_copies
        if design.update.delta_arrays and self.rmw:
            raise PimtrainError("update.delta_arrays: a read-modify-write update (bit slices without slice_bits headroom) "
                                "writes the weights directly, it has no delta arrays; allowed: false")
        self._sets = [self._set_state()]
        self._active = 0
        for _ in range(self.copies - 1):
            self._sets.append(self._new_set(enc.carry(self.resolve_carries, count_steps=False)))
        self._delta = -1
        if design.update.delta_arrays:
            self._sets.append(self._new_set(None))
            self._delta = len(self._sets) - 1
        self.set_weight(weight)
        extra = (f"; {self.copies} weight copies (mvm reads the last)" if self.copies > 1 else "") + (
            "; OPA digits on delta slices, folded per batch" if self._delta >= 0 else "")
        self.fast_path = (f"bit-sliced {self.S}x{self.base}-ary ({''.join(map(str, sl.slice_bits))}), "
                          f"LSB {self.lsb:.3g}, " + ("read-modify-write updates" if self.rmw else f"CRS every {sl.carry_interval}")
                          + ("; ideal levels (no device calls)" if self.device_ideal else f"; device {dspec.model} per slice")
                          + extra)

    # -------------------------------------------------------------------------------------- slice sets
    _SET_ATTRS = ("v", "devices", "carry_schedule")

    def _set_state(self) -> dict:
        return {k: getattr(self, k) for k in self._SET_ATTRS}

    def _new_set(self, schedule) -> dict:
        """Another set of slices of the same device (own device-to-device draws), levels at zero."""
        d = self.design
        devs = None if self.device_ideal else [
            make_device(d.device, (self.in_features, 1, self.out_features), self.generator, self.noise, self.device,
                        base_path=d.source_path) for _ in range(self.S)]
        return {"v": torch.zeros_like(self.v), "devices": devs, "carry_schedule": schedule}

    def _fold(self, events: int) -> None:
        """Delta slices → weights: the delta's integer added to every copy's (clipped to ``T`` bits), the changed
        cells programmed in canonical digits; delta slices reset to zero."""
        self._use(self._delta)
        kd = self.enc.integer(self.v, rounded=True)
        self._program(torch.zeros_like(self.v))
        for i in range(self.copies):
            self._use(i)
            k = (self.enc.integer(self.v, rounded=True) + kd).clamp_(self.k_min, self.k_max)
            dig = self.enc.canonical(k)
            mask = dig != self.v
            self.counters.add("cells_reprogrammed", mask.sum())
            self._program(dig, mask)
            self._tick(events, self.slicing.carry_interval)
        u = self._update_counts
        self.counters.add("update.fold_read_cells", u.fold_read_cells)
        self.counters.add("update.fold_write_cells", u.fold_write_cells)
        self._use(0)

    # ------------------------------------------------------------------------------------ weight access
    @property
    def slices(self) -> int:
        return self.S

    def stored_integer(self) -> torch.Tensor:
        """Σ_s base**s v_s (in, out), in LSB units (not rounded)."""
        return self.enc.integer(self.v)

    def get_weight(self) -> torch.Tensor:
        return (self.stored_integer() * self.lsb).t().contiguous()

    def set_weight(self, w: torch.Tensor) -> None:
        w = w.detach().to(device=self.device, dtype=torch.float32)
        if tuple(w.shape) != self.shape:
            raise PimtrainError(f"set_weight: shape {tuple(w.shape)} does not match the core {self.shape}")
        k = self.enc.to_integer(w.t())
        for i in range(self.copies):  # every copy programmed (each with its own programming noise)
            self._use(i)
            self._program(self.enc.canonical(k))
        self._use(0)

    def _program(self, digits: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        """Write slice levels ``digits`` (S, in, out) directly (programming noise, bounds, faults)."""
        target = self.enc.clip_levels(digits)
        if self.devices is not None:
            progs = []
            for s in range(self.S):
                c = ((target[s] + 0.5) / self.levels[s]).unsqueeze(1)
                progs.append(self.devices[s].program(c).squeeze(1) * self.levels[s] - 0.5)
            target = torch.stack(progs)
        if mask is None:
            self.v.copy_(target)
        else:
            self.v.copy_(torch.where(mask, target, self.v))

    # ------------------------------------------------------------------------------------------ kernels
    def vmm(self, x: torch.Tensor) -> torch.Tensor:
        return self._read(x, self.fwd_dac, self.fwd_adc, forward=True)

    def mvm(self, d: torch.Tensor) -> torch.Tensor:
        if self.copies == 1:
            return self._read(d, self.bwd_dac, self.bwd_adc, forward=False)
        self._use(self.copies - 1)  # the backward copy
        try:
            return self._read(d, self.bwd_dac, self.bwd_adc, forward=False)
        finally:
            self._use(0)

    def _read(self, x: torch.Tensor, dac: DacQuantizer, adc: AdcQuantizer, forward: bool) -> torch.Tensor:
        x = x.to(torch.float32)
        xi = dac(x)
        scale = dac.last_scale if dac.n is not None else "max"
        conv0 = adc.conversions
        v = self.v
        if self.read_sigma > 0:
            v = v + torch.randn(v.shape, generator=self.generator, device=v.device) * (self.read_sigma * self.levels)
        # per-slice partial sums (B, S, n) in level units, one ADC range per slice
        # one conversion range per slice and physical array: the forward read sums ``array.rows`` rows per
        # crossbar, the backward read ``array.cols`` columns (one crossbar per slice, as a PUMA matrix unit)
        if forward:
            blocks = self.mapping.row_splits
            parts = [torch.einsum("bi,sio->bso", xi[:, lo:hi], v[:, lo:hi]) for lo, hi in blocks]
        else:
            c = self.design.array.cols
            parts = [torch.einsum("bo,sio->bsi", xi[:, lo:lo + c], v[:, :, lo:lo + c]) for lo in range(0, self.out_features, c)]
        out = 0.0
        for part in parts:
            if adc.output_noise:
                adc.noise(part, (0, 2), self.generator)
            out = out + adc(part, dims=(0, 2))
        kernel = "forward" if forward else "backward"
        self._count_read(kernel, xi, scale, conversions=(adc.conversions - conv0) * self._cycles[kernel])
        return (out * self.pows.view(1, -1, 1)).sum(1) * self.lsb

    def opu(self, x: torch.Tensor, d: torch.Tensor, lr: float) -> None:
        """OPA: W ← W − lr·dᵀx, one rank-1 update per example, CRS every ``carry_interval`` examples."""
        x, d = update_pair(x, d)
        b = x.shape[0]
        self.counters.add("opu_calls", 1)
        self.counters.add("samples_updated", b)
        self._count_events(b if self.design.update.rule == "outer_product" else 1)
        if self._delta >= 0:  # OPA digits of the batch on the delta slices, folded into every copy at its end
            self._use(self._delta)
            try:
                self._opa(x, d, lr, ticks=False)
            finally:
                self._use(0)
            self._fold(b)
            return
        for i in range(self.copies):  # every copy takes the update (each its own device response)
            self._use(i)
            self._opa(x, d, lr)
        self._use(0)

    def _opa(self, x: torch.Tensor, d: torch.Tensor, lr: float, ticks: bool = True) -> None:
        """The update of the active slice set (``ticks``: run its carry schedule)."""
        b = x.shape[0]
        interval = self.slicing.carry_interval
        scale = -float(lr) / self.lsb
        if self.rmw:  # read the weight, add the update, rewrite every slice (per example, or once per batch)
            per_example = self.design.update.rule == "outer_product"
            steps = [(x[i:i + 1], d[i:i + 1]) for i in range(b)] if per_example else [(x, d)]
            for xs, ds in steps:
                k = self.enc.integer(self.v, rounded=True)
                k = torch.round(k + scale * (xs.t() @ ds)).clamp_(self.k_min, self.k_max)
                dig = self.enc.canonical(k)
                mask = dig != self.v
                n = mask.sum()
                self.counters.add("cells_reprogrammed", n)
                self.counters.add("update.cells_written", n)
                if self._active == 0:  # the copies are written side by side: the rows' time once
                    self.counters.add("update.rows_written", self._update_counts.rows_written)
                self._program(dig, mask)
            return
        if self.design.update.rule == "accumulate":  # mini-batch: the summed update written once
            self._write(self.enc.digits(torch.round(scale * (x.t() @ d))))
            if ticks:
                self._tick(b, interval)
            return
        # digits of several rank-1 updates at once (bounded memory), then written one after another
        chunk = max(1, (1 << 21) // max(self.in_features * self.out_features * self.S, 1))
        for start in range(0, b, chunk):
            dk = torch.einsum("bi,bo->bio", x[start:start + chunk], d[start:start + chunk]).mul_(scale).round_()
            dig = self.enc.digits(dk)  # (S, rows, in, out)
            for i in range(dk.shape[0]):
                self._write(dig[:, i])
                if ticks:
                    self._tick(1, interval)

    def _tick(self, n: int, interval: int) -> None:
        self.carry_schedule.tick(n, self.counters)

    def _count_events(self, events: int) -> None:
        """Update events under the Mapping's per-event counts (an OPA example: every cell of the matrix
        under the rank-1 pulses, every row and column driver)."""
        c = self.counters
        c.add("update_events", events)
        u = self._update_counts
        if self.design.update.rule == "outer_product" and not self.rmw:
            c.add("update.pulsed_cells", events * u.pulsed_cells)
            c.add("update.row_drives", events * u.row_drives)
            c.add("update.col_drives", events * u.col_drives)

    def _write(self, dig: torch.Tensor) -> None:
        """Add slice digits ``dig`` (S, in, out) of one update (saturating at each slice's range)."""
        if self.devices is None:
            new = self.v + dig
            clipped = torch.maximum(torch.minimum(new, self.v_hi), self.v_lo)
            self._sat = self._sat + (clipped != new).sum()
            self.v.copy_(clipped)
        else:
            for s in range(self.S):
                ds = dig[s]
                c = ((self.v[s] + 0.5) / self.levels[s]).unsqueeze(1)
                self.devices[s].step(c, Request(r=(ds / self.levels[s]).unsqueeze(1)), None)
                new = c.squeeze(1) * self.levels[s] - 0.5
                clipped = torch.maximum(torch.minimum(new, self.v_hi[s]), self.v_lo[s])
                self._sat = self._sat + (clipped != new).sum()
                self.v[s].copy_(clipped)
        self._upd = self._upd + dig.abs().sum()
        self._cells = self._cells + (dig != 0).sum()

    def carry(self) -> int:
        """Run one carry-resolution step now (through the carry schedule's counters); returns cells reprogrammed."""
        n = self.resolve_carries()
        self.counters.add("update.carries", 1)
        self.counters.add("update.carry_cells", n)
        self.counters.add("cells_reprogrammed", n)
        return n

    def resolve_carries(self) -> int:
        """The ``resolve`` carry policy: read every slice, re-encode the weight canonically, reprogram.

        Returns the number of cells reprogrammed (those not already at their target level)."""
        k = self.enc.integer(self.v, rounded=True).clamp_(self.k_min, self.k_max)
        dig = self.enc.canonical(k)
        mask = dig != self.v  # cells off their target level (a drifted cell is rewritten too)
        n = int(mask.sum())
        if n:
            self._program(dig, mask)
        return n

    # --------------------------------------------------------------------------------------- bookkeeping
    @property
    def stats(self) -> dict:
        if any(isinstance(t, torch.Tensor) or t for t in (self._sat, self._upd, self._cells)):
            self.counters.add("saturated_writes", self._sat)
            self.counters.add("update.pulses", self._upd)  # a digit d is |d| level steps of its slice
            self.counters.add("cells_updated", self._cells)
            self._sat = self._upd = self._cells = 0
        s = self._read_stats()
        s.setdefault("saturated_writes", 0)
        s["adc_conversions"] = self.fwd_adc.conversions + self.bwd_adc.conversions
        s["dac_conversions"] = self.fwd_dac.conversions + self.bwd_dac.conversions
        s["adc_clipped"] = self.fwd_adc.clipped_count() + self.bwd_adc.clipped_count()
        s["dac_clipped"] = self.fwd_dac.clipped_count() + self.bwd_dac.clipped_count()
        s["carries"] = s.get("update.carries", 0)
        s["pulses"] = s.get("update.pulses", 0)
        s["cells_written"] = s.get("update.cells_written", 0)
        return s

    def _quantizers(self):
        return {"fwd_dac": self.fwd_dac, "fwd_adc": self.fwd_adc, "bwd_dac": self.bwd_dac, "bwd_adc": self.bwd_adc}

    def state_dict(self) -> dict:
        sets = [{"v": st["v"].clone(), "since_carry": st["carry_schedule"].since if st["carry_schedule"] else 0,
                 "devices": [dv.tensors() for dv in st["devices"] or []]} for st in self._sets[1:]]
        return {"kind": "bitsliced", "shape": self.shape, "v": self.v.clone(), "since_carry": self.carry_schedule.since,
                "sets": sets, "devices": [dv.tensors() for dv in self.devices or []],
                "generator": self.generator.get_state(), "counters": self.stats,
                "quantizers": {k: q.state_dict() for k, q in self._quantizers().items()}}

    def load_state_dict(self, sd: dict) -> None:
        if tuple(sd["shape"]) != self.shape:
            raise PimtrainError(f"state for shape {tuple(sd['shape'])} does not fit core {self.shape}")
        for i, st in enumerate([sd] + list(sd.get("sets", []))[: len(self._sets) - 1]):
            self._use(i)
            self.v.copy_(st["v"].to(self.device))
            if self.carry_schedule is not None:
                self.carry_schedule.since = int(st.get("since_carry", 0))
            for dv, t in zip(self.devices or [], st.get("devices", [])):
                dv.load_tensors(t)
        self._use(0)
        self.counters.load(sd.get("counters", {}))
        for k, q in self._quantizers().items():
            q.load_state_dict(sd.get("quantizers", {}).get(k, {}))
        self._sat = self._upd = self._cells = 0
        if self.device.type == "cpu":
            self.generator.set_state(sd["generator"])

    def to(self, device) -> "BitSlicedCore":
        device = torch.device(device)
        if device == self.device:
            return self
        self.device = device
        self.enc.to(device)
        self.levels, self.v_hi, self.v_lo, self.pows = self.enc.levels, self.enc.v_hi, self.enc.v_lo, self.enc.pows
        _ = self.stats  # fold the tensor accumulators (on the old device) into the counters
        self._reseed(device)
        self.counters.to(device)
        for q in self._quantizers().values():
            q.to(device)
        self.noise = NoiseSource(self.generator, device, pool_size=self._pool_size)
        for i in range(len(self._sets)):
            self._use(i)
            self.v = self.v.to(device)
            for dv in self.devices or []:
                dv.to(device)
                dv.generator, dv.noise = self.generator, self.noise
        self._use(0)
        return self

    def __repr__(self) -> str:
        return f"BitSlicedCore(shape={self.shape}, design={self.design.name!r}, path={self.fast_path!r})"


__all__ = ["BitSlicedCore", "digits_of", "canonical_digits"]
