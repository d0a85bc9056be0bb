"""The epoch driver of the CPU fast path: batch-1 training of an analog MLP with the loop over samples in numba.

:func:`epoch_driver` looks at a :class:`~pimtrain.nn.trainer.TrainingSession` once and returns a
:class:`FastMlpEpoch` when the whole step is covered — an ``nn.Sequential`` of ``AnalogLinear`` layers with
sigmoid / relu / tanh between them (the MLP workloads), batch size 1, cores on CPU whose per-sample update is the
numba :class:`~pimtrain.xbar.fast.FastRank1`, one array per read kernel (``single_read``, one tile, one slice),
DAC/ADC ranges ``batch_max`` or ``fixed``, no converter output noise, ``AnalogSGD`` without digital parameters —
else None, and the session keeps the module path (autograd + ``core.vmm``/``mvm``/``opu``). Either way one log
line per reason says which. ``PIMTRAIN_FAST=0`` turns the whole fast path off, ``PIMTRAIN_FAST_EPOCH=0`` only
this driver (the per-sample numba update stays).

What the driver computes is the module path's step (same layers, same quantisers, same update kernel, same
counters); the read products are summed in another order than torch's BLAS, and the read noise is drawn per epoch
chunk from each core's generator (another stream than the module path's pool windows), so results agree
statistically, not bit for bit (``tests/test_xbar_fast.py``).
"""
from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from pimtrain.xbar.base import log_once

from .layers import AnalogLinear
from .optim import AnalogSGD

_ACTS = {nn.Sigmoid: 1, nn.ReLU: 2, nn.Tanh: 3}
#: samples per numba call (the progress bar and the non-finite check run between calls; the read noise is drawn per
#: call, so this is part of what a seed reproduces)
CHUNK = 512


def structure_refusal(session) -> str | None:
    """Why the model or optimizer is not an analog MLP the epoch drivers cover (one line), or None."""
    model = session.model
    if not isinstance(model, nn.Sequential):
        return f"model {type(model).__name__} (covered: nn.Sequential of AnalogLinear and sigmoid/relu/tanh)"
    mods = list(model)
    if not mods or not isinstance(mods[-1], AnalogLinear):
        return "model: the last layer is not AnalogLinear"
    prev_linear = False
    for m in mods:
        if isinstance(m, AnalogLinear):
            if prev_linear:
                return "model: two AnalogLinear layers without an activation between them"
            prev_linear = True
        elif type(m) in _ACTS:
            if not prev_linear:
                return f"model: {type(m).__name__} not after an AnalogLinear layer"
            prev_linear = False
        else:
            return f"model layer {type(m).__name__} (covered: AnalogLinear, Sigmoid, ReLU, Tanh)"
    opt = session.optimizer
    if not isinstance(opt, AnalogSGD) or len(opt.param_groups) != 1:
        return "optimizer: covered is AnalogSGD with one parameter group"
    if any(digital for _, _, digital in opt._plan):
        return "optimizer: digital parameters (covered: analog layers only)"
    layers = [m for m in mods if isinstance(m, AnalogLinear)]
    if {id(layer) for layer in opt.analog_layers} != {id(layer) for layer in layers}:
        return "optimizer: does not update exactly the model's analog layers"
    return None


def _batch_refusal(session) -> str | None:
    """Why the batch driver (:mod:`.batch_epoch`) does not cover this session, or None."""
    from pimtrain.xbar import fast

    if not fast.enabled():
        return "off (PIMTRAIN_FAST=0)"
    if os.environ.get("PIMTRAIN_FAST_EPOCH", "1") == "0":
        return "off (PIMTRAIN_FAST_EPOCH=0)"
    return structure_refusal(session)


