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
from .quantizers import DacQuantizer, levels_for, quantize

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def round_to_format(t: torch.Tensor, fmt: str) -> torch.Tensor:
    """Round a float32 tensor to ``bf16`` / ``fp16`` (returned as float32); identity for fp32/fixed."""
    dt = _DTYPES.get(fmt)
    return t.to(dt).to(torch.float32) if dt is not None else t


def check_digital(design: Design) -> None:
    """Refuse, in one line naming the field, the io / update settings a digital core has no circuit for.

    A digital array has no analog read: no ADC, no converter noise, no pulse scheme, no analog slices; its input
    width is ``digital.activation_bits`` (``io.*.dac_bits`` may restate it, for the cost, but not differ)."""
    from pimtrain.design import PimtrainError

    dg = design.digital
    for k in ("forward", "backward"):
        io = getattr(design.io, k)
        if io.adc_bits is not None:
            raise PimtrainError(f"io.{k}.adc_bits: a digital design has no A/D converter; allowed: null")
        if io.output_noise:
            raise PimtrainError(f"io.{k}.output_noise: a digital design has no analog output; allowed: 0")
        if io.dac_bits is not None and (dg.format != "fixed" or io.dac_bits != dg.activation_bits):
            raise PimtrainError(f"io.{k}.dac_bits: a digital design's inputs are digital.activation_bits wide; allowed: null"
                                + (f" or {dg.activation_bits}" if dg.format == "fixed" and dg.activation_bits else ""))
        if io.input_range.policy != "batch_max" and (dg.format != "fixed" or dg.activation_bits is None):
            raise PimtrainError(f"io.{k}.input_range: only a fixed-point activation has a range; allowed: batch_max")
    u = design.update
    if u.pulse.scheme != "none":
        raise PimtrainError("update.pulse.scheme: a digital array writes the new value, no pulses; allowed: none")
    if u.slicing.slices > 1:
        raise PimtrainError("update.slicing.slices: a digital weight is not sliced over analog devices; allowed: 1")


class DigitalCore(CoreBase):
    """Same interface as :class:`~pimtrain.xbar.core.AnalogCore` for digital designs."""

    def __init__(self, weight: torch.Tensor, design: Design, layer_index: int = 0, seed: int | None = None):
        check_digital(design)
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
        if self.a_levels is not None:  # the activation converters: activation_bits over io.<kernel>.input_range
            self._acts = {k: DacQuantizer(dg.activation_bits, getattr(design.io, k).input_range) for k in ("forward", "backward")}
            for q in self._acts.values():
                q.host_scale = False  # a tensor scale, as this core has always computed it
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

    def _act(self, x: torch.Tensor, kernel: str = "forward") -> torch.Tensor:
        """An activation rounded to the design's format: ``activation_bits`` over ``io.<kernel>.input_range``
        (batch max by default), or the float format."""
        x = x.to(torch.float32)
        if self.a_levels is not None:
            return self._acts[kernel](x)
        return round_to_format(x, self.fmt)

    def vmm(self, x: torch.Tensor) -> torch.Tensor:
        self._count_read("forward", x, "max")
        return self._act(x, "forward") @ self.w.t()

    def mvm(self, d: torch.Tensor) -> torch.Tensor:
        self._count_read("backward", d, "max")
        return self._act(d, "backward") @ self.w

    def _steps(self, x: torch.Tensor, d: torch.Tensor):
        """The writes of one update: one per example for ``outer_product``, else one per batch (``accumulate``,
        ``serial`` and ``exact`` are the same arithmetic on a digital array; they differ in cost only)."""
        if self.design.update.rule == "outer_product" and x.shape[0] > 1:
            return [(x[i:i + 1], d[i:i + 1]) for i in range(x.shape[0])]
        return [(x, d)]

    def _count_update(self, b: int, events: int = 1) -> None:
        """``events`` writes: every stored weight rewritten (``W ← round(W − lr dᵀx)``), row by row."""
        c = self.counters
        c.add("opu_calls", 1)
        c.add("samples_updated", b)
        c.add("update_events", events)
        c.add("update.cells_written", events * self.w.numel())
        c.add("update.rows_written", events * self._rows_written)

    def opu(self, x: torch.Tensor, d: torch.Tensor, lr: float) -> None:
        x, d = update_pair(x, d)
        steps = self._steps(x, d)
        self._count_update(x.shape[0], len(steps))
        for xs, ds in steps:
            self._write(xs, ds, float(lr))

    def _write(self, x: torch.Tensor, d: torch.Tensor, lr: float) -> None:
        if self.exact:
            self.w.add_(d.t() @ x, alpha=-lr)
            return
        g = self._act(d, "backward").t() @ self._act(x, "forward")
        self.w = self._store(self.w.add_(g, alpha=-lr))
        self.counters.add("cells_updated", self.w.numel())

    def get_weight(self) -> torch.Tensor:
        return self.w.clone()

    def set_weight(self, w: torch.Tensor) -> None:
        self.w = self._store(w.detach().to(device=self.device, dtype=torch.float32).clone())

    @property
    def stats(self) -> dict:
        s = self._read_stats()
        s.update(adc_conversions=0, adc_clipped=0, dac_clipped=0, cells_written=s.get("update.cells_written", 0))
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
        for q in getattr(self, "_acts", {}).values():
            q.to(device)
        self.w = self.w.to(self.device)
        return self

    def __repr__(self) -> str:
        return f"DigitalCore(shape={self.shape}, design={self.design.name!r}, path={self.fast_path!r})"
