"""PANTHER's workloads (Ankit et al., IEEE TC 2020; docs/sources.md §2.4).

- Benchmark layers of the authors' simulator (``Aayush-Ankit/puma-simulator`` branch ``training``,
  ``benchmarks/panther_benchmarks/*.cpp`` [C]): ``mlpPanther`` 1024-256-512-512-10,
  ``mlpPantherBig`` 1024-512-1024-768-10, ``mlpTrA`` 512-512-512, and the VGG-16 layer sets
  ``convA`` … ``convG`` (one weight matrix each). One example per step, as in the benchmarks.
- Conv layer sets are the VGG-16 layers whose weight matrix the benchmark simulates, each layer with
  ``reuse`` = its output positions per example on the paper's 32×32 CIFAR-100 inputs (VGG-16 with
  padding 1 and 2×2 pooling after conv 2, 4, 7, 10, 13: conv 1–2 at 32×32, 3–4 at 16×16, 5–7 at 8×8,
  8–10 at 4×4, 11–13 at 2×2). ``convA``: "a matrix size of Layer9 (same repeats from 9-13) of Vgg16"
  (the comment of ``convAPanther.cpp`` [C]; docs/sources.md §2.4): conv 9–10 (4608→512 at 4×4 = 16
  positions) and conv 11–13 (at 2×2 = 4 positions), five layers. The other conv sets by their matrix
  shape (the same comment is copied into every conv file, so only convA's is informative): ``convB``
  2304→256 = conv 6–7 at 8×8, ``convC`` 2304→512 = conv 8 at 4×4, ``convG`` 1152→256 = conv 5 at 8×8.
  ``convD``/``E``/``F`` are fully-connected (classifier-shaped) matrices: reuse 1.
- Full networks: ``mlp-svhn-4layer`` (a 4-layer MLP on SVHN 32×32×3 inputs; hidden widths are not in
  our sources, so the mlpPanther widths are used after a 3072-wide input, an assumption) and
  ``vgg16-cifar100`` (already in the main zoo).
"""
from __future__ import annotations

from . import LayerShape, Workload


def _mlp(name: str, dims: tuple[int, ...], input_shape: tuple[int, ...] | None = None) -> Workload:
    layers = tuple(LayerShape(f"fc{i + 1}", "linear", dims[i + 1], dims[i], 1) for i in range(len(dims) - 1))
    return Workload(name, layers, input_shape or (dims[0],))


def _layer(name: str, kind: str, out_f: int, in_f: int, reuse: tuple[int, ...]) -> Workload:
    """One benchmark matrix: one layer per VGG-16 layer of the set (``reuse``: positions of each)."""
    if len(reuse) == 1:
        return Workload(name, (LayerShape(name, kind, out_f, in_f, reuse[0]),), (in_f,))
    return Workload(name, tuple(LayerShape(f"{name}.{i + 1}", kind, out_f, in_f, r) for i, r in enumerate(reuse)), (in_f,))


#: (out, in, output positions per example of each VGG-16 layer in the set, kind) of the simulator's
#: single-matrix benchmarks (module docstring)
CONV_SETS = {
    "convA": (512, 4608, (16, 16, 4, 4, 4), "conv"),  # conv 9-10 at 4x4, conv 11-13 at 2x2
    "convB": (256, 2304, (64, 64), "conv"),  # conv 6-7 at 8x8
    "convC": (512, 2304, (16,), "conv"),  # conv 8 at 4x4
    "convD": (4096, 512, (1,), "linear"),
    "convE": (512, 4096, (1,), "linear"),
    "convF": (10, 4096, (1,), "linear"),
    "convG": (256, 1152, (64,), "conv"),  # conv 5 at 8x8
}

WORKLOADS = {
    "mlppanther": lambda: _mlp("mlpPanther", (1024, 256, 512, 512, 10)),
    "mlppantherbig": lambda: _mlp("mlpPantherBig", (1024, 512, 1024, 768, 10)),
    "mlptra": lambda: _mlp("mlpTrA", (512, 512, 512)),
    "mlp-svhn-4layer": lambda: _mlp("mlp-svhn-4layer", (3072, 1024, 256, 512, 10), (3, 32, 32)),
    **{k.lower(): (lambda k=k, v=v: _layer(k, v[3], v[0], v[1], v[2])) for k, v in CONV_SETS.items()},
}

__all__ = ["WORKLOADS", "CONV_SETS"]
