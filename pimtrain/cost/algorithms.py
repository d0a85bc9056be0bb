"""What an analog training algorithm (``update.algorithm``) costs: extra arrays, transfers, digital buffers, choppers.

The numerics (:class:`pimtrain.xbar.algorithms.CompoundCore`) count, per update call (one training step of a
layer), what the algorithm did (:func:`pimtrain.mapping.measured_counts` puts them under ``"algorithm"``); without
them the counts below are derived from the design (the fixed estimate). Charged here, under the kernel
``transfer``, per layer and step:

- **transfer reads**: the columns of A (and of the reference R) read through the arrays' own drivers, crossbar
  and converters at ``algorithm.transfer_io`` (the engine's read kernel on the transfer's counts:
  ``transfer.read.*``);
- **transfer writes**: the rank-1 column writes into C through C's update rule (``transfer.write.*``; the
  activity the numerics measured on those writes);
- **buffer**: the digital χ (mixed precision) or H (TTv2 family), ``buffer_bits`` per entry, one SRAM per layer
  sized to it (with AGAD's reference P beside it; component ``algorithm_buffer``: Horowitz ISSCC 2014 fit, as :class:`~.components.SRAM`): a
  read and a write per add / multiply-add, a read per compare, a write per cell written out and per reference entry copied (AGAD); its arithmetic
  on a fixed-point unit (component ``algorithm_alu``: :class:`~.components.MACUnit`, Horowitz ISSCC 2014):
  ``mac()`` per multiply-add and per multiply (a multiply costed as a multiply-add: an upper bound), ``add()``
  per add and per compare;
- **choppers**: one sign bit per input column in a register (component ``algorithm_chopper``:
  :class:`~.components.Register`); a 1-bit access per sign applied (an XOR on the value's sign) and per flip.

The extra arrays (A, and R with ``reference: array``) are arrays of the design: each layer's A (and R) has the
layer's geometry and is placed on the chip beside C (:func:`extra_array_maps`), so their area, leakage and
periphery count as the design's own arrays do. With ``mixed_precision`` the gradient goes into χ, so the engine
charges no analog gradient write (the χ multiply-adds are charged here).

Latency: a layer's transfer follows its update; the column reads and writes one after another, the buffer's
work on one ALU and buffer port per array of the layer (assumed), in parallel with nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pimtrain.design import Design
from pimtrain.mapping import LayerMapping

#: kernel name of everything charged here
KERNEL = "transfer"


def extra_arrays_per_weight(design: Design) -> int:
    """Arrays a compound weight adds beside C: A (Tiki-Taka family), and R with ``reference: array``."""
    alg = design.update.algorithm
    if alg.kind in ("sgd", "mixed_precision"):
        return 0
    return 1 + (alg.reference == "array")


def extra_array_maps(design: Design, maps: list[LayerMapping]) -> list[LayerMapping]:
    """The extra arrays of every layer, as layers of the design to place beside the weights."""
    k = extra_arrays_per_weight(design) if design.compute == "analog" else 0
    return [LayerMapping(m.out_features, m.in_features, design, 1) for m in maps for _ in range(k)]


def digital_gradient(design: Design) -> bool:
    """True when the gradient is summed in a digital buffer, not written into an array (mixed precision)."""
    return design.update.algorithm.kind == "mixed_precision"


def derived_counts(design: Design, m: LayerMapping, batch_size: int) -> dict:
    """The algorithm's counts of one update call (one step of a batch of ``batch_size``) derived from the design:
    what the numerics count when every transfer writes every cell it reads (an upper bound for the buffered ones)."""
    alg = design.update.algorithm
    out, inp = m.out_features, m.in_features
    n_vec = batch_size * m.reuse
    t = 1.0 / alg.transfer_every
    ref = 2 if alg.reference == "array" else 1
    c = {"transfers": t}
    if alg.kind == "mixed_precision":
        cols = inp
        c.update({"buffer.macs": n_vec * out * inp, "buffer.compares": t * out * inp, "buffer.cells": out * inp})
    else:
        cols = t * min(alg.columns_per_transfer, inp)
        r = m.read_counts("forward")
        c.update({"transfer.reads": cols, "transfer.read.vectors_forward": cols * ref,
                  "transfer.read.conversions": cols * ref * r.conversions, "transfer.read.drives": cols * ref * r.drives,
                  "transfer.read.cells_read": cols * ref * r.cells_read})
        if alg.kind in ("ttv2", "c_ttv2", "agad"):
            mult = (alg.buffer_decay > 0) + (alg.transfer_lr != 1.0)
            agad = alg.kind == "agad"  # and the reference P: a subtraction per entry read, a copy at each flip
            c.update({"buffer.adds": cols * out * (1 + agad), "buffer.compares": cols * out,
                      "buffer.cells": out * inp * (1 + agad), "buffer.multiplies": cols * out * mult})
            if agad:
                c["buffer.reference_writes"] = cols * alg.chopper_probability * out
    c["transfer.columns_written"] = cols
    c["transfer.cells_written"] = cols * out
    c["transfer.write.update_events"] = cols if design.update.rule == "outer_product" else t
    c["transfer.write.pulsed_cells"] = cols * out * m.cells_per_weight
    c["transfer.write.row_drives"] = cols * m.col_tiles
    c["transfer.write.col_drives"] = cols * out * m.row_tiles
    if alg.kind in ("c_ttv2", "agad"):
        c["chopper.flips"] = cols * alg.chopper_probability
        c["chopper.sign_flips_applied"] = cols * out + (n_vec * (inp + out) if alg.gamma > 0 else 0)
    return c


@dataclass
class Parts:
    """Energy (J) of one step by part, summed over layers, and area (m²) of what the algorithm adds."""

    energy: dict = field(default_factory=lambda: {"transfer_reads": 0.0, "transfer_writes": 0.0, "buffer": 0.0,
                                                  "choppers": 0.0})
    area: dict = field(default_factory=lambda: {"extra_arrays": 0.0, "buffer": 0.0, "choppers": 0.0})
    counts: dict = field(default_factory=dict)


def _component(model: str, name: str, params: dict, design: Design, level: str = "chip"):
    from .registry import get

    cls = get(model)
    return cls(name, params, tech=design.technology, design=design, count=1, level=level, role="algorithm")


def _transfer_design(design: Design) -> Design:
    tio = design.update.algorithm.transfer_io
    return design if tio is None else design.model_copy(update={"io": design.io.model_copy(update={"forward": tio})})


def _move(src, led, layer: str, part: str, parts: Parts) -> float:
    """Add ``src`` ledger's energy and latency (any kernel) to ``led`` under the transfer kernel; the energy moved."""
    moved = 0.0
    for (_k, _ly, comp), e in src.energy.items():
        led.e(KERNEL, layer, comp, e)
        moved += e
    for (_k, _ly), t in src.latency.items():
        led.t(KERNEL, layer, t)
    parts.energy[part] += moved
    return moved


