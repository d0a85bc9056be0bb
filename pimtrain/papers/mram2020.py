"""Wang, Zhao, Li, Wang, Lin (ISCAS 2020, arXiv 2003.01551): SOT-MRAM digital floating-point PIM for
training, against a FloatPIM-style baseline; and FloatPIM (Imani et al., ISCA 2019) against a GPU.

Designs: presets ``sot-mram-fp`` and ``floatpim`` (same organisation, bfloat16, in-memory FP MACs whose
cycle and energy counts come from the gate sequences of :mod:`pimtrain.pimlogic`) and the GTX 1080
roofline of :mod:`pimtrain.cost.gpu`. Workloads: the FloatPIM CNNs (AlexNet, VGG-16, GoogLeNet,
SqueezeNet; ImageNet shapes), one training step of batch 1 each; a ratio row is the geometric mean of
the four per-network ratios. The PipeLayer rows use the PipeLayer-like preset ``panther-base-opa-mvm``
when it is present. The power row is the FloatPIM chip's draw with every row of every block computing
(``design_summary``), against the paper's 62.6 W. Paper figures: docs/sources.md §3 (abstract [A]) and §8.2 [S].

``result["notes"]`` (the table's caption) gives, for each row not reproduced, the model's number and the
limit: FloatPIM's 303.2x over the GPU leaves each row of the chip ~52 NOR cycles per multiply-accumulate
(fewer than one 8-bit ripple add; the rows already work in parallel, so neither operand reuse nor
pipelining across blocks can supply the rest, and the every-row-busy bound is printed); the two GPU
rows together put FloatPIM's power at 303.2/48.6 = 6.24x the GPU's, far above the paper's own 62.6 W;
the chip power row is set by the initialising set pulse of the NOR output cells; a 2.5x smaller SOT chip
at FloatPIM's capacity would need a cell below 4 F², so the paper must compare on another basis.

Basis marks are computed as in :mod:`pimtrain.papers.marinella2018`: every preset number whose
provenance says ``calibrated`` is perturbed (×1.5); a row that moves is a ``calibration``.
"""
from __future__ import annotations

import math

from pimtrain.cost import design_summary, evaluate
from pimtrain.design import Design, PimtrainError, load_design

from .basis import calibration_dependence, table_rows

PAPER = "mram2020"
#: relative deviation a row may have and count as reproduced
TOLERANCE = 0.25
DESIGNS = {"sot": "sot-mram-fp", "floatpim": "floatpim"}
PIPELAYER = "panther-base-opa-mvm"  # the PipeLayer-like ReRAM baseline (docs/sources.md §2.1, §8.1)
GPU = "gtx1080"
WORKLOADS = ("alexnet", "vgg16", "googlenet", "squeezenet")
SRC_A = "Wang et al. 2020 abstract (docs/sources.md §3 [A])"
SRC_F = "FloatPIM ISCA 2019 (docs/sources.md §8.2 [S])"
#: the best published bit-serial stateful-NOR bfloat16 algorithms, as a check on the gate sequences of
#: :mod:`pimtrain.pimlogic`: cycles with one initialising write per gate ("1-INIT", so NOR gates = cycles / 2).
#: Source: Leitersdorf et al., "AritPIM: High-Throughput In-Memory Arithmetic" (2022), public repository
#: oleitersdorf/AritPIM, file results/floating/latency.csv (row "Serial Multiply", "Serial Add (signed)",
#: column "bfloat 16"); its README states that FloatPIM needs periphery outside the stateful-logic model.
ARITPIM_BF16_CYCLES = {"mul": 1742, "add": 1849}
ARITPIM_SRC = "oleitersdorf/AritPIM results/floating/latency.csv"
#: FloatPIM's own bfloat16 against fp32 (training): 2.9x faster, 2.5x less energy (FloatPIM ISCA 2019 §7.2, via
#: the paper card 2019_Imani_FloatPIM_DAC.md, docs/sources.md source S7)
FP32_OVER_BF16 = {"latency": 2.9, "energy": 2.5}

#: (quantity, paper value, unit, source)
PAPER_ROWS = [
    ("energy improvement SOT-MRAM vs FloatPIM-style (training)", 3.3, "x", SRC_A),
    ("latency improvement SOT-MRAM vs FloatPIM-style (training)", 1.8, "x", SRC_A),
    ("area improvement SOT-MRAM vs FloatPIM-style", 2.5, "x", SRC_A),
    ("FloatPIM speed-up vs GTX 1080 (training)", 303.2, "x", SRC_F),
    ("FloatPIM energy-efficiency gain vs GTX 1080 (training)", 48.6, "x", SRC_F),
    ("FloatPIM chip power, every row computing", 62.6, "W", SRC_F),
]
PIPELAYER_ROWS = [
    ("FloatPIM speed-up vs PipeLayer-like (training)", 4.3, "x", SRC_F),
    ("FloatPIM energy-efficiency gain vs PipeLayer-like (training)", 15.8, "x", SRC_F),
]


