"""numba kernels of the CPU fast path: one per-sample (rank-1) outer-product update of one analog array.

The device physics here is the same expression, in the same float32 operation order, as the torch path
(:mod:`pimtrain.devices.soft_bounds`, :mod:`pimtrain.devices.linear_step`, :meth:`DeviceModel.step_delta`);
``tests/test_xbar_fast.py`` holds the two equal (noise off: same weights to float32 rounding, same pulses).

Layout (as :class:`pimtrain.xbar.core.AnalogCore`): state ``c`` (in, pairs·out), a view of (in, pairs, out), centred in [-0.5, 0.5];
cache ``wk`` (in, out) in weight units; pair signs ``pm`` (+0.5, -0.5) or (+0.5,).

Models: 0 = linear step (``Δc = r + ud |r|``), 1 = soft bounds with 0 <= α <= 1 (``Δc = R − k |R| c``),
2 = lookup tables (:mod:`pimtrain.devices.lookup`: mean step ``F`` and inverse-CDF spread ``D`` per bin).
Schemes: 0 = ``none`` (the request itself), 1 = ``deterministic`` (x, d quantised per sample).
Compiled with ``cache=True``: a second process loads the machine code from ``__pycache__``.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def _fma_f32(typingctx, a, b, c):  # pragma: no cover - compiled
    """llvm.fma.f32: a fused multiply-add of three float32 (one instruction where the CPU has FMA)."""
    sig = types.float32(types.float32, types.float32, types.float32)

    def codegen(context, builder, signature, args):
        f = ir.FloatType()
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(f, [f, f, f]), "llvm.fma.f32")
        return builder.call(fn, args)

    return sig, codegen


@njit(cache=True, inline="always")
def _fma(a, b, c):  # pragma: no cover - compiled
    """float32 a*b + c rounded once, as torch's vectorised CPU kernels (FMA) compute add(alpha=) and addcmul."""
    return _fma_f32(np.float32(a), np.float32(b), np.float32(c))


@njit(cache=True, nogil=True, inline="always")
def _finish(v, lv_n, has_stuck, keep, sval):  # pragma: no cover - compiled
    """Finite levels (``lv_n`` = levels − 1, 0: continuous) and stuck cells of one row, in place, in the torch
    path's operation order (:func:`pimtrain.devices.nonideal.quantize_levels`, ``StuckAt.apply``)."""
    if lv_n > 0.0:
        n32 = np.float32(lv_n)
        h = np.float32(0.5)
        for q in range(v.shape[0]):
            r = np.float32(np.round(np.float32((v[q] + h) * n32)))
            v[q] = np.float32(r / n32) - h
    if has_stuck:
        for q in range(v.shape[0]):
            v[q] = v[q] * keep[q] + sval[q]


@njit(cache=True, nogil=True, inline="always")
def _write_row(crow, wrow, new, full, pairs, n_out, ws32, two_ws):  # pragma: no cover - compiled
    """Write a row's new state ``new`` (pairs·out) into state row ``crow`` and cache row ``wrow``: ``full`` (the torch
    path steps the whole array in place and re-derives the cache) or row-sparse (the applied change is scattered
    back as ``index_add_``; ``new`` is left holding that change)."""
    m = new.shape[0]
    if full:
        for q in range(m):
            crow[q] = new[q]
        if pairs == 2:
            for j in range(n_out):
                wrow[j] = (crow[j] - crow[n_out + j]) * ws32
        else:
            for j in range(n_out):
                wrow[j] = crow[j] * two_ws
    else:
        for q in range(m):
            new[q] = new[q] - crow[q]
            crow[q] = crow[q] + new[q]
        if pairs == 2:
            for j in range(n_out):
                wrow[j] = wrow[j] + (new[j] - new[n_out + j]) * ws32
        else:
            for j in range(n_out):
                wrow[j] = wrow[j] + new[j] * two_ws


