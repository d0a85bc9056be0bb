"""``DigitalCore``: numerics of digital PIM / SRAM designs (``design.compute == 'digital'``).

Weights and activations are stored and multiplied in the format ``design.digital`` gives:

- ``format: fixed`` with ``weight_bits``: weights rounded to a signed fixed-point grid over
  ``±array.w_max`` (``2**(bits-1) - 1`` magnitude levels), clipped there; ``activation_bits``: inputs of
  every kernel (x, d) rounded to a signed grid over their batch max |·|.
- ``bf16`` / ``fp16``: weights stored in that format (every write rounds to it, so updates smaller than
  half an ulp are lost, as in the hardware); activations rounded to it; products accumulated in fp32.
- ``fp32`` without bit widths: exact float (fast path).

The update is ``W ← round(W − lr dᵀx)`` for every rule (the digital array writes the new value).
"""
from __future__ import annotations

import torch

from pimtrain.design.models import Design

from .core import _Counters, log_once, make_generator, set_identity
from .quantizers import levels_for

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def round_to_format(t: torch.Tensor, fmt: str) -> torch.Tensor:
    """Round a float32 tensor to ``bf16`` / ``fp16`` (returned as float32); identity for fp32/fixed."""
    dt = _DTYPES.get(fmt)
    return t.to(dt).to(torch.float32) if dt is not None else t


class DigitalCore:
    """Same interface as :class:`~pimtrain.xbar.core.AnalogCore` for digital designs."""

    def __init__(self, weight: torch.Tensor, design: Design, layer_index: int = 0, seed: int | None = None):
        set_identity(self, weight, design, layer_index, seed)
        self.generator = make_generator(self.seed, self.layer_index, self.device)
        self.counters = _Counters()
        dg = design.digital
        self.fmt = dg.format
        self.w_levels = levels_for(dg.weight_bits) if dg.format == "fixed" else None
        self.a_levels = levels_for(dg.activation_bits) if dg.format == "fixed" else None
        self.w_max = float(design.array.w_max)
        self.exact = self._is_exact()
        self.w = self._store(weight.detach().to(torch.float32).clone().contiguous())
        self.fast_path = self._describe()
        log_once(f"pimtrain core [{design.name}]: {self.fast_path}")

    def _is_exact(self) -> bool:
        """True when the kernels equal float32 training (plain matmuls)."""
        return self.fmt in ("fp32", "fixed") and self.w_levels is None and self.a_levels is None

    def _describe(self) -> str:
        """What the kernels compute (logged once per design)."""
        dg = self.design.digital
        if self.exact:
            return "digital fp32: plain matmul (float-exact)"
        if self.fmt == "fixed":
            return f"digital fixed point: weights {dg.weight_bits or 32} b, activations {dg.activation_bits or 32} b"
        return f"digital {self.fmt}: rounded weights and activations, fp32 accumulation"

    @property
    def shape(self) -> tuple[int, int]:
        return (self.out_features, self.in_features)

    def _store(self, w: torch.Tensor) -> torch.Tensor:
        if self.w_levels is not None:
            n = self.w_levels
            return w.clamp_(-self.w_max, self.w_max).mul_(n / self.w_max).round_().mul_(self.w_max / n)
        return round_to_format(w, self.fmt)

    def _act(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(torch.float32)
        if self.a_levels is not None:
            n = self.a_levels
            r = x.abs().amax().clamp_min(1e-30)
            return torch.mul(x, n / r).round_().mul_(r / n)
        return round_to_format(x, self.fmt)

    def vmm(self, x: torch.Tensor) -> torch.Tensor:
        self.counters.ints["vmm_calls"] += 1
        return self._act(x) @ self.w.t()

    def mvm(self, d: torch.Tensor) -> torch.Tensor:
        self.counters.ints["mvm_calls"] += 1
        return self._act(d) @ self.w

    def opu(self, x: torch.Tensor, d: torch.Tensor, lr: float) -> None:
        if x.dim() == 1:
            x, d = x.unsqueeze(0), d.unsqueeze(0)
        self.counters.ints["opu_calls"] += 1
        self.counters.ints["samples_updated"] += x.shape[0]
        if self.exact:
            self.w.add_(d.t() @ x, alpha=-float(lr))
            return
        g = self._act(d).t() @ self._act(x)
        self.w = self._store(self.w.add_(g, alpha=-float(lr)))
        self.counters.add("cells_updated", self.w.numel())

    def get_weight(self) -> torch.Tensor:
        return self.w.clone()

    def set_weight(self, w: torch.Tensor) -> None:
        self.w = self._store(w.detach().to(device=self.device, dtype=torch.float32).clone())

    @property
    def stats(self) -> dict:
        s = self.counters.read()
        s.update(adc_conversions=0, adc_clipped=0, dac_clipped=0)
        return s

    def state_dict(self) -> dict:
        return {"kind": "digital", "shape": self.shape, "w": self.w.clone(), "counters": self.counters.read()}

    def load_state_dict(self, sd: dict) -> None:
        self.w = sd["w"].to(self.device).clone()
        self.counters.load(sd.get("counters", {}))

    def to(self, device) -> "DigitalCore":
        self.device = torch.device(device)
        self.w = self.w.to(self.device)
        return self

    def __repr__(self) -> str:
        return f"DigitalCore(shape={self.shape}, design={self.design.name!r}, path={self.fast_path!r})"