def _refusal(session) -> str | None:
    """Why the epoch driver does not cover this session (one line naming the field), or None."""
    from pimtrain.xbar import fast
    from pimtrain.xbar.core import AnalogCore

    if not fast.enabled():
        return "off (PIMTRAIN_FAST=0)"
    if os.environ.get("PIMTRAIN_FAST_EPOCH", "1") == "0":
        return "off (PIMTRAIN_FAST_EPOCH=0: per-sample updates only)"
    if not fast.available():
        return "numba is not installed"
    if session.batch_size != 1:
        return f"batch_size {session.batch_size} (the epoch driver covers batch 1)"
    why = structure_refusal(session)
    if why is not None:
        return why
    layers = [m for m in session.model if isinstance(m, AnalogLinear)]
    design = layers[0].core.design
    for layer in layers:
        core = layer.core
        if not isinstance(core, AnalogCore) or core.ideal:
            return f"core kind {getattr(core, 'kind', type(core).__name__)} (covered: a non-ideal analog core)"
        if core.design is not design and core.design != design:
            return "the layers have different designs"
        if not isinstance(core._update, fast.FastRank1):
            return "the per-sample update is not on the fast path (see the 'pimtrain fast path' line)"
        if core.n_row_tiles != 1 or core.n_col_tiles != 1:
            return f"layer {layer.layer_index}: {core.n_row_tiles}x{core.n_col_tiles} array tiles (covered: one array)"
        if max(core.in_features, core.out_features) > 4096:
            return f"layer {layer.layer_index}: more than 4096 rows or columns"
        if core.in_features * core.pairs * core.out_features > core.noise.pool_size // 4:
            return f"layer {layer.layer_index}: larger than a quarter of its noise pool"
    if design.device.stuck_at.at_gmin or design.device.stuck_at.at_gmax:
        return "device.stuck_at (the epoch driver does not cover stuck cells; the per-sample update does)"
    for k in ("forward", "backward"):
        io = getattr(design.io, k)
        if io.accumulation != "single_read":
            return f"io.{k}.accumulation {io.accumulation!r} (covered: single_read)"
        if io.converter == "learned":
            return f"io.{k}.converter 'learned' (covered: the quantising converters)"
        if io.output_noise > 0:
            return f"io.{k}.output_noise {io.output_noise:g} (covered: 0)"
        for name, spec in (("input_range", io.input_range), ("output_range", io.output_range)):
            if spec.policy not in ("batch_max", "fixed"):
                return f"io.{k}.{name}.policy {spec.policy!r} (covered: batch_max, fixed)"
    return None


def epoch_driver(session):
    """The epoch driver for ``session`` (batch 1: :class:`FastMlpEpoch`; batch > 1: :class:`.batch_epoch.BatchMlpEpoch`)
    or None (the module path), logged once per reason."""
    cached = getattr(session, "_fast_epoch", False)
    if cached is not False:
        return cached
    if session.device.type != "cpu" or not isinstance(session.optimizer, AnalogSGD):  # GPU or a float session
        session._fast_epoch = None
        return None
    name = session.label
    if session.batch_size != 1:  # minibatches: the module path's step without autograd (pimtrain/nn/batch_epoch.py)
        why = _batch_refusal(session)
        if why is not None:
            log_once(f"pimtrain fast epoch [{name}]: batch driver not used ({why}); module path")
            session._fast_epoch = None
            return None
        from .batch_epoch import BatchMlpEpoch

        log_once(f"pimtrain fast epoch [{name}]: batch {session.batch_size} MLP steps without autograd")
        session._fast_epoch = BatchMlpEpoch(session)
        return session._fast_epoch
    why = _refusal(session)
    if why is not None:
        log_once(f"pimtrain fast epoch [{name}]: not used ({why}); module path")
        driver = None
    else:
        log_once(f"pimtrain fast epoch [{name}]: numba batch-1 MLP steps (loop over samples in numba)")
        driver = FastMlpEpoch(session)
    session._fast_epoch = driver
    return driver


def _conv_params(dac, adc) -> list[float]:
    out = []
    for q in (dac, adc):
        n = q.n or 0
        out += [float(n), float(q.range.value) if (n and q.range.policy == "fixed") else 0.0]
    return out