@njit(cache=True, nogil=True)
def rank1_update(c, wk, d2d, has_d2d, x, d, scheme, nr, nc, neg_lr_khat, model, ud, k, wn_coef, z,
                 pm, wscale, cache_out, tf, td, half, nu, nq, toff, has_toff, qbytes, lv_n, has_stuck, keep,
                 sval):  # pragma: no cover - compiled
    """Apply one rank-1 update in place on ``c`` and ``wk``.

    Noise: ``z`` (in·pairs·out normals) and ``qbytes`` (as many random bytes, lookup tables) are windows of the
    core's :class:`pimtrain.devices.NoiseSource` pools, one per sample, as the torch path draws one per update.
    ``cache_out`` (int64[4]) receives pulses (Σ|nx|·Σ|nd|), cells updated, pulsed rows, pulsed columns.
    """
    n_in = x.shape[0]
    n_out = d.shape[0]
    pairs = pm.shape[0]
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
        return
    a_full = np.empty(n_in, np.float32)
    b_vec = np.empty(n_out, np.float32)
    if scheme == 1:
        dm = f32(0.0)
        for j in range(n_out):
            v = abs(d[j])
            if v > dm:
                dm = v
        if dm == 0.0:
            return
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
    m = pairs * n_out
    sg = sx if scale > 0 else -sx
    full = na == n_in
    s32 = f32(scale)
    mk = f32(-k * sg)
    uds = f32(ud * sg)
    ud32 = f32(ud)
    mk0 = f32(-k)
    wn32 = f32(wn_coef)
    ws32 = f32(wscale)
    two_ws = f32(2.0) * ws32
    factored = model == 1 and sg != 0
    # per-sample column factors (pair signs folded in): b, |b|, sqrt|b| and, for the one-sign soft-bounds form,
    # bR = b + ud σ|b| and bA = |b| + ud σ b
    bb = np.empty(m, np.float32)
    ab = np.empty(m, np.float32)
    sqb = np.empty(m, np.float32)
    bR = np.empty(m, np.float32)
    bA = np.empty(m, np.float32)
    for p in range(pairs):
        for j in range(n_out):
            q = p * n_out + j
            bb[q] = b_vec[j] * pm[p]
            ab[q] = abs(bb[q])
            sqb[q] = np.sqrt(ab[q])
            bR[q] = _fma(ab[q], uds, bb[q])
            bA[q] = _fma(bb[q], uds, ab[q])
    delta = np.empty(m, np.float32)
    idx_row = np.empty(m, np.int32)
    neg_lo = np.zeros(m, np.int32)  # + nu where the request goes down, for a > 0 (b < 0) and a < 0 (b > 0)
    neg_hi = np.zeros(m, np.int32)
    if model == 2:
        for q in range(m):
            if bb[q] < 0.0:
                neg_lo[q] = nu
            elif bb[q] > 0.0:
                neg_hi[q] = nu
    lo = f32(-0.5)
    hi = f32(0.5)
    for i in range(n_in):
        if a_full[i] == 0.0:
            continue
        a = a_full[i] * s32
        aa = abs(a)
        crow = c[i]
        if factored:  # soft bounds, inputs of one sign: Δ = a (bR − kσ bA c)
            for q in range(m):
                delta[q] = _fma(bA[q] * crow[q], mk, bR[q]) * a
        elif model == 1:  # soft bounds, general: Δ = R − k |R| c
            for q in range(m):
                r = a * bb[q]
                ar = aa * ab[q]
                delta[q] = (_fma(r, ud32, ar) * crow[q]) * mk0 + _fma(ar, ud32, r)
        elif model == 2:  # lookup tables: Δ = F[bin] r + D[bin, quantile] sqrt|r|
            sqa = np.sqrt(aa)
            w1 = i * m
            fnu = f32(nu - 1)
            negs = neg_lo if a > 0.0 else neg_hi  # cells asked to go down: the second table of the pair
            for q in range(m):
                idx_row[q] = np.int32(_fma(crow[q], fnu, half)) + negs[q]
            if has_toff:
                trow = toff[i]
                for q in range(m):
                    idx_row[q] += trow[q]
            for q in range(m):
                ix = idx_row[q]
                dv = td[ix * nq + (qbytes[w1 + q] & (nq - 1))]
                delta[q] = _fma(dv * sqb[q], sqa, (tf[ix] * bb[q]) * a)
        else:  # linear step: Δ = r + ud |r|
            for q in range(m):
                r = a * bb[q]
                delta[q] = _fma(aa * ab[q], ud32, r)
        if wn_coef > 0.0:  # write noise: a random walk, std wn sqrt(dw_min |r|)
            sqa = np.sqrt(aa)
            w0 = i * m
            for q in range(m):
                delta[q] = delta[q] + ((z[w0 + q] * sqb[q]) * sqa) * wn32
        if has_d2d:
            drow = d2d[i]
            for q in range(m):
                delta[q] = min(max(_fma(delta[q], drow[q], crow[q]), lo), hi)
        else:
            for q in range(m):
                delta[q] = min(max(delta[q] + crow[q], lo), hi)
        if lv_n > 0.0 or has_stuck:
            _finish(delta, lv_n, has_stuck, keep[i], sval[i])
        _write_row(crow, wk[i], delta, full, pairs, n_out, ws32, two_ws)


