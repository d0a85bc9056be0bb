"""The validated description of a PIM training design (pydantic v2).

One :class:`Design` feeds both evaluators: the numerics (``pimtrain.xbar`` / ``pimtrain.nn``) and the
cost model (``pimtrain.cost``). The blocks follow aihwkit's per-kernel split: ``device`` (how a cell
responds), ``array`` (the physical crossbar and weight mapping), ``io.forward`` / ``io.backward``
(converters of the two read kernels), ``update`` (rule, pulse scheme, weight slicing) and the cost-side
blocks (``technology``, ``hierarchy``, ``circuits``; see :mod:`pimtrain.design.circuits`).

All quantities are SI floats once loaded (``1 pJ`` becomes ``1e-12``). Every model forbids unknown
fields, so a typo is an error naming the field and the allowed ones.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .circuits import CircuitsSpec, HierarchySpec, TechnologySpec
from .units import Conductance, Time, Voltage, check_finite


#: largest run seed: torch's CPU generator (mt19937) keeps 32 bits of a seed, so 2**32 would equal seed 0
SEED_MAX = 2**32 - 1


class Strict(BaseModel):
    """Base: unknown fields are errors; assignment is validated too; every number is finite."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="after")
    @classmethod
    def _finite_numbers(cls, v):
        return check_finite(v)


# --------------------------------------------------------------------------------------------- provenance
class Provenance(Strict):
    """Where a number in a preset comes from."""

    source: str = Field(min_length=1, description="paper table, repository file, or 'assumption'")
    basis: Literal["exact", "derived", "assumed", "calibrated"]
    note: str | None = Field(default=None, description="formula for 'derived', target for 'calibrated'")


# ------------------------------------------------------------------------------------------------- device
class LookupTableSpec(Strict):
    """Measured ΔG-vs-G tables in CrossSim's CDF layout (see ``pimtrain.devices.lookup``).

    ``paths`` are folders each holding ``dG_increasing.txt[.gz]`` and ``dG_decreasing.txt[.gz]``; with
    several folders every cell of the array is assigned one of them at random (device-to-device spread).
    A relative path is read relative to the design file, then to the current directory, and a path
    starting with ``shared:`` is read from the project's shared data folder (``PIMTRAIN_DATA`` or
    ``../shared/data``).
    """

    paths: list[str] = Field(min_length=1)
    g_range: Literal["common", "table"] = Field(
        default="common",
        description="'common': map weights onto the range shared by all tables; 'table': each cell its own range",
    )
    range_fraction: tuple[float, float] = Field(
        default=(0.1, 0.9),
        description="fraction of the measured conductance span used as (Gmin, Gmax) (CrossSim v2.0 used 0.1/0.9)",
    )

    @field_validator("range_fraction")
    @classmethod
    def _fraction(cls, v):
        lo, hi = v
        if not (0.0 <= lo < hi <= 1.0):
            raise ValueError(f"must satisfy 0 <= low < high <= 1 (got {lo}, {hi})")
        return v