class FastMlpEpoch:
    """One epoch of batch-1 SGD of an analog MLP through :func:`pimtrain.xbar.fast.mlp.mlp_steps`."""

    path = "numba epoch driver"

    def __init__(self, session):
        from pimtrain.xbar import fast

        fast.warmup_mlp()
        self.session = session
        mods = list(session.model)
        self.layers = [m for m in mods if isinstance(m, AnalogLinear)]
        acts = []
        for i, m in enumerate(mods):
            if isinstance(m, AnalogLinear):
                nxt = mods[i + 1] if i + 1 < len(mods) else None
                acts.append(_ACTS.get(type(nxt), 0))
        self.act = np.array(acts, np.int64)
        cores = [layer.core for layer in self.layers]
        self.cores = cores
        self.nin = np.array([c.in_features for c in cores], np.int64)
        self.nout = np.array([c.out_features for c in cores], np.int64)
        self.bias = np.array([1 if layer.has_bias else 0 for layer in self.layers], np.uint8)
        c0 = cores[0]
        self.conv = np.array(_conv_params(c0.fwd_dac, c0.fwd_adc) + _conv_params(c0.bwd_dac, c0.bwd_adc), np.float64)
        self.pairs = c0.pairs

    @staticmethod
    def _offsets(sizes) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    def run(self, advance=None) -> torch.Tensor:
        """One epoch in the order drawn from the session's generator (as ``epoch_once``); the per-step losses.
        Raises :class:`pimtrain.nn.trainer.NonFiniteLoss` at the first non-finite loss (state written back)."""
        from pimtrain.xbar.fast.mlp import mlp_steps

        from .trainer import NonFiniteLoss

        s = self.session
        s.model.train()
        x, y = s.data.train_x, s.data.train_y
        order = torch.randperm(x.shape[0], generator=s.generator).to(x.device)
        xs = x.index_select(0, order).to(torch.float32).contiguous().numpy()
        ys = y.index_select(0, order).to(torch.int64).contiguous().numpy()
        n = xs.shape[0]
        lr = float(s.optimizer.param_groups[0]["lr"])
        cores = self.cores
        c0 = cores[0]
        fr = c0._update
        L = len(cores)
        mm = [c.pairs * c.out_features for c in cores]
        cells = [int(self.nin[i]) * mm[i] for i in range(L)]
        # state in flat buffers for the epoch, written back at its end (or at a non-finite loss)
        c_all = np.concatenate([c.c[0].numpy().reshape(-1) for c in cores])
        wk_all = np.concatenate([c.wk[0].contiguous().numpy().reshape(-1) for c in cores])
        c_off = self._offsets(cells)
        wk_off = self._offsets([int(self.nin[i] * self.nout[i]) for i in range(L)])
        devs = [c.devices[0] for c in cores]
        has_d2d = devs[0].d2d is not None
        d2d_all = np.concatenate([d.d2d.numpy().reshape(-1) for d in devs]) if has_d2d else np.zeros(1, np.float32)
        toffs = [getattr(d, "table_offset", None) for d in devs]
        has_toff = fr.model == 2 and toffs[0] is not None
        toff_all = (np.concatenate([t.numpy().reshape(-1) for t in toffs]).astype(np.int32) if has_toff
                    else np.zeros(1, np.int32))
        if fr.model == 2:
            from pimtrain.devices.lookup import NQ, NU

            d0 = devs[0]
            tab = (d0.F.numpy(), d0.D.numpy(), np.float32(d0._half), NU, NQ)
        else:
            tab = (np.zeros(1, np.float32), np.zeros(1, np.float32), np.float32(0.0), 1, 1)
        pool_all, pool_off = self._pools(cells, fr)
        bpool_all, bpool_off = self._byte_pools(cells, fr)
        since = np.array([c._since_refresh for c in cores], np.int64)
        lv_n = float(devs[0].levels - 1) if devs[0].levels is not None else 0.0
        losses = np.zeros(n, np.float32)
        ustats = np.zeros((L, 5), np.int64)
        rstats = np.zeros((L, 2, 4), np.float64)
        sigma_w = float(c0.read_sigma_w) if c0.read_sigma > 0 else 0.0
        neg = -lr * c0.k_hat
        chunk = CHUNK  # fixed: the noise is drawn per chunk, so the numbers do not depend on the progress display
        done = 0
        try:
            for start in range(0, n, chunk):
                stop = min(n, start + chunk)
                k = stop - start
                zf = [self._normals(c, k * int(self.nout[i]), sigma_w) for i, c in enumerate(cores)]
                zb = [self._normals(c, k * int(self.nin[i]), sigma_w if i > 0 else 0.0) for i, c in enumerate(cores)]
                woffs = self._window_offsets(cores, cells, k, fr.wn_coef > 0, pool_off)
                boffs = self._window_offsets(cores, cells, k, fr.model == 2, bpool_off, byte=True)
                mlp_steps(xs[start:stop], ys[start:stop], self.nin, self.nout, self.bias, self.act,
                          c_all, c_off, wk_all, wk_off, d2d_all, self._offsets(cells) if has_d2d else c_off, has_d2d,
                          toff_all, self._offsets(cells) if has_toff else c_off, has_toff,
                          np.concatenate(zf), self._offsets([len(z) for z in zf]),
                          np.concatenate(zb), self._offsets([len(z) for z in zb]),
                          pool_all, pool_off, woffs, bpool_all, bpool_off, boffs,
                          self.conv, sigma_w, fr.scheme, fr.nr, fr.nc, neg, fr.model, fr.ud, fr.k, fr.wn_coef, fr.pm,
                          fr.wscale, *tab, lv_n, since, losses[start:stop], ustats, rstats)
                done = stop
                bad = ~np.isfinite(losses[start:stop])
                if bad.any():
                    at = start + int(np.nonzero(bad)[0][0])
                    raise NonFiniteLoss(at, float(losses[at]))
                if advance is not None:
                    advance(k)
        finally:
            self._write_back(c_all, wk_all, c_off, wk_off, since, ustats, rstats, done, fr)
        s.epochs_done += 1
        return torch.from_numpy(losses)

    # --- noise drawn ahead -------------------------------------------------------------------------------------
    @staticmethod
    def _normals(core, count: int, sigma: float) -> np.ndarray:
        if sigma <= 0.0 or count == 0:
            return np.zeros(0, np.float32)
        return torch.randn(count, generator=core.generator).numpy()

    def _pools(self, cells, fr):
        """The cores' write-noise pools (drawn once from each core's generator, as NoiseSource does), concatenated
        (per epoch: a few ms; not cached, so that a pool re-drawn after a state load is always the one used)."""
        if fr.wn_coef <= 0.0:
            return np.zeros(1, np.float32), np.zeros(len(cells) + 1, np.int64)
        return (np.concatenate([c.noise.normal_pool().numpy() for c in self.cores]),
                self._offsets([c.noise.pool_size for c in self.cores]))

    def _byte_pools(self, cells, fr):
        """The cores' quantile-byte pools (as NoiseSource.quantile_index draws them), concatenated (per epoch)."""
        if fr.model != 2:
            return np.zeros(1, np.int32), np.zeros(len(cells) + 1, np.int64)
        return (np.concatenate([c.noise.byte_pool().numpy() for c in self.cores]),
                self._offsets([c.noise.pool_size for c in self.cores]))

    @staticmethod
    def _window_offsets(cores, cells, k: int, on: bool, pool_off, byte: bool = False) -> np.ndarray:
        """(k, L) window starts into each core's pool, drawn from the core's generator (one call per chunk)."""
        if not on:
            return np.zeros((k, len(cores)), np.int64)
        cols = []
        for i, c in enumerate(cores):
            span = int(pool_off[i + 1] - pool_off[i]) - cells[i] + 1
            cols.append(torch.randint(0, span, (k,), generator=c.generator).numpy())
        return np.ascontiguousarray(np.stack(cols, axis=1).astype(np.int64))

    # --- state and counters back into the cores ----------------------------------------------------------------
    def _write_back(self, c_all, wk_all, c_off, wk_off, since, ustats, rstats, samples: int, fr) -> None:
        for i, core in enumerate(self.cores):
            core.c[0].copy_(torch.from_numpy(c_all[c_off[i]:c_off[i + 1]]).view_as(core.c[0]))
            core.wk[0].copy_(torch.from_numpy(wk_all[wk_off[i]:wk_off[i + 1]]).view_as(core.wk[0]))
            core._since_refresh = int(since[i])
            if not samples:
                continue
            ni, no = int(self.nin[i]), int(self.nout[i])
            v = core.counters.values
            core._flush_inputs()
            cyc_f, cyc_b = core._cycles["forward"], core._cycles["backward"]
            for key, val in (("vmm_calls", samples), ("vectors_forward", samples),
                             ("forward.conversions", samples * no * cyc_f),
                             ("activity_vectors_forward", int(rstats[i, 0, 1])),
                             ("opu_calls", samples), ("samples_updated", samples), ("update_events", samples),
                             ("cells_updated", int(ustats[i, 1]))):
                v[key] = v.get(key, 0) + val
            v["input_sum_forward"] = v.get("input_sum_forward", 0) + float(rstats[i, 0, 0])
            core.fwd_dac.conversions += samples * ni
            core.fwd_adc.conversions += samples * no
            if i > 0:
                for key, val in (("mvm_calls", samples), ("vectors_backward", samples),
                                 ("backward.conversions", samples * ni * cyc_b),
                                 ("activity_vectors_backward", int(rstats[i, 1, 1]))):
                    v[key] = v.get(key, 0) + val
                v["input_sum_backward"] = v.get("input_sum_backward", 0) + float(rstats[i, 1, 0])
                core.bwd_dac.conversions += samples * no
                core.bwd_adc.conversions += samples * ni
            for q, clipped in ((core.fwd_dac, rstats[i, 0, 2]), (core.fwd_adc, rstats[i, 0, 3]),
                               (core.bwd_dac, rstats[i, 1, 2]), (core.bwd_adc, rstats[i, 1, 3])):
                if clipped:
                    q.clipped = torch.tensor(int(clipped)) + (q.clipped if q.clipped is not None else 0)
            if fr.scheme == 1:
                core.counters.add("update.pulses", int(ustats[i, 0]))
                core.counters.add("update.row_drives", int(ustats[i, 2]) * core.mapping.col_tiles)
                core.counters.add("update.col_drives", int(ustats[i, 3]) * core.mapping.row_tiles)
