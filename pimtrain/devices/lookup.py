"""Measured ΔG-vs-G lookup tables (CrossSim's CDF format) and the device that samples them.

File format (plain text or gzip, commas and/or whitespace between numbers)::

    <one header line>
    G bin centres (S), nb values
    CDF points in [0, 1], nc values
    nc rows of nb values: ΔG (S) at that cumulative probability for each G bin

A device folder holds ``dG_increasing.txt[.gz]`` (SET pulses) and ``dG_decreasing.txt[.gz]`` (RESET).

Update rule (CrossSim manual §6.7.1): the mean ΔG at the cell's current G is scaled by
``|requested| / average step`` (average over the central half of the used range); the pulse-to-pulse
noise (the table's std at that G) by the square root of that factor (random walk).

Tabulation for speed: every table is reduced to ``NQ`` quantiles of ΔG per conductance bin
(:func:`quantile_table`; the data shipped in ``pimtrain/data/devices`` is this reduction, written by
``scripts/derive_device_data.py``), and resampled at load onto a grid of ``NU`` points over the used
range, normalised as above: the mean per grid point and the deviations of the quantiles from it.
**Sampling is inverse-CDF**: each pulse picks one of the ``NQ`` equally likely quantiles
(probabilities ``(k + 1/2) / NQ``) of the bin at the cell's conductance, so the skew and tails of the
measured response are kept, not only its mean and spread. An update costs an index computation and two
1-D gathers on the block.

Several folders = device-to-device spread: each cell is assigned one table at random (fixed).
"""
from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from pimtrain.design.errors import PimtrainError
from pimtrain.design.paths import resolve_data_path

from .base import DeviceModel, Request

NU = 512  # resampled grid points over the used conductance range
NQ = 64  # quantiles of ΔG per conductance bin (a power of two: drawn from random bytes)
FIELD = "device.lookup.paths"


@dataclass(frozen=True)
class LookupTable:
    """One measured table: ``g_bins`` (nb,), ``cdf`` (nc,), ``dg`` (nc, nb), all in SI units."""

    g_bins: np.ndarray
    cdf: np.ndarray
    dg: np.ndarray



@dataclass(frozen=True)
class QuantileTable:
    """A table reduced for inverse-CDF sampling: ``dq[j, b]`` = ΔG (S) at probability ``probs[j]`` in bin b."""

    g_bins: np.ndarray
    probs: np.ndarray
    dq: np.ndarray


def quantile_table(table: LookupTable, nq: int = NQ) -> QuantileTable:
    """``nq`` mid-probability quantiles ``(k + 1/2) / nq`` of ΔG per G bin (linear in the table's CDF)."""
    probs = (np.arange(nq) + 0.5) / nq
    dq = np.empty((nq, table.g_bins.size))
    for b in range(table.g_bins.size):
        dq[:, b] = np.interp(probs, table.cdf, table.dg[:, b])
    return QuantileTable(table.g_bins.copy(), probs, dq)


