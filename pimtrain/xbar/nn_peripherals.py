"""Neural-approximated peripherals of Neural-PIM (Cao et al., IEEE TC 2022): NNS+A and NNADC.

Both are small neural networks built from RRAM crossbars (weights) and CMOS inverters (neurons),
trained here with torch the way the paper describes (docs/sources.md §4.2 [S]): **3-bit weights** and
**Gaussian weight variation σ = 0.025** injected during training. A weight is a differential pair of
3-bit cells, ``w = α (g⁺ − g⁻)`` with ``g ∈ {0, 1/7, …, 1}`` (15 levels in [−α, α]); variation
multiplies each cell's programmed conductance by ``1 + N(0, σ²)`` (relative variation: assumed, the
paper's card does not say relative or absolute; an absolute σ on cells programmed to zero would
dominate the NNS+A error). Training uses the straight-through
estimator for the 3-bit rounding and a fresh variation draw at every step (noise-aware training).
After training, the nominal network (3-bit weights, no variation) is the *learned transfer*; a chip
instance draws one variation sample per peripheral instance (:meth:`instance`).

- :class:`NNSA` — analog shift-and-add stage ``f(a, b) ≈ (a + (base−1)·b)/base`` on ``[−1, 1]²``:
  crossbar ``[a, b, 1] → H`` inverter neurons (``tanh``: the normalised inverter-amplifier transfer,
  linear near 0, saturating) ``→`` output crossbar (read by a TIA). A cascade of these, LSB first,
  adds up bit-serial cycles and bit lines (:mod:`pimtrain.xbar.dataflow`, dataflow ``neuralpim``).
- :class:`NNADC` — a two-stage pipelined converter (the architecture of Cao et al. DATE 2020, the
  NNADC's ancestor): stage 1 is a learned flash of ``2^b1 − 1`` inverter neurons whose thresholds
  are set by 3-bit weights on the input row and two reference rails (1 and 1/8: a finer rail gives
  thresholds finer than 3 bits); the residue ``2^b1·v − Σ h_j`` (gain stage ideal, assumed; the
  subtraction by unit RRAM cells, with variation) goes to stage 2, a learned flash of ``2^(b2+1) − 1``
  neurons over ``[−½, 3/2]`` (one bit of redundancy), and the digital output is
  ``2^b2·code1 + code2 − 2^(b2−1)`` (digital error correction). ``b1 + b2 = bits``.

Training keeps the best iterate on a fixed validation set under fixed variation draws (the straight-through
iterates of 3-bit cells wander; the last one is not the best). ``copies``: each weight of the NNADC is built
of that many differential cell pairs in parallel, programmed alike; their relative variations average, so the
weight's variation is ``σ/√copies`` (exact for independent Gaussian draws) and the converter holds ``copies``×
the cells (the cost charges them, :class:`pimtrain.cost.periphery.NeuralADC` ``copies``). The stored set:
a 24-neuron NNS+A and an 8-bit NNADC of 4 copies (measured: full-scale sine SINAD of the chain 43.3 dB,
against 37.3 dB for the earlier 16-neuron NNS+A and single-copy NNADC; ``python -m
pimtrain.xbar.nn_peripherals --train`` retrains and stores them).

Cost (the ``analog_accumulator`` and ``neural_adc`` components of :mod:`pimtrain.cost.periphery`) follows
from the crossbar cells and inverters of each network, :func:`pimtrain.mapping.nn_shift_add_size` and
:func:`pimtrain.mapping.nn_adc_size` (× ``copies``).
"""
from __future__ import annotations

import copy as _copy
import json
import math
import os
import tempfile
from pathlib import Path

import torch

from pimtrain.design import PimtrainError
from pimtrain.mapping import nn_adc_size, nn_shift_add_size

WEIGHT_BITS = 3          # docs/sources.md §4.2 [S]: 3-bit RRAM weights
VARIATION = 0.025        # docs/sources.md §4.2 [S]: Gaussian weight variation σ = 0.025
_LEVELS = (1 << WEIGHT_BITS) - 1
RAIL_FINE = 1.0 / 8.0    # second reference rail of the NNADC flash (assumed)
DATA_FILE = Path(__file__).with_name("data") / "nn_peripherals.json"
SA_HIDDEN = 24           # inverter neurons of the stored NNS+A (16 gave 37.3 dB chain SINAD, 24: 43.3 dB)
ADC_COPIES = 4           # parallel cell pairs per NNADC weight (variation sigma/2)


