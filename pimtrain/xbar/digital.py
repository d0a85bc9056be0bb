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

from .base import CoreBase, log_once, update_pair
from .quantizers import levels_for, quantize

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def round_to_format(t: torch.Tensor, fmt: str) -> torch.Tensor:
    """Round a float32 tensor to ``bf16`` / ``fp16`` (returned as float32); identity for fp32/fixed."""
    dt = _DTYPES.get(fmt)
    return t.to(dt).to(torch.float32) if dt is not None else t


class DigitalCore(CoreBase):
    """Same interface as :class:`~pimtrain.xbar.core.AnalogCore` for digital designs."""

    def __init__(self, weight: torch.Tensor, design: Design, layer_index: int = 0, seed: int | None = None):
        self._identity(weight, design, layer_index, seed)
        from pimtrain.mapping import LayerMapping

        self.mapping = LayerMapping(self.out_features, self.in_features, design)
        self._read_counts = {k: None for k in ("forward", "backward")}  # no analog read: the digital kernels are costed apart
        self._rows_written = self.mapping.update_counts().rows_written
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

    kind = "digital"

    def _store(self, w: torch.Tensor) -> torch.Tensor:
        if self.w_levels is not None:
            return quantize(w.clamp_(-self.w_max, self.w_max), self.w_levels, self.w_max, clamp=False, inplace=True)
        return round_to_format(w, self.fmt)

    def _act(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(torch.float32)
        if self.a_levels is not None:
            return quantize(x, self.a_levels, x.abs().amax().clamp_min(1e-30), clamp=False)
        return round_to_format(x, self.fmt)

    def vmm(self, x: torch.Tensor) -> torch.Tensor:
        self.counters.add("vmm_calls", 1)
        self._count_read("forward", x, "max", self._read_counts["forward"])
        return self._act(x) @ self.w.t()

    def mvm(self, d: torch.Tensor) -> torch.Tensor:
        self.counters.add("mvm_calls", 1)
        self._count_read("backward", d, "max", self._read_counts["backward"])
        return self._act(d) @ self.w

    def _count_update(self, b: int) -> None:
        """One batch update: every stored weight rewritten (``W ← round(W − lr dᵀx)``), row by row."""
        c = self.counters
        c.add("opu_calls", 1)
        c.add("samples_updated", b)
        c.add("update_events", 1)
        c.add("update.cells_written", self.w.numel())
        c.add("update.rows_written", self._rows_written)

    def opu(self, x: torch.Tensor, d: torch.Tensor, lr: float) -> None:
        x, d = update_pair(x, d)
        self._count_update(x.shape[0])
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
        s.update(adc_conversions=0, adc_clipped=0, dac_clipped=0, cells_written=s.get("update.cells_written", 0))
        s.update(self.activity())
        return s

    def state_dict(self) -> dict:
        return {"kind": "digital", "shape": self.shape, "w": self.w.clone(), "counters": self.counters.read()}

    def load_state_dict(self, sd: dict) -> None:
        self.w = sd["w"].to(self.device).clone()
        self.counters.load(sd.get("counters", {}))

    def to(self, device) -> "DigitalCore":
        device = torch.device(device)
        if device == self.device:
            return self
        self.device = device
        self._reseed(device)
        self.counters.to(device)
        self.w = self.w.to(self.device)
        return self

    def __repr__(self) -> str:
        return f"DigitalCore(shape={self.shape}, design={self.design.name!r}, path={self.fast_path!r})"
