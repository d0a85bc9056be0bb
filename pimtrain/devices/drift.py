"""PCM conductance drift and its growing read noise, for reading a trained network at a time t after programming.

Model (the statistical PCM model of Nandakumar et al., ICECS 2019, fitted on measured PCM devices; the constants
are those of IBM aihwkit's ``PCMLikeNoiseModel``, public repository file ``src/aihwkit/inference/noise/pcm.py``):

- drift exponent per cell, from its programmed conductance relative to g_max, ``g = G0/g_max``:
  ``ν ~ |N(μ(g), σ(g))|`` with ``μ = clip(−0.0155 ln g + 0.0244, 0.049, 0.1)`` and
  ``σ = clip(−0.0125 ln g − 0.0059, 0.008, 0.045)``;
- drift: ``G(t) = G0 · ((t + t0)/t0)^−ν`` with ``t`` counted from the end of programming and ``t0 = 20 s``
  (the first read of the fit), i.e. the power law ``G(t') = G(t0)(t'/t0)^−ν`` in the time ``t' = t + t0``;
- accumulated 1/f read noise, growing with time: ``G ← G + |G| · Q_s · sqrt(ln((t + t0 + t_read)/(2 t_read)))
  · N(0, 1)`` with ``Q_s = min(0.0088 / max(g^0.65, 1e-3), 0.2)`` and ``t_read = 250 ns``.

Weights map onto a differential pair as aihwkit's single-pair converter: ``G± = g_max · max(±w, 0)/w_max``.
:func:`global_drift_compensation` is the read-time calibration of one output scale (aihwkit's
``GlobalDriftCompensation``): the ratio of the summed |outputs| of a calibration input at t = 0 and at t.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class PcmDrift:
    """Constants of the drift and read-noise model (sources in the module docstring)."""

    t0: float = 20.0          # s: first read after programming (Nandakumar 2019 via aihwkit pcm.py t_0)
    t_read: float = 250e-9    # s: read duration of the 1/f fit (aihwkit pcm.py t_read)
    nu_mean: tuple[float, float, float, float] = (-0.0155, 0.0244, 0.049, 0.1)    # slope on ln g, offset, min, max
    nu_std: tuple[float, float, float, float] = (-0.0125, -0.0059, 0.008, 0.045)  # slope on ln g, offset, min, max
    q_s: tuple[float, float, float] = (0.0088, 0.65, 0.2)  # scale, exponent on g, max
    drift_scale: float = 1.0  # multiplies ν (0: no drift)
    read_noise_scale: float = 1.0  # multiplies the 1/f read noise (0: none)


def drift_coefficients(g_rel: torch.Tensor, generator: torch.Generator, spec: PcmDrift = PcmDrift()) -> torch.Tensor:
    """ν per cell from its programmed conductance relative to g_max (a tensor in [0, 1])."""
    lg = g_rel.abs().clamp_min(1e-7).log()
    a, b, lo, hi = spec.nu_mean
    mu = (a * lg + b).clamp(lo, hi)
    a, b, lo, hi = spec.nu_std
    sig = (a * lg + b).clamp(lo, hi)
    z = torch.randn(g_rel.shape, generator=generator, device=g_rel.device)
    return (mu + sig * z).abs() * spec.drift_scale


def conductance_at(g0: torch.Tensor, nu: torch.Tensor, t: float, g_max: float, generator: torch.Generator | None,
                   spec: PcmDrift = PcmDrift()) -> torch.Tensor:
    """G(t) of cells programmed to ``g0`` (S) with exponents ``nu``, ``t`` seconds after programming, read once
    (with the accumulated read noise; ``generator`` None: none)."""
    if t < 0:
        from pimtrain.design import PimtrainError

        raise PimtrainError(f"read_time: must be >= 0 s, got {t}")
    tt = t + spec.t0
    g = g0 * (tt / spec.t0) ** (-nu)
    if generator is not None and spec.read_noise_scale > 0:
        scale, expo, top = spec.q_s
        q = (scale / (g0.abs() / g_max).pow(expo).clamp_min(1e-3)).clamp(max=top)
        sig = q * math.sqrt(math.log((tt + spec.t_read) / (2 * spec.t_read)))
        z = torch.randn(g.shape, generator=generator, device=g.device)
        g = g + g.abs() * spec.read_noise_scale * sig * z
    return g.clamp_min(0.0)


def weights_at(w: torch.Tensor, w_max: float, t: float, generator: torch.Generator, spec: PcmDrift = PcmDrift(),
               g_max: float = 25e-6, nu: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """The weights ``w`` (programmed on differential PCM pairs at t = 0) as read ``t`` seconds later.

    ``nu``: the pairs' drift exponents (G+, G−) — pass the same to read one array at several times; drawn from
    ``generator`` when None."""
    gp = g_max * w.clamp(min=0.0) / w_max
    gm = g_max * (-w).clamp(min=0.0) / w_max
    if nu is None:
        nu = (drift_coefficients(gp / g_max, generator, spec), drift_coefficients(gm / g_max, generator, spec))
    gp_t = conductance_at(gp, nu[0], t, g_max, generator, spec)
    gm_t = conductance_at(gm, nu[1], t, g_max, generator, spec)
    return (gp_t - gm_t) * (w_max / g_max)


def global_drift_compensation(w0: torch.Tensor, wt: torch.Tensor, x: torch.Tensor) -> float:
    """One output scale calibrated at read time: Σ|x W0ᵀ| / Σ|x W(t)ᵀ| over the calibration input ``x``."""
    den = float((x @ wt.t()).abs().sum())
    return float((x @ w0.t()).abs().sum()) / den if den > 0 else 1.0


_UNITS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 365.25 * 86400.0}


def parse_times(text: str) -> list[float]:
    """``"1s,1h,1d,1y"`` -> seconds; one-line error naming ``--eval-at`` and the allowed units."""
    out = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*", part)
        if not m or (m.group(2) or "s") not in _UNITS:
            from pimtrain.design import PimtrainError

            raise PimtrainError(f"--eval-at: {part.strip()!r} is not a time; allowed: numbers with units "
                                f"{', '.join(_UNITS)} (e.g. 1s,1h,1d,1y)")
        out.append(float(m.group(1)) * _UNITS[m.group(2) or "s"])
    return out


__all__ = ["PcmDrift", "drift_coefficients", "conductance_at", "weights_at", "global_drift_compensation", "parse_times"]
