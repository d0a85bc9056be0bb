"""``AnalogCore``: one logical weight matrix stored on analog crossbars, with the three training kernels.

Layout: the torch weight is ``W`` (out, in); the arrays hold ``M = Wᵀ`` (in rows = word lines, out
columns). State ``c`` has shape ``(slices, in, pairs, out)``: centred normalised conductances (see
:mod:`pimtrain.devices.base`), ``pairs`` = 2 for a differential pair (G+, G−), 1 for offset mapping.
Normalised slice value ``ŵ = c+ − c−`` (differential) or ``2c`` (offset, reference at mid-range), and
``W = w_max Σ_s base**(s-S+1) ŵ_s`` (see :mod:`pimtrain.xbar.slicing`). A cache ``wk`` (slices, in, out)
holds each slice's contribution in weight units and is refreshed row-wise after every update.

Kernels
-------
- ``vmm(x)`` = x @ Wᵀ and ``mvm(d)`` = d @ W: DAC (``io.*.dac_bits``, range policy) → matmul per
  physical array (``LayerMapping.row_splits`` for the forward, column tiles for the backward) and per
  slice → read noise → output noise → ADC (own range per array) → digital sum.
  Read noise (independent per cell and read, std σ of the range) is applied output-referred: the sum
  Σ_i x_i ε_i is exactly N(0, σ_w² Σ_i x_i²) per output, so (B, out) normals are drawn, not (out, in).
- ``opu(x, d, lr)`` applies W ← W − lr dᵀx through ``design.update``: rule, pulse scheme, device.
  Only rows with a nonzero (quantised) input receive pulses, so only they are gathered, updated and
  written back (a cell without a pulse does not change).

Pulse schemes (requests are per device, in centred-state units; a differential update moves G+ up and
G− down by half the normalised change each):
- ``none``: the requested change as one analog step through the device response.
- ``deterministic`` (outer product): x quantised per sample to ``row_bits`` magnitude bits + sign, d to
  ``col_bits`` + sign (range = the sample's max |·|), request ∝ Qx ⊗ Qd; ``pulses`` counts Σ|nx|·Σ|nd|.
  With ``accumulate``/``serial`` the digitally summed request is quantised to ``row_bits + col_bits``
  magnitude bits relative to its largest entry (the write circuit's duration x height resolution).
- ``stochastic`` (outer product): aihwkit pulse trains of length ``bl`` with update management; the
  coincidence counts are one matmul of the bit trains. With ``accumulate`` the pulse count is rounded
  stochastically (unbiased).

``outer_product`` with B > 1 applies the B rank-1 updates one after the other, except for a
state-independent device (ideal) with pulse scheme ``none``, where the sum is written once (identical
unless a weight clips mid-batch).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from pimtrain.design.models import Design
from pimtrain.devices import NoiseSource, Request, make_device
from pimtrain.mapping import LayerMapping

from .base import CoreBase, log_once, update_pair
from .encoding import WeightEncoding
from .quantizers import AdcQuantizer, DacQuantizer, absmax
from .slicing import periodic_carry

_absmax = absmax


def _sign_and_absmax(x: torch.Tensor):
    """(sign, max |x|) with sign +1 / -1 when all entries are >= 0 / <= 0, else 0 (0 off CPU)."""
    if x.device.type == "cpu":
        mn, mx = torch.aminmax(x)
        mn, mx = float(mn), float(mx)
        return (1 if mn >= 0.0 else (-1 if mx <= 0.0 else 0)), max(-mn, mx)
    return 0, x.abs().amax()


class AnalogCore(CoreBase):
    """One logical (out, in) matrix on analog arrays. See the module docstring."""

    kind = "analog"

    def __init__(self, weight: torch.Tensor, design: Design, layer_index: int = 0, seed: int | None = None):
        if design.update.rule == "exact" and design.update.pulse.scheme != "none":
            from pimtrain.design import PimtrainError

            raise PimtrainError(f"update.pulse.scheme: {design.update.pulse.scheme!r} with rule 'exact' (a floating-point "
                                "write, no pulses); allowed: none, or a pulsed rule (outer_product, accumulate, serial)")
        self._identity(weight, design, layer_index, seed)
        self.mapping = LayerMapping(self.out_features, self.in_features, design)
        self._read_counts = {k: self.mapping.read_counts(k) for k in ("forward", "backward")}
        self._update_counts = self.mapping.update_counts()
        # one simulated conversion of a single read stands for one per input cycle of a bit-serial input stream
        self._cycles = {k: self.mapping.input_cycles(k) for k in ("forward", "backward")}
        p = design.update.pulse
        self._pulse_slots = {"deterministic": ((1 << p.row_bits) - 1) * ((1 << p.col_bits) - 1),
                             "stochastic": p.bl}.get(p.scheme, 0)  # the most pulses one weight can get per rank-1 update
        cells = self.out_features * self.in_features * (2 if design.array.weight_mapping == "differential" else 1)
        self._pool_size = int(min(max(4 * cells, 1 << 16), 1 << 22))
        self.noise = NoiseSource(self.generator, self.device, pool_size=self._pool_size)
        io = design.io
        self.fwd_dac, self.fwd_adc = DacQuantizer.from_io(io.forward), AdcQuantizer.from_io(io.forward)
        self.bwd_dac, self.bwd_adc = DacQuantizer.from_io(io.backward), AdcQuantizer.from_io(io.backward)
        if any(k.converter == "learned" for k in (io.forward, io.backward)):
            from .nn_peripherals import check_design  # refuse what the trained peripherals cannot do, before any read

            check_design(design)
        for k in ("forward", "backward"):  # what a bit-serial dataflow cannot honour is refused before any read
            kio = getattr(io, k)
            if kio.accumulation in ("digital", "analog_buffered") and kio.output_range.policy != "batch_max":
                from pimtrain.design import PimtrainError

                raise PimtrainError(f"io.{k}.output_range: accumulation {kio.accumulation!r} converts each partial sum over "
                                    "its bit line's full scale; allowed: batch_max")
            if kio.converter == "learned" and kio.input_bits_per_cycle != 1:
                from pimtrain.design import PimtrainError

                raise PimtrainError(f"io.{k}.input_bits_per_cycle: the learned NNS+A combines one input bit per stage; allowed: 1")
        # reads: a strategy per kernel, selected by io.<kernel>.accumulation
        self._reads = {k: (self._read_single if getattr(io, k).accumulation == "single_read" else self._read_bitserial)
                       for k in ("forward", "backward")}
        self._read_fwd, self._read_bwd = self._reads["forward"], self._reads["backward"]
        self.ideal = design.is_ideal
        w = weight.detach().to(torch.float32)
        if self.ideal:
            self._clip = design.update.rule != "exact"  # 'exact' is float math: never clipped
            self.w = w.clone().contiguous()
            if self._clip:
                self.w.clamp_(-design.array.w_max, design.array.w_max)
            self.fast_path = "ideal: plain matmul (float-exact)"
        else:
            self._build_analog(w)
        log_once(f"pimtrain core [{design.name}]: {self.fast_path}")

    # ------------------------------------------------------------------------------------- construction
    def _build_analog(self, w: torch.Tensor) -> None:
        d = self.design
        dev = self.device
        # the weight encoding (polarity, positional slices, carry): its own object (.encoding); the hot paths read
        # its constants through these names
        self.enc = enc = WeightEncoding(d, dev, "positional")
        self.slices, self.sig, self.pairs, self.w_max = enc.slices, enc.sig, enc.pairs, enc.w_max
        self.pm, self.pm2, self.wscale, self.k_hat = enc.pm, enc.pm2, enc.wscale, enc.k_hat
        self.combine, self.split = enc.combine, enc.split
        self.devices = [
            make_device(d.device, (self.in_features, self.pairs, self.out_features), self.generator, self.noise,
                        dev, base_path=d.source_path)
            for _ in range(self.slices)
        ]
        self.dw_min = self.devices[0].dw_min
        # tiling (forward: row tiles of array.rows; backward: column tiles of weight columns per array)
        self.row_tile = d.array.rows
        self.n_row_tiles = max(len(self.mapping.row_splits), 1)
        cw = max(self.mapping.weight_cols_per_array, 1)
        self.col_tile = cw
        self.n_col_tiles = max(math.ceil(self.out_features / cw), 1)
        kp = self.n_row_tiles * self.row_tile if self.n_row_tiles > 1 else self.in_features
        npad = self.n_col_tiles * cw if self.n_col_tiles > 1 else self.out_features
        self._wk_store = torch.zeros(self.slices, kp, npad, device=dev)
        self.wk = self._wk_store[:, : self.in_features, : self.out_features]
        self._views()
        self.c = torch.zeros(self.slices, self.in_features, self.pairs, self.out_features, device=dev)
        rn = self.devices[0].read_noise_std()
        coef = math.sqrt(2.0) if self.pairs == 2 else 2.0
        self.read_sigma = rn * coef  # std of one weight read, normalised slice units
        self.read_sigma_w = self.read_sigma * self.wscale[0]  # the same in weight units (slice 0)
        self._update = self._select_update()
        from .refresh import wants_refresh

        self._pair_refresh = wants_refresh(self)
        self.carry = None if self.slices == 1 else enc.carry(lambda: periodic_carry(self))
        self._since_refresh = 0
        self._pending_stats: list[tuple[torch.Tensor, torch.Tensor]] = []  # deferred pulse statistics
        # array sets (update.weight_copies, update.delta_arrays): set 0 is the forward copy (vmm, get_weight); a second
        # copy (set 1) is the backward one (mvm); delta arrays (the last set) take the pulses, folded once per batch
        self.copies = d.update.weight_copies
        self._delta = -1
        self._sets = [self._set_state()]
        self._active = 0
        for _ in range(self.copies - 1):
            self._sets.append(self._new_set(self.slices, counts_carries=False))
        if d.update.delta_arrays:
            self._sets.append(self._new_set(1, counts_carries=None))
            self._delta = len(self._sets) - 1
        self.set_weight(w.to(dev))
        simple = self.slices == 1 and self.n_row_tiles == 1 and self.n_col_tiles == 1
        parts = [f"analog {d.device.model}", "single array per kernel: one matmul + output-referred read noise"
                 if simple else f"{self.n_row_tiles}x{self.n_col_tiles} array tiles x {self.slices} slices: batched einsum"]
        parts.append(f"{d.update.rule}/{d.update.pulse.scheme}: row-sparse update of pulsed rows only")
        if self.copies > 1 or self._delta >= 0:
            parts.append(f"{self.copies} weight copies (vmm reads copy 0, mvm copy {self.copies - 1})"
                         + ("; pulses on delta arrays, folded per batch by programming" if self._delta >= 0 else ""))
        self.fast_path = "; ".join(parts)

    # ------------------------------------------------------------------------------------- array sets
    _SET_ATTRS = ("c", "devices", "_wk_store", "wk", "_since_refresh", "carry")

    def _set_state(self) -> dict:
        return {k: getattr(self, k) for k in self._SET_ATTRS}

    def _views(self) -> None:
        """The single array's weight and its transpose as views of the active set's cache (made once per set, not per
        read; the cache is updated in place)."""
        self._w0 = self.wk[0]
        self._w0t = self._w0.t()

    def _new_set(self, slices: int, counts_carries: bool | None) -> dict:
        """Another set of arrays of the same device (its own device-to-device draws, state at the centre).
        ``counts_carries``: None for delta arrays (no carry), False for a second copy (its carries reprogram cells, the
        carry steps are counted once, on copy 0)."""
        d, dev = self.design, self.device
        st = {"devices": [make_device(d.device, (self.in_features, self.pairs, self.out_features), self.generator,
                                      self.noise, dev, base_path=d.source_path) for _ in range(slices)],
              "_wk_store": torch.zeros(slices, *self._wk_store.shape[1:], device=dev),
              "c": torch.zeros(slices, self.in_features, self.pairs, self.out_features, device=dev), "_since_refresh": 0}
        st["wk"] = st["_wk_store"][:, : self.in_features, : self.out_features]
        st["carry"] = None
        if counts_carries is not None and self.slices > 1:
            st["carry"] = self.enc.carry(lambda: periodic_carry(self), count_steps=counts_carries)
        return st

    def _after_use(self) -> None:
        self._views()

    def _fold(self, events: int) -> None:
        """Delta arrays → weights: read the delta arrays, program every weight copy to weight + delta (the serial
        programming path of ``set_weight``, with its programming noise), reset the delta arrays."""
        self._use(self._delta)
        dw = self.combine(self.c[0]) * self.wscale[0]  # (in, out), weight units
        self.c.copy_(self.devices[0].program(torch.zeros_like(self.c[0])).unsqueeze(0))  # reset to the centre
        self.refresh_weights()
        for i in range(self.copies):
            self._use(i)
            self._program_m((self._weight_m() + dw).clamp_(-self.w_max, self.w_max), noisy=True)
            self._tick(events)
        u = self._update_counts
        self.counters.add("update.fold_read_cells", u.fold_read_cells)
        self.counters.add("update.fold_write_cells", u.fold_write_cells)
        self._use(0)

    # ----------------------------------------------------------------------------------- weight access
    @property
    def shape(self) -> tuple[int, int]:
        return (self.out_features, self.in_features)

    def refresh_weights(self) -> None:
        """Recompute the weight cache (weight units, per slice) from the full state."""
        for s in range(self.c.shape[0]):  # the slices of the active array set (delta arrays: one)
            self.wk[s].copy_(self.combine(self.c[s])).mul_(self.wscale[s])
        self._since_refresh = 0

    def _refresh_rows(self, rows: torch.Tensor | None, blk: torch.Tensor) -> None:
        """Cache update after a write: ``blk`` is the new state (rows None) or the applied change."""
        if self.pairs == 2:
            wr = torch.sub(blk[:, 0], blk[:, 1]).mul_(self.wscale[0])
        else:
            wr = blk[:, 0] * (2.0 * self.wscale[0])
        if rows is None:
            self.wk[0].copy_(wr)
        else:
            self.wk[0].index_add_(0, rows, wr)
            self._since_refresh += 1
            if self._since_refresh >= 4096:  # the cache accumulated changes: re-derive it exactly
                self.refresh_weights()

    def _weight_m(self) -> torch.Tensor:
        """Stored Wᵀ (in, out), no read noise."""
        if self.ideal:
            return self.w.t()
        return self.enc.decode(self.c)

    def get_weight(self) -> torch.Tensor:
        """Effective stored weight (out, in) without read noise."""
        if self.ideal:
            return self.w.clone()
        return self._weight_m().t().contiguous()

    def set_weight(self, w: torch.Tensor) -> None:
        """Program weights ``w`` (out, in): clipped at ±w_max, programming noise / levels / faults apply.

        With several slices the most significant slice is written first and each lower slice holds the
        residual error of those above it.
        """
        w = w.detach().to(device=self.device, dtype=torch.float32)
        if tuple(w.shape) != self.shape:
            raise ValueError(f"set_weight: shape {tuple(w.shape)} does not match the core {self.shape}")
        if self.ideal:
            self.w.copy_(w.clamp(-self.design.array.w_max, self.design.array.w_max) if self._clip else w)
            return
        for i in range(self.copies):  # every copy programmed, each with its own programming noise
            self._use(i)
            self._program_m(w.t().clamp(-self.w_max, self.w_max), noisy=True)
        self._use(0)

    def _program_m(self, m: torch.Tensor, noisy: bool) -> None:
        """Program weights ``m`` (in, out) through the encoding onto the active set's cells."""
        def store(s: int, cs: torch.Tensor) -> torch.Tensor:
            self.c[s].copy_(self.devices[s].program(cs) if noisy else cs)
            return self.c[s]

        self.enc.program(m, store)
        self.refresh_weights()

    # ------------------------------------------------------------------------------------------ kernels
    def vmm(self, x: torch.Tensor) -> torch.Tensor:
        """Forward: (B, in) -> (B, out) ≈ x @ Wᵀ."""
        if self.ideal:
            self._count_read("forward", x, "max")
            return x @ self.w.t()
        return self._read_fwd(x, True)

    def mvm(self, d: torch.Tensor) -> torch.Tensor:
        """Backward: (B, out) -> (B, in) ≈ d @ W."""
        if self.ideal:
            self._count_read("backward", d, "max")
            return d @ self.w
        if self.copies == 1:
            return self._read_bwd(d, False)
        self._use(self.copies - 1)  # the backward copy
        try:
            return self._read_bwd(d, False)
        finally:
            self._use(0)

    def _read_bitserial(self, x: torch.Tensor, forward: bool) -> torch.Tensor:
        """Read strategy of the bit-serial accumulation kinds (ISAAC / CASCADE / Neural-PIM): :mod:`.dataflow`."""
        from . import dataflow

        kernel = "forward" if forward else "backward"
        io = getattr(self.design.io, kernel)
        dac, adc = (self.fwd_dac, self.fwd_adc) if forward else (self.bwd_dac, self.bwd_adc)
        m = self._weight_m()
        st: dict = {}
        y = dataflow.read(x, m if forward else m.t(), self.design, io, self.generator, dac.range.range,
                          adc.range.range, stats=st)
        conv = st.get("adc_conversions", 0)
        if not forward and conv:
            # the backward read runs on the stored arrays: each of the Mapping's column tiles converts every input
            # row. (The dataflow's values come from row tiles of Wᵀ, ceil(out/rows) of them; counted as the hardware)
            conv = conv // max(st["tiles"], 1) * self.mapping.col_tiles
        dac.conversions += x.numel()
        adc.conversions += conv
        self._count_read(kernel, x, "max", conversions=conv)
        return y

    def _read_single(self, x: torch.Tensor, forward: bool) -> torch.Tensor:
        """Read strategy of ``single_read``: DAC → matmul per array and slice → noise → ADC → digital sum."""
        dac, adc = (self.fwd_dac, self.fwd_adc) if forward else (self.bwd_dac, self.bwd_adc)
        kernel = "forward" if forward else "backward"
        xi = dac(x.to(torch.float32))
        conv0 = adc.conversions
        tiles = self.n_row_tiles if forward else self.n_col_tiles
        rs = self.read_sigma
        if self.slices == 1 and tiles == 1:
            y = xi @ self._w0 if forward else xi @ self._w0t
            if rs > 0:
                z = self.noise.normal(y.shape)
                y.addcmul_(z, torch.linalg.vector_norm(xi, dim=1, keepdim=True), value=self.read_sigma_w)
            if adc.output_noise:
                adc.noise(y, None, self.generator)
            y = adc(y, inplace=True)
            self._count_read(kernel, xi, dac.last_scale if dac.n is not None else "max", conversions=(adc.conversions - conv0) * self._cycles[kernel])
            return y
        # general: per slice and per physical array partial sums, each converted, then summed digitally
        b = xi.shape[0]
        S = self.slices
        if forward:
            t, k = self.n_row_tiles, self.in_features
            size = self._wk_store.shape[1] // t
            n_out = self.out_features
            xp = F.pad(xi, (0, t * size - k)) if t * size != k else xi
            xp = xp.reshape(b, t, size)
            w4 = self._wk_store.view(S, t, size, -1)
            part = torch.einsum("btr,strn->bstn", xp, w4)[..., :n_out]
        else:
            t, k = self.n_col_tiles, self.out_features
            size = self._wk_store.shape[2] // t
            n_out = self.in_features
            xp = F.pad(xi, (0, t * size - k)) if t * size != k else xi
            xp = xp.reshape(b, t, size)
            w4 = self._wk_store.view(S, self._wk_store.shape[1], t, size)
            part = torch.einsum("bqc,skqc->bsqk", xp, w4)[..., :n_out]
        part = part.contiguous()
        if rs > 0:
            nrm = torch.linalg.vector_norm(xp, dim=2).view(b, 1, t, 1)
            ws = torch.tensor(self.wscale, device=part.device).view(1, S, 1, 1)
            part.addcmul_(torch.randn(part.shape, generator=self.generator, device=part.device), nrm * ws, value=rs)
        if adc.output_noise:
            adc.noise(part, (0, 3), self.generator)
        part = adc(part, dims=(0, 3), inplace=True)
        self._count_read(kernel, xi, dac.last_scale if dac.n is not None else "max", conversions=(adc.conversions - conv0) * self._cycles[kernel])
        return part.sum(dim=(1, 2))

    # ------------------------------------------------------------------------------------------ update
    def opu(self, x: torch.Tensor, d: torch.Tensor, lr: float) -> None:
        """W ← W − lr dᵀx through ``design.update`` (x: (B, in), d: (B, out))."""
        x, d = update_pair(x, d)
        b = x.shape[0]
        v = self.counters.values
        v["opu_calls"] = v.get("opu_calls", 0) + 1
        v["samples_updated"] = v.get("samples_updated", 0) + b
        lr = float(lr)
        rule = self.design.update.rule
        v["update_events"] = v.get("update_events", 0) + (b if rule == "outer_product" else 1)
        if self.ideal:
            self.w.add_(d.t() @ x, alpha=-lr)
            if self._clip:
                self.w.clamp_(-self.design.array.w_max, self.design.array.w_max)
            if rule != "outer_product":
                self._count_written(self.in_features, self.copies_written)
            return
        if self._delta >= 0:  # the pulses land on the delta arrays; folded into every copy at the end of the batch
            self._use(self._delta)
            self._ticking = False
            try:
                self._update(x, d, lr)
            finally:
                self._ticking = True
                self._use(0)
            self._fold(b)
            return
        for i in range(self.copies):  # every copy takes the update (its own device response and write noise)
            self._use(i)
            self._update(x, d, lr)
            if self._pair_refresh:  # device.refresh_threshold: saturated one-sided pairs RESET and re-programmed
                from .refresh import refresh_pairs

                refresh_pairs(self)
        self._use(0)

    @property
    def copies_written(self) -> int:
        return self.design.update.weight_copies

    # update strategies, one per update.rule (selected once, in _select_update)
    def _select_update(self):
        rule = self.design.update.rule
        if rule == "exact":
            return self._update_exact
        if rule in ("accumulate", "serial"):  # the same values; serial differs in cost (row by row)
            from .fast import select_dense  # the CPU fast path (numba) where it covers the design, else None

            return select_dense(self) or self._update_batch
        if not self.devices[0].state_dependent and self.design.update.pulse.scheme == "none":
            return self._update_summed_rank1
        from .fast import select_rank1  # the CPU fast path (numba) where it covers the design, else None

        return select_rank1(self) or self._update_rank1

    def _update_exact(self, x, d, lr: float) -> None:
        """``exact``: the float update, programmed directly (no pulses, no programming noise)."""
        self._program_m((self._weight_m() - lr * (x.t() @ d)).clamp_(-self.w_max, self.w_max), noisy=False)
        self._count_written(self.in_features)
        self._tick(1)

    def _update_batch(self, x, d, lr: float) -> None:
        """``accumulate`` / ``serial``: dᵀx summed digitally, written once through the device."""
        self._write_dense(x, d, lr)
        self._tick(1)

    def _update_summed_rank1(self, x, d, lr: float) -> None:
        """``outer_product`` on a state-independent device without pulses: the B rank-1 steps written as one sum."""
        self._write_dense(x, d, lr, batch_write=False)
        self._tick(x.shape[0])

    def _update_rank1(self, x, d, lr: float) -> None:
        """``outer_product``: one rank-1 pulse update per example, in order."""
        for i in range(x.shape[0]):
            self._write_rank1(x[i], d[i], lr)
            self._tick(1)

    _ticking = True
    _pair_refresh = False

    def _tick(self, events: int) -> None:
        if self.carry is not None and self._ticking:
            self.carry.tick(events, self.counters)

    def _event_counts(self, s: dict) -> None:
        """The Mapping's per-event counts times the events: the cells a rank-1 pulse spans and its pulse capacity
        (the most pulses the scheme can fire on them); without pulses, every row and column driver. The drivers
        fired by pulses are counted where the pulses are (data-dependent)."""
        events = s.get("update_events", 0)
        if not events or self.design.update.rule != "outer_product":
            return
        u = self._update_counts
        s["update.pulsed_cells"] = events * u.pulsed_cells
        if self._pulse_slots and not self.ideal:
            s["update.pulse_capacity"] = events * self._pulse_slots * self.in_features * self.out_features
        if self.ideal or self.design.update.pulse.scheme == "none":  # an analog step drives every row and column
            s["update.row_drives"] = events * u.row_drives
            s["update.col_drives"] = events * u.col_drives

    def _count_written(self, rows: int, copies: int = 1) -> None:
        """A batch write of ``rows`` active rows of ``copies`` weight copies: every cell of those rows, row by row."""
        pairs = self.mapping.cells_per_weight
        self.counters.add("update.cells_written", rows * self.out_features * pairs * copies)
        if getattr(self, "_active", 0) == 0:  # the copies are written side by side: the rows' time once
            self.counters.add("update.rows_written", self._update_counts.rows_written)

    def _apply(self, rows: torch.Tensor | None, req: Request) -> None:
        """Send a request to the pulsed rows of the least significant slice and refresh the cache."""
        c0 = self.c[0]
        if rows is None:
            self.devices[0].step(c0, req, None)
            self._refresh_rows(None, c0)
            return
        blk = c0.index_select(0, rows)
        change = self.devices[0].step_delta(blk, req, rows)
        c0.index_add_(0, rows, change)
        self._refresh_rows(rows, change)

    def _rows(self, active: torch.Tensor):
        """Indices of nonzero entries of a 1-D tensor, or None when all are nonzero; () when none."""
        rows = active.nonzero().view(-1)
        k = rows.numel()
        if k == 0:
            return ()
        return None if k == active.numel() else rows

    def _write_rank1(self, xb: torch.Tensor, db: torch.Tensor, lr: float) -> None:
        p = self.design.update.pulse
        if p.scheme == "stochastic":
            return self._write_stochastic(xb, db, lr)
        sx, xm = _sign_and_absmax(xb)
        if isinstance(xm, float) and xm == 0.0:
            return
        if p.scheme == "deterministic":
            nr, nc = (1 << p.row_bits) - 1, (1 << p.col_bits) - 1
            dm = _absmax(db)
            if isinstance(dm, float) and dm == 0.0:
                return
            a_full = torch.mul(xb, nr / xm).round_()
            b_vec = torch.mul(db, nc / dm).round_()
            scale = (-lr * self.k_hat) * (xm / nr) * (dm / nc)
            self._pending_stats.append((a_full, b_vec))
            if len(self._pending_stats) >= 256:
                self._flush_stats()
        else:
            a_full, b_vec, scale = xb, db, -lr * self.k_hat
        rows = self._rows(a_full)
        if isinstance(rows, tuple):
            return
        a = a_full if rows is None else a_full.index_select(0, rows)
        if isinstance(scale, float):
            sg = sx if scale > 0 else -sx
        else:
            sg = 0
        a = a.mul(scale).view(-1, 1, 1)
        bb = b_vec.view(1, 1, -1) * self.pm
        self._apply(rows, Request(a=a, b=bb, a_sign=sg))
        if p.scheme != "deterministic":
            self.counters.add("cells_updated", torch.count_nonzero(b_vec) * (a.shape[0] * self.pairs))

    def _flush_stats(self) -> None:
        """Fold deferred deterministic-pulse statistics into the counters (batched: ~free per update).

        pulses += Σ_t Σ|nx_t| · Σ|nd_t| (coincidences of row and column pulse units);
        cells_updated += Σ_t nnz(nx_t) · nnz(nd_t) · pairs.
        """
        if not self._pending_stats:
            return
        a = torch.stack([t[0] for t in self._pending_stats])
        b = torch.stack([t[1] for t in self._pending_stats])
        self._pending_stats = []
        self.counters.add("update.pulses", (a.abs().sum(1) * b.abs().sum(1)).sum())
        na, nb = (a != 0).sum(1), (b != 0).sum(1)
        self.counters.add("cells_updated", (na * nb).sum() * self.pairs)
        self.counters.add("update.row_drives", na.sum() * self.mapping.col_tiles)  # each pulsed row on every column tile
        self.counters.add("update.col_drives", nb.sum() * self.mapping.row_tiles)

    def _write_stochastic(self, xb: torch.Tensor, db: torch.Tensor, lr: float) -> None:
        p = self.design.update.pulse
        bl = p.bl
        dw = self.dw_min
        xm, dm = xb.abs().amax(), db.abs().amax()
        k_hat = self.k_hat
        # expected coincidences BL px pd = lr k_hat |x||d| / (2 dw)   (one coincidence: ŵ moves 2 dw)
        cc = abs(lr) * k_hat / (2.0 * dw * bl)
        ratio = (dm / xm.clamp_min(1e-30)).clamp_min(1e-30)
        cx = (cc * ratio).sqrt()
        cd = (cc / ratio).sqrt()
        px = (xb.abs() * cx).clamp_(max=1.0)
        pd = (db.abs() * cd).clamp_(max=1.0)
        bx = (torch.rand(bl, xb.numel(), generator=self.generator, device=xb.device) < px).to(torch.float32)
        bd = (torch.rand(bl, db.numel(), generator=self.generator, device=db.device) < pd).to(torch.float32)
        n = bx.t() @ bd  # (in, out) coincidences
        self.counters.add("update.pulses", n.sum())
        self.counters.add("update.row_drives", bx.sum() * self.mapping.col_tiles)
        self.counters.add("update.col_drives", bd.sum() * self.mapping.row_tiles)
        sgn = -math.copysign(1.0, lr)
        r = n.mul_(torch.outer(xb.sign(), db.sign())).mul_(dw * sgn)
        rows = self._rows(bx.amax(0))
        if isinstance(rows, tuple):
            return
        if rows is not None:
            r = r.index_select(0, rows)
        self.counters.add("cells_updated", torch.count_nonzero(r) * self.pairs)
        self._apply(rows, Request(a=r.unsqueeze(1), b=self.pm2, b_unit=True))

    def _write_dense(self, x: torch.Tensor, d: torch.Tensor, lr: float, batch_write: bool = True) -> None:
        """Digitally summed gradient, written once (accumulate / serial)."""
        k_hat = self.k_hat
        rows = self._rows(x.abs().amax(0))
        if isinstance(rows, tuple):
            return
        xs = x if rows is None else x.index_select(1, rows)
        g = xs.t() @ d  # (k, out)
        rc = g.mul_(-lr * k_hat * 0.5)  # per-device request magnitude (centred units)
        scheme = self.design.update.pulse.scheme
        if scheme == "stochastic":
            dw = self.dw_min
            n = rc.abs().div_(dw)
            n.add_(torch.rand(n.shape, generator=self.generator, device=n.device)).floor_()
            self.counters.add("update.pulses", n.sum())
            rc = n.mul_(rc.sign()).mul_(dw)
        elif scheme == "deterministic":
            p = self.design.update.pulse
            levels = (1 << (p.row_bits + p.col_bits)) - 1
            m = _absmax(rc)
            if isinstance(m, float) and m == 0.0:
                return
            rc = rc.mul_(levels / m).round_()
            self.counters.add("update.pulses", rc.abs().sum())
            rc = rc.mul_(m / levels)
        # A batch write addresses every cell of the active rows (row-wise write circuit); counting the
        # exact nonzero requests would cost a full pass (count_nonzero is slow on CPU) for a statistic.
        if batch_write:
            self._count_written(rc.shape[0])
        self._apply(rows, Request(a=rc.unsqueeze(1), b=self.pm2, b_unit=True))

    # --------------------------------------------------------------------------------------- bookkeeping
    @property
    def stats(self) -> dict:
        if not self.ideal:
            self._flush_stats()
        s = self._read_stats()
        s["pulses"] = s.get("update.pulses", 0)
        s["carries"] = s.get("update.carries", 0)
        s["cells_written"] = s.get("update.cells_written", 0)
        s["adc_conversions"] = self.fwd_adc.conversions + self.bwd_adc.conversions
        s["dac_conversions"] = self.fwd_dac.conversions + self.bwd_dac.conversions
        s["adc_clipped"] = self.fwd_adc.clipped_count() + self.bwd_adc.clipped_count()
        s["dac_clipped"] = self.fwd_dac.clipped_count() + self.bwd_dac.clipped_count()
        return s

    def _quantizers(self):
        return {"fwd_dac": self.fwd_dac, "fwd_adc": self.fwd_adc, "bwd_dac": self.bwd_dac, "bwd_adc": self.bwd_adc}

    def state_dict(self) -> dict:
        sd = {
            "kind": "analog",
            "shape": self.shape,
            "generator": self.generator.get_state(),
            "noise": self.noise.state_dict(),
            "counters": self.stats,
            "quantizers": {k: q.state_dict() for k, q in self._quantizers().items()},
        }
        if self.ideal:
            sd["w"] = self.w.clone()
        else:
            sd["c"] = self.c.clone()
            sd["since_carry"] = self.carry.since if self.carry is not None else 0
            sd["devices"] = [dv.tensors() for dv in self.devices]
            sd["sets"] = [{"c": st["c"].clone(), "since_carry": st["carry"].since if st["carry"] is not None else 0,
                           "devices": [dv.tensors() for dv in st["devices"]]} for st in self._sets[1:]]
        return sd

    def load_state_dict(self, sd: dict) -> None:
        if tuple(sd["shape"]) != self.shape:
            raise ValueError(f"state for shape {tuple(sd['shape'])} does not fit core {self.shape}")
        if sd["generator"].numel() and self.device.type == "cpu":
            self.generator.set_state(sd["generator"])
            if "noise" in sd:
                self.noise.load_state_dict(sd["noise"])
        self.counters.load(sd.get("counters", {}))
        for k, q in self._quantizers().items():
            q.load_state_dict(sd["quantizers"].get(k, {}))
        if self.ideal:
            self.w.copy_(sd["w"].to(self.device))
            return
        for i, st in enumerate([sd] + list(sd.get("sets", []))[: len(self._sets) - 1]):
            self._use(i)
            self.c.copy_(st["c"].to(self.device))
            if self.carry is not None:
                self.carry.since = int(st.get("since_carry", 0))
            for dv, t in zip(self.devices, st.get("devices", [])):
                dv.load_tensors(t)
            self.refresh_weights()
        self._use(0)

    def to(self, device) -> "AnalogCore":
        """Move all state to ``device``. The generator is re-seeded deterministically there."""
        device = torch.device(device)
        if device == self.device:
            return self
        self.device = device
        if not self.ideal:
            self._flush_stats()  # deferred pulse statistics live on the old device
        self._reseed(device)
        self.counters.to(device)
        self.noise = NoiseSource(self.generator, device, pool_size=self._pool_size)
        for q in self._quantizers().values():
            q.to(device)
        if self.ideal:
            self.w = self.w.to(device)
            return self
        self.enc.to(device)
        self.pm, self.pm2 = self.enc.pm, self.enc.pm2
        for i in range(len(self._sets)):
            self._use(i)
            self.c = self.c.to(device)
            self._wk_store = self._wk_store.to(device)
            self.wk = self._wk_store[:, : self.in_features, : self.out_features]
            self._views()
            for dv in self.devices:
                dv.to(device)
                dv.generator, dv.noise = self.generator, self.noise
        self._use(0)
        return self

    def __repr__(self) -> str:
        return f"AnalogCore(shape={self.shape}, design={self.design.name!r}, path={self.fast_path!r})"


__all__ = ["AnalogCore"]