class StuckAtSpec(Strict):
    """Fractions of cells stuck at the low / high end of the conductance range."""

    at_gmin: float = Field(default=0.0, ge=0.0, le=1.0)
    at_gmax: float = Field(default=0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _sum(self):
        if self.at_gmin + self.at_gmax > 1.0:
            raise ValueError("at_gmin + at_gmax must not exceed 1")
        return self


DeviceModel = Literal["ideal", "linear_step", "soft_bounds", "lookup_table", "binary", "pcm"]


class DriftSpec(Strict):
    """Conductance drift after programming, for reading a trained network later (:mod:`pimtrain.devices.drift`).

    ``model``: ``none`` or ``pcm`` (the PCM power law with growing read noise, Nandakumar et al. ICECS 2019).
    ``read_time``: the time after programming at which the trained network is evaluated (``pimtrain train``
    reports the accuracy read then, beside the one right after training; ``--eval-at`` reads at further times with
    the same model). ``compensation``: ``global`` scales each layer's outputs by one factor calibrated at read time
    (aihwkit's ``GlobalDriftCompensation``), ``none`` reads as drifted."""

    model: Literal["none", "pcm"] = "none"
    read_time: Time = Field(default=0.0, ge=0.0, description="evaluation time after programming (s)")
    compensation: Literal["none", "global"] = "none"

    @model_validator(mode="after")
    def _used(self):
        if self.model == "none" and (self.read_time > 0 or self.compensation != "none"):
            raise ValueError("read_time / compensation need a drift model; allowed model: pcm")
        if self.read_time > 1e12:
            raise ValueError(f"read_time: {self.read_time:g} s is beyond any device lifetime; allowed: 0 .. 1e12 s")
        return self


class DeviceSpec(Strict):
    """How one cell's conductance responds to update pulses, and how it reads.

    Update steps are given in units of the *weight* range: ``dw_min`` is the mean change of one pulse
    as a fraction of the full conductance range ``g_max - g_min`` (aihwkit's convention).
    """

    model: DeviceModel = "ideal"
    g_min: Conductance = Field(default=1e-6, ge=0.0, description="lowest programmable conductance (S)")
    g_max: Conductance = Field(default=1e-4, gt=0.0, description="highest programmable conductance (S)")
    dw_min: float = Field(default=1e-3, gt=0.0, le=1.0, description="mean step of one pulse, fraction of range")
    up_down: float = Field(
        default=0.0, gt=-1.0, lt=1.0,
        description="asymmetry: up steps are dw_min*(1+up_down), down steps dw_min*(1-up_down)",
    )
    nonlinearity: float = Field(
        default=1.0, ge=0.0,
        description="soft_bounds/linear_step: how strongly the step shrinks towards the bound (1 = to zero at the bound)",
    )
    write_noise: float = Field(default=0.0, ge=0.0, description="cycle-to-cycle std of one pulse, relative to its mean step")
    d2d_variation: float = Field(default=0.0, ge=0.0, description="device-to-device std of step size and bounds (relative)")
    read_noise: float = Field(default=0.0, ge=0.0, description="std of each read, fraction of the conductance range")
    programming_noise: float = Field(default=0.0, ge=0.0, description="std when a weight is written directly (set_weight / carry), fraction of range")
    levels: int | None = Field(default=None, ge=2, description="finite number of conductance levels (None = continuous)")
    stuck_at: StuckAtSpec = Field(default_factory=StuckAtSpec)
    lookup: LookupTableSpec | None = None
    refresh_threshold: float | None = Field(
        default=None, gt=0.0, le=1.0,
        description="pcm on differential pairs: when either device of a pair has climbed past this fraction of its "
        "range after an update, the pair is read, both devices RESET (abrupt, to g_min) and the difference "
        "re-programmed onto one of them (pimtrain.xbar.refresh); None: never")
    drift: DriftSpec = Field(default_factory=lambda: DriftSpec())

    @property
    def ideal_updates(self) -> bool:
        """True when writes and programming are exact (the one ideal-device check; read noise aside)."""
        return (self.model == "ideal" and self.write_noise == 0 and self.d2d_variation == 0 and self.programming_noise == 0
                and self.levels is None and self.stuck_at.at_gmin == 0 and self.stuck_at.at_gmax == 0)

    @property
    def ideal(self) -> bool:
        """True when the device is ideal in every respect (exact writes and noiseless reads)."""
        return self.ideal_updates and self.read_noise == 0

    @model_validator(mode="after")
    def _check(self):
        if self.g_min >= self.g_max:
            raise ValueError(f"g_min must be below g_max (got g_min={self.g_min:g} S, g_max={self.g_max:g} S)")
        if self.model == "lookup_table" and self.lookup is None:
            raise ValueError("model 'lookup_table' needs a 'lookup' block with the table paths")
        if self.refresh_threshold is not None and self.model != "pcm":
            raise ValueError(f"refresh_threshold is used by model 'pcm' (one-sided pairs); model is {self.model!r}")
        return self


# -------------------------------------------------------------------------------------------------- array
class ArraySpec(Strict):
    """One physical crossbar and how a signed weight is stored on it."""

    rows: int = Field(default=1024, ge=1, description="word lines (inputs of the forward VMM)")
    cols: int = Field(default=1024, ge=1, description="bit lines (outputs of the forward VMM)")
    bits_per_cell: int | None = Field(default=None, ge=1, le=16, description="stored bits per cell; None = analog cell")
    weight_bits: int | None = Field(
        default=None, ge=1, le=32,
        description="stored weight magnitude bits (sign by the weight mapping); with bits_per_cell, a weight takes "
        "ceil(weight_bits / bits_per_cell) cells per polarity (bit slices). None = an analog weight",
    )
    weight_mapping: Literal["differential", "offset", "bias"] = Field(
        default="differential",
        description="'differential': W ∝ G+ − G− on a pair of cells; 'offset': W ∝ G − Gref with one reference column; "
        "'bias': the weight stored with a bias of half its range in one column set (weight_bits include the sign), "
        "the bias × Σx subtracted digitally after conversion (ISAAC's encoding; bit-sliced reads only)",
    )
    w_max: float = Field(default=1.0, gt=0.0, description="weight value stored at the full conductance range (weights clip at ±w_max)")
    read_voltage: Voltage = Field(default=0.2, gt=0.0, description="read voltage on a word line (V)")
    read_time: Time = Field(default=1e-9, gt=0.0, description="duration of one unit read pulse (s)")

    @model_validator(mode="after")
    def _one_weight_column_fits(self):
        cells = 2 if self.weight_mapping == "differential" else 1
        reference = 1 if self.weight_mapping == "offset" else 0
        if self.cols - reference < cells:
            raise ValueError(f"cols: {self.cols} columns cannot hold one weight column ({cells} cell(s) + {reference} "
                             f"reference column(s)); allowed: cols >= {cells + reference}")
        return self


# ------------------------------------------------------------------------------------------------ I/O
class RangeSpec(Strict):
    """How a converter's full-scale range is set.

    ``fixed``: ±``value`` always; ``calibrated``: fixed per layer from the first ``calibration_batches``
    batches (the ``percentile`` of |signal|); ``batch_max``: the largest |signal| of each batch (dynamic).
    """

    policy: Literal["fixed", "calibrated", "batch_max"] = "batch_max"
    value: float | None = Field(default=None, gt=0.0)
    percentile: float = Field(default=100.0, gt=0.0, le=100.0)
    calibration_batches: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _need_value(self):
        if self.policy == "fixed" and self.value is None:
            raise ValueError("policy 'fixed' needs a 'value' (the full-scale magnitude)")
        return self


#: design fields replaced by kinds, per block, with the replacement to name in the one-line error
RENAMED = {
    "io": {
        "dataflow": "'accumulation' (direct -> single_read, isaac -> digital, cascade -> analog_buffered, neuralpim -> analog)",
        "peripherals": "'converter' (ideal -> sar, learned -> learned)",
        "weight_bits": "'array.weight_bits' (the stored weight precision is a property of the array, not of one kernel)",
    },
    "slicing": {
        "variant": "what the update writes, in the update block: 'update.weight_copies' (sgd -> 1, separate -> 2) and "
                   "'update.delta_arrays' (minibatch -> weight_copies 2, delta_arrays true)",
    },
    "digital": {
        "pim_logic": "'arithmetic: in_memory_logic' with 'logic_family' (floatpim_reram -> nor, sot_mram -> majority; "
                     "none -> arithmetic: mac)",
    },
}


def _refuse_renamed(data: Any, block: str) -> Any:
    """A field of an earlier schema is refused in one line naming what replaced it."""
    if isinstance(data, dict):
        for old, new in RENAMED[block].items():
            if old in data:
                raise ValueError(f"{old}: replaced by {new}")
    return data


class IOSpec(Strict):
    """Converters, noise and partial-sum accumulation of one read kernel (forward VMM or backward MVM).

    ``None`` bit widths mean an ideal (unquantised) converter. Where partial sums are accumulated and
    converted (``accumulation``) is a kind, not a paper (:mod:`pimtrain.xbar.dataflow` for the numerics,
    :class:`pimtrain.mapping.LayerMapping` for the conversion counts the cost charges):

    - ``single_read``: the whole input is applied in one analog read and each output column converted once
      per input pass (pulse-width or amplitude inputs; bit-serial inputs are then shifted and added
      digitally per cycle);
    - ``digital``: every bit line (weight slice, polarity) is converted at every input-bit cycle and the
      shift-and-add is digital (ISAAC);
    - ``analog_buffered``: each cycle's bit-line current is transferred into an analog buffer of
      ``buffer_bits`` precision and the bit lines are accumulated in analog, converted in groups (CASCADE);
    - ``analog``: analog shift-and-add over cycles and slices, one conversion per weight column (Neural-PIM).
    """

    dac_bits: int | None = Field(default=None, ge=1, le=32, description="input resolution, sign included")
    input_range: RangeSpec = Field(default_factory=RangeSpec)
    input_encoding: Literal["amplitude", "time", "bit_serial"] = Field(
        default="amplitude",
        description="'time': pulse width (Marinella); 'bit_serial': one bit plane per cycle (ISAAC)",
    )
    input_bits_per_cycle: int = Field(default=1, ge=1, le=32, description="bits applied per cycle when bit_serial")
    adc_bits: int | None = Field(default=None, ge=1, le=32, description="output resolution, sign included")
    output_range: RangeSpec = Field(default_factory=RangeSpec)
    output_noise: float = Field(default=0.0, ge=0.0, description="Gaussian noise added before the ADC, fraction of output full scale")
    accumulation: Literal["single_read", "digital", "analog_buffered", "analog"] = Field(
        default="single_read",
        description="where partial sums are accumulated and converted: 'single_read' one analog read per input pass; "
        "'digital' ADC per bit line per input cycle, digital shift-and-add; 'analog_buffered' analog buffer "
        "(buffer_bits) then grouped conversions; 'analog' analog shift-and-add, one conversion per weight",
    )
    converter: Literal["sar", "ramp", "learned"] = Field(
        default="sar",
        description="converter kind: 'sar' (successive approximation), 'ramp' (integrate and compare), 'learned' "
        "(accumulation 'analog': the trained neural shift-and-add and ADC of pimtrain.xbar.nn_peripherals)",
    )
    buffer_bits: int | None = Field(default=None, ge=1, le=16, description="accumulation 'analog_buffered': precision of the analog buffer holding a partial sum")

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any):
        return _refuse_renamed(data, "io")

    @model_validator(mode="after")
    def _kinds(self):
        if self.accumulation != "single_read" and self.input_encoding != "bit_serial":
            raise ValueError(f"accumulation {self.accumulation!r} accumulates input-bit cycles; needs input_encoding 'bit_serial' (got {self.input_encoding!r})")
        if self.converter == "learned" and self.accumulation != "analog":
            raise ValueError("converter 'learned' (neural shift-and-add and ADC) needs accumulation 'analog'")
        if self.buffer_bits is not None and self.accumulation != "analog_buffered":
            raise ValueError("buffer_bits applies to accumulation 'analog_buffered' only")
        return self

    @property
    def ideal(self) -> bool:
        return self.dac_bits is None and self.adc_bits is None and self.output_noise == 0.0 and self.accumulation == "single_read"


