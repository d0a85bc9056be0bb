"""Selection and drivers of the CPU fast path of an AnalogCore's update: per sample (``outer_product``) and the
batch write (``accumulate`` / ``serial``).

:func:`select_rank1` / :func:`select_dense` return the core's update strategy when the design is covered, else
``None`` (the core keeps its torch path); either way one log line says which. Covered: a core on CPU, one slice,
one weight copy, no delta arrays, pulse scheme ``none`` or ``deterministic``, device ``linear_step``,
``soft_bounds`` (0 <= nonlinearity <= 1) or (per sample) ``lookup_table``, with write noise and device-to-device
variation, finite levels and stuck cells. The fast path is the default on CPU; ``PIMTRAIN_FAST=0`` turns
it off. Noise: per sample, one window of the core's NoiseSource pools per sample (saved with the core; the
stream differs from the torch path's, which takes one window per update of the pulsed rows only); the batch
write draws the torch path's own window.
"""
from __future__ import annotations

import math
import os
import time

import numpy as np
import torch

from ..base import log_once

_NO_TABLE = (np.zeros(1, np.float32), np.zeros(1, np.float32), np.float32(0.0), 1, 1, np.zeros((1, 1), np.int32), False,
             np.zeros(1, np.int32))
_MODELS = {"linear_step": 0, "soft_bounds": 1, "lookup_table": 2}
_SCHEMES = {"none": 0, "deterministic": 1}
_compile_seconds: float | None = None


def available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def enabled() -> bool:
    """The fast path is the default on CPU; ``PIMTRAIN_FAST=0`` forces the torch path (its noise streams differ
    from the torch path's, so noisy runs give other, statistically equal, numbers)."""
    return os.environ.get("PIMTRAIN_FAST", "1") != "0"


def refusal(core) -> str | None:
    """Why the fast path does not cover this core (one line naming the field), or None when it does."""
    if core.design.update.rule != "outer_product" and enabled() and available():
        return f"update.rule {core.design.update.rule!r} (covered: outer_product)"
    return _refusal(core, _MODELS, "")


def _refusal(core, models, what: str) -> str | None:
    """The checks both fast strategies make: switched on, numba, CPU, scheme, device ``models``, one slice/copy."""
    d = core.design
    if not enabled():
        return "off (PIMTRAIN_FAST=0)"
    if not available():
        return "numba is not installed"
    if core.device.type != "cpu":
        return f"the core is on {core.device.type} (the fast path is CPU only)"
    if d.update.pulse.scheme not in _SCHEMES:
        return f"update.pulse.scheme {d.update.pulse.scheme!r} (covered: {', '.join(_SCHEMES)})"
    if d.device.model not in models:
        return f"device.model {d.device.model!r} (covered{what}: {', '.join(models)})"
    if d.device.model == "soft_bounds" and not 0.0 <= float(d.device.nonlinearity) <= 1.0:
        return f"device.nonlinearity {d.device.nonlinearity} (covered: 0..1)"
    if core.slices != 1:
        return f"update.slicing.slices {core.slices} (covered: 1)"
    if d.update.weight_copies != 1 or d.update.delta_arrays:
        return "update.weight_copies / update.delta_arrays (covered: one copy, no delta arrays)"
    return None


