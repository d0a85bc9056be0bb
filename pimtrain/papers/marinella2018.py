"""Marinella et al. 2018 (IEEE JETCAS 8(1) 86–101, arXiv 1707.09952): analog ReRAM training block
against the same kernels on digital ReRAM and on SRAM.

Compares, for one 1024×1024 block and one sample (VMM, MVM, OPU): the analog energy per MAC averaged
over the three kernels, the nine per-kernel latencies, and the latency and energy ratios summed over
the kernels. Paper figures: abstract [A] and paper card [S] via ``docs/sources.md`` §1.

Basis of each row is not written by hand: every preset number whose provenance says ``calibrated``
is perturbed (×1.5) and every row that moves is marked ``calibration``; the others are ``prediction``.

Derived, not calibrated: the update slot (the row value on the 8-bit time-encoding drivers of the VMM
input: ``2^7 clock slots / 2^row_bits``) and the column integrator's power (its load: a class-A OTA
carrying the full-scale column current, :func:`pimtrain.cost.periphery.amplifier_power`). Calibrated: the
digital ReRAM write energy per bit and the SRAM access energy, each to its energy ratio; :func:`calibrate`
re-derives them (``python -m pimtrain.papers.marinella2018 --calibrate``).
"""
from __future__ import annotations

import copy

from pimtrain.cost import kernel_costs
from pimtrain.design import Design, design_from_dict, design_to_dict, load_design

from .basis import calibration_dependence, calibrated_parameters, scale_path, table_rows

PAPER = "marinella2018"
#: relative deviation a row may have and count as reproduced
TOLERANCE = 0.10
DESIGNS = {"analog": "marinella2018-analog", "reram": "marinella2018-digital-reram", "sram": "marinella2018-sram"}
N = 1024
SRC_LAT = "Marinella 2018 Table V via docs/sources.md §1.3 [S]"
SRC_ABS = "Marinella 2018 abstract (docs/sources.md §1.1 [A])"

#: (quantity, paper value, unit, source)
PAPER_ROWS = [
    ("analog energy per MAC (mean of VMM, MVM, OPU)", 11.0, "fJ", SRC_ABS),
    ("analog VMM latency", 0.384, "us", SRC_LAT),
    ("analog MVM latency", 0.384, "us", SRC_LAT),
    ("analog OPU latency", 0.512, "us", SRC_LAT),
    ("digital ReRAM VMM latency", 176.0, "us", SRC_LAT),
    ("digital ReRAM MVM latency", 176.0, "us", SRC_LAT),
    ("digital ReRAM OPU latency", 340.0, "us", SRC_LAT),
    ("SRAM VMM latency", 4.0, "us", SRC_LAT),
    ("SRAM MVM latency", 32.0, "us", SRC_LAT),
    ("SRAM OPU latency", 8.0, "us", SRC_LAT),
    ("latency ratio digital ReRAM / analog (sum of kernels)", 540.0, "x", SRC_ABS),
    ("latency ratio SRAM / analog (sum of kernels)", 34.0, "x", SRC_ABS),
    ("energy ratio digital ReRAM / analog (sum of kernels)", 270.0, "x", SRC_ABS),
    ("energy ratio SRAM / analog (sum of kernels)", 430.0, "x", SRC_ABS),
]


def _ours(designs: dict[str, Design]) -> list[float]:
    k = {key: kernel_costs(d, N, N) for key, d in designs.items()}
    lat = {key: {kk: v["latency_s"] * 1e6 for kk, v in kc.items()} for key, kc in k.items()}
    e_sum = {key: sum(v["energy_j"] for v in kc.values()) for key, kc in k.items()}
    t_sum = {key: sum(v["latency_s"] for v in kc.values()) for key, kc in k.items()}
    macs = sum(v["macs"] for v in k["analog"].values())
    return [
        e_sum["analog"] / macs * 1e15,
        lat["analog"]["forward"], lat["analog"]["backward"], lat["analog"]["update"],
        lat["reram"]["forward"], lat["reram"]["backward"], lat["reram"]["update"],
        lat["sram"]["forward"], lat["sram"]["backward"], lat["sram"]["update"],
        t_sum["reram"] / t_sum["analog"], t_sum["sram"] / t_sum["analog"],
        e_sum["reram"] / e_sum["analog"], e_sum["sram"] / e_sum["analog"],
    ]


#: the calibrated numbers and their targets: (design key, dotted paths scaled together, row index, target)
CALIBRATED = (
    ("reram", ("circuits.components.weights.params.write_energy_per_bit",), 12, 270.0),
    ("sram", ("circuits.components.weights.params.read_energy", "circuits.components.weights.params.write_energy"), 13, 430.0),
)
INTEGRATOR = "circuits.components.readout.params.integrator_power"


def _scaled(design: Design, paths, factor: float) -> Design:
    data = design_to_dict(design)
    for p in paths:
        scale_path(data, p, factor)
    return design_from_dict(copy.deepcopy(data), where=design.name)


def _get(design: Design, path: str) -> float:
    node = design_to_dict(design)
    for p in path.split("."):
        node = node[p]
    return float(node)


