"""Kernel, layer and step cost: actions counted from the mapping × per-action cost of each component.

Kernels: ``forward`` (VMM), ``backward`` (MVM), ``update`` (outer product / accumulate-then-write /
serial writes / exact digital update), ``digital`` (activation and its derivative, loss, activation
buffers, router traffic) and ``leakage`` (static power of every component over the step latency).

Latency: layers run one after another and, within a layer, the input vectors of a batch (and the
output positions of a convolution) one after another; the arrays of one layer work in parallel; the
digital work of a layer is not overlapped with its array kernels. This is a per-step critical path
without inter-layer pipelining (a stated simplification). Leakage is charged for the arrays, cores and
tiles that hold the workload's weights over the whole step, the rest of the chip taken as power-gated
(``hierarchy.static_power: occupied``, the default), or for every block of the stated chip
(``static_power: chip``); area counts the whole chip either way.
"""
from __future__ import annotations

import math
from collections import defaultdict

from pimtrain.design import Design, PimtrainError, load_design
from pimtrain.mapping import LayerMapping, place

from .hardware import Hardware, build_hardware, used_multiplicity
from .pipeline import read_pipeline_time

KERNELS = ("forward", "backward", "update", "transfer", "digital", "leakage")


class Ledger:
    """Energy (J) by (kernel, layer, component) and latency (s) by (kernel, layer)."""

    def __init__(self):
        self.energy: dict[tuple[str, str, str], float] = defaultdict(float)
        self.latency: dict[tuple[str, str], float] = defaultdict(float)
        self.macs: dict[tuple[str, str], float] = defaultdict(float)
        #: array-seconds by (kernel, layer): arrays × the interval at which each accepts the next vector
        self.busy: dict[tuple[str, str], float] = defaultdict(float)

    def e(self, kernel: str, layer: str, comp, energy: float) -> None:
        if energy:
            self.energy[(kernel, layer, comp if isinstance(comp, str) else comp.name)] += energy

    def t(self, kernel: str, layer: str, latency: float) -> None:
        self.latency[(kernel, layer)] += latency


def _bits(v, default=8):
    return v if v is not None else default


def weight_bits_of(design: Design) -> int:
    """Bits of one stored weight of a digital design (``digital.weight_bits``, else its float format's)."""
    d = design.digital
    if d.weight_bits is not None:
        return d.weight_bits
    return {"fp32": 32, "bf16": 16, "fp16": 16}.get(d.format, 8)


def _act_bits(design: Design) -> int:
    if design.digital.activation_bits is not None:
        return design.digital.activation_bits
    if design.compute == "analog" and design.io.forward.dac_bits is not None:
        return design.io.forward.dac_bits
    return weight_bits_of(design) if design.compute == "digital" else 8