def warmup() -> float:
    """Compile (or load from the on-disk cache) the kernels once; returns the seconds it took (0 if done)."""
    global _compile_seconds
    if _compile_seconds is not None:
        return 0.0
    t0 = time.perf_counter()
    from .kernels import rank1_update

    c = np.zeros((2, 4), np.float32)
    rank1_update(c, np.zeros((2, 2), np.float32), c, False, np.ones(2, np.float32), np.ones(2, np.float32), 1, 3.0,
                 3.0, -0.1, 1, 0.0, 1.0, 0.1, np.zeros(64, np.float32), np.array([0.5, -0.5], np.float32), 1.0,
                 np.zeros(4, np.int64), *_NO_TABLE, 0.0, False, _NO_STUCK, _NO_STUCK)
    from .kernels import rank1_rows

    rank1_rows(c, np.zeros((2, 2), np.float32), c, False, np.ones((2, 2), np.float32), np.ones((2, 2), np.float32), 1,
               3.0, 3.0, -0.1, 1, 0.0, 1.0, 0.1, np.zeros(64, np.float32), np.zeros(2, np.int64),
               np.array([0.5, -0.5], np.float32), 1.0, *_NO_TABLE[:7], _NO_TABLE[7], np.zeros(2, np.int64),
               np.zeros(1, np.int64), np.zeros(5, np.int64), 0.0, False, _NO_STUCK, _NO_STUCK)
    _compile_seconds = time.perf_counter() - t0
    global _from_cache
    _from_cache = sum(rank1_update.stats.cache_hits.values()) > 0
    return _compile_seconds


_from_cache = False
_mlp_ready = False


def warmup_mlp() -> float:
    """Compile (or load from disk) the epoch driver's kernel once, on a 2-layer toy; the seconds it took (0 if done)."""
    global _mlp_ready, _compile_seconds
    if _mlp_ready:
        return 0.0
    warmup()
    t0 = time.perf_counter()
    from .mlp import mlp_steps

    z1 = np.zeros(1, np.float32)
    off = np.array([0, 8, 16], np.int64)
    mlp_steps(np.ones((1, 1), np.float32), np.zeros(1, np.int64), np.array([2, 2], np.int64),
              np.array([2, 2], np.int64), np.array([1, 0], np.uint8), np.array([1, 0], np.int64),
              np.zeros(16, np.float32), off, np.zeros(8, np.float32), np.array([0, 4, 8], np.int64),
              np.zeros(16, np.float32), off, False, np.zeros(16, np.int32), off, False,
              np.zeros(4, np.float32), np.array([0, 2, 4], np.int64), np.zeros(4, np.float32),
              np.array([0, 2, 4], np.int64), np.zeros(64, np.float32), np.array([0, 32, 64], np.int64),
              np.zeros((1, 2), np.int64), np.zeros(64, np.int32), np.array([0, 32, 64], np.int64),
              np.zeros((1, 2), np.int64), np.array([255.0, 0.0, 255.0, 0.0, 255.0, 0.0, 255.0, 0.0]), 0.01, 1, 3.0,
              3.0, -0.1, 1, 0.0, 1.0, 0.1, np.array([0.5, -0.5], np.float32), 1.0, z1, z1, np.float32(0.0), 1, 1, 0.0,
              np.zeros(2, np.int64), z1, np.zeros((2, 5), np.int64), np.zeros((2, 2, 4)))
    dt = time.perf_counter() - t0
    _compile_seconds = (_compile_seconds or 0.0) + dt
    _mlp_ready = True
    return dt


def compile_seconds() -> float | None:
    """Seconds the first use of the kernels took in this process (compile or cache load), None before it."""
    return _compile_seconds


def compile_note() -> str | None:
    """One line on the kernels' first use in this process: seconds, and whether compiled or loaded from disk."""
    if _compile_seconds is None:
        return None
    how = "loaded from the on-disk cache" if _from_cache else "compiled (first run; cached on disk for the next)"
    return f"numba fast path: {_compile_seconds:.2f} s at first use, {how}"


