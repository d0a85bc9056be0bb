"""numba kernels of the epoch driver: the read of one analog array (DAC → product → read noise → ADC) and a
chunk of batch-1 training steps of a whole MLP (forward, cross-entropy, backward, per-sample updates) with the
loop over samples inside numba.

The read follows :meth:`pimtrain.xbar.core.AnalogCore._read_single` (one array per kernel, one slice): the DAC
and ADC quantise with :func:`pimtrain.xbar.quantizers.quantize` (``batch_max``: the vector's own max |·|;
``fixed``: ±r, clamped), the read noise is output-referred (one normal per output times ‖x_q‖₂ σ_w). The update
is :func:`.kernels.rank1_update`, the kernel the per-sample module path uses.

All layers share one design (``convert`` maps a network onto one design), so device and converter settings are
scalars; the per-layer arrays (state, cache, device-to-device factors, table offsets, noise) are flat buffers
with offsets. Noise is drawn ahead by the caller: read normals per epoch chunk, write-noise and quantile-byte
windows as offsets into the cores' pools.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .kernels import rank1_update

_TINY = 1e-30


@njit(cache=True, nogil=True)
def quantize_vec(v, n, r_fixed, out_stats, k):  # pragma: no cover - compiled
    """Quantise ``v`` in place as one converter call (``n`` = 0: ideal). ``r_fixed`` > 0: a fixed range ±r_fixed
    (clamped, clipped entries counted in ``out_stats[k]``), else ``batch_max``. Returns the range used (0.0: an
    all-zero signal, -1.0: an ideal converter)."""
    if n == 0:
        return -1.0
    f32 = np.float32
    if r_fixed > 0.0:
        r = r_fixed
        s = f32(n / r)
        back = f32(r / n)
        fn = f32(n)
        clipped = 0
        for i in range(v.shape[0]):
            if abs(v[i]) > f32(r):
                clipped += 1
            q = np.round(v[i] * s)
            q = min(max(q, -fn), fn)
            v[i] = q * back
        out_stats[k] += clipped
        return r
    r = 0.0
    for i in range(v.shape[0]):
        a = abs(np.float64(v[i]))
        if a > r:
            r = a
    if r == 0.0:
        for i in range(v.shape[0]):
            v[i] = f32(0.0)
        return 0.0
    s = f32(n / r)
    back = f32(r / n)
    for i in range(v.shape[0]):
        v[i] = np.round(v[i] * s) * back
    return r


@njit(cache=True, nogil=True)
def read(xq, w, forward, z, sigma_w, y):  # pragma: no cover - compiled
    """y = xq @ w (forward, w: (in, out)) or w @ xq (backward, w: (in, out), y: (in,)), plus output-referred read
    noise ``sigma_w ‖xq‖₂ z`` (``z`` one normal per output; sigma_w 0: none). float32 accumulation."""
    f32 = np.float32
    if forward:
        for j in range(y.shape[0]):
            y[j] = f32(0.0)
        for i in range(xq.shape[0]):
            a = xq[i]
            if a == 0.0:
                continue
            wr = w[i]
            for j in range(y.shape[0]):
                y[j] += a * wr[j]
    else:
        for i in range(y.shape[0]):
            wr = w[i]
            acc = f32(0.0)
            for j in range(xq.shape[0]):
                acc += wr[j] * xq[j]
            y[i] = acc
    if sigma_w > 0.0:
        nrm = 0.0
        for i in range(xq.shape[0]):
            nrm += np.float64(xq[i]) * np.float64(xq[i])
        coef = f32(np.sqrt(nrm) * sigma_w)
        for j in range(y.shape[0]):
            y[j] += z[j] * coef


@njit(cache=True, nogil=True)
def _activity(xq, scale):  # pragma: no cover - compiled
    """Σ|xq| / full scale as :meth:`CoreBase._count_read` folds it (scale -1: an ideal DAC, the read's own max)."""
    s = 0.0
    m = 0.0
    for i in range(xq.shape[0]):
        a = abs(np.float64(xq[i]))
        s += a
        if a > m:
            m = a
    if scale < 0.0:
        return s / max(m, _TINY)
    return s / scale


@njit(cache=True, nogil=True)
def _converted_read(xq, w, forward, z, sigma_w, y, conv, c0, stats):  # pragma: no cover - compiled
    """One read of a layer (forward: conv[0:4], backward: conv[4:8] from ``c0``): DAC on ``xq`` in place, the
    product with read noise into ``y``, ADC on ``y``; the input activity added to ``stats`` (sum, count)."""
    sc = quantize_vec(xq, np.int64(conv[c0]), conv[c0 + 1], stats, 2)
    read(xq, w, forward, z, sigma_w, y)
    quantize_vec(y, np.int64(conv[c0 + 2]), conv[c0 + 3], stats, 3)
    if sc != 0.0:
        stats[0] += _activity(xq, sc)
        stats[1] += 1


@njit(cache=True, nogil=True)
def mlp_steps(xs, labels, nin, nout, bias, act, c_all, c_off, wk_all, wk_off, d2d_all, d2d_off, has_d2d,
              toff_all, toff_off, has_toff, zf_all, zf_off, zb_all, zb_off, pool_all, pool_off, woffs,
              bpool_all, bpool_off, boffs, conv, sigma_w, scheme, nr, nc, neg, model, ud, k, wn_coef, pm, wscale,
              tf, td, half, nu, nq, lv_n, since, losses, ustats, rstats):  # pragma: no cover - compiled
    """Train ``xs.shape[0]`` samples at batch 1, in order. See the module docstring.

    ``conv`` (float64[8]): forward DAC n, r, forward ADC n, r, backward DAC n, r, backward ADC n, r (n 0: ideal;
    r 0: batch_max). ``act[li]``: activation after layer li (0 none, 1 sigmoid, 2 relu, 3 tanh).
    ``ustats`` (L, 5): pulses, cells updated, pulsed rows, pulsed columns, refreshes; ``rstats`` (L, 2, 4) per
    kernel: input activity sum, reads measured, DAC clipped, ADC clipped. ``lv_n``: finite levels − 1 (0: none). ``since``: row-sparse writes since the
    cache was last re-derived, per layer (in/out).
    """
    L = nin.shape[0]
    f32 = np.float32
    pairs = pm.shape[0]
    maxw = 1
    for li in range(L):
        maxw = max(maxw, nin[li], nout[li])
    xin = np.zeros((L, maxw), np.float32)  # the inputs of each layer, bias 1 appended
    dl = np.zeros((L, maxw), np.float32)  # the output errors of each layer
    xq = np.zeros(maxw, np.float32)
    y = np.zeros(maxw, np.float32)
    st = np.zeros(4, np.int64)
    dummy_z = np.zeros(1, np.float32)
    dummy_b = np.zeros(1, np.int32)
    dummy_t = np.zeros((1, 1), np.int32)
    dummy_k = np.zeros((1, 1), np.float32)
    ws32 = f32(wscale)
    n_feat = xs.shape[1]
    for s in range(xs.shape[0]):
        # ---------------------------------------------------------------- forward
        for i in range(n_feat):
            xin[0, i] = xs[s, i]
        for li in range(L):
            ni = nin[li]
            no = nout[li]
            if bias[li]:
                xin[li, ni - 1] = f32(1.0)
            for i in range(ni):
                xq[i] = xin[li, i]
            w = wk_all[wk_off[li]:wk_off[li] + ni * no].reshape((ni, no))
            _converted_read(xq[:ni], w, True, zf_all[zf_off[li] + s * no:zf_off[li] + (s + 1) * no], sigma_w, y[:no],
                            conv, 0, rstats[li, 0])
            if li + 1 < L:
                a = act[li]
                for j in range(no):
                    v = y[j]
                    if a == 1:
                        v = f32(1.0) / (f32(1.0) + np.exp(-v))
                    elif a == 2:
                        v = max(v, f32(0.0))
                    elif a == 3:
                        v = np.tanh(v)
                    xin[li + 1, j] = v
        # ---------------------------------------------------------------- loss (mean cross-entropy of one sample)
        no = nout[L - 1]
        m = y[0]
        for j in range(no):
            m = max(m, y[j])
        tot = 0.0
        for j in range(no):
            tot += np.exp(np.float64(y[j] - m))
        lab = labels[s]
        losses[s] = f32(np.log(tot) + m - y[lab])
        for j in range(no):
            dl[L - 1, j] = f32(np.exp(np.float64(y[j] - m)) / tot)
        dl[L - 1, lab] -= f32(1.0)
        # ---------------------------------------------------------------- backward
        for li in range(L - 1, 0, -1):
            ni = nin[li]
            no = nout[li]
            for j in range(no):
                xq[j] = dl[li, j]
            w = wk_all[wk_off[li]:wk_off[li] + ni * no].reshape((ni, no))
            _converted_read(xq[:no], w, False, zb_all[zb_off[li] + s * ni:zb_off[li] + (s + 1) * ni], sigma_w,
                            y[:ni], conv, 4, rstats[li, 1])
            a = act[li - 1]
            nh = nout[li - 1]
            for j in range(nh):  # the bias row's error is dropped; the activation's derivative from its output
                h = xin[li, j]
                g = y[j]
                if a == 1:
                    g = g * (f32(1.0) - h) * h
                elif a == 2:
                    g = g if h > 0.0 else f32(0.0)
                elif a == 3:
                    g = g * (f32(1.0) - h * h)
                dl[li - 1, j] = g
        # ---------------------------------------------------------------- updates (one rank-1 write per layer)
        for li in range(L):
            ni = nin[li]
            no = nout[li]
            mm = pairs * no
            c = c_all[c_off[li]:c_off[li] + ni * mm].reshape((ni, mm))
            w = wk_all[wk_off[li]:wk_off[li] + ni * no].reshape((ni, no))
            dd = d2d_all[d2d_off[li]:d2d_off[li] + ni * mm].reshape((ni, mm)) if has_d2d else c
            tt = toff_all[toff_off[li]:toff_off[li] + ni * mm].reshape((ni, mm)) if has_toff else dummy_t
            cnt = ni * mm
            z = pool_all[pool_off[li] + woffs[s, li]:pool_off[li] + woffs[s, li] + cnt] if wn_coef > 0.0 else dummy_z
            qb = bpool_all[bpool_off[li] + boffs[s, li]:bpool_off[li] + boffs[s, li] + cnt] if model == 2 else dummy_b
            rank1_update(c, w, dd, has_d2d, xin[li, :ni], dl[li, :no], scheme, nr, nc, neg, model, ud, k, wn_coef, z,
                         pm, wscale, st, tf, td, half, nu, nq, tt, has_toff, qb, lv_n, False, dummy_k, dummy_k)
            ustats[li, 0] += st[0]
            ustats[li, 1] += st[1]
            ustats[li, 2] += st[2]
            ustats[li, 3] += st[3]
            if 0 < st[2] < ni:  # a row-sparse write accumulates into the cache: re-derived every 4096 (as torch)
                since[li] += 1
                if since[li] >= 4096:
                    since[li] = 0
                    ustats[li, 4] += 1
                    for i in range(ni):
                        if pairs == 2:
                            for j in range(no):
                                w[i, j] = (c[i, j] - c[i, no + j]) * ws32
                        else:
                            for j in range(no):
                                w[i, j] = (c[i, j] * f32(2.0)) * ws32