class IOSettings(Strict):
    forward: IOSpec = Field(default_factory=IOSpec)
    backward: IOSpec = Field(default_factory=IOSpec)


# ---------------------------------------------------------------------------------------------- update
class PulseSpec(Strict):
    """How a requested update becomes pulses.

    ``none``: the requested change is applied as one analog step (device response still applies);
    ``stochastic``: aihwkit-style coincidences of two random pulse trains of length ``bl``;
    ``deterministic``: Marinella et al.: the row value quantised to ``row_bits`` magnitude bits + sign
    (pulse duration), the column value to ``col_bits`` + sign (pulse height), their product the update.
    """

    scheme: Literal["none", "stochastic", "deterministic"] = "none"
    bl: int = Field(default=31, ge=1, le=1024, description="stochastic pulse-train length")
    row_bits: int = Field(default=6, ge=1, le=16, description="magnitude bits of the row (input x) value")
    col_bits: int = Field(default=4, ge=1, le=16, description="magnitude bits of the column (error d) value")


class SlicingSpec(Strict):
    """Several devices per weight in base-``base`` positional notation with periodic carry (Agarwal et al.).

    The update lands on the least significant slice; every ``carry_interval`` updates, each slice
    whose value exceeds ``carry_threshold`` of its range passes the overflow to the next slice and is
    reprogrammed.
    """

    slices: int = Field(default=1, ge=1, le=8)
    base: float = Field(default=16.0, gt=1.0)
    carry_interval: int = Field(default=1000, ge=1, description="updates between carries")
    carry_threshold: float = Field(default=0.5, gt=0.0, le=1.0)
    slice_bits: list[int] | None = Field(
        default=None,
        description="PANTHER bit slicing: cell capacity in bits of each slice, most significant first "
        "(e.g. [4,4,4,6,6,5,5,5]); set: a fixed-point weight of slices x array.bits_per_cell bits, "
        "carry-resolution step every carry_interval updates (pimtrain.xbar.bitslice)",
    )
    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any):
        return _refuse_renamed(data, "slicing")

    @model_validator(mode="after")
    def _slice_bits(self):
        if self.slice_bits is not None:
            if len(self.slice_bits) != self.slices:
                raise ValueError(f"slice_bits has {len(self.slice_bits)} entries; must equal slices ({self.slices})")
            if any(b < 1 or b > 16 for b in self.slice_bits):
                raise ValueError(f"slice_bits must each be 1..16 (got {self.slice_bits})")
        return self