def charge(led, hw, maps: list[LayerMapping], names: list[str], batch_size: int, counts: dict | None,
           placement) -> Parts:
    """Charge the algorithm of ``hw.design`` for one training step of ``batch_size`` on every layer (see the module
    docstring); returns the parts (also left on ``led.algorithm``)."""
    from .engine import Ledger, _analog_read, _analog_update

    d = hw.design
    alg = d.update.algorithm
    parts = Parts()
    td = _transfer_design(d)
    from .hardware import build_hardware

    thw = build_hardware(td)
    extras = []
    for m, name in zip(maps, names):
        measured = ((counts or {}).get(name) or {}).get("algorithm")
        c = dict(derived_counts(d, m, batch_size))
        if measured:
            c = {k: v for k, v in c.items() if k in ("buffer.cells",)}
            c.update({k: v for k, v in measured.items() if v is not None})
            c.setdefault("buffer.cells", derived_counts(d, m, batch_size).get("buffer.cells", 0))
        parts.counts[name] = c
        # transfer reads: the engine's read kernel through the transfer I/O, on the counts of the columns read
        vec = c.get("transfer.read.vectors_forward", 0.0)
        if vec:
            per = {k: c[f"transfer.read.{k}"] / vec for k in ("conversions", "drives", "cells_read", "samples", "outputs")
                   if c.get(f"transfer.read.{k}") is not None}
            tm = LayerMapping(m.out_features, m.in_features, td, 1, measured={"forward": per})
            tmp = Ledger()
            _analog_read(tmp, thw, tm, name, "forward", vec, 1.0 / max(m.in_features, 1))
            _move(tmp, led, name, "transfer_reads", parts)
        # transfer writes: C's update rule on the counts of the column writes
        ev = c.get("transfer.write.update_events", 0.0)
        if ev:
            per = {k: c[f"transfer.write.{k}"] / ev for k in ("pulsed_cells", "row_drives", "col_drives", "cells_written",
                                                             "rows_written") if c.get(f"transfer.write.{k}") is not None}
            wm = LayerMapping(m.out_features, m.in_features, d, 1, measured={"update": per})
            tmp = Ledger()
            _analog_update(tmp, hw, wm, name, ev, ev, c.get("transfer.write_activity"))
            _move(tmp, led, name, "transfer_writes", parts)
        # the digital buffer: storage, accesses, arithmetic
        cells = c.get("buffer.cells", 0)
        bits = alg.buffer_bits
        if cells:
            buf = _component("sram", f"algorithm_buffer.{name}", {"capacity_bits": max(cells * bits, 1.0),
                                                                  "width_bits": float(bits)}, d)
            alu = _component("mac", f"algorithm_alu.{name}", {"acc_bits": float(bits)}, d)
            extras.append((buf, "buffer", 1))
            units = max(m.arrays, 1)
            extras.append((alu, "buffer", units))
            rmw = c.get("buffer.macs", 0) + c.get("buffer.adds", 0) + c.get("buffer.multiplies", 0)
            e_r, t_r = buf.read(bits)
            e_w, t_w = buf.write(bits)
            e_mac, t_mac = alu.mac()
            e_add, _ = alu.add()
            e_buf = (rmw * (e_r + e_w) + c.get("buffer.compares", 0) * e_r
                     + (c.get("transfer.cells_written", 0) + c.get("buffer.reference_writes", 0)) * e_w)
            e_alu = (c.get("buffer.macs", 0) + c.get("buffer.multiplies", 0)) * e_mac + \
                (c.get("buffer.adds", 0) + c.get("buffer.compares", 0)) * e_add
            led.e(KERNEL, name, buf.name, e_buf)
            led.e(KERNEL, name, alu.name, e_alu)
            parts.energy["buffer"] += e_buf + e_alu
            ops = rmw + c.get("buffer.compares", 0)
            led.t(KERNEL, name, ops / units * max(t_r + t_w, t_mac))
            parts.area["buffer"] += buf.area + alu.area * units
        if alg.kind in ("c_ttv2", "agad"):
            reg = _component("register", f"algorithm_chopper.{name}", {"bits": float(max(m.in_features, 1))}, d)
            extras.append((reg, "choppers", 1))
            e1, _ = reg.access(1)
            e = (c.get("chopper.sign_flips_applied", 0) + c.get("chopper.flips", 0)) * e1
            led.e(KERNEL, name, reg.name, e)
            parts.energy["choppers"] += e
            parts.area["choppers"] += reg.area
    # the extra arrays: the array-level components of the design, once per extra array placed
    n_extra = sum(x.arrays for x in extra_array_maps(d, maps))
    per_array = sum(comp.area * comp.count for comp in hw.components.values() if comp.level == "array")
    parts.area["extra_arrays"] = n_extra * per_array
    parts.counts["_arrays"] = {"weights": sum(m.arrays for m in maps), "extra": n_extra}
    # leakage of the digital blocks over the step (the arrays' own leakage is the engine's, by placement)
    step_t = sum(led.latency.values())
    for comp, part, n in extras:
        e = comp.leak_power * n * step_t
        if e:
            layer = comp.name.split(".", 1)[1]
            led.e("leakage", layer, comp.name, e)
            parts.energy[part] += e
    led.algorithm = {"parts": parts, "components": {comp.name: comp.area * n for comp, _, n in extras}}
    return parts


def summary(parts: Parts, report) -> dict:
    """The algorithm's share of a step's cost report: energy and area by part, the arrays, the counts."""
    e_tot = report.energy_j or 1.0
    area_alg = sum(parts.area.values())
    leak = report.kernel.get("leakage", {}).get("energy_j", 0.0)
    w, x = parts.counts.get("_arrays", {}).get("weights", 0), parts.counts.get("_arrays", {}).get("extra", 0)
    extra_leak = leak * x / (w + x) if (w + x) else 0.0  # the arrays' leakage shared by arrays placed (approximate)
    energy = dict(parts.energy)
    energy["extra_arrays_leakage"] = extra_leak
    return {
        "energy_j": energy,
        "energy_share": {k: v / e_tot for k, v in energy.items()},
        "area_m2": dict(parts.area),
        "area_added_m2": area_alg,
        "arrays": parts.counts.get("_arrays", {}),
        "counts_per_step": {k: v for k, v in parts.counts.items() if not k.startswith("_")},
    }


__all__ = ["charge", "summary", "extra_array_maps", "extra_arrays_per_weight", "derived_counts", "digital_gradient",
           "KERNEL"]