class FastRank1:
    """The ``outer_product`` update strategy of one AnalogCore, through :func:`.kernels.rank1_update`."""

    def __init__(self, core):
        self.core = core
        d = core.design
        p = d.update.pulse
        self.scheme = _SCHEMES[p.scheme]
        self.nr = float((1 << p.row_bits) - 1)
        self.nc = float((1 << p.col_bits) - 1)
        alpha = float(d.device.nonlinearity) if d.device.model == "soft_bounds" else 0.0
        self.model = 2 if d.device.model == "lookup_table" else (1 if (d.device.model == "soft_bounds" and alpha > 0.0)
                                                                  else 0)
        self.k = alpha / (1.0 - alpha / 2.0)
        self.ud = float(d.device.up_down)
        dev0 = core.devices[0]
        self.wn_coef = dev0.write_noise * math.sqrt(dev0.dw_min) if dev0.write_noise > 0 and self.model != 2 else 0.0
        self.pm = core.pm.reshape(-1).numpy().astype(np.float32)
        self.wscale = float(core.wscale[0])
        self.stats = np.zeros(4, np.int64)
        warmup()

    def _bytes(self, count: int) -> np.ndarray:
        """``count`` random bytes (int32) from the core's NoiseSource: a window of its byte pool, as
        ``NoiseSource.quantile_index`` draws them (its state is saved with the core), without the masking pass
        (the kernel masks)."""
        ns = self.core.noise
        if count > ns.pool_size // 4:
            return torch.randint(0, 256, (count,), generator=ns.generator, dtype=torch.int32).numpy()
        pool = ns.byte_pool()  # the pool and offsets of NoiseSource.quantile_index, without its masking pass
        off = ns.byte_offset(count)
        return pool[off:off + count].numpy()

    def _batched(self, count: int) -> bool:
        """The rows of one call can go to numba at once: every noise window comes from the core's pools (the
        per-row draws of NoiseSource.normal would otherwise be fresh ones)."""
        ns = self.core.noise
        if self.wn_coef > 0 and not (ns.min_pooled <= count <= ns.pool_size // 4):
            return False
        return not (self.model == 2 and count > ns.pool_size // 4)

    def _rows(self, xn, dn, c, wk, d2d, has_d2d, neg, count, tab, fin) -> None:
        """Every row through :func:`.kernels.rank1_rows`: the same updates, noise windows and counts as the loop."""
        from .kernels import rank1_rows

        core = self.core
        rows = xn.shape[0]
        ns = core.noise
        if self.wn_coef > 0:
            pool = ns.normal_pool().numpy()
            woffs = np.array([ns.normal_offset(count) for _ in range(rows)], np.int64)
        else:
            pool, woffs = _NO_TABLE[0], np.zeros(rows, np.int64)
        if self.model == 2:
            bpool = ns.byte_pool().numpy()
            boffs = np.array([ns.byte_offset(count) for _ in range(rows)], np.int64)
        else:
            bpool, boffs = _NO_TABLE[7], np.zeros(rows, np.int64)
        since = np.array([core._since_refresh], np.int64)
        totals = np.zeros(5, np.int64)
        rank1_rows(c, wk, d2d, has_d2d, np.ascontiguousarray(xn), np.ascontiguousarray(dn), self.scheme, self.nr,
                   self.nc, neg, self.model, self.ud, self.k, self.wn_coef, pool, woffs, self.pm, self.wscale,
                   *tab[:5], tab[5], tab[6], bpool, boffs, since, totals, *fin)
        core._since_refresh = int(since[0])
        core._tick(rows)
        cnt = core.counters
        cnt.add("cells_updated", int(totals[1]))
        if self.scheme == 1:
            cnt.add("update.pulses", int(totals[0]))
            cnt.add("update.row_drives", int(totals[2]) * core.mapping.col_tiles)
            cnt.add("update.col_drives", int(totals[3]) * core.mapping.row_tiles)

    def __call__(self, x: torch.Tensor, d: torch.Tensor, lr: float) -> None:
        core = self.core
        if core.device.type != "cpu":  # moved after selection: the torch path
            return core._update_rank1(x, d, lr)
        from .kernels import rank1_update

        dev0 = core.devices[0]
        n_in = core.in_features
        c = core.c[0].numpy().reshape(n_in, -1)  # views: the kernel writes the core's state and cache in place
        wk = core.wk[0].numpy()
        has_d2d = dev0.d2d is not None
        d2d = dev0.d2d.numpy().reshape(n_in, -1) if has_d2d else c
        xn = x.detach().to(torch.float32).numpy()
        dn = d.detach().to(torch.float32).numpy()
        neg = -float(lr) * core.k_hat
        count = c.shape[0] * c.shape[1]
        if self.model == 2:
            from pimtrain.devices.lookup import NQ, NU

            toff = dev0.table_offset
            tab = (dev0.F.numpy(), dev0.D.numpy(), np.float32(dev0._half), NU, NQ,
                   toff.numpy().reshape(n_in, -1) if toff is not None else _NO_TABLE[5], toff is not None)
        else:
            tab = _NO_TABLE[:7]
        st = self.stats
        pulses = cells = na = nb = 0
        fin = finish_args(core)
        if xn.shape[0] > 1 and self._batched(count):  # several rows (a batch, a convolution's patches): one call
            return self._rows(xn, dn, c, wk, d2d, has_d2d, neg, count, tab, fin)
        for i in range(xn.shape[0]):
            # one window of the core's noise pools per sample (the torch path draws one per update): saved state
            z = core.noise.normal((count,)).numpy() if self.wn_coef > 0 else _NO_TABLE[0]
            qb = self._bytes(count) if self.model == 2 else _NO_TABLE[7]
            rank1_update(c, wk, d2d, has_d2d, xn[i], dn[i], self.scheme, self.nr, self.nc, neg, self.model, self.ud,
                         self.k, self.wn_coef, z, self.pm, self.wscale, st, *tab, qb, *fin)
            pulses += int(st[0])
            cells += int(st[1])
            na += int(st[2])
            nb += int(st[3])
            if 0 < st[2] < xn.shape[1]:  # a row-sparse write accumulates into the cache (as the torch path)
                core._since_refresh += 1
                if core._since_refresh >= 4096:
                    core.refresh_weights()
            core._tick(1)
        cnt = core.counters
        cnt.add("cells_updated", cells)
        if self.scheme == 1:
            cnt.add("update.pulses", pulses)
            cnt.add("update.row_drives", na * core.mapping.col_tiles)
            cnt.add("update.col_drives", nb * core.mapping.row_tiles)


_DENSE_MODELS = ("linear_step", "soft_bounds")


def dense_refusal(core) -> str | None:
    """Why the fast batch write (accumulate / serial) does not cover this core, or None when it does."""
    return _refusal(core, _DENSE_MODELS, " for batch writes")


class FastDense:
    """The ``accumulate`` / ``serial`` update strategy of one AnalogCore: the digitally summed gradient, its pulse
    quantisation and the write-noise draw as the torch path (``_write_dense``, same tensors, same noise window),
    the device step and state and cache write as one numba kernel (:func:`.kernels.dense_apply`)."""

    def __init__(self, core):
        self.core = core
        d = core.design
        alpha = float(d.device.nonlinearity) if d.device.model == "soft_bounds" else 0.0
        self.model = 1 if alpha > 0.0 else 0
        self.k = alpha / (1.0 - alpha / 2.0)
        self.ud = float(d.device.up_down)
        dev0 = core.devices[0]
        self.wn = dev0.write_noise > 0
        self.wn_coef = dev0.write_noise * math.sqrt(dev0.dw_min) if self.wn else 0.0
        self.wscale = float(core.wscale[0])
        p = d.update.pulse
        self.levels = (1 << (p.row_bits + p.col_bits)) - 1 if p.scheme == "deterministic" else 0
        warmup_dense()

    def __call__(self, x: torch.Tensor, d: torch.Tensor, lr: float) -> None:
        core = self.core
        if core.device.type != "cpu":
            return core._update_batch(x, d, lr)
        from .kernels import dense_apply, dense_quantize

        rows = core._rows(x.abs().amax(0))
        if isinstance(rows, tuple):
            core._tick(1)
            return
        xs = x if rows is None else x.index_select(1, rows)
        rc = (xs.t() @ d).contiguous()
        rn = rc.numpy()
        # the torch path's scale and deterministic quantisation in one pass; pulses summed exactly (the torch path
        # sums them in float32)
        pulses = dense_quantize(rn, -lr * core.k_hat * 0.5, self.levels)
        if pulses < 0:
            core._tick(1)
            return
        if self.levels:
            core.counters.add("update.pulses", int(pulses))
        core._count_written(rc.shape[0])
        n_in = core.in_features
        c = core.c[0].numpy().reshape(n_in, -1)
        dev0 = core.devices[0]
        has_d2d = dev0.d2d is not None
        d2d = dev0.d2d.numpy().reshape(n_in, -1) if has_d2d else c
        z = (core.noise.normal((rc.shape[0], core.pairs, rc.shape[1])).numpy().reshape(-1) if self.wn
             else _NO_TABLE[0][:0])
        dense_apply(c, core.wk[0].numpy(), d2d, has_d2d, rows.numpy() if rows is not None else _NO_ROWS,
                    rows is None, rn, self.model, self.ud, self.k, self.wn_coef, z, core.pairs,
                    self.wscale, *finish_args(core))
        if rows is not None:
            core._since_refresh += 1
            if core._since_refresh >= 4096:
                core.refresh_weights()
        core._tick(1)


_NO_ROWS = np.zeros(0, np.int64)
_NO_STUCK = np.zeros((1, 1), np.float32)


def finish_args(core) -> tuple:
    """(levels − 1 or 0, stuck?, keep, value) of the core's device 0 for the kernels (read at call time: a state
    load or a device move replaces the tensors)."""
    dev0 = core.devices[0]
    lv_n = float(dev0.levels - 1) if dev0.levels is not None else 0.0
    st = dev0.stuck
    if st is None:
        return lv_n, False, _NO_STUCK, _NO_STUCK
    n_in = core.in_features
    return lv_n, True, st.keep.numpy().reshape(n_in, -1), st.value.numpy().reshape(n_in, -1)
_dense_ready = False


def warmup_dense() -> float:
    """Compile (or load from disk) the batch-write kernel once; the seconds it took (0 if done)."""
    global _dense_ready, _compile_seconds
    if _dense_ready:
        return 0.0
    warmup()
    t0 = time.perf_counter()
    from .kernels import dense_apply, dense_quantize

    dense_quantize(np.ones((2, 2), np.float32), -0.1, 1023)
    c = np.zeros((2, 4), np.float32)
    dense_apply(c, np.zeros((2, 2), np.float32), c, False, _NO_ROWS, True, np.ones((2, 2), np.float32), 1, 0.1, 1.0,
                0.1, np.zeros(8, np.float32), 2, 1.0, 0.0, False, _NO_STUCK, _NO_STUCK)
    dt = time.perf_counter() - t0
    _compile_seconds = (_compile_seconds or 0.0) + dt
    _dense_ready = True
    return dt


def select_dense(core):
    """The fast ``accumulate`` / ``serial`` strategy for ``core`` or None, one log line per design saying which."""
    why = dense_refusal(core)
    if why is not None:
        log_once(f"pimtrain fast path [{core.design.name}]: batch write not fast ({why}); torch path")
        return None
    log_once(f"pimtrain fast path [{core.design.name}]: numba batch write on CPU ({core.design.device.model}, "
             f"{core.design.update.pulse.scheme} pulses)")
    return FastDense(core)


def select_rank1(core):
    """The fast ``outer_product`` strategy for ``core`` or None, with one log line per design saying which."""
    why = refusal(core)
    if why is not None:
        log_once(f"pimtrain fast path [{core.design.name}]: not used ({why}); torch path")
        return None
    log_once(f"pimtrain fast path [{core.design.name}]: numba per-sample update on CPU ({core.design.device.model}, "
             f"{core.design.update.pulse.scheme} pulses)")
    return FastRank1(core)