class AlgorithmSpec(Strict):
    """The analog training algorithm (``update.algorithm``; numerics in :mod:`pimtrain.xbar.algorithms`).

    ``sgd``: one array, the gradient written into it (the plain core). ``mixed_precision`` (Nandakumar et al.
    2018): the gradient summed in a digital accumulator χ; every ``transfer_every`` updates the cells whose |χ|
    reached ``buffer_threshold`` device steps get that many steps written, χ keeps the rest. ``tiki_taka`` (Gokmen &
    Haensch 2020): the gradient written into a fast array A; every ``transfer_every`` updates
    ``columns_per_transfer`` columns of A are read (the transfer read, its own I/O ``transfer_io``) and written into
    the slow array C scaled by ``transfer_lr``; W = γ·A + C. ``ttv2`` (Gokmen 2021): the transfer read accumulates in
    a digital buffer H (``transfer_lr``·read); whole ``buffer_threshold`` steps are written into C, H keeps the rest
    and forgets ``buffer_decay`` of it per transfer. ``c_ttv2`` (Rasch et al. 2023): ttv2 with input choppers ±1
    per column, flipped with ``chopper_probability`` at each of the column's transfers, cancelling A's offset.
    ``agad`` (Rasch et al. 2023): c_ttv2 whose transfer read is taken relative to an on-the-fly digital reference,
    A's read at the column's last chopper flip (no reference array, no device decay needed). ``residual`` (Li et al.
    2024, residual learning): tiki_taka read as W = γ·A + C with γ > 0, the gradient taken at that mixed weight.
    One device step = the mean weight change of one pulse, ``device.dw_min`` of the weight range: 2 × ``dw_min`` ×
    ``array.w_max`` (aihwkit's ``dw_min`` at ``w_max`` 1).
    """

    kind: Literal["sgd", "mixed_precision", "tiki_taka", "ttv2", "c_ttv2", "agad", "residual"] = "sgd"
    transfer_every: int = Field(default=1, ge=1, description="updates (opu calls) between transfers")
    columns_per_transfer: int = Field(default=1, ge=1, description="columns of A read and transferred per transfer")
    transfer_lr: float = Field(default=1.0, gt=0.0, description="scale of a transfer read written into C (or the buffer)")
    buffer_threshold: float = Field(default=1.0, gt=0.0, description="device steps a buffer entry must reach to be written")
    buffer_decay: float = Field(default=0.0, ge=0.0, lt=1.0, description="fraction of the buffer forgotten per transfer")
    chopper_probability: float = Field(default=0.0, ge=0.0, le=1.0, description="c_ttv2/agad: chance a column's chopper flips per transfer")
    gamma: float = Field(default=0.0, ge=0.0, description="W = gamma*A + C (tiki_taka / residual)")
    reference: Literal["none", "array"] = Field(
        default="none",
        description="A's zero: 'none' (A's own zero), 'array' (a reference array programmed to A's start, read and "
        "subtracted at every read of A: its own device draws and programming noise)",
    )
    transfer_io: IOSpec | None = Field(default=None, description="converters of the transfer read (None = io.forward)")
    buffer_bits: int = Field(default=16, ge=2, le=64, description="bits of one digital buffer entry (χ, H) for the cost: "
                             "storage and adder width (assumed 16: a fixed-point accumulator above 8-bit gradients)")

    @model_validator(mode="after")
    def _used(self):
        if self.chopper_probability > 0 and self.kind not in ("c_ttv2", "agad"):
            raise ValueError(f"chopper_probability is used by c_ttv2 and agad; kind is {self.kind!r}")
        if self.buffer_decay > 0 and self.kind not in ("ttv2", "c_ttv2", "agad"):
            raise ValueError(f"buffer_decay is used by ttv2, c_ttv2 and agad; kind is {self.kind!r}")
        if self.gamma > 0 and self.kind not in ("tiki_taka", "ttv2", "c_ttv2", "agad", "residual"):
            raise ValueError(f"gamma weighs the fast array A; kind {self.kind!r} has none")
        if self.kind == "residual" and self.gamma <= 0:
            raise ValueError("gamma: residual learning reads W = gamma*A + C; allowed: gamma > 0")
        return self