@njit(cache=True, nogil=True)
def dense_apply(c, wk, d2d, has_d2d, rows, all_rows, rc, model, ud, k, wn_coef, z, pairs, wscale, lv_n, has_stuck,
                keep, sval):  # pragma: no cover
    """A digitally summed request ``rc`` (k, out; centred units per device) written through the device onto rows
    ``rows`` (all rows when ``all_rows``) of state ``c`` (in, pairs·out) and cache ``wk`` (in, out), as the torch
    path's ``AnalogCore._apply`` with ``Request(a=rc, b=pair signs, b_unit=True)`` (models: 0 = linear step or soft
    bounds with α = 0, 1 = soft bounds 0 < α <= 1). ``z``: the write-noise normals (k·pairs·out) the torch path
    draws, or empty. Returns nothing; the cache of a row-sparse write accumulates (the caller counts it)."""
    f32 = np.float32
    n_out = rc.shape[1]
    m = pairs * n_out
    ud32 = f32(ud)
    mk0 = f32(-k)
    wn32 = f32(wn_coef)
    ws32 = f32(wscale)
    two_ws = f32(2.0 * wscale)
    lo = f32(-0.5)
    hi = f32(0.5)
    has_z = z.shape[0] > 0
    new = np.empty(m, np.float32)
    for t in range(rc.shape[0]):
        i = t if all_rows else rows[t]
        crow = c[i]
        arow = rc[t]
        for p in range(pairs):  # tight loops per case (vectorised): Δ, then write noise, then d2d and bounds
            s = f32(1.0) if p == 0 else f32(-1.0)
            o = p * n_out
            if model == 1 and ud != 0.0:
                for j in range(n_out):
                    a = arow[j]
                    aa = abs(a)
                    big = f32(aa * ud32) + s * a
                    absr = aa + s * f32(ud32 * a)
                    new[o + j] = _fma(absr * crow[o + j], mk0, big)
            elif model == 1:
                for j in range(n_out):
                    a = arow[j]
                    new[o + j] = _fma(abs(a) * crow[o + j], mk0, s * a)
            elif ud != 0.0:
                for j in range(n_out):
                    a = arow[j]
                    new[o + j] = _fma(abs(a), ud32, s * a)
            else:
                for j in range(n_out):
                    new[o + j] = s * arow[j]
            if has_z:
                zo = t * m + o
                for j in range(n_out):
                    new[o + j] = _fma(f32(wn32 * z[zo + j]), np.sqrt(abs(arow[j])), new[o + j])
        if has_d2d:
            drow = d2d[i]
            for q in range(m):
                new[q] = min(max(_fma(new[q], drow[q], crow[q]), lo), hi)
        else:
            for q in range(m):
                new[q] = min(max(new[q] + crow[q], lo), hi)
        if lv_n > 0.0 or has_stuck:
            _finish(new, lv_n, has_stuck, keep[i], sval[i])
        _write_row(crow, wk[i], new, all_rows, pairs, n_out, ws32, two_ws)


