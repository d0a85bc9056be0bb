"""PANTHER's workloads (Ankit et al., IEEE TC 2020; ../shared/reference/papers.md §2.4).

- Benchmark layers of the authors' simulator (``Aayush-Ankit/puma-simulator`` branch ``training``,
  ``benchmarks/panther_benchmarks/*.cpp`` [C]): ``mlpPanther`` 1024-256-512-512-10,
  ``mlpPantherBig`` 1024-512-1024-768-10, ``mlpTrA`` 512-512-512, and the VGG-16 layer sets
  ``convA`` … ``convG`` (one weight matrix each). One example per step, as in the benchmarks.
- Conv layer sets carry ``reuse`` = output positions per example of the VGG-16 layer they stand for
  on 32×32 CIFAR inputs (padding 1, 2×2 pooling after conv 2, 4, 7, 10, 13; our mapping, stated as
  an assumption: convA = conv 11–13 at 2×2, convB = conv 6–7 at 8×8, convC = conv 8 at 4×4, convG =
  conv 5 at 8×8). convD/E/F are fully-connected (classifier-shaped) matrices: reuse 1.
- Full networks: ``mlp-svhn-4layer`` (a 4-layer MLP on SVHN 32×32×3 inputs; hidden widths are not in
  our sources, so the mlpPanther widths are used after a 3072-wide input, an assumption) and
  ``vgg16-cifar100`` (already in the main zoo).
"""
from __future__ import annotations

from . import LayerShape, Workload


def _mlp(name: str, dims: tuple[int, ...], input_shape: tuple[int, ...] | None = None) -> Workload:
    layers = tuple(LayerShape(f"fc{i + 1}", "linear", dims[i + 1], dims[i], 1) for i in range(len(dims) - 1))
    return Workload(name, layers, input_shape or (dims[0],))


def _layer(name: str, kind: str, out_f: int, in_f: int, reuse: int) -> Workload:
    return Workload(name, (LayerShape(name, kind, out_f, in_f, reuse),), (in_f,))


#: (name, out, in, reuse, kind) of the simulator's single-matrix benchmarks
CONV_SETS = {
    "convA": (512, 4608, 4, "conv"),
    "convB": (256, 2304, 64, "conv"),
    "convC": (512, 2304, 16, "conv"),
    "convD": (4096, 512, 1, "linear"),
    "convE": (512, 4096, 1, "linear"),
    "convF": (10, 4096, 1, "linear"),
    "convG": (256, 1152, 64, "conv"),
}

WORKLOADS = {
    "mlppanther": lambda: _mlp("mlpPanther", (1024, 256, 512, 512, 10)),
    "mlppantherbig": lambda: _mlp("mlpPantherBig", (1024, 512, 1024, 768, 10)),
    "mlptra": lambda: _mlp("mlpTrA", (512, 512, 512)),
    "mlp-svhn-4layer": lambda: _mlp("mlp-svhn-4layer", (3072, 1024, 256, 512, 10), (3, 32, 32)),
    **{k.lower(): (lambda k=k, v=v: _layer(k, v[3], v[0], v[1], v[2])) for k, v in CONV_SETS.items()},
}

__all__ = ["WORKLOADS", "CONV_SETS"]