class UpdateSpec(Strict):
    """The weight-update kernel.

    ``outer_product``: in-situ rank-1 update per sample through the device (Marinella, PANTHER SGD);
    ``accumulate``: gradient summed digitally over the batch, then written once through the device;
    ``serial``: as ``accumulate`` but written row by row (digital ReRAM baselines; differs in cost);
    ``exact``: W ← W − lr·G in floating point (digital designs, ideal reference).
    """

    rule: Literal["outer_product", "accumulate", "serial", "exact"] = "exact"
    pulse: PulseSpec = Field(default_factory=PulseSpec)
    slicing: SlicingSpec = Field(default_factory=SlicingSpec)
    weight_copies: int = Field(
        default=1, ge=1, le=2,
        description="copies of each weight matrix the update writes: 1 = the forward read, the backward read and the "
        "update share the arrays; 2 = a forward and a backward (transposed) copy, both written",
    )
    delta_arrays: bool = Field(
        default=False,
        description="outer products accumulate in extra delta arrays over the batch, folded into the weight copies at "
        "batch end (rule 'outer_product' only)",
    )
    algorithm: AlgorithmSpec = Field(default_factory=AlgorithmSpec, description="analog training algorithm (sgd, tiki_taka, ...)")

    @model_validator(mode="after")
    def _writes(self):
        if self.delta_arrays and self.rule != "outer_product":
            raise ValueError(f"delta_arrays accumulates outer products; needs rule 'outer_product' (got {self.rule!r})")
        return self