def read_table(path: str | Path) -> LookupTable:
    """Parse one table file (plain or ``.gz``); every number must be finite, G and CDF rows increasing."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            fh.readline()  # header sentence
            g_bins = _numbers(fh.readline())
            cdf = _numbers(fh.readline())
            rest = _numbers(fh.read(64 << 20))
    except (OSError, ValueError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        kind = "truncated or corrupt" if isinstance(exc, (EOFError, zlib.error)) else "unreadable"
        raise PimtrainError(f"{FIELD}: cannot read lookup table {str(path)!r} ({kind}: {exc})") from None
    nb, nc = g_bins.size, cdf.size
    if nb < 2 or nc < 2 or rest.size != nb * nc:
        raise PimtrainError(
            f"{FIELD}: {str(path)!r} is not a ΔG-vs-G table (expected {nc} rows of {nb} values after the G and CDF rows, got {rest.size} values)"
        )
    _check_table(path, g_bins, cdf, rest)
    return LookupTable(g_bins, cdf, rest.reshape(nc, nb))


def _check_table(path, g_bins, probs, values) -> None:
    if not (np.isfinite(g_bins).all() and np.isfinite(probs).all() and np.isfinite(values).all()):
        raise PimtrainError(f"{FIELD}: {str(path)!r} holds a non-finite number (inf or nan); every entry must be finite")
    if not (np.diff(g_bins) > 0).all() or g_bins[0] < 0:
        raise PimtrainError(f"{FIELD}: {str(path)!r}: the conductance bins must be non-negative and increasing")
    if not ((np.diff(probs) >= 0).all() and probs[0] >= 0 and probs[-1] <= 1 and probs[-1] > probs[0]):
        raise PimtrainError(f"{FIELD}: {str(path)!r}: the CDF points must rise from within [0, 1]")


def _numbers(text: str) -> np.ndarray:
    return np.array(text.replace(",", " ").split(), dtype=np.float64)


def _find(folder: Path, stem: str) -> Path:
    for name in (f"{stem}.txt", f"{stem}.txt.gz"):
        if (folder / name).is_file():
            return folder / name
    raise PimtrainError(f"{FIELD}: {str(folder)!r} has no {stem}.txt or {stem}.txt.gz")


def read_quantiles(path: str | Path) -> tuple[QuantileTable, QuantileTable]:
    """(increasing, decreasing) of a derived ``.npz`` (as shipped in ``pimtrain/data/devices``)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            probs = z["probs"].astype(np.float64)
            pair = tuple(QuantileTable(z[f"{k}_g_bins"].astype(np.float64), probs, z[f"{k}_quantiles"].astype(np.float64))
                         for k in ("increasing", "decreasing"))
    except (OSError, ValueError, KeyError, EOFError, zlib.error) as exc:
        raise PimtrainError(f"{FIELD}: cannot read derived table {str(path)!r}: {exc}") from None
    for q in pair:
        if q.dq.shape != (probs.size, q.g_bins.size) or q.g_bins.size < 2:
            raise PimtrainError(f"{FIELD}: {str(path)!r}: quantile array shape {q.dq.shape} does not match its bins")
        _check_table(path, q.g_bins, q.probs, q.dq)
    return pair


@lru_cache(maxsize=64)
def _load(path: str) -> tuple[QuantileTable, QuantileTable]:
    p = Path(path)
    if p.suffix == ".npz":
        return read_quantiles(p)
    if p.is_file():  # a file given: use its folder
        p = p.parent
    return quantile_table(read_table(_find(p, "dG_increasing"))), quantile_table(read_table(_find(p, "dG_decreasing")))


def load_device_tables(text: str, relative_to: str | None = None) -> tuple[QuantileTable, QuantileTable]:
    """(increasing, decreasing) quantile tables of one device given as in the design: a raw folder
    (CrossSim layout), a derived ``.npz``, or ``package:`` / ``shared:`` names (``pimtrain.design.paths``)."""
    path = resolve_data_path(text, relative_to=relative_to, field=FIELD)
    return _load(str(path.resolve()))


