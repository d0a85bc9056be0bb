"""numba kernels of the CPU fast path: one per-sample (rank-1) outer-product update of one analog array.

The device physics here is the same expression, in the same float32 operation order, as the torch path
(:mod:`pimtrain.devices.soft_bounds`, :mod:`pimtrain.devices.linear_step`, :meth:`DeviceModel.step_delta`);
``tests/test_xbar_fast.py`` holds the two equal (noise off: same weights to float32 rounding, same pulses).

Layout (as :class:`pimtrain.xbar.core.AnalogCore`): state ``c`` (in, pairs, out), centred in [-0.5, 0.5];
cache ``wk`` (in, out) in weight units; pair signs ``pm`` (+0.5, -0.5) or (+0.5,).

Models: 0 = linear step (``Δc = r + ud |r|``), 1 = soft bounds with 0 <= α <= 1 (``Δc = R − k |R| c``).
Schemes: 0 = ``none`` (the request itself), 1 = ``deterministic`` (x, d quantised per sample).
Compiled with ``cache=True``: a second process loads the machine code from ``__pycache__``.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _fma(a, b, c):  # pragma: no cover - compiled
    """float32 a*b + c rounded once, as torch's vectorised CPU kernels (FMA) compute add(alpha=) and addcmul."""
    return np.float32(np.float64(a) * np.float64(b) + np.float64(c))


@njit(cache=True, nogil=True)
def rank1_update(c, wk, d2d, has_d2d, x, d, scheme, nr, nc, neg_lr_khat, model, ud, k, wn_coef, z, zpos,
                 pm, wscale, cache_out):  # pragma: no cover - compiled
    """Apply one rank-1 update in place on ``c`` and ``wk``.

    Returns the new position in the noise buffer ``z`` (-1 when it would run out: nothing was written).
    ``cache_out`` (int64[4]) receives pulses (Σ|nx|·Σ|nd|), cells updated, pulsed rows, pulsed columns.
    """
    n_in = x.shape[0]
    n_out = d.shape[0]
    pairs = c.shape[1]
    f32 = np.float32
    mn = x[0]
    mx = x[0]
    for i in range(n_in):
        v = x[i]
        if v < mn:
            mn = v
        if v > mx:
            mx = v
    sx = 1 if mn >= 0.0 else (-1 if mx <= 0.0 else 0)
    xm = max(-mn, mx)
    cache_out[0] = 0
    cache_out[1] = 0
    cache_out[2] = 0
    cache_out[3] = 0
    if xm == 0.0:
        return zpos
    a_full = np.empty(n_in, np.float32)
    b_vec = np.empty(n_out, np.float32)
    if scheme == 1:
        dm = f32(0.0)
        for j in range(n_out):
            v = abs(d[j])
            if v > dm:
                dm = v
        if dm == 0.0:
            return zpos
        fx = f32(nr / np.float64(xm))
        fd = f32(nc / np.float64(dm))
        sa = 0.0
        sb = 0.0
        na = 0
        nb = 0
        for i in range(n_in):
            a_full[i] = np.round(x[i] * fx)
            sa += abs(a_full[i])
            na += a_full[i] != 0.0
        for j in range(n_out):
            b_vec[j] = np.round(d[j] * fd)
            sb += abs(b_vec[j])
            nb += b_vec[j] != 0.0
        scale = neg_lr_khat * (np.float64(xm) / nr) * (np.float64(dm) / nc)
        cache_out[0] = np.int64(sa) * np.int64(sb)
        cache_out[1] = na * nb * pairs
        cache_out[2] = na
        cache_out[3] = nb
    else:
        na = 0
        nb = 0
        for i in range(n_in):
            a_full[i] = x[i]
            na += x[i] != 0.0
        for j in range(n_out):
            b_vec[j] = d[j]
            nb += d[j] != 0.0
        scale = neg_lr_khat
        cache_out[1] = na * nb * pairs
        cache_out[2] = na
        cache_out[3] = nb
    if wn_coef > 0.0 and zpos + na * pairs * n_out > z.shape[0]:
        return -1
    sg = sx if scale > 0 else -sx
    full = na == n_in
    s32 = f32(scale)
    mk = f32(-k * sg)
    uds = f32(ud * sg)
    ud32 = f32(ud)
    wn32 = f32(wn_coef)
    ws32 = f32(wscale)
    bb = np.empty((pairs, n_out), np.float32)
    ab = np.empty((pairs, n_out), np.float32)
    for p in range(pairs):
        for j in range(n_out):
            bb[p, j] = b_vec[j] * pm[p]
            ab[p, j] = abs(bb[p, j])
    delta = np.empty((pairs, n_out), np.float32)
    for i in range(n_in):
        if a_full[i] == 0.0:
            continue
        a = a_full[i] * s32
        aa = abs(a)
        sqa = np.sqrt(aa)
        for p in range(pairs):
            for j in range(n_out):
                b = bb[p, j]
                cc = c[i, p, j]
                if model == 1 and sg != 0:
                    bR = _fma(ab[p, j], uds, b)
                    bA = _fma(b, uds, ab[p, j])
                    dl = _fma(bA * cc, mk, bR) * a
                else:
                    r = a * b
                    ar = aa * ab[p, j]
                    big_r = _fma(ar, ud32, r)
                    if model == 1:
                        abs_r = _fma(r, ud32, ar)
                        dl = (abs_r * cc) * f32(-k) + big_r
                    else:
                        dl = big_r
                if wn_coef > 0.0:
                    zb = z[zpos] * np.sqrt(ab[p, j])
                    zpos += 1
                    dl = dl + (zb * sqa) * wn32
                delta[p, j] = dl
            for j in range(n_out):
                cc = c[i, p, j]
                if has_d2d:
                    nw = _fma(delta[p, j], d2d[i, p, j], cc)
                else:
                    nw = delta[p, j] + cc
                if nw < -0.5:
                    nw = f32(-0.5)
                elif nw > 0.5:
                    nw = f32(0.5)
                if full:  # the torch path steps the whole array in place and re-derives the cache
                    c[i, p, j] = nw
                else:  # row-sparse: the applied change is scattered back (index_add_)
                    delta[p, j] = nw - cc
                    c[i, p, j] = cc + delta[p, j]
        for j in range(n_out):
            if full:
                if pairs == 2:
                    wk[i, j] = (c[i, 0, j] - c[i, 1, j]) * ws32
                else:
                    wk[i, j] = c[i, 0, j] * (f32(2.0) * ws32)
            elif pairs == 2:
                wk[i, j] = wk[i, j] + (delta[0, j] - delta[1, j]) * ws32
            else:
                wk[i, j] = wk[i, j] + delta[0, j] * (f32(2.0) * ws32)
    return zpos
