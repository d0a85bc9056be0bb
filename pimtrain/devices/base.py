"""The device-model interface: how a block of cells responds to a requested conductance change.

Conventions
-----------
- State: centred normalised conductance ``c = (G - g_min)/(g_max - g_min) - 0.5`` in ``[-0.5, 0.5]``
  (a float32 tensor of any shape whose dim 0 is the crossbar row). Convert with :func:`to_siemens`.
- A request ``r`` is the wanted signed change of ``c`` (same units). ``dw_min`` (fraction of the range)
  is therefore the mean change of one pulse in these units.
- Models work on whole tensors. ``step`` updates a *block* of cells in place; ``rows`` (indices into
  dim 0 of the full cell array) tells the model which per-cell constants (d2d spread, stuck-at masks,
  table assignment) belong to the block; ``None`` means the block is the whole array.
- A cell whose request is exactly zero does not change (no pulse, no noise).
- Write noise is a random walk: std ``write_noise * sqrt(dw_min * |r|)``, i.e. ``write_noise * dw_min``
  for one pulse and ``sqrt(n)`` times that for ``n`` pulses' worth of change (CrossSim's rule).
"""
from __future__ import annotations

import math

import torch

from pimtrain.design.models import DeviceSpec

from .nonideal import C_HI, C_LO, NoiseSource, StuckAt, d2d_factors, quantize_levels


def to_siemens(c: torch.Tensor, g_min: float, g_max: float) -> torch.Tensor:
    """Centred normalised state -> conductance (S)."""
    return (c + 0.5) * (g_max - g_min) + g_min


def from_siemens(g: torch.Tensor, g_min: float, g_max: float) -> torch.Tensor:
    """Conductance (S) -> centred normalised state."""
    return (g - g_min) / (g_max - g_min) - 0.5


class Request:
    """A requested change ``r`` of a block, either as a full tensor or as a broadcast product ``a * b``.

    The product form is what an outer-product update produces (``a`` shaped ``(k, 1, 1)``, ``b``
    shaped ``(1, P, N)``) and also the differential split of a dense request (``a`` ``(k, 1, N)``,
    ``b`` the ``(1, P, 1)`` pair signs). |r|, sqrt|r| and sign(r) are then formed from the factors,
    saving full-size element-wise passes. ``a_sign`` is +1 / -1 when every entry of ``a`` is >= 0 /
    <= 0 (known to the caller for free), else 0; models may use it for a cheaper branch-free form.
    """

    __slots__ = ("_r", "a", "b", "a_sign", "b_unit", "_abs", "_sqrt", "_abs_a", "_abs_b", "_sqrt_a", "_sqrt_b")

    def __init__(self, r: torch.Tensor | None = None, a: torch.Tensor | None = None, b: torch.Tensor | None = None,
                 a_sign: int = 0, b_unit: bool = False):
        if r is None and (a is None or b is None):
            raise ValueError("Request needs r or both factors a and b")
        self._r, self.a, self.b = r, a, b
        self.a_sign = a_sign if a is not None else 0
        #: every |b| is exactly 1 (pair signs of a dense request): |r| = |a|, sqrt|r| = sqrt|a|
        self.b_unit = bool(b_unit) and a is not None
        self._abs = self._sqrt = self._abs_a = self._abs_b = self._sqrt_a = self._sqrt_b = None

    # factor helpers (cached: several model terms need them)
    @property
    def abs_a(self) -> torch.Tensor:
        if self._abs_a is None:
            self._abs_a = self.a.abs()
        return self._abs_a

    @property
    def abs_b(self) -> torch.Tensor:
        if self._abs_b is None:
            self._abs_b = self.b.abs()
        return self._abs_b

    @property
    def sqrt_a(self) -> torch.Tensor:
        if self._sqrt_a is None:
            self._sqrt_a = self.abs_a.sqrt()
        return self._sqrt_a

    @property
    def sqrt_b(self) -> torch.Tensor:
        if self._sqrt_b is None:
            self._sqrt_b = self.abs_b.sqrt()
        return self._sqrt_b

    @property
    def factored(self) -> bool:
        return self.a is not None

    @property
    def r(self) -> torch.Tensor:
        if self._r is None:
            self._r = self.a * self.b
        return self._r

    def fresh_r(self) -> torch.Tensor:
        """A new tensor equal to r (safe to modify in place)."""
        if self.a is not None:
            return self.a * self.b
        return self._r.clone()

    @property
    def abs(self) -> torch.Tensor:
        if self._abs is None:
            if self.b_unit:
                self._abs = self.abs_a
            else:
                self._abs = self.abs_a * self.abs_b if self.a is not None else self._r.abs()
        return self._abs

    @property
    def sqrt_abs(self) -> torch.Tensor:
        """sqrt|r|, possibly broadcastable to r rather than full size."""
        if self._sqrt is None:
            if self.b_unit:
                self._sqrt = self.sqrt_a
            elif self.a is not None:
                self._sqrt = self.sqrt_a * self.sqrt_b
            else:
                self._sqrt = self.abs.sqrt()
        return self._sqrt

    def negative(self) -> torch.Tensor:
        """Boolean mask (broadcastable to r) of cells asked to go down."""
        if self.a is not None:
            if self.a_sign:
                return (self.b * self.a_sign) < 0
            return (self.a.sign() * self.b.sign()) < 0
        return self._r < 0


