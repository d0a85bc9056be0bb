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

Tabulation for speed: at load every table is reduced to its mean and std per G bin (moments of the
quantile function, trapezoid rule over the CDF points) and resampled onto a grid of ``NU`` points over
the used range, normalised as above. An update then costs an index computation and two 1-D gathers on
the block. **Sampling: Gaussian with the tabulated mean and std per bin** (not inverse-transform
sampling of the full CDF): it keeps the state dependence of mean and spread, not the skew.

Several folders = device-to-device spread: each cell is assigned one table at random (fixed).
"""
from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from pimtrain.design.errors import PimtrainError
from pimtrain.design.paths import resolve_data_path

from .base import DeviceModel, Request

NU = 512  # resampled grid points over the used conductance range
FIELD = "device.lookup.paths"


@dataclass(frozen=True)
class LookupTable:
    """One measured table: ``g_bins`` (nb,), ``cdf`` (nc,), ``dg`` (nc, nb), all in SI units."""

    g_bins: np.ndarray
    cdf: np.ndarray
    dg: np.ndarray

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std of ΔG per G bin (S), integrating the quantile function over the CDF points."""
        p = self.cdf
        w = np.diff(p)[:, None]
        mid = 0.5 * (self.dg[1:] + self.dg[:-1])
        mid2 = 0.5 * (self.dg[1:] ** 2 + self.dg[:-1] ** 2)
        total = p[-1] - p[0]
        mean = (w * mid).sum(0) / total
        var = (w * mid2).sum(0) / total - mean ** 2
        return mean, np.sqrt(np.maximum(var, 0.0))


def read_table(path: str | Path) -> LookupTable:
    """Parse one table file (plain or ``.gz``)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt") as fh:
            fh.readline()  # header sentence
            g_bins = _numbers(fh.readline())
            cdf = _numbers(fh.readline())
            rest = _numbers(fh.read())
    except (OSError, ValueError) as exc:
        raise PimtrainError(f"{FIELD}: cannot read lookup table {str(path)!r}: {exc}") from None
    nb, nc = g_bins.size, cdf.size
    if nb < 2 or nc < 2 or rest.size != nb * nc:
        raise PimtrainError(
            f"{FIELD}: {str(path)!r} is not a ΔG-vs-G table (expected {nc} rows of {nb} values after the G and CDF rows, got {rest.size} values)"
        )
    return LookupTable(g_bins, cdf, rest.reshape(nc, nb))


def _numbers(text: str) -> np.ndarray:
    return np.array(text.replace(",", " ").split(), dtype=np.float64)


def _find(folder: Path, stem: str) -> Path:
    for name in (f"{stem}.txt", f"{stem}.txt.gz"):
        if (folder / name).is_file():
            return folder / name
    raise PimtrainError(f"{FIELD}: {str(folder)!r} has no {stem}.txt or {stem}.txt.gz")


@lru_cache(maxsize=64)
def _load_folder(folder: str) -> tuple[LookupTable, LookupTable]:
    f = Path(folder)
    return read_table(_find(f, "dG_increasing")), read_table(_find(f, "dG_decreasing"))


def load_device_tables(text: str, relative_to: str | None = None) -> tuple[LookupTable, LookupTable]:
    """(increasing, decreasing) tables of one device folder given as in the design."""
    folder = resolve_data_path(text, relative_to=relative_to, field=FIELD)
    if folder.is_file():  # a file given: use its folder
        folder = folder.parent
    return _load_folder(str(folder.resolve()))


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
        S = np.zeros((len(tables), 2, NU))
        avgs = []
        for t, pair in enumerate(tables):
            span = gmax_t[t] - gmin_t[t]
            g = gmin_t[t] + u * span
            for k, (tab, sign) in enumerate(zip(pair, (1.0, -1.0))):
                mean, std = tab.moments()
                m = np.interp(g, tab.g_bins, mean) / span
                s = np.interp(g, tab.g_bins, std) / span
                avg = float(np.abs(m[central]).mean())
                if not avg > 0:
                    raise PimtrainError(f"{FIELD}: table {lk.paths[t]!r} has zero mean step in its central range")
                F[t, k] = sign * m / avg
                S[t, k] = s / np.sqrt(avg)
                avgs.append(avg)
        #: mean pulse step over the central range (fraction of range): the table's own dw_min
        self.dw_min = float(np.mean(avgs))
        self.F = torch.tensor(F.reshape(-1), dtype=torch.float32, device=self.device)
        self.S = torch.tensor(S.reshape(-1), dtype=torch.float32, device=self.device)
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
        s = self.S.index_select(0, flat).view(idx.shape)
        z = self.noise.normal(idx.shape)
        if req.factored:
            delta = f.mul_(req.b).mul_(req.a)
            s.mul_(z).mul_(req.sqrt_b)
            return delta.addcmul_(s, req.sqrt_a)
        delta = f.mul_(req.r)
        return delta.addcmul_(s.mul_(z), req.sqrt_abs)

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
        self.F, self.S = self.F.to(self.device), self.S.to(self.device)
        self._half = self._half.to(self.device)
        if self.table_offset is not None:
            self.table_offset = self.table_offset.to(self.device)
        return self

    def describe(self):
        return f"lookup_table ({self.n_tables} tables, Gaussian mean+std per bin)"
