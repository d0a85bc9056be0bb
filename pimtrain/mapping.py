"""How one layer's weight matrix is cut into physical arrays; read by the numerics **and** the cost model.

Orientation: a torch weight ``W`` has shape ``(out, in)``. The forward VMM ``x @ Wᵀ`` drives the
array's **rows** (word lines) with the ``in`` inputs and reads ``out`` results on its **columns**
(bit lines). So the logical matrix stored on the arrays is ``Wᵀ``: ``in`` rows by ``out`` weight
columns, each weight column taking ``cells_per_weight`` physical columns per slice.

``LayerMapping`` only counts and slices; it never allocates weights, so it can describe VGG-16 as
cheaply as an MLP.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from pimtrain.design import Design, PimtrainError


@dataclass(frozen=True)
class LayerMapping:
    """Placement of one ``(out, in)`` weight matrix on the arrays of ``design``.

    Attributes derived in ``__post_init__``:

    - ``cells_per_weight``: physical columns per weight column per slice (2 for a differential pair,
      1 for offset mapping, which also adds one reference column per array).
    - ``slices``: devices per weight in positional notation (``design.update.slicing.slices``) times
      the cells needed to hold ``digital.weight_bits`` when cells store fewer bits (digital storage).
    - ``row_tiles`` / ``col_tiles``: arrays along the input / output dimension.
    - ``input_cycles``: read cycles per input vector (bit-serial: bits / bits_per_cycle; else 1).
    """

    out_features: int
    in_features: int
    design: Design = field(repr=False, compare=False)
    reuse: int = 1  # times each weight is used per sample (conv: output positions)

    def __post_init__(self):
        if self.out_features < 0 or self.in_features < 0:
            raise ValueError("layer dimensions must be non-negative")
        if self.reuse < 1:
            raise ValueError("reuse must be at least 1")

    # --- geometry -----------------------------------------------------------------------------------
    @property
    def rows(self) -> int:
        return self.design.array.rows

    @property
    def cols(self) -> int:
        return self.design.array.cols

    @property
    def cells_per_weight(self) -> int:
        return 2 if self.design.array.weight_mapping == "differential" else 1

    @property
    def reference_cols(self) -> int:
        """Reference columns per array (offset mapping subtracts one reference column)."""
        return 1 if self.design.array.weight_mapping == "offset" else 0

    @property
    def slices(self) -> int:
        return self.design.update.slicing.slices

    @property
    def weight_cols_per_array(self) -> int:
        """Weight columns (of one slice) that fit in one array."""
        usable = self.cols - self.reference_cols
        return max(usable // self.cells_per_weight, 0)

    @property
    def row_tiles(self) -> int:
        return math.ceil(self.in_features / self.rows) if self.in_features else 0

    @property
    def col_tiles(self) -> int:
        """Arrays along the output dimension for all slices together."""
        per = self.weight_cols_per_array
        if per == 0:
            raise PimtrainError(  # a user's design, not a bug: one line, exit 2 (found by tests/test_fuzz_cost.py)
                f"array.cols: {self.cols} columns cannot hold one weight column "
                f"({self.cells_per_weight} cells + {self.reference_cols} reference)"
            )
        return math.ceil(self.out_features * self.slices / per) if self.out_features else 0

    @property
    def arrays(self) -> int:
        """Physical arrays holding this layer (one copy of the weights)."""
        return self.row_tiles * self.col_tiles

    @property
    def cells(self) -> int:
        """Programmed cells (excluding padding and reference columns)."""
        return self.in_features * self.out_features * self.cells_per_weight * self.slices

    @property
    def row_splits(self) -> list[tuple[int, int]]:
        """``(start, stop)`` input-index ranges, one per row tile (each converted by its own ADCs)."""
        return [(s, min(s + self.rows, self.in_features)) for s in range(0, self.in_features, self.rows)]

    # --- time -----------------------------------------------------------------------------------------
    def input_cycles(self, kernel: str = "forward") -> int:
        """Array read cycles per input vector for ``kernel`` ('forward' or 'backward')."""
        io = getattr(self.design.io, kernel)
        if io.input_encoding != "bit_serial":
            return 1
        bits = io.dac_bits or 16
        return math.ceil(bits / io.input_bits_per_cycle)

    # --- work -----------------------------------------------------------------------------------------
    @property
    def macs(self) -> int:
        """Multiply-accumulates of one kernel (VMM, MVM or OPU) for one sample."""
        return self.in_features * self.out_features * self.reuse


def map_layer(out_features: int, in_features: int, design: Design, reuse: int = 1) -> LayerMapping:
    return LayerMapping(out_features, in_features, design, reuse)


# --- placement on the chip (cost side) ------------------------------------------------------------------
@dataclass(frozen=True)
class Placement:
    """Where a workload's layers sit on the design's hierarchy (weight-stationary, one copy of each).

    ``arrays_needed``: physical arrays over all layers (analog designs); ``weight_bits_needed``: bits of
    weight storage (digital designs). ``limited``: False when ``hierarchy.chip_fit`` is 'grow' (the default),
    in which case the chip is taken to be as large as the workload needs.
    """

    design: Design = field(repr=False, compare=False)
    layers: tuple[LayerMapping, ...]
    arrays_needed: int
    limited: bool

    @property
    def arrays_per_chip(self) -> int:
        h = self.design.hierarchy
        return h.arrays_per_core * h.cores_per_tile * h.tiles_per_chip

    #: grouping used when a growing chip states no grouping (ISAAC: 8 arrays per IMA, 12 IMAs per tile)
    DEFAULT_GROUPING = (8, 12)

    @property
    def cores_used(self) -> int:
        h = self.design.hierarchy
        default = (h.arrays_per_core, h.cores_per_tile) == (1, 1)
        per = self.DEFAULT_GROUPING[0] if default and not self.limited else h.arrays_per_core
        return math.ceil(self.arrays_needed / per) if self.arrays_needed else 0

    @property
    def tiles_used(self) -> int:
        h = self.design.hierarchy
        default = (h.arrays_per_core, h.cores_per_tile) == (1, 1)
        per = self.DEFAULT_GROUPING[1] if default and not self.limited else h.cores_per_tile
        return math.ceil(self.cores_used / per) if self.cores_used else 0

    def check(self, workload_name: str = "workload") -> None:
        """Raise :class:`PimtrainError` naming the limit when the weights do not fit the chip."""
        if self.limited and self.arrays_needed > self.arrays_per_chip:
            from pimtrain.design import PimtrainError

            h = self.design.hierarchy
            raise PimtrainError(
                f"{workload_name}: needs {self.arrays_needed} arrays of {self.design.array.rows}x{self.design.array.cols} "
                f"on design {self.design.name!r}; limit: hierarchy arrays_per_core*cores_per_tile*tiles_per_chip = "
                f"{h.arrays_per_core}*{h.cores_per_tile}*{h.tiles_per_chip} = {self.arrays_per_chip}"
            )


def place(design: Design, layers) -> Placement:
    """Place ``layers`` (LayerMappings) one after another on the design's arrays."""
    layers = tuple(layers)
    needed = sum(m.arrays for m in layers)
    limited = design.hierarchy.chip_fit == "error"
    return Placement(design, layers, needed, limited)
