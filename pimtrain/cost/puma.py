"""PUMA/PANTHER-style node cost: crossbar operations counted per kernel × the authors' per-operation
constants (``Aayush-Ankit/puma-simulator`` branch ``training``, docs/sources.md §2.3 [C]).

Hierarchy: node → tiles (eDRAM buffer, router) → cores (matrix units = MCUs, vector ALUs, memories)
→ MCUs of ``xbars_per_matrix`` physical ``array.rows × array.cols`` crossbars (one per weight slice).
A design is costed here when it has a component of model ``puma_mcu`` (role ``matrix_unit``); the
generic engine hands it over (:func:`pimtrain.cost.engine.run_ledger`).

Counting, per layer ``(out N, in K)`` used ``P`` times per example, batch ``B`` (``n = B·P`` vectors):

- matrices ``m = ⌈K/rows⌉·⌈N/cols⌉``, one MCU each (weight-stationary; the MCUs of a layer work in
  parallel); cores ``⌈m / mcus per core⌉``, tiles ``⌈cores / cores per tile⌉``.
- forward MVM / backward MTVM: ``ops_per_vector`` (bit-serial input cycles: 16-bit data, 1-bit DAC)
  crossbar operations per vector on each of the ``xbars_per_matrix`` crossbars;
  energy ``mvm_power·mvm_latency`` each, latency ``(cycles + pipeline.read_stages − 1)·mvm_latency`` per
  vector (the authors' simulator, ``src/ima.py`` ``xbComputeLatency`` on branch ``training``: a 3-stage
  xbar/ADC/shift-add pipeline, ``xbar_ip_lat × (16/dac_res + 3 − 1)``). The first layer has no MTVM.
- update by what the design's update writes (``update.weight_copies``, ``update.delta_arrays``):
  one copy (preset ``panther-sgd``): OPA in place on the weight crossbars (one copy serves MVM, MTVM and OPA);
  two copies (``panther-separate``): forward and backward copies, both updated by OPA (twice the OPA energy and cells,
  same latency; lets the MTVM of one example overlap the MVM of the next: a pipelining option not
  modelled in the latency here);
  two copies and delta arrays (``panther-minibatch``): MVM on one copy, MTVM on the other, and ``delta_xbars_per_matrix``
  delta crossbars that accumulate the batch's OPAs; at batch end the deltas are read serially and
  both copies written serially.
  OPA: ``opa_ops_per_update`` operations per rank-1 update and target crossbar, energy
  ``opa_power·opa_latency`` each; latency ``opa_phases·opa_latency`` per update (the simulator's
  ``xbComputeLatency``: an outer product takes 4 phases, one per input/error polarity, while its
  energy counts one access per input bit and crossbar);
  with ``opa_per_example`` = 1 one update per example (a conv layer's positions summed before the
  write), else one per vector.
  ``update.rule == 'serial'`` (ReRAM baseline with serial writes, ``Base_mvm``): the outer product is
  formed in CMOS (the MCU's ``opa_*`` constants) and the weights are read and written serially once
  per batch.
- CRS (bit-sliced designs, ``slicing.slice_bits`` set): every ``carry_interval`` rank-1 updates, all
  crossbars that receive OPAs are read and written serially (charged pro rata per example).
- serial read/write of a whole crossbar: ``xbar_read_*`` / ``xbar_write_*``; the crossbars of a layer
  are accessed in parallel (each row by row). A read-modify-write (the serial update, the mini-batch
  fold, a CRS) takes ``max(read, write)`` latency, as the simulator's ``crs`` instruction does
  (``src/ima.py``: stage latency ``max(getWrLatency(), getRdLatency())``); energy is read + write.
- digital work (vector ALUs = ``activation`` components per core, one op per lane per cycle):
  activation (forward, N per vector), derivative and product (backward, 2N), partial-sum reduction
  across row blocks (``(⌈K/rows⌉-1)·N``, backward ``(⌈N/cols⌉-1)·K``), learning-rate scaling (N);
  eDRAM (``buffer``) traffic of 16-bit activations and errors; router traffic of each layer's output.
- leakage (``hierarchy.static_power``): ``occupied`` (the simulator's accounting, ``src/hw_stats.py``:
  "tile/ima/noc is power-gated if unused") charges every component of the cores and tiles a workload
  occupies, over the step latency, and gates the off-chip link (:class:`OffchipLink`; the simulator's
  ``noc_inter_pow_leak = 0``); ``chip`` charges every block of the stated node (``tiles_per_chip`` tiles)
  and the off-chip link held up, over the step latency (:func:`node_static_power`): the node as a board
  that cannot gate its idle parts, the basis on which a GPU's board power (idle floor included) is charged.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

from pydantic import Field

from pimtrain.design import Design, PimtrainError
from pimtrain.mapping import input_cycles, matrix_crossbars, matrix_plan

from .components import Component, ComponentParams, Count, Q, action, adc_point
from .scaling import area_scale, energy_scale
from .pipeline import read_pipeline_time

#: bits of one activation / error word (16-bit fixed point, PUMA config)
WORD_BITS = 16


class PumaMatrixUnit(Component):
    """A PUMA/PANTHER matrix unit (MCU): one crossbar per weight bit slice (``pimtrain.mapping.matrix_crossbars``,
    8 for 16-bit weights on 2-bit cells) with lumped peripherals; its ADC conversions follow the design's
    ``adc_bits`` (:meth:`mvm`), its crossbar operations per vector the bit-serial input cycles, and an
    outer product takes ``opa_ops_per_update`` operations (default: one per input cycle, as the MVM).

    Defaults: PANTHER constants (``include/*Panther/constants_panther.py`` in the PANTHER authors'
    simulator, docs/sources.md §2.3 [C]): MVM/MTVM 100 ns at 3.09 mW lumped, OPA 20 ns at 4.44 mW lumped,
    serial read of a crossbar 10 250 ns / 6.5 nJ, serial write 10 969 ns / 22.6 nJ (the code's
    power × latency). Units in the simulator: ns, mW.
    """

    model = "puma_mcu"
    ROLE = "matrix_unit"

    class Params(ComponentParams):
        mvm_latency: Q("time", gt=0.0) = Field(default=100e-9, description="one crossbar MVM/MTVM operation (s): xbar_ip_lat, puma-simulator (Aayush-Ankit, branch training) include/mlpPanther/constants_panther.py (docs/sources.md §2.3 [C])")
        mvm_power: Q("power") = Field(default=3.09e-3, description="lumped power of an MVM operation (W): xbar_ip_pow rescaled for training, puma-simulator (Aayush-Ankit, branch training) include/mlpPanther/constants_panther.py (docs/sources.md §2.3 [C])")
        opa_latency: Q("time", gt=0.0) = Field(default=20e-9, description="one outer-product (OPA) phase (s): xbar_op_lat, puma-simulator (Aayush-Ankit, branch training) include/mlpPanther/constants_panther.py (docs/sources.md §2.3 [C])")
        opa_power: Q("power") = Field(default=4.44e-3, description="lumped power of an OPA operation (W): xbar_op_pow, puma-simulator (Aayush-Ankit, branch training) include/mlpPanther/constants_panther.py (docs/sources.md §2.3 [C])")
        xbar_read_latency: Q("time") = Field(default=10250e-9, description="serial read of a whole crossbar (s): 328000/32 ns, puma-simulator (Aayush-Ankit, branch training) include/mlpPanther/constants_panther.py (docs/sources.md §2.3 [C])")
        xbar_read_energy: Q("energy") = Field(default=6.5e-9, description="serial read of a whole crossbar (J): 208000/32 pJ, puma-simulator (Aayush-Ankit, branch training) include/mlpPanther/constants_panther.py (docs/sources.md §2.3 [C])")
        xbar_write_latency: Q("time") = Field(default=10969e-9, description="serial write of a whole crossbar (s): 351000/32 ns, puma-simulator (Aayush-Ankit, branch training) include/mlpPanther/constants_panther.py (docs/sources.md §2.3 [C])")
        xbar_write_energy: Q("energy") = Field(default=22.6e-9, description="serial write of a whole crossbar (J): write power x write latency, puma-simulator (Aayush-Ankit, branch training) include/mlpPanther/constants_panther.py (docs/sources.md §2.3 [C])")
        delta_xbars_per_matrix: Count(le=1024.0) = Field(
            default=16.0, description="delta crossbars per matrix when update.delta_arrays (puma-simulator config.py comment: 16)")
        opa_ops_per_update: Count(le=1e6, optional=True) = Field(
            default=None, description="crossbar operations of one rank-1 update per crossbar; default: the input cycles (one per input bit, assumed)")
        adc_convert_energy: Q("energy") = Field(
            default=1.666666667e-12, description="8-bit conversion inside the lumped MVM energy (J): ISAAC ADC 16 mW / (8 x 1.2 GS/s), hwcomponents IsaacADC (docs/sources.md §5 [X])")
        dac_drive_energy: Q("energy") = Field(
            default=0.350625e-12, description="1-bit row drive inside the lumped MVM energy (J): PUMA 1-bit DAC 0.00350625 mW dynamic "
            "over one 100 ns operation (docs/sources.md §2.3 [C])")
        opa_per_example: Count(le=1.0) = Field(
            default=0.0, description="1: one update per example (a conv layer's positions summed first), 0: one per input vector")
        opa_phases: Count(ge=1.0, le=64.0) = Field(
            default=4.0, description="phases of one outer-product instruction (puma-simulator src/ima.py xbComputeLatency: 4 i/o polarities)")

    UNSCALED = frozenset({"xbar_read_latency", "xbar_write_latency", "xbar_read_energy", "xbar_write_energy"})

    @action
    def mvm(self, adc_bits: int | None = None, bits_per_cycle: int = 1) -> tuple[float, float]:
        """One crossbar MVM/MTVM operation (one input cycle).

        ``mvm_power`` lumps the crossbar, its DACs, sample-and-holds, ADC and shift-and-add at the
        simulator's configuration (8-bit ADC, 1-bit DACs). On an analog design the converters are split out:
        each of the ``array.cols`` columns is converted once per operation at ``adc_convert_energy``
        (8 bits), scaled to the design's ``adc_bits`` by the published SAR points
        (:func:`pimtrain.cost.components.adc_point`), and each of the ``array.rows`` rows is driven at
        ``dac_drive_energy`` per input bit applied in the cycle (``bits_per_cycle``, linear in bits as the
        engine's DAC). The rest of the lumped energy (crossbar, sample-and-hold, shift-and-add) stays. At 8
        bits and 1 bit per cycle the result is the lumped figure.
        """
        e = self.p["mvm_power"] * self.p["mvm_latency"]
        if adc_bits is not None and self.design is not None and self.design.compute == "analog":
            e8 = self.design.array.cols * self.p["adc_convert_energy"]
            d1 = self.design.array.rows * self.p["dac_drive_energy"]
            e = max(e - e8 - d1, 0.0) + e8 * adc_point(int(adc_bits))[0] + d1 * max(int(bits_per_cycle), 1)
        return e, self.p["mvm_latency"]

    @action
    def opa(self) -> tuple[float, float]:
        """One crossbar outer-product operation."""
        return self.p["opa_power"] * self.p["opa_latency"], self.p["opa_latency"]

    @action
    def serial_read(self) -> tuple[float, float]:
        """Serial read of a whole crossbar, row by row."""
        return self.p["xbar_read_energy"], self.p["xbar_read_latency"]

    @action
    def serial_write(self) -> tuple[float, float]:
        """Serial write of a whole crossbar, row by row."""
        return self.p["xbar_write_energy"], self.p["xbar_write_latency"]


class OffchipLink(Component):
    """The node's off-chip link (HyperTransport, 4 links at 1.6 GHz, 6.4 GB/s): 10.4 W and 22.88 mm² at
    32 nm (ISAAC Table I, which counts it in the chip's 65.8 W; the PUMA/PANTHER simulator's constants
    ``noc_inter_pow_dyn = 10400`` mW, ``noc_inter_area = 22.88`` mm², docs/sources.md §2.3, §5 [C]).

    The link draws its power while it is up, whether or not packets cross it (ISAAC's accounting), so its
    ``leak_power`` is that power. Under ``hierarchy.static_power: occupied`` the PUMA engine gates it like
    every block the workload leaves idle (the simulator: ``noc_inter_pow_leak = 0``; a benchmark that fits
    one node sends nothing off-chip); under ``chip`` it is part of the node's static power.
    """

    model = "offchip_link"
    ROLE = "static"

    class Params(ComponentParams):
        packet_bits: Count(ge=1.0, le=1e6) = Field(
            default=256.0, description="bits of one packet (16 x 16-bit words): puma-simulator constants 'HT numbers from ISAAC = 6.4GB/s = 1packet(16*2 Bytes) = 5ns' (docs/sources.md §2.3 [C])")
        packet_time: Q("time", gt=0.0) = Field(
            default=5e-9, description="one packet over the link (s): puma-simulator constants ht_lat 5 ns (docs/sources.md §2.3 [C])")

    UNSCALED = frozenset({"packet_time"})

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        if self.p["area"] is None:
            self.p["area"] = 22.88e-6 * area_scale(self.tech.node_nm, 32.0)
        if "leak_power" not in self.given:
            self.p["leak_power"] = 10.4 * energy_scale(self.tech.node_nm, 32.0)

    @action
    def transfer(self, bits: float) -> tuple[float, float]:
        """Move ``bits`` bits over the link: whole packets, one ``packet_time`` each, at the link's power."""
        t = math.ceil(max(float(bits), 0.0) / self.p["packet_bits"]) * self.p["packet_time"]
        return self.p["leak_power"] * t, t


def puma_ledger(design: Design, wl, names, batch_size: int, inference: bool, first_layer_backward: bool,
                hw, led, check_fit: bool = True) -> SimpleNamespace:
    """Fill ``led`` (a :class:`pimtrain.cost.engine.Ledger`) for ``wl``; returns the placement used."""
    mcu = hw.first("matrix_unit")
    vfus = hw.by_role("activation")
    buf = hw.first("buffer")
    router = hw.first("router")
    upd = design.update
    sl = upd.slicing
    delta = upd.delta_arrays
    xb = matrix_crossbars(design)  # one crossbar per weight bit slice (the Mapping's geometry)
    copies = upd.weight_copies
    cyc = input_cycles(design, "forward")  # crossbar operations per vector: one per bit-serial input cycle
    e_mvm, t_mvm = mcu.mvm(design.io.forward.adc_bits, design.io.forward.input_bits_per_cycle)
    e_mtvm, _ = mcu.mvm(design.io.backward.adc_bits, design.io.backward.input_bits_per_cycle)
    e_opa, t_opa = mcu.opa()
    e_rd, t_rd = mcu.serial_read()
    e_wr, t_wr = mcu.serial_write()
    t_rmw = max(t_rd, t_wr)  # serial read-modify-write: read and write overlap (simulator's crs latency)
    # one MVM/MTVM instruction: the input cycles through the design's read stages, each one crossbar-operation long
    t_vec = read_pipeline_time(design, cyc, [t_mvm])
    t_upd = mcu.p["opa_phases"] * t_opa  # one OPA instruction (4 polarity phases)
    lanes = sum(v.count for v in vfus) or 1
    e_alu = (sum(v.op()[0] * v.count for v in vfus) / lanes) if vfus else 0.0
    clock = 1.0 / design.technology.clock_hz
    tot_m = tot_cores = tot_tiles = 0
    plans = [matrix_plan(design, L.out_features, L.in_features, mcu.count) for L in wl.layers]
    for p in plans:
        tot_m, tot_cores, tot_tiles = tot_m + p.matrices, tot_cores + p.cores, tot_tiles + p.tiles
    h = design.hierarchy
    units = mcu.count * (h.cores_per_tile * h.tiles_per_chip if mcu.level == "core" else h.multiplicity(mcu.level))
    limited = h.chip_fit == "error"
    if limited and check_fit and tot_m > units:
        raise PimtrainError(
            f"{getattr(wl, 'name', 'workload')}: needs {tot_m} matrix units of {design.array.rows}x{design.array.cols} on design "
            f"{design.name!r}; limit: {mcu.name}.count*cores_per_tile*tiles_per_chip = {mcu.count}*{h.cores_per_tile}*{h.tiles_per_chip} = {units}")
    for i, (L, name, p) in enumerate(zip(wl.layers, names, plans)):
        if batch_size == 0:
            continue
        n = batch_size * max(int(L.reuse), 1)
        K, N = L.in_features, L.out_features
        macs = float(K) * N * n
        backward = (i > 0 or first_layer_backward) and not inference

        def alu(kernel: str, ops: float, name=name, p=p) -> None:
            if vfus and ops:
                led.e(kernel, name, vfus[0], ops * e_alu)
                led.t(kernel, name, ops / (lanes * p.cores) * clock)

        def mem(kernel: str, bits: float, name=name, p=p) -> None:
            if buf is not None and bits:
                e, t = buf.read(bits)
                led.e(kernel, name, buf, e)
                led.t(kernel, name, t / p.tiles)

        # forward MVM
        led.e("forward", name, mcu, n * cyc * p.matrices * xb * e_mvm)
        led.t("forward", name, n * t_vec)
        led.macs[("forward", name)] += macs
        act = 0 if getattr(wl, "digital_work", ()) else N  # traced torch model: its activations are digital work
        alu("forward", n * (act + (p.row_blocks - 1) * N))
        mem("forward", n * (K + N) * WORD_BITS)
        if router is not None:
            led.e("forward", name, router, router.transfer(n * N * WORD_BITS)[0])
        if inference:
            continue
        if backward:
            led.e("backward", name, mcu, n * input_cycles(design, "backward") * p.matrices * xb * e_mtvm)
            led.t("backward", name, n * t_vec)
            led.macs[("backward", name)] += macs
            alu("backward", n * (2 * act + (p.col_blocks - 1) * K))
            mem("backward", n * (K + N) * WORD_BITS)
            if router is not None:
                led.e("backward", name, router, router.transfer(n * K * WORD_BITS)[0])
        # update
        alu("update", n * N)
        mem("update", n * (K + N) * WORD_BITS)
        led.macs[("update", name)] += macs
        n_opa = mcu.p["opa_ops_per_update"] if mcu.p["opa_ops_per_update"] is not None else cyc
        if delta:
            target = mcu.p["delta_xbars_per_matrix"]
        else:
            target = xb * copies
        n_upd = batch_size if mcu.p["opa_per_example"] else n  # one update per example, or per vector
        led.e("update", name, mcu, n_upd * n_opa * p.matrices * target * e_opa)
        led.t("update", name, n_upd * t_upd)
        if upd.rule == "serial":  # CMOS outer product, then serial read-modify-write of the weights per batch
            led.e("update", name, mcu, p.matrices * xb * copies * (e_rd + e_wr))
            led.t("update", name, t_rmw)
        if delta:  # fold the delta crossbars into both weight copies at batch end
            led.e("update", name, mcu, p.matrices * (mcu.p["delta_xbars_per_matrix"] * e_rd + xb * copies * e_wr))
            led.t("update", name, t_rmw)
        if sl.slice_bits is not None:  # carry-resolution steps, pro rata
            crs = n / sl.carry_interval
            if delta:
                crs = max(0.0, (n - sl.carry_interval) / sl.carry_interval)  # folded at batch end anyway
            led.e("update", name, mcu, crs * p.matrices * target * (e_rd + e_wr))
            led.t("update", name, crs * t_rmw)
    placement = SimpleNamespace(limited=limited, arrays_needed=tot_m, arrays_per_chip=units if limited else tot_m, cores_used=tot_cores,
                                tiles_used=max(tot_tiles, 1 if tot_m else 0))
    return placement


def static_counts(hw, placement=None) -> dict[str, int]:
    """Instances of each component that leak: under ``static_power: chip`` every block of the stated node
    (``placement`` unused); under ``occupied`` the MCUs, cores and tiles ``placement`` occupies, the
    off-chip link gated."""
    h = hw.design.hierarchy
    chip = h.static_power == "chip"
    if chip:  # every block of the stated node leaks
        per = {"array": h.multiplicity("array"), "core": h.multiplicity("core"), "tile": h.multiplicity("tile"), "chip": 1}
    else:
        per = {"array": placement.arrays_needed, "core": placement.cores_used, "tile": placement.tiles_used,
               "chip": 1 if placement.arrays_needed else 0}
    out = {}
    for name, comp in hw.components.items():
        if comp.role == "matrix_unit":  # MCUs: all of the node's, or one per matrix in use
            out[name] = comp.count * per["core"] if chip else placement.arrays_needed
        elif isinstance(comp, OffchipLink) and not chip:
            out[name] = 0  # gated: a benchmark that fits the node sends nothing off-chip (simulator: leak 0)
        else:
            out[name] = comp.count * per[comp.level]
    return out


def node_static_power(design: Design) -> float:
    """Static power (W) of the whole stated node: every block of ``tiles_per_chip`` tiles and the off-chip
    link, the figure ``static_power: chip`` charges over a step."""
    from .hardware import build_hardware

    d = design.model_copy(deep=True)
    d.hierarchy.static_power = "chip"
    hw = build_hardware(d)
    counts = static_counts(hw)
    return sum(comp.leak_power * counts[name] for name, comp in hw.components.items())


def example_transfer(design: Design, bits: float) -> tuple[float, float]:
    """``(energy J, latency s)`` of bringing ``bits`` onto the node over its off-chip link while the whole
    node waits powered (``static_power: chip``): latency from :meth:`OffchipLink.transfer`, energy the
    node's static power (:func:`node_static_power`, the link included) over that time. A design without
    an ``offchip_link`` component is a one-line error."""
    from .hardware import build_hardware

    links = [c for c in build_hardware(design).components.values() if isinstance(c, OffchipLink)]
    if not links:
        raise PimtrainError(f"design {design.name!r}: circuits.components needs a component of model 'offchip_link' "
                            "to bring examples onto the node")
    t = links[0].transfer(bits)[1]
    return node_static_power(design) * t, t


def leakage(led, hw, placement) -> None:
    """Static power of the leaking blocks (:func:`static_counts`) over the step, shared by layer latency."""
    from collections import defaultdict

    layer_t = defaultdict(float)
    for (_kernel, layer), t in led.latency.items():
        layer_t[layer] += t
    counts = static_counts(hw, placement)
    for name, comp in hw.components.items():
        p = comp.leak_power * counts[name]
        if p:
            for layer, t in layer_t.items():
                led.e("leakage", layer, comp, p * t)


def check_design(design: Design, hw) -> None:
    if design.compute != "analog" and design.update.slicing.slice_bits is not None:
        raise PimtrainError("update.slicing.slice_bits: needs compute 'analog'; allowed: null for digital designs")
    if hw.first("matrix_unit") is None:  # pragma: no cover - the engine only hands over such designs
        raise PimtrainError(f"design {design.name!r}: needs a component of model 'puma_mcu'")


__all__ = ["OffchipLink", "PumaMatrixUnit", "puma_ledger", "leakage", "static_counts", "node_static_power", "example_transfer", "WORD_BITS"]