# ---------------------------------------------------------------------------------------------- digital
class DigitalSpec(Strict):
    """Numerics of a digital design (SRAM or digital ReRAM): fixed-point or float storage and MACs."""

    weight_bits: int | None = Field(default=None, ge=1, le=32, description="fixed-point weight bits (None = float32)")
    activation_bits: int | None = Field(default=None, ge=1, le=32)
    format: Literal["fixed", "fp32", "bf16", "fp16"] = "fp32"
    arithmetic: Literal["mac", "in_memory_logic"] = Field(
        default="mac",
        description="what computes: 'mac' = digital MAC units next to a weight memory; 'in_memory_logic' = "
        "bit-serial floating-point arithmetic by logic gates inside the memory rows (pimtrain.pimlogic)",
    )
    logic_family: Literal["nor", "majority"] | None = Field(
        default=None,
        description="arithmetic 'in_memory_logic': the gate family - 'nor' (stateful MAGIC NOR on resistive cells) or "
        "'majority' (majority-gate full adders with separate read and write paths, SOT-MRAM)",
    )
    exponent_bits: int | None = Field(default=None, ge=2, le=11, description="in_memory_logic: exponent width (None = from format)")
    mantissa_bits: int | None = Field(default=None, ge=1, le=25, description="in_memory_logic: fraction width (None = from format)")
    accumulation: Literal["pairwise", "sequential"] = Field(
        default="pairwise", description="in_memory_logic: order of the in-memory sum of products (pairwise tree or row order)",
    )

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any):
        return _refuse_renamed(data, "digital")

    @model_validator(mode="after")
    def _family(self):
        if self.arithmetic == "in_memory_logic" and self.logic_family is None:
            raise ValueError("arithmetic 'in_memory_logic' needs a logic_family ('nor' or 'majority')")
        if self.arithmetic == "mac" and self.logic_family is not None:
            raise ValueError("logic_family applies to arithmetic 'in_memory_logic' only")
        return self

    @property
    def in_memory(self) -> bool:
        return self.arithmetic == "in_memory_logic"