# ============================================================================================== analog
def _analog_read(led: Ledger, hw: Hardware, m: LayerMapping, layer: str, kernel: str, n_vec: float,
                 activity: float | None) -> None:
    """VMM (kernel 'forward') or MVM ('backward') of one layer for ``n_vec`` input vectors."""
    d = hw.design
    io = d.io.forward if kernel == "forward" else d.io.backward
    xbar = hw.first("array")
    in_bits, adc_bits = _bits(io.dac_bits), _bits(io.adc_bits)
    cyc = m.input_cycles(kernel)
    t_unit = d.array.read_time
    if io.input_encoding == "time":
        t_in = (2 ** in_bits) * t_unit          # two polarity phases of 2^(b-1) slots
        t_on = (2 ** (in_bits - 1)) * t_unit    # each input is on in one phase only
        drive_bits = in_bits
    elif io.input_encoding == "bit_serial":
        t_in = t_unit
        t_on = cyc * t_unit
        drive_bits = io.input_bits_per_cycle
    else:
        t_in = t_on = t_unit
        drive_bits = in_bits
    c = m.read_counts(kernel)  # the Mapping's action counts of one vector
    e, _ = xbar.read(c.cells_read, t_on, activity)
    led.e(kernel, layer, xbar, n_vec * e)
    for drv in hw.by_role("input_driver"):
        e, _ = drv.drive(drive_bits)
        led.e(kernel, layer, drv, n_vec * c.drives * e)
    per_array = m.busiest_array_conversions(kernel)
    # single-read and digital accumulation convert every cycle (pipelined with the next cycle's read);
    # analog accumulation converts once at the end of the vector
    per_cycle = io.accumulation in ("single_read", "digital") and cyc > 1
    t_conv = 0.0
    for ro in hw.by_role("readout"):
        e, t = ro.convert(adc_bits, t_in)
        led.e(kernel, layer, ro, n_vec * c.conversions * e)
        busy = per_array / cyc if per_cycle else per_array
        t_conv = max(t_conv, math.ceil(busy / max(ro.count, 1) - 1e-9) * t if c.conversions else 0.0)
    for sh in hw.by_role("sample_hold"):
        e, _ = sh.sample()
        led.e(kernel, layer, sh, n_vec * c.samples * e)
    if c.shift_adds:
        for sa in hw.by_role("shift_add"):
            e, _ = sa.add()
            led.e(kernel, layer, sa, n_vec * c.shift_adds * e)
    for reg in hw.by_role("output_register"):
        e, _ = reg.access(adc_bits)
        led.e(kernel, layer, reg, n_vec * c.outputs * e)
    if c.accumulations:
        for acc in hw.by_role("accumulator"):
            e, _ = acc.accumulate(io.buffer_bits, t_unit)
            led.e(kernel, layer, acc, n_vec * c.accumulations * e)
    overlap = d.pipeline.read_stages > 1
    if per_cycle:  # the input cycles stream through the design's read stages (drive, convert, ...)
        t_vec = read_pipeline_time(d, cyc, [t_in, t_conv])
        interval = cyc * (max(t_in, t_conv) if overlap else t_in + t_conv)
    else:
        t_vec = cyc * t_in + t_conv
        interval = max(cyc * t_in, t_conv) if overlap else t_vec  # the conversion overlaps the next vector's cycles
    led.t(kernel, layer, n_vec * t_vec if m.arrays else 0.0)
    led.macs[(kernel, layer)] += n_vec * m.in_features * m.out_features
    busy = n_vec * m.arrays * interval
    led.busy[(kernel, layer)] += busy
    for blk in hw.by_role("periphery"):  # blocks quoted by power draw it while the arrays they serve compute
        e, _ = blk.active(busy * blk.count / d.hierarchy.arrays_per(blk.level))
        led.e(kernel, layer, blk, e)


def _pipeline_layers(led: Ledger, names: list[str], batch_size: int) -> None:
    """``pipeline.layers: pipelined``: the vectors of a batch stream through the layers of each read kernel,
    so the kernel takes Σ per-vector layer times + (B − 1) × the slowest; the saving is shared out over the
    layers in proportion to their sequential time (the breakdown still adds up)."""
    if batch_size <= 1:
        return
    for kernel in ("forward", "backward"):
        per = {n: led.latency.get((kernel, n), 0.0) for n in names}
        seq = sum(per.values())
        if seq <= 0:
            continue
        piped = seq / batch_size + (batch_size - 1) * max(per.values()) / batch_size
        for n, t in per.items():
            if t:
                led.latency[(kernel, n)] = t * piped / seq