def _gmean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def _pipelayer() -> Design | None:
    """The PipeLayer-like preset when it exists and costs the four CNNs (it is another module's preset)."""
    try:
        d = load_design(PIPELAYER)
        for w in WORKLOADS:
            evaluate(d, w, batch_size=1)
        return d
    except PimtrainError:
        return None


def _ours(designs: dict[str, Design]) -> list[float]:
    from pimtrain.cost.gpu import gpu_step_cost
    from pimtrain.workloads import get_workload

    r = {key: {w: evaluate(d, w, batch_size=1) for w in WORKLOADS} for key, d in designs.items()}
    g = {w: gpu_step_cost(GPU, get_workload(w), batch_size=1, training=True) for w in WORKLOADS}
    s, f = r["sot"], r["floatpim"]
    out = [
        _gmean([f[w].energy_j / s[w].energy_j for w in WORKLOADS]),
        _gmean([f[w].latency_s / s[w].latency_s for w in WORKLOADS]),
        f[WORKLOADS[0]].area_m2 / s[WORKLOADS[0]].area_m2,
        _gmean([g[w]["latency_s"] / f[w].latency_s for w in WORKLOADS]),
        _gmean([g[w]["energy_j"] / f[w].energy_j for w in WORKLOADS]),
        design_summary(designs["floatpim"])["peak_power_w"],
    ]
    if "pipelayer" in r:
        p = r["pipelayer"]
        out += [_gmean([p[w].latency_s / f[w].latency_s for w in WORKLOADS]),
                _gmean([p[w].energy_j / f[w].energy_j for w in WORKLOADS])]
    return out


def reproduce() -> dict:
    designs = {key: load_design(name) for key, name in DESIGNS.items()}
    names = dict(DESIGNS)
    pl = _pipelayer()
    rows_spec = list(PAPER_ROWS)
    if pl is not None:
        designs["pipelayer"], names["pipelayer"] = pl, PIPELAYER
        rows_spec += PIPELAYER_ROWS
    ours, depends = calibration_dependence(designs, _ours)
    rows = table_rows(rows_spec, ours, depends)
    return {"paper": PAPER, "designs": list(names.values()) + [GPU],
            "workload": "training step, batch 1, geometric mean over " + ", ".join(WORKLOADS), "rows": rows,
            "notes": _notes(designs, rows)}


def fp32_over_bf16(design: Design) -> dict[str, float]:
    """``{"latency", "energy"}``: the same chip computing in fp32 over bf16, one training step of batch 1,
    geometric mean over :data:`WORKLOADS` (FloatPIM reports 2.9x and 2.5x, :data:`FP32_OVER_BF16`)."""
    from pimtrain.design import design_from_dict, design_to_dict

    data = design_to_dict(design)
    data["digital"]["format"] = "fp32"
    wide = design_from_dict(data, where=f"{design.name} (fp32)")
    a = {w: evaluate(design, w, batch_size=1) for w in WORKLOADS}
    b = {w: evaluate(wide, w, batch_size=1) for w in WORKLOADS}
    return {"latency": _gmean([b[w].latency_s / a[w].latency_s for w in WORKLOADS]),
            "energy": _gmean([b[w].energy_j / a[w].energy_j for w in WORKLOADS])}


def _block(design: Design):
    from pimtrain.cost.hardware import build_hardware

    blk = build_hardware(design).first("pim_block")
    return blk, blk.count * design.hierarchy.multiplicity(blk.level) * blk.rows