def calibrate() -> dict:
    """Re-derive the calibrated numbers from their targets (each ratio is linear in its number: solved from
    two evaluations): ``{"design:path": value}`` at the preset's own units (SI)."""
    designs = {key: load_design(name) for key, name in DESIGNS.items()}
    out = {}
    for key, paths, idx, target in CALIBRATED:
        a = _ours(designs)[idx]
        b = _ours(dict(designs, **{key: _scaled(designs[key], paths, 2.0)}))[idx]
        designs[key] = _scaled(designs[key], paths, 1.0 + (target - a) / (b - a))
        for p in paths:
            out[f"{key}:{p}"] = _get(designs[key], p)
    return out


def _notes(designs: dict[str, Design], ours: list[float]) -> list[str]:
    from pimtrain.cost.scaling import energy_scale

    a = designs["analog"]
    p65 = _get(a, INTEGRATOR)
    p_node = p65 * energy_scale(a.technology.node_nm, 65.0, a.technology.vdd)
    dev = ours[0] / PAPER_ROWS[0][1] - 1.0
    cmp_w, cmp_a = comparator_bias_for(designs, ours[0])
    return [
        f"analog energy per MAC {ours[0]:.2f} fJ ({dev:+.0%} against 11 fJ): the column integrator's power is derived from "
        f"its load, {p_node * 1e6:.1f} uW at {a.technology.node_nm:g} nm (2 branches x 1024 cells x 10 nA x "
        f"{a.technology.vdd:g} V, a class-A OTA at the core supply); the paper's integrator is not in the sources "
        "(docs/sources.md §11). The bias is the least a class-A OTA needs: a folded-cascode OTA (3 branches) or a 1.8 V "
        "analog supply would raise it 1.5x or 2.25x (the former calibration to 11 fJ/MAC set it 1.40x higher). The paper "
        "card written from the full text (2018_Marinella_MultiscaleCoDesignReRAMTraining_JETCAS.md, docs/sources.md source S7, "
        "'Limitations') lists 'Ramp ADC comparators burn static current'; the model charges a clocked comparator per ramp "
        "step instead. The gap to 11 fJ/MAC equals a "
        f"static comparator bias of {cmp_w * 1e6:.1f} uW ({cmp_a * 1e6:.1f} uA at {a.technology.vdd:g} V) per column "
        "during the ramp; the bias is not in the sources, so none is charged. Source that would be needed: the paper's "
        "per-component energy of the analog block (JETCAS 2018 Tables II-III: integrator, comparator, ramp)",
        "analog OPU latency 4 x 2^7 x 1 ns: the update's row value on the VMM's 8-bit time-encoding drivers (derived, "
        "not calibrated); the VMM/MVM latencies 2 x 2^7 + 2^7 slots follow from the same 1 GHz slot",
        "calibrated preset numbers: " + ", ".join(f"{k}:{p}" for k, p in calibrated_parameters(designs))
        + " (each to its energy ratio, against the derived analog energy)",
    ]


def comparator_bias_for(designs: dict[str, Design], ours_fj: float, target_fj: float = PAPER_ROWS[0][1]) -> tuple[float, float]:
    """(W, A): the static bias per column comparator, on during the ramp only, that would add the gap between
    ``ours_fj`` and ``target_fj`` to the analog energy per MAC. Solved through the integrator (the row is linear
    in its power, which is on for the integration and the ramp): the same energy per conversion spent over the
    ramp alone. For the caption; not charged."""
    from pimtrain.cost.scaling import energy_scale

    a = designs["analog"]
    doubled = _ours(dict(designs, analog=_scaled(a, (INTEGRATOR,), 2.0)))[0]
    extra = (target_fj - ours_fj) / (doubled - ours_fj)  # integrator powers to add
    p_node = _get(a, INTEGRATOR) * energy_scale(a.technology.node_nm, 65.0, a.technology.vdd)
    slot = 1.0 / a.technology.clock_hz
    t_ramp = 2 ** (a.io.forward.adc_bits - 1) * slot
    t_int = 2 * 2 ** (a.io.forward.dac_bits - 1) * slot  # two polarity phases of the time-encoded input
    watts = extra * p_node * (t_int + t_ramp) / t_ramp
    return watts, watts / a.technology.vdd


def reproduce() -> dict:
    designs = {key: load_design(name) for key, name in DESIGNS.items()}
    ours, depends = calibration_dependence(designs, _ours)
    rows = table_rows(PAPER_ROWS, ours, depends)
    return {"paper": PAPER, "designs": list(DESIGNS.values()), "workload": f"one {N}x{N} block, one sample", "rows": rows,
            "notes": _notes(designs, ours)}


def main(argv=None) -> None:
    import argparse
    import json

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calibrate", action="store_true", help="re-derive the calibrated preset numbers from their targets")
    args = ap.parse_args(argv)
    print(json.dumps(calibrate() if args.calibrate else reproduce(), indent=1))


if __name__ == "__main__":  # pragma: no cover
    main()
