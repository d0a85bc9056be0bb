"""How one layer's weight matrix is cut into physical arrays; read by the numerics **and** the cost model.

Orientation: a torch weight ``W`` has shape ``(out, in)``. The forward VMM ``x @ Wᵀ`` drives the
array's **rows** (word lines) with the ``in`` inputs and reads ``out`` results on its **columns**
(bit lines). So the logical matrix stored on the arrays is ``Wᵀ``: ``in`` rows by ``out`` weight
columns, each weight column taking ``cells_per_weight`` physical columns per slice.

``LayerMapping`` only counts and slices; it never allocates weights, so it can describe VGG-16 as
cheaply as an MLP.

The per-design geometry functions below (:func:`weight_slices`, :func:`bit_lines_per_weight`,
:func:`input_cycles`, :func:`conversions_per_output`, :func:`cascade_groups`) are the **one** place where
the design's kinds become counts: the numerics (``pimtrain.xbar``) and the cost (``pimtrain.cost``) both
read them, so they cannot disagree on how many bit lines a weight takes or how often a column is converted.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

from pimtrain.design import Design, PimtrainError


#: bits of a bit-serial input when the design leaves ``dac_bits`` unset (one default for numerics and cost)
DEFAULT_INPUT_BITS = 8
#: CASCADE groups its bit lines for conversion: 10 A/D conversions per 16 bit lines (Chou et al. MICRO 2019,
#: 16-bit weights on 1-bit cells: 10 instead of 16 per read)
CASCADE_CONVERSIONS = (10, 16)


def polarity_cols(design: Design) -> int:
    """Columns per weight and slice for the sign: 2 for a differential pair, 1 for offset and bias mapping."""
    return 2 if design.array.weight_mapping == "differential" else 1


def weight_slices(design: Design) -> int:
    """Cells per weight and polarity: the analog slices of ``update.slicing`` (positional notation with
    carry), else ``ceil(array.weight_bits / array.bits_per_cell)`` bit slices when both are set, else 1."""
    a, sl = design.array, design.update.slicing
    if sl.slices > 1:
        return sl.slices
    if a.weight_bits is not None and a.bits_per_cell is not None:
        return -(-a.weight_bits // a.bits_per_cell)
    return 1


def rewrites_whole_weight(design: Design) -> bool:
    """True when a weight sits in bit slices of ``array.weight_bits`` on ``array.bits_per_cell`` cells with no
    ``update.slicing`` (no headroom to accumulate in place, no carry): every update is then a read-modify-write
    of the whole weight, programming all its slices (PANTHER's Base_mvm / Base_opa_mvm serial writes)."""
    sl = design.update.slicing
    return sl.slices == 1 and sl.slice_bits is None and weight_slices(design) > 1


def bit_lines_per_weight(design: Design) -> int:
    """Physical columns (bit lines) one weight occupies: slices × polarity."""
    return weight_slices(design) * polarity_cols(design)


def weight_bits(design: Design, default: int = 8) -> int:
    """Stored weight magnitude bits (``array.weight_bits``; ``default`` where the weight is analog)."""
    return int(design.array.weight_bits or default)


def _io(design: Design, kernel):
    """The I/O block of ``kernel`` ('forward' / 'backward'), or ``kernel`` itself when it is an I/O block."""
    return getattr(design.io, kernel) if isinstance(kernel, str) else kernel


def input_cycles(design: Design, kernel="forward") -> int:
    """Array read cycles per input vector for ``kernel`` (a name or an I/O block):
    ``ceil(dac_bits / input_bits_per_cycle)`` for bit-serial inputs, else 1."""
    io = _io(design, kernel)
    if io.input_encoding != "bit_serial":
        return 1
    return -(-(io.dac_bits or DEFAULT_INPUT_BITS) // io.input_bits_per_cycle)


def cascade_groups(bit_lines: int) -> int:
    """Groups converted per read by analog-buffered accumulation (10 per 16 bit lines), 1..``bit_lines``."""
    return max(1, min(bit_lines, round(CASCADE_CONVERSIONS[0] * bit_lines / CASCADE_CONVERSIONS[1])))


def conversions_per_output(design: Design, kernel="forward") -> float:
    """A/D conversions per output value, input pass and row tile of ``kernel``, by where the design
    accumulates partial sums (``io.<kernel>.accumulation``):

    - ``single_read``: every slice column once per input cycle (the polarity pair is subtracted in analog);
    - ``digital``: every bit line (slice and polarity) at every input cycle;
    - ``analog_buffered``: the groups of :func:`cascade_groups` over the slices, once per read;
    - ``analog``: once per weight column.
    """
    io = _io(design, kernel)
    cycles, slices = input_cycles(design, io), weight_slices(design)
    if io.accumulation == "digital":
        return float(polarity_cols(design) * cycles * slices)
    if io.accumulation == "analog_buffered":
        return float(cascade_groups(slices))
    if io.accumulation == "analog":
        return 1.0
    return float(cycles * slices)


def nn_shift_add_size(hidden: int) -> dict:
    """Cells and inverters of one neural shift-and-add stage (Neural-PIM's NNS+A: 3 analog inputs → ``hidden``
    inverter neurons → 1 output, each weight a differential pair of cells, one bias row per layer)."""
    return {"cells": 2 * (3 * hidden + (hidden + 1)), "inverters": int(hidden)}


def nn_adc_size(bits: int) -> dict:
    """Cells and inverters of one neural ADC of ``bits`` bits (Neural-PIM's NNADC: a flash stage of
    ``2^(b//2) − 1`` comparator neurons for the upper bits, a residue stage of ``2^(b − b//2 + 1) − 1`` for the
    lower bits, three differential weights per neuron, one rail cell per flash neuron)."""
    n1 = (1 << (bits // 2)) - 1
    n2 = (1 << (bits - bits // 2 + 1)) - 1
    return {"cells": 2 * 3 * (n1 + n2) + n1, "inverters": n1 + n2}


def matrix_crossbars(design: Design) -> int:
    """Crossbars of one matrix unit (a weight block of ``rows × cols`` weights, one crossbar per bit slice):
    ``ceil(weight bits / bits_per_cell)`` — ``array.weight_bits``, or ``digital.weight_bits`` on a digital
    design — else the analog slices."""
    a = design.array
    wb = a.weight_bits if a.weight_bits is not None else (design.digital.weight_bits if design.compute == "digital" else None)
    if wb is not None and a.bits_per_cell is not None:
        return -(-wb // a.bits_per_cell)
    return weight_slices(design)


@dataclass(frozen=True)
class MatrixPlan:
    """A layer on matrix units (PUMA-style cores): ``row_blocks × col_blocks`` weight blocks of
    ``array.rows × array.cols``, one matrix unit each (its slices on :func:`matrix_crossbars` crossbars),
    ``units_per_core`` units per core, ``hierarchy.cores_per_tile`` cores per tile."""

    row_blocks: int
    col_blocks: int
    cores: int
    tiles: int

    @property
    def matrices(self) -> int:
        return self.row_blocks * self.col_blocks


def matrix_plan(design: Design, out_features: int, in_features: int, units_per_core: int) -> MatrixPlan:
    a = design.array
    rb, cb = math.ceil(in_features / a.rows), math.ceil(out_features / a.cols)
    cores = math.ceil(rb * cb / max(units_per_core, 1))
    return MatrixPlan(rb, cb, cores, math.ceil(cores / design.hierarchy.cores_per_tile))


@dataclass(frozen=True)
class ReadCounts:
    """Actions of one input vector through one read kernel (forward VMM or backward MVM) of one layer.

    The names are the ones the cost engine charges (and the numerics count): ``drives`` input-driver
    operations (inputs × input cycles × the arrays each input fans out to), ``cells_read`` cells carrying a
    read current over the input's on-time, ``conversions`` A/D conversions (where the design's accumulation
    kind makes them), ``samples`` sample-and-hold operations, ``shift_adds`` shift-and-add operations
    (bit-serial cycles, slices or row tiles to combine), ``outputs`` values written to the output register,
    ``accumulations`` analog accumulation steps before the conversion (``analog_buffered``: every bit line of
    each polarity into its buffer cell at every cycle; ``analog``: a shift-and-add stage per differential bit
    line and cycle, then one per bit line to combine the slices).
    """

    cycles: int
    drives: float
    cells_read: float
    conversions: float
    samples: float
    shift_adds: float
    outputs: float
    accumulations: float = 0.0


@dataclass(frozen=True)
class UpdateCounts:
    """Actions of one update event of one layer (an input vector for ``outer_product``, a batch for
    ``accumulate`` / ``serial``): ``pulsed_cells`` cells under a rank-1 pulse (the least significant slice),
    ``row_drives`` / ``col_drives`` pulse drivers fired, ``cells_written`` / ``rows_written`` cells and rows
    programmed serially (the least significant slice; every slice where :func:`rewrites_whole_weight`, also for
    ``outer_product``, which then fires no pulses), ``carries`` carry steps (a fraction: one every ``carry_interval`` events) each
    reprogramming ``carry_cells`` cells in ``carry_rows`` rows per array. Every copy the update writes
    (``update.weight_copies``) is counted; with ``update.delta_arrays`` the pulses land on one set of delta
    arrays instead, and once per batch ``fold_read_cells`` delta cells are read and ``fold_write_cells``
    weight cells of every copy programmed, ``fold_rows`` rows per array."""

    pulsed_cells: float = 0.0
    row_drives: float = 0.0
    col_drives: float = 0.0
    cells_written: float = 0.0
    rows_written: float = 0.0
    carries: float = 0.0
    carry_cells: float = 0.0
    carry_rows: float = 0.0
    fold_read_cells: float = 0.0
    fold_write_cells: float = 0.0
    fold_rows: float = 0.0


@dataclass(frozen=True)
class LayerMapping:
    """Placement of one ``(out, in)`` weight matrix on the arrays of ``design``.

    Attributes derived in ``__post_init__``:

    - ``cells_per_weight``: physical columns per weight column per slice (2 for a differential pair,
      1 for offset mapping, which also adds one reference column per array).
    - ``slices``: cells per weight and polarity (:func:`weight_slices`: analog slices, or the bit slices
      of ``array.weight_bits`` over ``array.bits_per_cell``).
    - ``row_tiles`` / ``col_tiles``: arrays along the input / output dimension.
    - ``input_cycles``: read cycles per input vector (bit-serial: bits / bits_per_cycle; else 1).
    """

    out_features: int
    in_features: int
    design: Design = field(repr=False, compare=False)
    reuse: int = 1  # times each weight is used per sample (conv: output positions)
    #: counts measured by the numerics that replace the derived ones: ``{"forward" | "backward": {ReadCounts field:
    #: per input vector}, "update": {UpdateCounts field: per update event}}`` (see :func:`measured_counts`)
    measured: dict | None = field(default=None, repr=False, compare=False)

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
        """Cells per weight and slice (the polarity columns)."""
        return polarity_cols(self.design)

    @property
    def reference_cols(self) -> int:
        """Reference columns per array (offset mapping subtracts one reference column)."""
        return 1 if self.design.array.weight_mapping == "offset" else 0

    @property
    def slices(self) -> int:
        return weight_slices(self.design)

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
        return input_cycles(self.design, kernel)

    def conversions(self, kernel: str = "forward") -> float:
        """A/D conversions of one input vector through ``kernel`` (all row or column tiles). Backward, each
        slice's partial sum is converted on its own: the slices sit in their own columns (or crossbars), and the
        transposed read drives them one at a time."""
        if kernel == "forward":
            return self.out_features * self.row_tiles * conversions_per_output(self.design, kernel)
        return self.in_features * self.col_tiles * conversions_per_output(self.design, kernel)

    def busiest_array_conversions(self, kernel: str = "forward") -> float:
        """A/D conversions of one input vector on the busiest array of ``kernel`` (the outputs it holds);
        the arrays of a layer convert in parallel, so this sets the conversion time."""
        if kernel == "forward":
            held = min(self.out_features, max(self.weight_cols_per_array // max(self.slices, 1), 1))
            return held * conversions_per_output(self.design, kernel)
        return min(self.in_features, self.rows) * conversions_per_output(self.design, kernel)

    def read_counts(self, kernel: str = "forward") -> ReadCounts:
        """The actions of one input vector through ``kernel`` (see :class:`ReadCounts`)."""
        cyc = self.input_cycles(kernel)
        if kernel == "forward":
            n_drive = self.in_features * self.col_tiles
            n_conv = self.out_features * self.slices * self.row_tiles
            outputs = self.out_features
        else:
            n_drive = self.out_features * self.slices * self.row_tiles
            n_conv = self.in_features * self.col_tiles
            outputs = self.in_features
        combine = self.row_tiles > 1 or self.slices > 1 or cyc > 1
        kind = _io(self.design, kernel).accumulation
        if kind == "analog_buffered":
            accumulations = cyc * n_conv * self.cells_per_weight
        elif kind == "analog":
            accumulations = cyc * n_conv + n_conv
        else:
            accumulations = 0.0
        c = ReadCounts(cycles=cyc, drives=cyc * n_drive, cells_read=self.cells, conversions=self.conversions(kernel),
                       samples=cyc * n_conv, shift_adds=cyc * n_conv if combine else 0.0, outputs=outputs,
                       accumulations=accumulations)
        return self._measured(kernel, c)

    def _measured(self, kernel: str, counts):
        """``counts`` with the fields the numerics measured for ``kernel`` (if any) put in their place."""
        m = (self.measured or {}).get(kernel)
        if not m:
            return counts
        known = {f.name for f in fields(counts)}
        return replace(counts, **{k: float(v) for k, v in m.items() if k in known and v is not None})

    def update_counts(self) -> UpdateCounts:
        """The actions of one update event under ``design.update.rule`` (see :class:`UpdateCounts`)."""
        d = self.design
        lsb_cells = self.in_features * self.out_features * self.cells_per_weight
        rows = min(self.in_features, self.rows)
        copies = d.update.weight_copies
        sl = d.update.slicing
        extra = {}
        if sl.slices > 1 and self.arrays:
            extra = dict(carries=1.0 / sl.carry_interval, carry_cells=self.cells * copies, carry_rows=rows)
        if rewrites_whole_weight(d):  # every event (an example, or a batch) rewrites all slices of every weight
            return self._measured("update", UpdateCounts(cells_written=self.cells * copies, rows_written=rows))
        if d.update.rule == "outer_product":
            pulsed = 1 if d.update.delta_arrays else copies  # the arrays the rank-1 pulses land on
            if d.update.delta_arrays:
                extra.update(fold_read_cells=lsb_cells, fold_write_cells=self.cells * copies, fold_rows=rows)
            return self._measured("update", UpdateCounts(
                pulsed_cells=lsb_cells * pulsed, row_drives=self.in_features * self.col_tiles * pulsed,
                col_drives=self.out_features * self.row_tiles * pulsed, **extra))
        return self._measured("update", UpdateCounts(cells_written=lsb_cells * copies, rows_written=rows, **extra))

    # --- work -----------------------------------------------------------------------------------------
    @property
    def macs(self) -> int:
        """Multiply-accumulates of one kernel (VMM, MVM or OPU) for one sample."""
        return self.in_features * self.out_features * self.reuse


#: per-event fields of the numerics' counters (``<kernel>.<action>``) that replace the Mapping's derived counts
MEASURED_READ = ("drives", "conversions")
MEASURED_UPDATE = ("row_drives", "col_drives", "cells_written", "carries", "carry_cells")


def measured_counts(counted: dict) -> dict:
    """Per-event action counts from a core's totals (its ``stats``): ``{"forward" | "backward": {action: per
    input vector}, "update": {action: per update event}, "input_activity", "update_activity"}``.

    Only what the numerics do one by one is taken (A/D conversions and input drives of the reads; drivers
    fired, cells written and carries of the update, and the cells a carry actually reprogrammed); the rest
    stays the Mapping's. ``carry_cells`` is per carry step, as in :class:`UpdateCounts`."""
    out: dict = {}
    for kernel in ("forward", "backward"):
        n = counted.get(f"vectors_{kernel}") or 0
        if n:
            out[kernel] = {a: counted[f"{kernel}.{a}"] / n for a in MEASURED_READ if f"{kernel}.{a}" in counted}
    events = counted.get("update_events") or 0
    if events:
        up = {a: counted[f"update.{a}"] / events for a in MEASURED_UPDATE if f"update.{a}" in counted and a != "carry_cells"}
        carries = counted.get("update.carries") or 0
        if carries:
            up["carry_cells"] = counted.get("update.carry_cells", 0) / carries
        elif "update.carries" in counted or counted.get("carries") == 0:
            up["carries"] = 0.0
        out["update"] = up
    for k in ("input_activity", "update_activity"):
        if counted.get(k) is not None:
            out[k] = counted[k]
    calls = counted.get("opu_calls") or 0
    if counted.get("refresh.pairs") and calls:  # one-sided pairs refreshed (device.refresh_threshold), per update call
        out["refresh"] = {k: v / calls for k, v in counted.items() if k.startswith("refresh.") and isinstance(v, (int, float))}
    if "transfers" in counted and calls:  # an update.algorithm core: its own counts per update call (a training step)
        out["algorithm"] = {k: v / calls for k, v in counted.items() if k.startswith(("transfer", "buffer.", "chopper."))
                            and isinstance(v, (int, float)) and k not in ("buffer.cells", "transfer.write_activity")}
        out["algorithm"]["buffer.cells"] = counted.get("buffer.cells", 0)
        out["algorithm"]["transfer.write_activity"] = counted.get("transfer.write_activity")
    return out


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