def _analog_update(led: Ledger, hw: Hardware, m: LayerMapping, layer: str, n_vec: float, n_batch: int,
                   activity: float | None) -> None:
    d = hw.design
    xbar = hw.first("array")
    rule = d.update.rule
    macs = n_vec * m.in_features * m.out_features
    led.macs[("update", layer)] += macs
    c = m.update_counts()  # the Mapping's action counts of one update event
    if rule == "outer_product" and c.cells_written and not c.pulsed_cells:
        # a bit-sliced weight without headroom is rewritten whole at every example (read-modify-write)
        e, t = xbar.program_rows(c.cells_written, c.rows_written)
        led.e("update", layer, xbar, n_vec * e)
        led.t("update", layer, n_vec * t if m.arrays else 0.0)
        n_events = n_vec
    elif rule == "outer_product":
        row_bits = d.update.pulse.row_bits
        col_bits = d.update.pulse.col_bits + 1
        e, t = xbar.outer_product(c.pulsed_cells, row_bits, activity)
        led.e("update", layer, xbar, n_vec * e)
        for drv in hw.by_role("update_row_driver"):
            e1, _ = drv.drive(row_bits)
            led.e("update", layer, drv, n_vec * c.row_drives * e1)
        for drv in hw.by_role("update_col_driver"):
            e1, _ = drv.drive(col_bits)
            led.e("update", layer, drv, n_vec * c.col_drives * e1)
        led.t("update", layer, n_vec * t if m.arrays else 0.0)
        if c.fold_write_cells:  # delta arrays folded into the weight copies once per batch
            e_r, t_r = xbar.read_rows(c.fold_read_cells, c.fold_rows)
            e_w, t_w = xbar.program_rows(c.fold_write_cells, c.fold_rows)
            led.e("update", layer, xbar, e_r + e_w)
            led.t("update", layer, max(t_r, t_w))
        n_events = n_vec
    else:
        # gradient summed digitally over the batch, then every cell programmed row by row once
        mac = hw.first("mac")
        if mac is not None:
            e, _ = mac.mac()
            led.e("update", layer, mac, macs * e)
            t_mac = macs / max(mac.count, 1) * mac.clock_period  # the MAC units of one core
        else:
            t_mac = 0.0
        e, t = xbar.program_rows(c.cells_written, c.rows_written)
        led.e("update", layer, xbar, e)
        led.t("update", layer, t_mac + (t if m.arrays else 0.0))
        n_events = n_batch
    if c.carries:
        carries = n_events * c.carries
        e, t = xbar.program_rows(c.carry_cells, c.carry_rows)
        led.e("update", layer, xbar, carries * e)
        led.t("update", layer, carries * t)


# ============================================================================================== digital
def _digital_memory(hw: Hardware):
    mem = hw.first("weight_memory")
    if mem is None:
        raise PimtrainError(f"design {hw.design.name!r}: compute 'digital' needs a component with role 'weight_memory' (model sram or reram_memory)")
    mac = hw.first("mac")
    if mac is None:
        raise PimtrainError(f"design {hw.design.name!r}: compute 'digital' needs a component with role 'mac'")
    return mem, mac


def _digital_layer_units(hw: Hardware, mem, mac, weights_bits: float) -> tuple[int, int]:
    """(memory instances, MAC units) serving one layer: those of the cores holding its weights."""
    core_bits = mem.p["capacity_bits"] * (mem.count if mem.level == "core" else 1)
    cores = max(1, math.ceil(weights_bits / core_bits)) if core_bits else 1
    mem_inst = max(1, mem.count * (cores if mem.level == "core" else 1))
    mac_units = max(1, mac.count * (cores if mac.level == "core" else 1))
    return mem_inst, mac_units


def _digital_kernels(led: Ledger, hw: Hardware, m: LayerMapping, layer: str, n_vec: float, n_batch: int,
                     kernels: tuple[str, ...]) -> None:
    d = hw.design
    mem, mac = _digital_memory(hw)
    wb = weight_bits_of(d)
    n_w = m.in_features * m.out_features
    inst, units = _digital_layer_units(hw, mem, mac, n_w * wb)
    e_mac, t_mac = mac.mac()
    width_total = mem.p["width_bits"] * inst
    for kernel in kernels:
        macs = n_vec * n_w
        if kernel in ("forward", "backward"):
            pen = mem.transpose_penalty(wb) if kernel == "backward" else 1.0
            bits = macs * wb * pen
            e_r, _ = mem.read(bits)
            led.e(kernel, layer, mem, e_r)
            led.e(kernel, layer, mac, macs * e_mac)
            t_mem = bits / width_total * mem.read_time
            led.t(kernel, layer, max(t_mem, macs / units * t_mac))
            led.macs[(kernel, layer)] += macs
        else:  # update: gradient MACs, then one read-modify-write of every weight per event
            events = n_vec if d.update.rule == "outer_product" else n_batch
            bits = events * n_w * wb
            e_r, _ = mem.read(bits)
            e_w, _ = mem.write(bits)
            led.e("update", layer, mem, e_r + e_w)
            led.e("update", layer, mac, macs * e_mac)
            t_mem = bits / width_total * (mem.read_time + mem.write_time)
            led.t("update", layer, max(t_mem, macs / units * t_mac))
            led.macs[("update", layer)] += macs


