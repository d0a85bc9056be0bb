"""Explicit technology-node scaling of energy, area, latency and leakage.

Source: A. Stillmaker and B. Baas, "Scaling equations for the accurate prediction of CMOS device
performance from 180 nm to 7 nm", Integration 58 (2017) 74–81 — the fitted tables (area factors and
the per-node energy polynomial a·Vdd² + b·Vdd + c) as tabulated in Accelergy's hwcomponents. Outside
7–130 nm the factor continues as a power law (area ∝ node², energy ∝ node^0.5, as hwcomponents does).
Latency scales linearly with the node (gate delay ∝ feature size). Our own implementation.
"""
from __future__ import annotations

import math
from functools import lru_cache

NODES_NM = (130.0, 90.0, 65.0, 45.0, 32.0, 20.0, 16.0, 14.0, 10.0, 7.0)
# AREA[i][j]: multiply an area at NODES_NM[i] by this to get it at NODES_NM[j] (Stillmaker & Baas Table).
AREA = (
    (1, 0.44, 0.23, 0.16, 0.072, 0.033, 0.03, 0.027, 0.016, 0.0092),
    (2.3, 1, 0.53, 0.35, 0.16, 0.075, 0.067, 0.061, 0.036, 0.021),
    (4.3, 1.9, 1, 0.66, 0.31, 0.14, 0.13, 0.12, 0.068, 0.039),
    (6.4, 2.8, 1.5, 1, 0.46, 0.21, 0.19, 0.17, 0.1, 0.059),
    (14, 6.1, 3.3, 2.2, 1, 0.46, 0.41, 0.38, 0.22, 0.13),
    (30, 13, 7.1, 4.7, 2.2, 1, 0.89, 0.82, 0.48, 0.28),
    (34, 15, 7.9, 5.3, 2.4, 1.1, 1, 0.91, 0.54, 0.31),
    (37, 16, 8.7, 5.8, 2.7, 1.2, 1.1, 1, 0.59, 0.34),
    (63, 28, 15, 9.8, 4.5, 2.1, 1.9, 1.7, 1, 0.58),
    (110, 48, 25, 17, 7.8, 3.6, 3.2, 2.9, 1.7, 1),
)
# Energy of one switching event at node i ∝ a·Vdd² + b·Vdd + c (Stillmaker & Baas fitted polynomials).
ENERGY_POLY = (
    (7.171, -6.709, 2.904), (4.762, -4.781, 2.092), (3.755, -4.398, 1.975), (1.103, -0.362, 0.2767),
    (0.9559, -0.7823, 0.471), (0.373, -0.1582, 0.04104), (0.2958, -0.1241, 0.03024),
    (0.2363, -0.09675, 0.02239), (0.2068, -0.09311, 0.02375), (0.1776, -0.09097, 0.02447),
)
REFERENCE_VDD = 0.8  # supply at which a quoted constant is assumed to have been taken, unless stated


def _clamp(node: float) -> tuple[float, float]:
    lo, hi = min(NODES_NM), max(NODES_NM)
    if node < lo:
        return lo, node / lo
    if node > hi:
        return hi, node / hi
    return node, 1.0


def _index(node: float) -> float:
    for i in range(len(NODES_NM) - 1):
        a, b = NODES_NM[i], NODES_NM[i + 1]
        if b <= node <= a:
            return i + (a - node) / (a - b)
    return float(len(NODES_NM) - 1)


def _interp2(table, x: float, y: float) -> float:
    x0, x1, y0, y1 = math.floor(x), math.ceil(x), math.floor(y), math.ceil(y)
    fx, fy = x - x0, y - y0
    return (table[x0][y0] * (1 - fx) * (1 - fy) + table[x0][y1] * (1 - fx) * fy
            + table[x1][y0] * fx * (1 - fy) + table[x1][y1] * fx * fy)


@lru_cache(maxsize=256)
def area_scale(to_nm: float, from_nm: float) -> float:
    """Factor turning an area quoted at ``from_nm`` into one at ``to_nm``."""
    t, rt = _clamp(to_nm)
    f, rf = _clamp(from_nm)
    return _interp2(AREA, _index(f), _index(t)) * (rt / rf) ** 2


def _energy_poly(node: float, vdd: float) -> float:
    x = _index(node)
    x0, x1 = math.floor(x), math.ceil(x)
    e0 = sum(c * vdd ** (2 - k) for k, c in enumerate(ENERGY_POLY[x0]))
    e1 = sum(c * vdd ** (2 - k) for k, c in enumerate(ENERGY_POLY[x1]))
    return e0 * (1 - (x - x0)) + e1 * (x - x0)


@lru_cache(maxsize=256)
def energy_scale(to_nm: float, from_nm: float, vdd: float | None = None, from_vdd: float | None = None) -> float:
    """Factor turning a dynamic energy quoted at ``from_nm`` (supply ``from_vdd``) into one at ``to_nm``
    (supply ``vdd``); both supplies default to 0.8 V."""
    t, rt = _clamp(to_nm)
    f, rf = _clamp(from_nm)
    vt = REFERENCE_VDD if vdd is None else vdd
    vf = REFERENCE_VDD if from_vdd is None else from_vdd
    return _energy_poly(t, vt) / _energy_poly(f, vf) * (rt / rf) ** 0.5


def leak_scale(to_nm: float, from_nm: float, vdd: float | None = None, from_vdd: float | None = None) -> float:
    """Leakage power scales like dynamic energy (hwcomponents' convention)."""
    return energy_scale(to_nm, from_nm, vdd, from_vdd)


def latency_scale(to_nm: float, from_nm: float) -> float:
    """Gate/wire-limited delays scale linearly with the node."""
    return to_nm / from_nm