def quantize_cells(g: torch.Tensor) -> torch.Tensor:
    """3-bit cell conductances in [0, 1] with a straight-through gradient."""
    q = torch.round(g.clamp(0, 1) * _LEVELS) / _LEVELS
    return g + (q - g).detach()


class XbarWeights(torch.nn.Module):
    """A crossbar of differential 3-bit cell pairs: ``w = α (g⁺ − g⁻)``, shape ``shape``."""

    def __init__(self, shape, alpha: float, gen: torch.Generator, init_std: float = 0.3):
        super().__init__()
        w0 = torch.randn(shape, generator=gen) * init_std
        self.gp = torch.nn.Parameter((0.5 + w0 / 2).clamp(0, 1))
        self.gn = torch.nn.Parameter((0.5 - w0 / 2).clamp(0, 1))
        self.alpha = float(alpha)

    def weight(self, variation: float = 0.0, gen: torch.Generator | None = None, noise=None) -> torch.Tensor:
        gp, gn = quantize_cells(self.gp), quantize_cells(self.gn)
        if noise is not None:  # relative variation of each programmed conductance (assumed: g·(1 + ε))
            gp, gn = gp * (1 + noise[0]), gn * (1 + noise[1])
        elif variation > 0:
            gp = gp * (1 + torch.randn(gp.shape, generator=gen) * variation)
            gn = gn * (1 + torch.randn(gn.shape, generator=gen) * variation)
        return self.alpha * (gp - gn)

    def cells(self) -> int:
        return 2 * self.gp.numel()


def _adam(params, steps: int, lr: float, loss_fn, free=(), val_fn=None, module=None, every: int = 50):
    """Adam on cell conductances (clamped to [0, 1]) and on ``free`` float parameters (amplifier gains).

    With ``val_fn`` (a deterministic loss) and ``module``, the state with the lowest validation loss, checked
    every ``every`` steps, is restored at the end and its validation loss returned."""
    opt = torch.optim.Adam([*params, *free], lr=lr)
    best = (math.inf, None)
    for i in range(steps):
        opt.zero_grad()
        loss = loss_fn(i)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for p in params:
                p.clamp_(0, 1)
            if val_fn is not None and (i + 1) % every == 0:
                v = float(val_fn())
                if v < best[0]:
                    best = (v, _copy.deepcopy(module.state_dict()))
    if best[1] is not None:
        module.load_state_dict(best[1])
        return best[0]
    return float(loss.detach())