# ============================================================================================== digital work
def _digital_work(led: Ledger, hw: Hardware, m: LayerMapping, layer: str, n_vec: float, inference: bool,
                  last: bool, batch: int, backward_needed: bool, activations: bool = True) -> None:
    d = hw.design
    ab = _act_bits(d)
    # activation forward and derivative on every layer's outputs (assumed); a workload traced from a torch model
    # (``activations=False``) has its real activation modules charged as digital work instead (digital_layers.py)
    ops = n_vec * m.out_features if activations else 0.0
    if not inference:
        ops += n_vec * m.out_features if activations else 0.0  # derivative
        if last:
            ops += batch * m.out_features  # loss and its gradient
    t = 0.0
    for act in hw.by_role("activation"):
        e, t_op = act.op()
        led.e("digital", layer, act, ops * e)
        t = max(t, ops / max(act.count, 1) * t_op)  # the units of one core/tile serve the layer's outputs
    # activation buffer traffic (bits)
    rd = n_vec * m.in_features * ab
    wr = n_vec * m.out_features * ab
    if not inference:
        rd += n_vec * m.out_features * ab + n_vec * (m.in_features + m.out_features) * ab  # δ in, x and δ for update
        if backward_needed:
            wr += n_vec * m.in_features * ab
    for buf in hw.by_role("buffer"):
        e_r, t_r = buf.read(rd)
        e_w, t_w = buf.write(wr)
        led.e("digital", layer, buf, e_r + e_w)
        t = max(t, (t_r + t_w) / max(buf.count, 1))
    moved = n_vec * m.out_features * ab * (1 if inference else 2)
    for r in hw.by_role("router"):
        e, _ = r.transfer(moved)
        led.e("digital", layer, r, e)
    led.t("digital", layer, t)


# ============================================================================================== entry
def _workload(workload):
    if isinstance(workload, str):
        from pimtrain.workloads import get_workload  # resolved at call time (names live in workloads)

        return get_workload(workload)
    if not hasattr(workload, "layers"):
        raise PimtrainError(f"workload: expected a Workload or a name such as 'vgg16' or 'mlp:784-300-10', got {type(workload).__name__}")
    return workload


def _layer_stats(stats, name, counts=None):
    s = dict((counts or {}).get(name) or {})
    s.update({k: v for k, v in ((stats or {}).get(name) or {}).items() if v is not None})
    return s.get("input_activity"), s.get("update_activity")