def _notes(designs: dict[str, Design], rows: list[dict]) -> list[str]:
    """Why each row that is not reproduced is not: the number the model gives and the physical limit."""
    from pimtrain.cost.digital_pim import design_format, op_costs
    from pimtrain.pimlogic.fparith import op_counts
    from pimtrain.cost.gpu import gpu_step_cost
    from pimtrain.workloads import get_workload

    floatpim, sot = designs["floatpim"], designs["sot"]
    by = {r["quantity"]: r for r in rows}
    w = WORKLOADS[0]
    f = evaluate(floatpim, w, batch_size=1)
    g = {x: gpu_step_cost(GPU, get_workload(x), batch_size=1, training=True) for x in WORKLOADS}
    speed, eff, p_chip = PAPER_ROWS[3][1], PAPER_ROWS[4][1], PAPER_ROWS[5][1]
    blk, n_rows = _block(floatpim)
    tech, t_cyc = blk.tech_model, blk.tech_model.cycle_time
    need_cycles = n_rows * (g[w]["latency_s"] / speed) / f.macs / t_cyc
    n_blocks_f = n_rows / blk.rows
    our_cycles = n_rows * f.latency_s / f.macs / t_cyc
    fmt = design_format(floatpim)
    p_sig, fa_nor = fmt.precision, tech.cycles("fa")
    oc = op_costs(blk, fmt)
    c_mac = oc["mul"][0] + oc["add"][0] + 2 * oc["copy"][0]
    macs = {x: evaluate(floatpim, x, batch_size=1).macs for x in WORKLOADS}
    bound = _gmean([g[x]["latency_s"] / (macs[x] * c_mac * t_cyc / n_rows) for x in WORKLOADS])
    p_gpu = _gmean([g[x]["energy_j"] / g[x]["latency_s"] for x in WORKLOADS])
    e_step = tech.nor_step_energy()
    budget = p_chip * t_cyc / n_rows
    sblk, s_rows = _block(sot)
    a_f = by[PAPER_ROWS[2][0]]["ours"]
    area_f = evaluate(floatpim, w, batch_size=1).area_m2
    cells = s_rows * sblk.p["cols"]
    n_blocks = s_rows / sblk.rows
    f2 = sblk.tech_model.p["feature_size"] ** 2
    need_f2 = (area_f / PAPER_ROWS[2][1] - n_blocks * sblk.p["block_periphery_area"]) / cells / f2
    lat = by[PAPER_ROWS[1][0]]["ours"]
    steps = {op: tech.nor_steps(op_counts(fmt, op)) for op in ("mul", "add")}
    ar = {op: c // 2 for op, c in ARITPIM_BF16_CYCLES.items()}
    alg = (steps["mul"] + steps["add"]) / (ar["mul"] + ar["add"])
    f32 = fp32_over_bf16(floatpim)
    notes = [
        f"{w}: the paper's {speed}x / {eff}x over the {GPU} roofline imply {f.macs / (g[w]['latency_s'] / speed):.3g} MAC/s "
        f"and {g[w]['energy_j'] / eff / f.macs * 1e12:.3g} pJ per MAC for FloatPIM ({g[w]['energy_j'] / eff / f.macs / e_step:.0f} NOR "
        f"steps of {e_step * 1e15:.0f} fJ); the bit-serial NOR algorithms here give "
        f"{f.macs / f.latency_s:.3g} MAC/s and {f.energy_j / f.macs * 1e12:.3g} pJ per MAC (bf16, every row of the chip busy)",
        f"speed-up vs {GPU} not reproduced ({by[PAPER_ROWS[3][0]]['ours']:.3g}x): {speed}x on {w} leaves each of the "
        f"{n_rows / 1e6:.1f} M rows {need_cycles:.0f} NOR cycles per multiply-accumulate; a bf16 multiply, add and two "
        f"word copies take {c_mac} here ({our_cycles:.0f} effective on {w}, dependent chains included; the significand "
        f"product alone is {p_sig * p_sig} AND and {(p_sig - 1) * p_sig} full adders of {fa_nor} NORs; {need_cycles:.0f} NORs "
        f"are fewer than one {p_sig}-bit ripple add, {p_sig * fa_nor}). With every row busy in every kernel (layers pipelined "
        f"over a batch, no chain) the speed-up would be {bound:.3g}x: rows in parallel are already counted, and neither "
        f"operand reuse nor pipelining removes a product's own row operations",
        f"gate counts checked against the best published stateful-NOR bf16 algorithms ({ARITPIM_SRC}, serial, "
        f"1-INIT: multiply {ARITPIM_BF16_CYCLES['mul']}, signed add {ARITPIM_BF16_CYCLES['add']} cycles, about "
        f"{ar['mul']} and {ar['add']} NOR gates): ours take {steps['mul']} and {steps['add']} NOR steps "
        f"({steps['mul'] / ar['mul']:.1f}x and {steps['add'] / ar['add']:.1f}x more). With those counts the speed-up would be "
        f"about {by[PAPER_ROWS[3][0]]['ours'] * alg:.2g}x, still {speed / (by[PAPER_ROWS[3][0]]['ours'] * alg):.0f}x short, "
        f"so the gap is not in the arithmetic. The arithmetic's scaling is FloatPIM's own: fp32 over bf16 costs "
        f"{f32['latency']:.2f}x the time and {f32['energy']:.2f}x the energy here (geometric mean of the four CNNs), "
        f"against FloatPIM's {FP32_OVER_BF16['latency']}x and {FP32_OVER_BF16['energy']}x (ISCA 2019 §7.2); the AritPIM README states that FloatPIM's algorithms need periphery outside "
        "the stateful-NOR model. Not applied: the SOT chip runs the same sequences and the SOT/FloatPIM latency row rests on "
        "them. Source that would be needed: FloatPIM's own per-operation cycle counts and the periphery behind them "
        "(ISCA 2019 §4-5, not public in our sources)",
        f"the two GPU rows together: {speed}x faster and {eff}x more efficient means FloatPIM drew {speed / eff:.2f}x the "
        f"GPU's power, {speed / eff * p_gpu:.0f} W against the roofline's {p_gpu:.0f} W (geometric mean), not the "
        f"paper's own {p_chip} W chip; at {p_chip} W, {eff}x efficiency allows at most {eff * p_chip / p_gpu:.0f}x speed-up. "
        "Source that would be needed: how FloatPIM measured the GPU (batch, framework, power) and its pipelining of a "
        "training batch across blocks (ISCA 2019 §7)",
        f"chip power not reproduced ({by[PAPER_ROWS[5][0]]['ours']:.0f} W): {p_chip} W is {p_chip / n_blocks_f * 1e3:.2f} mW "
        f"for each of the {n_blocks_f:.0f} blocks of 1 Mb (the paper card's 'tile 7.64 mW' is this per-block figure), "
        f"here {by[PAPER_ROWS[5][0]]['ours'] / n_blocks_f * 1e3:.1f} mW; {p_chip} W over {n_rows / 1e6:.1f} M rows "
        f"stepping every {t_cyc * 1e9:.1f} ns is {budget * 1e15:.1f} fJ per row and step; a NOR step here costs "
        f"{e_step * 1e15:.1f} fJ, {tech.init_energy() * 1e15:.1f} fJ of it setting the output cell (the quarter already at "
        f"R_on conducts for the whole {tech.p['switch_time'] * 1e9:g} ns pulse at {tech.p['gate_voltage']:g} V). FloatPIM applies "
        "an operation-dependent voltage per operation, which its authors credit with 2x energy efficiency (talk abstract, "
        "crispreasearch.blogspot.com/2019/10/floatpim-acceleration-of-dnn-training.html); its voltages are not public, so "
        "a single 1 V is kept. Source that would be needed: FloatPIM's per-operation voltages and energies (ISCA 2019 §6)",
        f"area not reproduced ({a_f:.3g}x): at FloatPIM's capacity a 2.5x smaller SOT-MRAM chip needs a cell of "
        f"{need_f2:.2f} F^2 (same block periphery), below the 4 F^2 of any cell at a crossing of two lines; at equal "
        f"throughput (the SOT chip {lat:.2f}x faster, so that many times fewer blocks) it is {a_f * lat:.2f}x. The paper's "
        f"basis of comparison is not known (only the abstract of Wang et al. 2020 is public). Source that would be needed: "
        "the SOT-MRAM cell layout and the basis of the area comparison (Wang et al. 2020 §III-IV)",
    ]
    if "pipelayer" in designs:
        pl = {x: evaluate(designs["pipelayer"], x, batch_size=1) for x in WORKLOADS}
        fp = {x: evaluate(floatpim, x, batch_size=1) for x in WORKLOADS}
        e_pl = _gmean([pl[x].energy_j / pl[x].macs for x in WORKLOADS])
        e_fp = _gmean([fp[x].energy_j / fp[x].macs for x in WORKLOADS])
        s_pl = _gmean([g[x]["latency_s"] / pl[x].latency_s for x in WORKLOADS])
        pe = PIPELAYER_ROWS[1][1]
        notes.append(
            f"PipeLayer rows (preset {PIPELAYER}, another paper's): it spends {e_pl * 1e12:.3g} pJ per MAC (geometric "
            f"mean), so {pe}x would put FloatPIM at {e_pl / pe * 1e12:.2g} pJ per MAC, {e_pl / pe / e_step:.0f} NOR steps "
            f"of {e_step * 1e15:.0f} fJ (here {e_fp * 1e12:.3g} pJ); its batch-1 step runs at {s_pl:.2g}x the {GPU} "
            f"(PipeLayer's paper: 53.2x in training, its pipeline filled by a batch), which sets the speed-up row")
    return notes
