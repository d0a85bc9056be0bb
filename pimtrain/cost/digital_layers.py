"""The digital modules of a traced torch model, charged as digital work on the design's digital units.

A workload traced from a torch module (:func:`pimtrain.workloads.from_module`) carries ``digital_work``: per
module placed digitally (normalisation, activation, pooling, dropout, reshapes, modules kept digital with
``convert(..., digital=[...])``, a user module's own work) and per analog module's digital part (the attention
score and value products, the recurrent gates, the overlap-add of a transposed convolution), its multiply-
accumulates of products, its element-wise operations, the elements it reads and writes, and its parameters
(per sample and forward pass). :func:`charge` adds them to the step's ledger under the module's name, kernel
``digital`` (and their leakage under ``leakage``), so the cost breakdown names every module ``convert`` places.

Where the work runs and what it costs (each per-operation energy is the design's own component, whose
constant names its source in the preset, or the documented default of that component class):

- products (MACs): the design's ``mac`` component (a digital MAC unit) if it has one, else its ``activation``
  component (a vector ALU, e.g. PUMA's VFU lanes: one lane-cycle per multiply-accumulate, an assumption), else
  the default ALU below.
- element-wise operations: the ``activation`` component (one operation per element and op), else the default ALU.
- activation buffer traffic (elements read and written × the design's activation bits): the ``buffer`` component;
  not for the kinds in :data:`IN_FLIGHT` (activation, dropout, reshapes, padding): they are applied to the data
  on its way between the layers, whose buffer traffic the engine already charges (ISAAC's sigmoid units sit
  between the ADC's shift-and-add and the output buffer).
- a design with neither a ``mac`` nor an ``activation`` component (ISAAC, CASCADE and Neural-PIM presets quote
  their sigmoid units by power; the in-memory floating-point designs) gets :data:`DEFAULT_ALU`, an
  ``activation`` unit with that class's default constant (ISAAC's sigmoid unit: 0.26 mW at 1 GHz, 32 nm, scaled
  to the design's node), listed as component ``digital_alu (default)``.

For such a workload the engine's own assumption of an activation (forward and derivative) on every layer's
outputs is dropped (``engine._digital_work(activations=False)``; the PUMA ledger's VFU activation ops likewise):
the real activation modules are charged here instead, so nothing is counted twice. The loss, the analog layers'
activation buffers and router traffic stay with the engine.

Training (assumptions, per sample): backward = 2 × the forward MACs (the gradients of both operands of each
product) and 2 operations per forward element-wise operation (the derivative, and its product with the incoming
gradient); the buffer traffic is twice the forward's (the saved input and the gradient read, the gradient
written); the update of the module's digital parameters is 2 operations per parameter and step (scale by the
learning rate, add: plain SGD). Latency: the units of one core (or tile) serve a module, as the engine's
activation work; MAC, element-wise and buffer time overlap (the largest counts). Leakage: the static power the
engine charges over a step (:func:`leak_powers`), over the time added.
"""
from __future__ import annotations

from .engine import _act_bits
from .hardware import used_multiplicity

__all__ = ["charge", "add_default_alu", "leak_powers", "DEFAULT_ALU", "BACKWARD_MAC_FACTOR", "BACKWARD_OPS_FACTOR", "UPDATE_OPS_PER_PARAM"]

#: name of the default ALU a design without digital units is given
DEFAULT_ALU = "digital_alu (default)"
BACKWARD_MAC_FACTOR = 2.0  # gradients of both operands of each product (assumption, as for a matmul)
BACKWARD_OPS_FACTOR = 2.0  # derivative and product with the incoming gradient (assumption)
BUFFER_TRAINING_FACTOR = 3.0  # forward traffic + twice that in the backward (assumption)
UPDATE_OPS_PER_PARAM = 2.0  # plain SGD: scale the gradient, add (assumption)
#: digital kinds applied in flight (no buffer traffic of their own; see the module docstring)
IN_FLIGHT = frozenset({"activation", "dropout", "reshape", "padding", "identity"})