def run_ledger(design: Design, workload, batch_size: int = 1, inference: bool = False, stats: dict | None = None,
               first_layer_backward: bool = False, check_fit: bool = True, counts: dict | None = None):
    """The ledger of one step. ``stats``: per layer name, measured ``input_activity`` / ``update_activity``.
    ``counts``: per layer name, measured per-event action counts (:func:`pimtrain.mapping.measured_counts`:
    ``forward`` / ``backward`` / ``update`` dicts, and the two activities) that replace the Mapping's."""
    design = load_design(design)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 0:
        raise PimtrainError(f"batch_size: must be an integer >= 0 (got {batch_size!r})")
    wl = _workload(workload)
    hw = build_hardware(design)
    if hw.first("matrix_unit") is not None:  # PUMA/PANTHER node: per-crossbar-operation model (cost/puma.py)
        from .puma import check_design, leakage, puma_ledger

        if design.update.algorithm.kind != "sgd" and not inference:  # its transfers, buffers, extra arrays: not modelled
            raise PimtrainError(f"update.algorithm: {design.update.algorithm.kind!r} is not costed on a matrix_unit (PUMA "
                                "node) design; allowed: sgd, or a design costed by the generic engine")
        check_design(design, hw)
        led, names = Ledger(), _unique_names(wl.layers)
        placement = puma_ledger(design, wl, names, batch_size, inference, first_layer_backward, hw, led, check_fit)
        leakage(led, hw, placement)
        return led, hw, placement, wl, names
    names = _unique_names(wl.layers)
    maps = [LayerMapping(L.out_features, L.in_features, design, max(int(L.reuse), 1), measured=(counts or {}).get(n))
            for L, n in zip(wl.layers, names)]
    algorithm = design.compute == "analog" and design.update.algorithm.kind != "sgd"
    if algorithm:  # update.algorithm: its extra arrays (A, R) placed beside the weights (pimtrain.cost.algorithms)
        from .algorithms import charge as charge_algorithm, digital_gradient, extra_array_maps
    placement = place(design, maps + (extra_array_maps(design, maps) if algorithm else []))
    if check_fit:
        if design.compute == "analog":
            placement.check(getattr(wl, "name", "workload"))
        else:
            _check_digital_fit(hw, maps, getattr(wl, "name", "workload"))
    led = Ledger()
    n_layers = len(maps)
    for i, (m, name) in enumerate(zip(maps, names)):
        if batch_size == 0:
            continue  # no samples: no work (leakage only, over zero time)
        n_vec = batch_size * m.reuse
        act_in, act_up = _layer_stats(stats, name, counts)
        backward_needed = (i > 0 or first_layer_backward) and not inference
        kernels = ("forward",) if inference else (("forward", "backward", "update") if backward_needed else ("forward", "update"))
        if design.compute == "analog":
            _analog_read(led, hw, m, name, "forward", n_vec, act_in)
            if backward_needed:
                _analog_read(led, hw, m, name, "backward", n_vec, act_in)
            if not inference and not (algorithm and digital_gradient(design)):
                _analog_update(led, hw, m, name, n_vec, batch_size, act_up)
        else:
            if design.digital.in_memory:
                from .digital_pim import pim_kernels  # in-memory floating-point logic (pimtrain.pimlogic)

                pim_kernels(led, hw, m, name, n_vec, batch_size, kernels)
            else:
                _digital_kernels(led, hw, m, name, n_vec, batch_size, kernels)
        _digital_work(led, hw, m, name, n_vec, inference, i == n_layers - 1, batch_size, backward_needed,
                      activations=not getattr(wl, "digital_work", ()))
    if algorithm and not inference and batch_size:  # transfers, buffers, choppers of the algorithm
        charge_algorithm(led, hw, maps, names, batch_size, counts, placement)
    if design.device.refresh_threshold is not None and not inference and batch_size:  # one-sided pairs refreshed
        from .refresh import charge as charge_refresh

        charge_refresh(led, hw, names, counts)
    if design.pipeline.layers == "pipelined":
        _pipeline_layers(led, names, batch_size)
    total_t = sum(led.latency.values())
    # leakage over the step, shared out over layers by their latency
    layer_t = defaultdict(float)
    for (_kernel, layer), t in led.latency.items():
        layer_t[layer] += t
    chip = design.hierarchy.static_power == "chip"
    for comp in hw.components.values():
        # 'occupied': blocks that hold none of the workload's weights are power-gated; 'chip': all leak
        p = comp.leak_power * (comp.count * design.hierarchy.multiplicity(comp.level) if chip
                               else used_multiplicity(hw, comp, placement))
        if p and total_t:
            for layer, t in layer_t.items():
                led.e("leakage", layer, comp, p * t)
    return led, hw, placement, wl, names


def _check_digital_fit(hw: Hardware, maps, wl_name: str) -> None:
    d = hw.design
    if d.hierarchy.chip_fit != "error":
        return
    if d.digital.in_memory:
        from .digital_pim import check_fit  # in-memory floating-point logic (pimtrain.pimlogic)

        return check_fit(hw, maps, wl_name)
    mem = hw.first("weight_memory")
    if mem is None:
        return
    cap = mem.p["capacity_bits"] * hw.multiplicity(mem)
    need = sum(m.in_features * m.out_features for m in maps) * weight_bits_of(d)
    if need > cap:
        h = d.hierarchy
        raise PimtrainError(
            f"{wl_name}: needs {need:.0f} bits of weight memory on design {d.name!r}; limit: {mem.name}.capacity_bits*count"
            f"*cores = {cap:.0f} (hierarchy {h.arrays_per_core}/{h.cores_per_tile}/{h.tiles_per_chip})"
        )


def _unique_names(layers) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, L in enumerate(layers):
        base = getattr(L, "name", None) or f"layer{i}"
        if base in seen:
            seen[base] += 1
            base = f"{base}#{seen[base]}"
        else:
            seen[base] = 0
        out.append(base)
    return out