class DeviceModel:
    """Base class. Subclasses implement :meth:`mean_step`; noise, d2d, levels, bounds and faults are here.

    ``cell_shape`` is the shape of the full cell array this model serves (dim 0 = rows).
    """

    name = "base"
    #: False when the response does not depend on the state (then B rank-1 updates may be summed).
    state_dependent = True

    def __init__(self, spec: DeviceSpec, cell_shape, generator: torch.Generator,
                 noise: NoiseSource | None = None, device: torch.device | str = "cpu"):
        self.spec = spec
        self.cell_shape = tuple(cell_shape)
        self.generator = generator
        self.device = torch.device(device)
        self.noise = noise or NoiseSource(generator, device)
        self.dw_min = float(spec.dw_min)
        self.write_noise = float(spec.write_noise)
        self.levels = spec.levels
        self.d2d = d2d_factors(spec.d2d_variation, self.cell_shape, generator, self.device)
        self.stuck = StuckAt.make(spec.stuck_at, self.cell_shape, generator, self.device)

    # -- to override ---------------------------------------------------------------------------------
    def mean_step(self, c: torch.Tensor, req: Request, rows: torch.Tensor | None) -> torch.Tensor:
        """Mean change of each cell of the block (a new tensor, may be modified by the caller)."""
        raise NotImplementedError

    def noise_step(self, delta: torch.Tensor, c: torch.Tensor, req: Request, rows) -> None:
        """Add cycle-to-cycle write noise to ``delta`` in place (random walk in |r|)."""
        if self.write_noise > 0:
            z = self.noise.normal(delta.shape)
            if req.b_unit:
                delta.addcmul_(z, req.sqrt_a, value=self.write_noise * math.sqrt(self.dw_min))
            elif req.factored:  # two broadcast passes instead of forming sqrt|a|*sqrt|b| at full size
                zb = z * req.sqrt_b
                delta.addcmul_(zb, req.sqrt_a, value=self.write_noise * math.sqrt(self.dw_min))
            else:
                delta.addcmul_(req.sqrt_abs, z, value=self.write_noise * math.sqrt(self.dw_min))

    # -- common --------------------------------------------------------------------------------------
    def _rows(self, t: torch.Tensor | None, rows):
        if t is None or rows is None:
            return t
        return t.index_select(0, rows)

    def step(self, c: torch.Tensor, req: Request, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Apply the request to block ``c`` in place and return it."""
        delta = self.mean_step(c, req, rows)
        self.noise_step(delta, c, req, rows)
        if self.d2d is not None:
            c.addcmul_(delta, self._rows(self.d2d, rows))
        else:
            c.add_(delta)
        c.clamp_(C_LO, C_HI)
        return self.finish(c, rows)

    def step_delta(self, c: torch.Tensor, req: Request, rows: torch.Tensor) -> torch.Tensor:
        """Like :meth:`step` but leaves ``c`` untouched and returns the change actually applied.

        Used for row-sparse updates, where scattering the change with ``index_add_`` is about twice
        as fast on CPU as copying the new rows back with ``index_copy_``. The returned change equals
        ``step``'s new state minus ``c`` (bounds, levels and faults included).
        """
        delta = self.mean_step(c, req, rows)
        self.noise_step(delta, c, req, rows)
        if self.d2d is not None:
            new = torch.addcmul(c, delta, self._rows(self.d2d, rows))
        else:
            new = delta.add_(c)
        new.clamp_(C_LO, C_HI)
        if self.levels is not None or self.stuck is not None:
            self.finish(new, rows)
        return new.sub_(c)

    def finish(self, c: torch.Tensor, rows=None) -> torch.Tensor:
        """Finite levels and stuck-at faults (after any write)."""
        if self.levels is not None:
            quantize_levels(c, self.levels)
        if self.stuck is not None:
            self.stuck.apply(c, rows)
        return c

    def program(self, target: torch.Tensor, rows=None) -> torch.Tensor:
        """Write ``target`` (centred states) directly: programming noise, bounds, levels, faults."""
        c = target.to(device=self.device, dtype=torch.float32).clone()
        if self.spec.programming_noise > 0:
            c.add_(torch.randn(c.shape, generator=self.generator, device=self.device), alpha=self.spec.programming_noise)
        c.clamp_(C_LO, C_HI)
        return self.finish(c, rows)

    def read_noise_std(self) -> float:
        """Std of one read of one cell, in centred-state units."""
        return float(self.spec.read_noise)

    # -- persistence ---------------------------------------------------------------------------------
    def tensors(self) -> dict:
        out = {}
        if self.d2d is not None:
            out["d2d"] = self.d2d
        if self.stuck is not None:
            out.update({f"stuck_{k}": v for k, v in self.stuck.tensors().items()})
        return out

    def load_tensors(self, sd: dict) -> None:
        if "d2d" in sd:
            self.d2d = sd["d2d"].to(self.device)
        if self.stuck is not None and "stuck_keep" in sd:
            self.stuck.keep = sd["stuck_keep"].to(self.device)
            self.stuck.value = sd["stuck_value"].to(self.device)

    def to(self, device) -> "DeviceModel":
        self.device = torch.device(device)
        for name in ("d2d",):
            t = getattr(self, name)
            if t is not None:
                setattr(self, name, t.to(self.device))
        if self.stuck is not None:
            self.stuck.keep = self.stuck.keep.to(self.device)
            self.stuck.value = self.stuck.value.to(self.device)
        return self

    def describe(self) -> str:
        return self.name