# ================================================================================================ NNS+A
class NNSA(torch.nn.Module):
    """Analog shift-and-add stage ``f(a, b) ≈ (a + (base−1) b)/base`` (see the module docstring)."""

    def __init__(self, base: int = 2, hidden: int = 16, seed: int = 0, out_gain: float = 16.0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.base, self.hidden, self.out_gain = int(base), int(hidden), float(out_gain)
        self.l1 = XbarWeights((3, hidden), alpha=1.0, gen=gen)
        self.l2 = XbarWeights((hidden + 1, 1), alpha=out_gain / hidden, gen=gen)
        self.inst = None  # per-instance variation draws (n, ...) set by instance()
        # output amplifier gain (the TIA's feedback resistor, a design choice, not an RRAM weight): trained in float
        self.gain = torch.nn.Parameter(torch.tensor(4.0))
        self.in_gain = torch.nn.Parameter(torch.tensor(0.25))  # input attenuation: keeps the inverters linear
        with torch.no_grad():  # start from the linear region: h ≈ (a + (base-1) b)/7, out ≈ Σ o_j h_j
            u = 1.0 / _LEVELS
            for xb in (self.l1, self.l2):
                xb.gp.zero_()
                xb.gn.zero_()
            self.l1.gp[0].fill_(u)
            self.l1.gp[1].fill_(min((base - 1) * u, 1.0))
            need = (_LEVELS / min(base - 1, _LEVELS)) / base * (base - 1) / self.l2.alpha  # Σ o_j in cell units
            per = need / hidden
            lo = math.floor(per * _LEVELS) / _LEVELS
            n_hi = round((need - lo * hidden) * _LEVELS)
            self.l2.gp[:hidden, 0] = lo
            self.l2.gp[:n_hi, 0] = lo + 1.0 / _LEVELS

    def target(self, a, b):
        return (a + (self.base - 1) * b) / self.base

    def _forward(self, a, b, w1, w2):
        z = torch.stack([a * self.in_gain, b * self.in_gain, torch.ones_like(a)], dim=-1)
        h = torch.tanh(z @ w1)
        return torch.cat([h, torch.ones_like(h[..., :1])], dim=-1) @ w2

    def forward(self, a, b, variation: float = 0.0, gen=None):
        return self.gain * self._forward(a, b, self.l1.weight(variation, gen), self.l2.weight(variation, gen))[..., 0]

    def fit(self, steps: int = 3000, batch: int = 512, seed: int = 0, lr: float = 0.002) -> float:
        """Noise-aware training; keeps the iterate with the least error on 2048 fixed points under 4 fixed
        variation draws (returns that mean squared error)."""
        gen = torch.Generator().manual_seed(seed + 1)
        vg = torch.Generator().manual_seed(seed + 99)
        va, vb = torch.rand(2048, generator=vg) * 2 - 1, torch.rand(2048, generator=vg) * 2 - 1

        def loss(i):
            a = torch.rand(batch, generator=gen) * 2 - 1
            b = torch.rand(batch, generator=gen) * 2 - 1
            return (self(a, b, VARIATION, gen) - self.target(a, b)).pow(2).mean()

        def val():
            t = self.target(va, vb)
            return sum(float((self(va, vb, VARIATION, torch.Generator().manual_seed(k)) - t).pow(2).mean())
                       for k in range(4)) / 4

        return _adam([self.l1.gp, self.l1.gn, self.l2.gp, self.l2.gn], steps, lr, loss, free=[self.gain, self.in_gain],
                     val_fn=val, module=self)

    def instance(self, n: int, seed: int = 0) -> "NNSA":
        """Draw ``n`` chip instances of the variation (applied per output column, column % n)."""
        gen = torch.Generator().manual_seed(seed + 7)
        self.inst = [(torch.randn((n, *self.l1.gp.shape), generator=gen) * VARIATION,
                      torch.randn((n, *self.l1.gn.shape), generator=gen) * VARIATION),
                     (torch.randn((n, *self.l2.gp.shape), generator=gen) * VARIATION,
                      torch.randn((n, *self.l2.gn.shape), generator=gen) * VARIATION)]
        return self

    def __call__(self, a, b, variation: float = 0.0, gen=None):  # noqa: D401 - module call
        if self.training or self.inst is None or variation:
            return super().__call__(a, b, variation, gen)
        with torch.no_grad():
            return self._instances(a, b)

    def _instances(self, a, b):
        n = self.inst[0][0].shape[0]
        cols = a.shape[-1]
        idx = torch.arange(cols) % n
        w1 = self.l1.weight(noise=(self.inst[0][0][idx], self.inst[0][1][idx]))  # (cols, 3, H)
        w2 = self.l2.weight(noise=(self.inst[1][0][idx], self.inst[1][1][idx]))  # (cols, H+1, 1)
        z = torch.stack([a * self.in_gain, b * self.in_gain, torch.ones_like(a)], dim=-1)  # (..., cols, 3)
        h = torch.tanh(torch.einsum("...ci,cih->...ch", z, w1))
        h = torch.cat([h, torch.ones_like(h[..., :1])], dim=-1)
        return self.gain * torch.einsum("...ch,cho->...co", h, w2)[..., 0]

    def size(self) -> dict:
        """Cells and inverters the cost charges (:func:`pimtrain.mapping.nn_shift_add_size`, the layers' own count)."""
        return {**nn_shift_add_size(self.hidden), "tias": 1}

    def built_cells(self) -> int:
        """Cells of the layers as built (equal to ``size()['cells']``; a test)."""
        return self.l1.cells() + self.l2.cells()

    def to_dict(self) -> dict:
        return {"base": self.base, "hidden": self.hidden, "out_gain": self.out_gain,
                "cells": {k: v.detach().tolist() for k, v in self.state_dict().items()}}

    @classmethod
    def from_dict(cls, d: dict) -> "NNSA":
        m = cls(d["base"], d["hidden"], out_gain=d.get("out_gain", 16.0))
        m.load_state_dict({k: torch.tensor(v) for k, v in d["cells"].items()})
        return m.eval()


# ================================================================================================ NNADC
class FlashStage(torch.nn.Module):
    """Learned flash sub-ADC: ``n`` inverter neurons ``step(w v + c0·1 + c1·RAIL_FINE)``, code = Σ h."""

    def __init__(self, n: int, lo: float, hi: float, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.n, self.lo, self.hi = int(n), float(lo), float(hi)
        self.x = XbarWeights((3, n), alpha=1.0, gen=gen, init_std=0.0)
        with torch.no_grad():  # start at w = 1, c0 = coarse −threshold, c1 = the remainder on the fine rail
            t = (torch.arange(1, n + 1) / (n + 1)).float()
            c0 = torch.round(-t * _LEVELS) / _LEVELS
            c1 = ((-t - c0) / RAIL_FINE).clamp(-1, 1)
            self.x.gp.zero_()
            self.x.gn.zero_()
            self.x.gp[0].fill_(1.0)
            self.x.gp[1], self.x.gn[1] = c0.clamp(min=0), (-c0).clamp(min=0)
            self.x.gp[2], self.x.gn[2] = c1.clamp(min=0), (-c1).clamp(min=0)

    def ideal_thresholds(self) -> torch.Tensor:
        return torch.arange(1, self.n + 1).float() / (self.n + 1)

    def z(self, u, w):
        rails = torch.stack([u, torch.ones_like(u), torch.full_like(u, RAIL_FINE)], dim=-1)
        return rails @ w

    def soft(self, u, variation=0.0, gen=None, temp=0.01):
        return torch.sigmoid(self.z(u, self.x.weight(variation, gen)) / temp).sum(-1)

    def hard(self, u, w=None):
        w = self.x.weight() if w is None else w
        return (self.z(u, w) > 0).float()

    def fit(self, steps: int = 300, batch: int = 1024, seed: int = 0, temp: float = 0.05, sigma: float = VARIATION) -> float:
        """Each neuron learns to fire above its ideal threshold (binary cross-entropy per neuron), under the
        variation ``sigma`` of its weights."""
        gen = torch.Generator().manual_seed(seed + 3)
        t = self.ideal_thresholds()

        def loss(i):
            u = torch.rand(batch, generator=gen)
            z = self.z(u, self.x.weight(sigma, gen)) / temp
            return torch.nn.functional.binary_cross_entropy_with_logits(z, (u[:, None] > t).float())

        return _adam([self.x.gp, self.x.gn], steps, 0.0003, loss)

    def thresholds(self, w=None) -> torch.Tensor:
        """Input value where each neuron switches: −(c0 + c1·RAIL_FINE)/w."""
        w = self.x.weight() if w is None else w
        return -(w[1] + w[2] * RAIL_FINE) / w[0].where(w[0].abs() > 1e-9, torch.full_like(w[0], 1e-9))


class NNADC(torch.nn.Module):
    """Two-stage pipelined neural ADC of ``bits`` bits on inputs in [0, 1] (see the module docstring)."""

    def __init__(self, bits: int = 8, seed: int = 0, copies: int = 1):
        super().__init__()
        if bits < 2:
            raise PimtrainError(f"NNADC bits: {bits} is too few; allowed: >= 2")
        if not (isinstance(copies, int) and 1 <= copies <= 64):
            raise PimtrainError(f"NNADC copies: {copies!r}; allowed: an integer 1..64")
        self.bits, self.copies = int(bits), int(copies)
        self.sigma = VARIATION / math.sqrt(self.copies)  # a weight of `copies` parallel pairs: variations average
        self.b1 = self.bits // 2
        self.b2 = self.bits - self.b1
        self.s1 = FlashStage((1 << self.b1) - 1, 0.0, 1.0, seed)
        self.s2 = FlashStage((1 << (self.b2 + 1)) - 1, -0.5, 1.5, seed + 1)
        self.unit_var: torch.Tensor | None = None  # residue-DAC unit-cell variation of one instance
        self.inst_w = None

    def fit(self, seed: int = 0) -> float:
        return self.s1.fit(seed=seed, sigma=self.sigma) + self.s2.fit(seed=seed + 11, sigma=self.sigma)

    def instance(self, seed: int = 0) -> "NNADC":
        """One chip instance: variation drawn once on every cell (flash and residue subtraction)."""
        gen = torch.Generator().manual_seed(seed + 5)
        self.inst_w = (self.s1.x.weight(self.sigma, gen), self.s2.x.weight(self.sigma, gen))
        self.unit_var = torch.randn(self.s1.n, generator=gen) * self.sigma
        return self

    def nominal(self) -> "NNADC":
        self.inst_w, self.unit_var = None, None
        return self

    @torch.no_grad()
    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """Integer codes in [0, 2^bits − 1] for inputs u in [0, 1]."""
        shape = u.shape
        u = u.reshape(-1).clamp(0, 1)
        w1, w2 = self.inst_w if self.inst_w is not None else (None, None)
        h1 = self.s1.hard(u, w1)
        code1 = h1.sum(-1)
        unit = 1.0 + (self.unit_var if self.unit_var is not None else 0.0)
        r = u * (1 << self.b1) - (h1 * unit).sum(-1)  # residue in stage-1 LSBs (ideally [0, 1))
        code2 = self.s2.hard(((r + 0.5) / 2).clamp(0, 1), w2).sum(-1)
        code = code1 * (1 << self.b2) + code2 - (1 << (self.b2 - 1))
        return code.clamp(0, (1 << self.bits) - 1).reshape(shape)

    def size(self) -> dict:
        """Crossbar cells (flash rails + residue unit cells) and inverters of one converter, as the cost charges
        them (:func:`pimtrain.mapping.nn_adc_size` × ``copies``)."""
        s = nn_adc_size(self.bits)
        return {"cells": s["cells"] * self.copies, "inverters": s["inverters"], "tias": 1}

    def built_cells(self) -> tuple[int, int]:
        """(cells, inverters) of the stages as built (equal to ``size()``; a test)."""
        return (self.s1.x.cells() + self.s2.x.cells() + self.s1.n) * self.copies, self.s1.n + self.s2.n

    def to_dict(self) -> dict:
        return {"bits": self.bits, "copies": self.copies,
                "cells": {k: v.detach().tolist() for k, v in self.state_dict().items()}}

    @classmethod
    def from_dict(cls, d: dict) -> "NNADC":
        m = cls(d["bits"], copies=int(d.get("copies", 1)))
        m.load_state_dict({k: torch.tensor(v) for k, v in d["cells"].items()})
        return m.eval()


def transfer_quality(adc: NNADC, points: int = 4096) -> dict:
    """Monotonicity and the fraction of the input range within one LSB of the ideal quantiser."""
    u = (torch.arange(points, dtype=torch.float32) + 0.5) / points
    code = adc(u)
    codes = (1 << adc.bits) - 1
    ideal = torch.round(u * codes)
    err = (code - ideal).abs()
    return {"monotone": bool((code[1:] >= code[:-1]).all()), "within_1lsb": float((err <= 1).float().mean()),
            "max_error_lsb": float(err.max()), "mean_abs_error_lsb": float(err.mean())}


# ================================================================================================ store
class Peripherals:
    """Trained NNS+A stages (per base) and NNADCs (per resolution), with chip-instance variation."""

    def __init__(self, sa: dict[int, NNSA], adcs: dict[int, NNADC], instances: int = 16, seed: int = 0):
        self._sa, self._adc = sa, adcs
        for b, m in sa.items():
            m.eval().instance(instances, seed + b)
        for b, m in adcs.items():
            m.eval().instance(seed + 100 + b)

    def sa(self, base: int) -> NNSA:
        if base not in self._sa:
            raise PimtrainError(f"NNS+A for base {base} was not trained; allowed: {', '.join(map(str, self._sa))}")
        return self._sa[base]

    def adc(self, bits: int):
        if bits not in self._adc:
            raise PimtrainError(f"NNADC of {bits} bits was not trained; allowed: {', '.join(map(str, self._adc))}")
        m = self._adc[bits]
        return lambda u: m(u)


def check_design(design) -> None:
    """Refuse (one line naming the field) a learned converter the stored peripherals cannot provide: the NNS+A
    is trained per base (``2 ** array.bits_per_cell``), the NNADC per resolution (``io.*.adc_bits``)."""
    store = default_peripherals()
    base = 2 ** int(design.array.bits_per_cell or 1)
    for kernel in ("forward", "backward"):
        io = getattr(design.io, kernel)
        if io.converter != "learned":
            continue
        if base not in store._sa:
            raise PimtrainError(f"array.bits_per_cell: the learned shift-and-add of io.{kernel}.converter is trained for "
                                f"base {', '.join(map(str, store._sa))}; allowed: bits_per_cell "
                                f"{', '.join(str(b.bit_length() - 1) for b in store._sa)}, or converter 'sar'")
        if io.adc_bits is not None and io.adc_bits not in store._adc:
            raise PimtrainError(f"io.{kernel}.adc_bits: the learned ADC of io.{kernel}.converter is trained for "
                                f"{', '.join(map(str, store._adc))} bits; allowed: {', '.join(map(str, store._adc))}, or converter 'sar'")


def train_peripherals(bases=(2,), adc_bits=(8,), seed: int = 0, hidden: int = SA_HIDDEN, copies: int = ADC_COPIES) -> dict:
    """Train the NNS+A stages (``hidden`` neurons) and NNADCs (``copies`` cell pairs per weight); returns the
    JSON-able store (see :func:`save`). Seeded: the same arguments give the same cells."""
    torch.manual_seed(seed)
    sa, adcs, loss = {}, {}, {}
    for b in bases:
        m = NNSA(b, hidden=hidden, seed=seed + b)
        loss[f"nnsa{b}"] = m.fit(seed=seed + b)
        sa[b] = m
    for b in adc_bits:
        m = NNADC(b, seed=seed + b, copies=copies)
        loss[f"nnadc{b}"] = m.fit(seed=seed + b)
        adcs[b] = m
    return {"weight_bits": WEIGHT_BITS, "variation": VARIATION, "seed": seed, "final_loss": loss,
            "nnsa": {str(b): m.to_dict() for b, m in sa.items()},
            "nnadc": {str(b): m.to_dict() for b, m in adcs.items()}}


def save(store: dict, path: Path = DATA_FILE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(store, f)
    os.replace(tmp, path)


def load(path: Path = DATA_FILE) -> dict:
    return json.loads(Path(path).read_text())


_DEFAULT: Peripherals | None = None


def default_peripherals() -> Peripherals:
    """The stored trained peripherals (trained and stored on first use when the file is missing)."""
    global _DEFAULT
    if _DEFAULT is None:
        if DATA_FILE.exists():
            store = load()
        else:
            store = train_peripherals()
            save(store)
        _DEFAULT = Peripherals({int(b): NNSA.from_dict(d) for b, d in store["nnsa"].items()},
                               {int(b): NNADC.from_dict(d) for b, d in store["nnadc"].items()})
    return _DEFAULT


def main(argv=None) -> None:
    import argparse
    import time

    ap = argparse.ArgumentParser(description="train the NN peripherals and store them in pimtrain/xbar/data")
    ap.add_argument("--train", action="store_true", help="retrain (seeded) and overwrite the stored peripherals")
    ap.add_argument("--hidden", type=int, default=SA_HIDDEN, help="inverter neurons of the NNS+A")
    ap.add_argument("--copies", type=int, default=ADC_COPIES, help="parallel cell pairs per NNADC weight")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.train:
        t0 = time.perf_counter()
        store = train_peripherals(seed=args.seed, hidden=args.hidden, copies=args.copies)
        save(store)
        print(f"stored {DATA_FILE} ({DATA_FILE.stat().st_size} bytes) in {time.perf_counter() - t0:.1f} s; "
              f"final losses {store['final_loss']}")
    else:
        print(json.dumps({k: v for k, v in load().items() if k in ("weight_bits", "variation", "seed", "final_loss")}))


if __name__ == "__main__":  # pragma: no cover
    torch.set_num_threads(1)
    main()

__all__ = ["NNSA", "NNADC", "FlashStage", "Peripherals", "train_peripherals", "default_peripherals",
           "transfer_quality", "save", "load", "WEIGHT_BITS", "VARIATION", "SA_HIDDEN", "ADC_COPIES"]
