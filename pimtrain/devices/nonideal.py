"""Non-idealities shared by all device models: random source, d2d spread, finite levels, stuck-at faults.

State convention (see ``base.py``): a cell's conductance is held *centred and normalised*,
``c = (G - g_min) / (g_max - g_min) - 0.5`` in ``[-0.5, 0.5]``. Centring keeps full float precision
for small weights (the ideal core stores ``W / (2 w_max)`` exactly).
"""
from __future__ import annotations

import math

import torch

C_LO, C_HI = -0.5, 0.5


class NoiseSource:
    """Gaussian draws from the core's generator.

    On CPU, large draws come from a pool of ``pool_size`` standard normals drawn once (lazily) from the
    generator; each request reads a contiguous window at a random offset (also drawn from the
    generator). ``torch.randn`` costs about 3.5 ns per value on one CPU thread, which would dominate a
    batch-1 outer-product update; a window read is free. Successive draws are therefore windows of one
    long i.i.d. sequence at independent random offsets: each draw is exactly N(0, 1) per element, and
    the reuse across updates is statistically negligible for training. On CUDA every draw is fresh.
    Returned pool windows are read-only views: never modify them in place.
    """

    def __init__(self, generator: torch.Generator, device: torch.device | str = "cpu",
                 pool_size: int = 1 << 20, min_pooled: int = 64):
        self.generator = generator
        self.device = torch.device(device)
        self.pool_size = pool_size
        self.min_pooled = min_pooled
        self._pool: torch.Tensor | None = None
        self._pool_state: torch.Tensor | None = None
        self._offsets: list[int] = []
        self._bytes: torch.Tensor | None = None
        self._bytes_state: torch.Tensor | None = None
        self._qoffsets: list[int] = []

    def state_dict(self) -> dict:
        """Enough to continue the same stream after a reload (the pool is re-drawn, not stored)."""
        return {"pool_state": self._pool_state, "offsets": list(self._offsets), "pool_size": self.pool_size,
                "bytes_state": self._bytes_state, "qoffsets": list(self._qoffsets)}

    def load_state_dict(self, sd: dict) -> None:
        self.pool_size = int(sd.get("pool_size", self.pool_size))
        self._pool_state = sd.get("pool_state")
        self._offsets = list(sd.get("offsets", []))
        self._pool = None
        if self._pool_state is not None and self.device.type == "cpu":
            g = torch.Generator(device=self.device)
            g.set_state(self._pool_state)
            self._pool = torch.randn(self.pool_size, generator=g, device=self.device)
        self._bytes_state = sd.get("bytes_state")
        self._qoffsets = list(sd.get("qoffsets", []))
        self._bytes = None
        if self._bytes_state is not None and self.device.type == "cpu":
            g = torch.Generator(device=self.device)
            g.set_state(self._bytes_state)
            self._bytes = torch.randint(0, 256, (self.pool_size,), generator=g, dtype=torch.int32)

    def normal(self, shape) -> torch.Tensor:
        shape = tuple(shape)
        n = math.prod(shape)
        if self.device.type != "cpu" or n < self.min_pooled or n > self.pool_size // 4:
            return torch.randn(shape, generator=self.generator, device=self.device)
        pool = self.normal_pool()
        off = self.normal_offset(n)
        return pool[off:off + n].view(shape)

    def normal_pool(self) -> torch.Tensor:
        """The pool of standard normals (drawn from the generator at first use; the fast path reads it too)."""
        if self._pool is None:
            self._pool_state = self.generator.get_state()
            self._pool = torch.randn(self.pool_size, generator=self.generator, device=self.device)
        return self._pool

    def normal_offset(self, n: int) -> int:
        """The start of the next window of ``n`` values into :meth:`normal_pool`."""
        if not self._offsets:  # offsets are drawn 1024 at a time (one generator call)
            self._offsets = torch.randint(0, self.pool_size, (1024,), generator=self.generator).tolist()[::-1]
        return self._offsets.pop() % (self.pool_size - n + 1)

    def quantile_index(self, shape, n: int) -> torch.Tensor:
        """Uniform random integers in ``[0, n)`` (``n`` a power of two up to 256), int32.

        On CPU they are windows of a pool of random bytes drawn once from the generator (as for
        :meth:`normal`); on CUDA, or for n not a power of two, fresh draws.
        """
        shape = tuple(shape)
        count = math.prod(shape)
        if self.device.type != "cpu" or n > 256 or n & (n - 1) or count > self.pool_size // 4:
            return torch.randint(0, n, shape, generator=self.generator, device=self.device, dtype=torch.int32)
        pool = self.byte_pool()
        off = self.byte_offset(count)
        return pool[off:off + count].view(shape).bitwise_and(n - 1)

    def byte_pool(self) -> torch.Tensor:
        """The pool of random bytes (int32 0..255, drawn at first use; the fast path reads it too)."""
        if self._bytes is None:
            self._bytes_state = self.generator.get_state()
            self._bytes = torch.randint(0, 256, (self.pool_size,), generator=self.generator, dtype=torch.int32)
        return self._bytes

    def byte_offset(self, count: int) -> int:
        """The start of the next window of ``count`` bytes into :meth:`byte_pool`."""
        if not self._qoffsets:  # offsets drawn 1024 at a time (one generator call)
            self._qoffsets = torch.randint(0, self.pool_size, (1024,), generator=self.generator).tolist()
        return self._qoffsets.pop() % (self.pool_size - count + 1)

    def uniform(self, shape) -> torch.Tensor:
        return torch.rand(tuple(shape), generator=self.generator, device=self.device)


def d2d_factors(sigma: float, shape, generator, device) -> torch.Tensor | None:
    """Fixed per-cell multiplicative spread ``max(0, 1 + sigma * N(0, 1))`` (None when sigma is 0)."""
    if sigma <= 0:
        return None
    f = torch.randn(tuple(shape), generator=generator, device=device).mul_(sigma).add_(1.0)
    return f.clamp_(min=0.0)


def quantize_levels(c: torch.Tensor, levels: int) -> torch.Tensor:
    """Snap centred conductances to ``levels`` equally spaced states over the range (in place)."""
    n = levels - 1
    return c.add_(0.5).mul_(n).round_().div_(n).sub_(0.5)


class StuckAt:
    """Cells stuck at g_min or g_max, drawn once per cell at construction."""

    def __init__(self, at_gmin: float, at_gmax: float, shape, generator, device):
        u = torch.rand(tuple(shape), generator=generator, device=device)
        low = u < at_gmin
        high = (u >= at_gmin) & (u < at_gmin + at_gmax)
        self.keep = (~(low | high)).to(torch.float32)
        self.value = high.to(torch.float32) * C_HI + low.to(torch.float32) * C_LO

    @staticmethod
    def make(spec, shape, generator, device) -> "StuckAt | None":
        if spec.at_gmin == 0 and spec.at_gmax == 0:
            return None
        return StuckAt(spec.at_gmin, spec.at_gmax, shape, generator, device)

    def apply(self, c: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        keep, value = self.keep, self.value
        if rows is not None:
            keep, value = keep.index_select(0, rows), value.index_select(0, rows)
        return c.mul_(keep).add_(value)

    def tensors(self) -> dict:
        return {"keep": self.keep, "value": self.value}