@njit(cache=True, nogil=True)
def dense_quantize(g, scale, levels):  # pragma: no cover - compiled
    """In place: ``g`` (k, out) ← the per-device request ``g·scale`` (float32, as ``g.mul_(scale)``), with
    ``levels`` > 0 quantised to ``levels`` steps of its largest |entry| (the deterministic scheme's batch write).
    Returns (pulses fired, exact integer sum; -1 when the request is all zero and nothing is written).

    Written so that LLVM vectorises every loop: the largest |entry| as the largest bit pattern of |v| (non-negative
    float32 order as int32; NaN skipped, as a float comparison would), the codes by ``rint`` (round half to even,
    as ``torch.round``) and the pulses summed per row in int32 (int64 when a row could overflow it)."""
    f32 = np.float32
    s32 = f32(scale)
    n = g.shape[1]
    inf_bits = np.int32(0x7F800000)
    mag = np.int32(0x7FFFFFFF)
    m = np.int32(0)
    for t in range(g.shape[0]):
        row = g[t]
        for j in range(n):
            row[j] = row[j] * s32
        bits = row.view(np.int32)
        mr = np.int32(0)
        for j in range(n):
            a = bits[j] & mag
            mr = max(mr, a if a <= inf_bits else np.int32(0))
        m = max(m, mr)
    if levels == 0:
        return 0
    if m == 0:
        return -1
    m64 = np.float64(np.full(1, m, np.int32).view(np.float32)[0])
    up = f32(levels / m64)
    down = f32(m64 / levels)
    pulses = 0
    small = levels * n < 2**31 - 1
    for t in range(g.shape[0]):
        row = g[t]
        if small:
            acc = np.int32(0)
            for j in range(n):
                q = np.rint(row[j] * up)
                acc += np.int32(abs(q))
                row[j] = q * down
            pulses += acc
        else:
            for j in range(n):
                q = np.rint(row[j] * up)
                pulses += np.int64(abs(q))
                row[j] = q * down
    return pulses


@njit(cache=True, nogil=True)
def rank1_rows(c, wk, d2d, has_d2d, xs, ds, scheme, nr, nc, neg_lr_khat, model, ud, k, wn_coef, pool, woffs, pm,
               wscale, tf, td, half, nu, nq, toff, has_toff, bpool, boffs, since, totals, lv_n, has_stuck, keep,
               sval):  # pragma: no cover
    """``rank1_update`` for every row of ``xs`` / ``ds`` in order (an outer-product update of a batch, or of the
    patches of a convolution), the noise windows given as offsets into the core's pools (``woffs``, ``boffs``).
    ``totals`` (int64[5]) accumulates pulses, cells updated, pulsed rows, pulsed columns and cache re-derivations;
    ``since`` (int64[1]) counts row-sparse writes since the cache was last re-derived (every 4096, as torch)."""
    f32 = np.float32
    count = c.shape[0] * c.shape[1]
    st = np.zeros(4, np.int64)
    dummy_z = np.zeros(1, np.float32)
    dummy_b = np.zeros(1, np.int32)
    n_in = c.shape[0]
    n_out = wk.shape[1]
    pairs = pm.shape[0]
    ws32 = f32(wscale)
    for b in range(xs.shape[0]):
        z = pool[woffs[b]:woffs[b] + count] if wn_coef > 0.0 else dummy_z
        qb = bpool[boffs[b]:boffs[b] + count] if model == 2 else dummy_b
        rank1_update(c, wk, d2d, has_d2d, xs[b], ds[b], scheme, nr, nc, neg_lr_khat, model, ud, k, wn_coef, z, pm,
                     wscale, st, tf, td, half, nu, nq, toff, has_toff, qb, lv_n, has_stuck, keep, sval)
        totals[0] += st[0]
        totals[1] += st[1]
        totals[2] += st[2]
        totals[3] += st[3]
        if 0 < st[2] < n_in:
            since[0] += 1
            if since[0] >= 4096:
                since[0] = 0
                totals[4] += 1
                for i in range(n_in):
                    for j in range(n_out):
                        if pairs == 2:
                            wk[i, j] = (c[i, j] - c[i, n_out + j]) * ws32
                        else:
                            wk[i, j] = (c[i, j] * f32(2.0)) * ws32
