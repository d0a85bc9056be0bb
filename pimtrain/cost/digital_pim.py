"""Cost of the training kernels on digital floating-point PIM (``digital.arithmetic: in_memory_logic``).

Every multiply-accumulate of a kernel runs in memory: the operand is written next to the stored
value in a row (a row copy of the format's width), the row multiplies (:func:`pimtrain.pimlogic.fp_mul`),
and the products of one output are summed by a pairwise tree (``in - 1`` additions,
:func:`pimtrain.pimlogic.fp_add`), each level first moving half of the partial sums next to the other
half: within a block by a row copy, between blocks over the interconnect (``move_energy_per_bit``;
``bus_width_bits`` per cycle per tile). The operands (x forward, d backward, both for the gradient) are
broadcast once per value over the same interconnect to the blocks that hold the layer. Cycles and energies per operation are the gate counts the
algorithms record × the technology's cycles and energy per gate (:mod:`pimtrain.pimlogic.tech`).

Kernels of one layer for ``n`` input vectors (conv output positions included):
forward ``n·in·out`` MACs; backward the same on the transposed operands; update: the weight gradient
``dᵀx`` (``n·in·out`` MACs summed over the batch) and, once per batch, ``W ← W − lr·G`` (one multiply
and one add per weight).

Latency of a kernel: the longest of (a) the row operations spread over every row of the chip
(``rows × blocks``; all blocks compute in parallel), (b) the energy over the optional power envelope
``power_cap`` (none in the presets), (c) the dependent chain: one multiply and ``⌈log2 in⌉`` (add + move)
levels, (d) the interconnect traffic (broadcast operands and partial sums crossing blocks).
With ``hierarchy.chip_fit: error`` the weights must fit the data columns (``cols − processing_cols``) of
all blocks (:func:`check_fit`). Layers run one after another. Activation functions are not charged (they
are ≪ the MACs; stated simplification).
"""
from __future__ import annotations

import math

from pimtrain.design import PimtrainError
from pimtrain.pimlogic.formats import get_format
from pimtrain.pimlogic.fparith import op_counts


def design_format(design):
    d = design.digital
    if d.exponent_bits is not None or d.mantissa_bits is not None:
        return get_format(None, d.exponent_bits, d.mantissa_bits)
    if d.format == "fixed":
        raise PimtrainError(f"design {design.name!r}: digital.arithmetic in_memory_logic needs a floating-point digital.format (fp32, bf16, fp16) or exponent_bits/mantissa_bits")
    return get_format(d.format)


def block_of(hw):
    blk = hw.first("pim_block")
    if blk is None:
        raise PimtrainError(f"design {hw.design.name!r}: digital.arithmetic in_memory_logic needs a component with model 'pim_logic'")
    return blk


def op_costs(blk, fmt) -> dict[str, tuple[int, float]]:
    """(cycles, energy J per row) of 'mul', 'add' and 'copy' (one word) on ``blk``'s technology."""
    t = blk.tech_model
    out = {}
    for op in ("mul", "add"):
        c = op_counts(fmt, op)
        out[op] = (t.op_cycles(c), t.op_energy(c))
    c = {"copy": fmt.width}
    out["copy"] = (t.op_cycles(c), t.op_energy(c))
    return out


def _mac_block(led, hw, blk, layer, kernel, n_out_sums, n_terms, costs, fmt, t_cyc, blocks, tiles, n_operands):
    """``n_out_sums`` dot products of ``n_terms`` terms each; ``n_operands`` values broadcast to the blocks."""
    rows = blk.rows
    macs = n_out_sums * n_terms
    (c_mul, e_mul), (c_add, e_add), (c_cp, e_cp) = costs["mul"], costs["add"], costs["copy"]
    adds = n_out_sums * max(n_terms - 1, 0)
    inter = n_out_sums * max(math.ceil(n_terms / rows) - 1, 0)   # partial sums crossing blocks
    intra = adds - inter
    e_rows = macs * (e_cp + e_mul) + adds * e_add + intra * e_cp
    bits = (inter + n_operands) * fmt.width
    e_move = bits * blk.p["move_energy_per_bit"]
    led.e(kernel, layer, blk, e_rows)
    led.e(kernel, layer, hw.first("router") or blk, e_move)
    row_cycles = macs * (c_cp + c_mul) + adds * c_add + intra * c_cp
    par = rows * blocks
    t_throughput = row_cycles / par * t_cyc
    t_power = (e_rows + e_move) / blk.p["power_cap"] if blk.p["power_cap"] > 0 else 0.0
    depth = math.ceil(math.log2(max(n_terms, 1))) if n_terms > 1 else 0
    t_move = bits / (blk.p["bus_width_bits"] * tiles) * t_cyc
    t_chain = (c_cp + c_mul + depth * (c_add + c_cp)) * t_cyc
    led.t(kernel, layer, max(t_throughput, t_power, t_chain, t_move))
    return macs


def pim_kernels(led, hw, m, layer: str, n_vec: float, n_batch: int, kernels) -> None:
    d = hw.design
    blk = block_of(hw)
    fmt = design_format(d)
    costs = op_costs(blk, fmt)
    t_cyc = blk.tech_model.cycle_time
    h = d.hierarchy
    blocks = blk.count * h.multiplicity(blk.level)
    tiles = h.tiles_per_chip
    i, o = m.in_features, m.out_features
    for kernel in kernels:
        if kernel == "forward":
            led.macs[(kernel, layer)] += _mac_block(led, hw, blk, layer, kernel, n_vec * o, i, costs, fmt, t_cyc, blocks, tiles, n_vec * i)
        elif kernel == "backward":
            led.macs[(kernel, layer)] += _mac_block(led, hw, blk, layer, kernel, n_vec * i, o, costs, fmt, t_cyc, blocks, tiles, n_vec * o)
        else:
            # weight gradient: in·out sums over the n_vec samples; then W -= lr·G once per batch
            macs = _mac_block(led, hw, blk, layer, "update", i * o, n_vec, costs, fmt, t_cyc, blocks, tiles, n_vec * (i + o))
            n_w = i * o
            (c_mul, e_mul), (c_add, e_add) = costs["mul"], costs["add"]
            led.e("update", layer, blk, n_w * (e_mul + e_add))
            t = max(n_w / (blk.rows * blocks), 1.0) * (c_mul + c_add) * t_cyc
            led.t("update", layer, t)
            led.macs[("update", layer)] += macs


def check_fit(hw, maps, wl_name: str) -> None:
    """The workload's weights must fit the data columns (``cols − processing_cols``) of all blocks."""
    d = hw.design
    blk = block_of(hw)
    fmt = design_format(d)
    blocks = blk.count * d.hierarchy.multiplicity(blk.level)
    cap = blocks * blk.rows * max(blk.p["cols"] - blk.p["processing_cols"], 0)
    need = sum(m.in_features * m.out_features for m in maps) * fmt.width
    if need > cap:
        raise PimtrainError(f"{wl_name}: needs {need:.0f} bits of weights on design {d.name!r}; limit: "
                            f"{blk.name} blocks x rows x (cols - processing_cols) = {cap:.0f} bits")