# ---------------------------------------------------------------------------------------------- pipeline
class PipelineSpec(Strict):
    """How the design overlaps its work in time; the cost engine's latency follows it.

    ``read_stages``: stages one input cycle of an array read passes through (e.g. 2: drive and integrate,
    convert; 3: crossbar, sample-and-hold/ADC, shift-and-add as in PUMA); the input cycles of a bit-serial
    read are pipelined through them, so a read of ``n`` cycles takes ``Σ stage times + (n − 1) × max stage
    time``. ``layers``: ``sequential`` = the layers of a kernel run one after another for every vector;
    ``pipelined`` = a weight-stationary pipeline across layers (ISAAC-style): the vectors of a batch stream
    through all layers, so a kernel of ``B`` vectors takes ``Σ layer times + (B − 1) × max layer time``.
    """

    read_stages: int = Field(default=2, ge=1, le=8)
    layers: Literal["sequential", "pipelined"] = "sequential"


# ----------------------------------------------------------------------------------------------- design
class Design(Strict):
    """A whole PIM training design. See the module docstring for the blocks."""

    name: str = Field(min_length=1)
    description: str = ""
    compute: Literal["analog", "digital"] = "analog"
    seed: int = Field(default=0, ge=0, le=SEED_MAX)
    device: DeviceSpec = Field(default_factory=DeviceSpec)
    array: ArraySpec = Field(default_factory=ArraySpec)
    io: IOSettings = Field(default_factory=IOSettings)
    update: UpdateSpec = Field(default_factory=UpdateSpec)
    digital: DigitalSpec = Field(default_factory=DigitalSpec)
    technology: TechnologySpec = Field(default_factory=TechnologySpec)
    hierarchy: HierarchySpec = Field(default_factory=HierarchySpec)
    pipeline: PipelineSpec = Field(default_factory=PipelineSpec)
    circuits: CircuitsSpec = Field(default_factory=CircuitsSpec)
    provenance: dict[str, Provenance] = Field(default_factory=dict, description="dotted field path -> source")
    source_path: str | None = Field(default=None, exclude=True, description="file the design was read from")

    @model_validator(mode="before")
    @classmethod
    def _lift_inline_provenance(cls, data: Any):
        """Accept ``{value: ..., source: ..., basis: ...}`` anywhere and move the source to ``provenance``."""
        if not isinstance(data, dict):
            return data
        found: dict[str, dict] = {}
        lifted = _lift(data, "", found)
        if found:
            prov = dict(lifted.get("provenance") or {})
            for path, entry in found.items():
                prov.setdefault(path, entry)
            lifted["provenance"] = prov
        return lifted

    def __eq__(self, other: object) -> bool:
        """Designs are equal when everything they describe is equal (where they were read from aside)."""
        if not isinstance(other, Design):
            return NotImplemented
        return self.model_dump(exclude={"source_path"}) == other.model_dump(exclude={"source_path"})

    __hash__ = None  # mutable model

    @model_validator(mode="after")
    def _consistent(self):
        """Cross-block combinations that no evaluator could honour are refused here, at load."""
        a, sl = self.array, self.update.slicing
        if a.weight_bits is not None and a.bits_per_cell is None:
            raise ValueError("array.weight_bits: a stored weight of weight_bits is cut into cells of bits_per_cell bits; "
                             "needs array.bits_per_cell (or leave weight_bits out for an analog weight)")
        if a.weight_bits is not None and a.bits_per_cell is not None and sl.slices > 1:
            need = -(-a.weight_bits // a.bits_per_cell)
            if sl.slices != need:
                raise ValueError(f"update.slicing.slices: {sl.slices} slices disagree with array.weight_bits / array.bits_per_cell "
                                 f"= {a.weight_bits} / {a.bits_per_cell} -> {need} cells per weight; allowed: {need}")
        if self.compute == "analog" and self.digital.in_memory:
            raise ValueError("digital.arithmetic: 'in_memory_logic' needs compute 'digital'")
        if self.compute == "digital":
            for k in ("forward", "backward"):
                if getattr(self.io, k).accumulation != "single_read":
                    raise ValueError(f"io.{k}.accumulation: partial-sum accumulation is a kind of analog read; needs compute 'analog'")
            if self.update.delta_arrays:
                raise ValueError("update.delta_arrays: delta arrays are analog arrays; needs compute 'analog'")
            if self.update.algorithm.kind != "sgd":
                raise ValueError(f"update.algorithm: {self.update.algorithm.kind!r} trains analog arrays; needs compute "
                                 "'analog' (allowed for a digital design: sgd)")
        for k in ("forward", "backward"):
            io = getattr(self.io, k)
            if io.accumulation in ("digital", "analog_buffered", "analog") and a.bits_per_cell is None:
                raise ValueError(f"io.{k}.accumulation: {io.accumulation!r} adds weight bit slices; needs array.bits_per_cell (and array.weight_bits)")
            if a.weight_mapping == "bias" and (self.compute != "analog" or io.accumulation != "digital"):
                raise ValueError(f"array.weight_mapping: 'bias' subtracts the stored bias digitally after every bit line's "
                                 f"conversion; needs compute 'analog' and io.{k}.accumulation 'digital' (got {io.accumulation!r})")
        return self

    @property
    def is_ideal(self) -> bool:
        """True when nothing non-ideal is switched on (the float-equivalent fast path applies)."""
        return (
            self.compute == "analog"
            and self.device.ideal
            and self.io.forward.ideal and self.io.backward.ideal
            and self.update.pulse.scheme == "none" and self.update.slicing.slices == 1
        )


_PROV_KEYS = {"value", "source", "basis", "note"}


def _lift(node: Any, path: str, found: dict[str, dict]) -> Any:
    if isinstance(node, dict):
        keys = set(node)
        if "value" in keys and "source" in keys and keys <= _PROV_KEYS:
            found[path] = {k: node[k] for k in ("source", "basis", "note") if k in node}
            found[path].setdefault("basis", "exact")
            return node["value"]
        if path == "provenance":
            return node
        return {k: _lift(v, f"{path}.{k}" if path else str(k), found) for k, v in node.items()}
    if isinstance(node, list):
        return [_lift(v, f"{path}.{i}", found) for i, v in enumerate(node)]
    return node