def _default_alu(hw):
    from .components import ActivationUnit

    return ActivationUnit(DEFAULT_ALU, {}, tech=hw.design.technology, design=hw.design, count=1, level="core")


def leak_powers(hw, placement) -> dict[str, float]:
    """Static power (W) per component over a step, as the engine charges it (PUMA nodes: ``static_counts``)."""
    d = hw.design
    if hw.first("matrix_unit") is not None:
        from .puma import static_counts

        counts = static_counts(hw, placement)
        return {n: c.leak_power * counts[n] for n, c in hw.components.items()}
    chip = d.hierarchy.static_power == "chip"
    return {n: c.leak_power * (c.count * d.hierarchy.multiplicity(c.level) if chip
                                else used_multiplicity(hw, c, placement)) for n, c in hw.components.items()}


def charge(led, hw, placement, wl, batch_size: int, inference: bool) -> tuple[list[str], object | None]:
    """Add the workload's digital work to ``led``; returns the layer names added and the default ALU used
    (None when the design has its own digital units)."""
    work = tuple(getattr(wl, "digital_work", ()) or ())
    if not work:
        return [], None
    mac = hw.first("mac")
    alus = hw.by_role("activation")
    default = None
    if not alus:
        default = _default_alu(hw)
        alus = [default]
    alu = alus[0]
    lanes = sum(max(a.count, 1) for a in alus)
    e_op = sum(a.op()[0] * max(a.count, 1) for a in alus) / lanes
    t_op = alu.op()[1]
    buf = hw.first("buffer")
    bits = _act_bits(hw.design)
    n = float(batch_size)
    names, added_t = [], {}
    for w in work:
        name = w.name
        names.append(name)
        if not n:
            continue
        macs = n * w.macs * (1.0 if inference else 1.0 + BACKWARD_MAC_FACTOR)
        ops = n * w.ops * (1.0 if inference else 1.0 + BACKWARD_OPS_FACTOR)
        if not inference:
            ops += UPDATE_OPS_PER_PARAM * w.params
        t_mac = t_ops = t_buf = 0.0
        if macs:
            if mac is not None:
                e, t = mac.mac()
                led.e("digital", name, mac, macs * e)
                t_mac = macs / max(mac.count, 1) * t
            else:
                led.e("digital", name, DEFAULT_ALU if default is not None else alu, macs * e_op)
                t_mac = macs / lanes * t_op
            led.macs[("digital", name)] += macs
        if ops:
            led.e("digital", name, DEFAULT_ALU if default is not None else alu, ops * e_op)
            t_ops = ops / lanes * t_op
        moved = 0.0 if w.kind in IN_FLIGHT else (
            n * (w.elements_in + w.elements_out) * bits * (1.0 if inference else BUFFER_TRAINING_FACTOR))
        if buf is not None and moved:
            e_r, t_r = buf.read(moved / 2)
            e_w, t_w = buf.write(moved / 2)
            led.e("digital", name, buf, e_r + e_w)
            t_buf = (t_r + t_w) / max(buf.count, 1)
        t = max(t_mac, t_ops, t_buf)
        led.t("digital", name, t)
        added_t[name] = t
    for comp_name, p in leak_powers(hw, placement).items():
        if p:
            for name, t in added_t.items():
                if t:
                    led.e("leakage", name, comp_name, p * t)
    return names, default


def add_default_alu(report, led, hw, placement, alu):
    """List the default ALU (if :func:`charge` used one) in the report's components: its energy and area
    (``count`` per core of the cores the workload occupies, as the engine counts core-level blocks)."""
    if alu is None:
        return report
    energy = {k: e for (k, _layer, c), e in led.energy.items() if c == DEFAULT_ALU}
    by_kernel: dict[str, float] = {}
    for k, e in energy.items():
        by_kernel[k] = by_kernel.get(k, 0.0) + e
    area = alu.area * hw.multiplicity(alu, placement)
    report.component[DEFAULT_ALU] = {"energy_j": sum(by_kernel.values()), "area_m2": area, "kernel": by_kernel}
    report.area_m2 += area
    return report