class LookupTableDevice(DeviceModel):
    """Device following measured tables; see the module docstring for the rule and the sampling."""

    name = "lookup_table"

    def __init__(self, spec, cell_shape, generator, noise=None, device="cpu", base_path: str | None = None):
        super().__init__(spec, cell_shape, generator, noise, device)
        lk = spec.lookup
        tables = [load_device_tables(p, base_path) for p in lk.paths]
        lo_t = np.array([max(i.g_bins[0], d.g_bins[0]) for i, d in tables])
        hi_t = np.array([min(i.g_bins[-1], d.g_bins[-1]) for i, d in tables])
        f0, f1 = lk.range_fraction
        if lk.g_range == "common":
            lo, hi = lo_t.max(), hi_t.min()
            if hi <= lo:
                raise PimtrainError(f"{FIELD}: the tables share no conductance range; use g_range: table")
            lo_t, hi_t = np.full_like(lo_t, lo), np.full_like(hi_t, hi)
        gmin_t = lo_t + f0 * (hi_t - lo_t)
        gmax_t = lo_t + f1 * (hi_t - lo_t)
        self.g_min_t, self.g_max_t = gmin_t, gmax_t
        self.g_min, self.g_max = float(gmin_t.mean()), float(gmax_t.mean())
        u = np.linspace(0.0, 1.0, NU)
        central = (u >= 0.25) & (u <= 0.75)
        F = np.zeros((len(tables), 2, NU))
        D = np.zeros((len(tables), 2, NU, NQ))
        avgs = []
        for t, pair in enumerate(tables):
            span = gmax_t[t] - gmin_t[t]
            g = gmin_t[t] + u * span
            for k, (tab, sign) in enumerate(zip(pair, (1.0, -1.0))):
                if tab.dq.shape[0] != NQ:
                    raise PimtrainError(f"{FIELD}: table {lk.paths[t]!r} has {tab.dq.shape[0]} quantiles per bin, expected {NQ}")
                qg = np.stack([np.interp(g, tab.g_bins, row) for row in tab.dq]) / span  # (NQ, NU)
                m = qg.mean(0)
                avg = float(np.abs(m[central]).mean())
                if not (np.isfinite(avg) and avg > 0):
                    raise PimtrainError(f"{FIELD}: table {lk.paths[t]!r} has zero mean step in its central range")
                F[t, k] = sign * m / avg
                D[t, k] = ((qg - m) / np.sqrt(avg)).T
                avgs.append(avg)
        #: mean pulse step over the central range (fraction of range): the table's own dw_min
        self.dw_min = float(np.mean(avgs))
        self.F = torch.tensor(F.reshape(-1), dtype=torch.float32, device=self.device)
        self.D = torch.tensor(D.reshape(-1), dtype=torch.float32, device=self.device)
        self._half = torch.tensor(0.5 * (NU - 1) + 0.5, device=self.device)
        self.n_tables = len(tables)
        self.table_offset = None
        if self.n_tables > 1:
            tid = torch.randint(0, self.n_tables, self.cell_shape, generator=generator, device=self.device)
            self.table_offset = tid.mul_(2 * NU).to(torch.int32)

    def mean_step(self, c: torch.Tensor, req: Request, rows):
        # state is within [-0.5, 0.5] so the bin index needs no clamp: round(u (NU-1))
        idx = torch.add(self._half, c, alpha=NU - 1).to(torch.int32)  # int32: 3x faster cast on CPU
        idx.add_(req.negative(), alpha=NU)
        if self.table_offset is not None:
            idx.add_(self._rows(self.table_offset, rows))
        flat = idx.view(-1)  # index_select on a flat view is ~2x faster than take on CPU
        f = self.F.index_select(0, flat).view(idx.shape)
        flat.mul_(NQ).add_(self.noise.quantile_index(flat.shape, NQ))  # inverse CDF: one of NQ quantiles
        dev = self.D.index_select(0, flat).view(idx.shape)
        if req.factored:
            delta = f.mul_(req.b).mul_(req.a)
            dev.mul_(req.sqrt_b)
            return delta.addcmul_(dev, req.sqrt_a)
        delta = f.mul_(req.r)
        return delta.addcmul_(dev, req.sqrt_abs)

    def noise_step(self, delta, c, req, rows):  # the table's own spread was added in mean_step
        return None

    def tensors(self):
        out = super().tensors()
        if self.table_offset is not None:
            out["table_offset"] = self.table_offset
        return out

    def load_tensors(self, sd):
        super().load_tensors(sd)
        if "table_offset" in sd:
            self.table_offset = sd["table_offset"].to(self.device, torch.int32)

    def to(self, device):
        super().to(device)
        self.F, self.D = self.F.to(self.device), self.D.to(self.device)
        self._half = self._half.to(self.device)
        if self.table_offset is not None:
            self.table_offset = self.table_offset.to(self.device)
        return self

    def describe(self):
        return f"lookup_table ({self.n_tables} tables, inverse-CDF sampling of {NQ} quantiles per bin)"
