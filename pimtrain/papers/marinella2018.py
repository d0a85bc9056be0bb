"""Marinella et al. 2018 (IEEE JETCAS 8(1) 86–101, arXiv 1707.09952): analog ReRAM training block
against the same kernels on digital ReRAM and on SRAM.

Compares, for one 1024×1024 block and one sample (VMM, MVM, OPU): the analog energy per MAC averaged
over the three kernels, the nine per-kernel latencies, and the latency and energy ratios summed over
the kernels. Paper figures: abstract [A] and paper card [S] via ``../shared/reference/papers.md`` §1.

Basis of each row is not written by hand: every preset number whose provenance says ``calibrated``
is perturbed (×1.5) and every row that moves is marked ``calibration``; the others are ``prediction``.
"""
from __future__ import annotations

from pimtrain.cost import kernel_costs
from pimtrain.design import Design, load_design

from .basis import calibration_dependence, table_rows

PAPER = "marinella2018"
#: relative deviation a row may have and count as reproduced
TOLERANCE = 0.10
DESIGNS = {"analog": "marinella2018-analog", "reram": "marinella2018-digital-reram", "sram": "marinella2018-sram"}
N = 1024
SRC_LAT = "Marinella 2018 Table V via papers.md §1.3 [S]"
SRC_ABS = "Marinella 2018 abstract (papers.md §1.1 [A])"

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


def reproduce() -> dict:
    designs = {key: load_design(name) for key, name in DESIGNS.items()}
    ours, depends = calibration_dependence(designs, _ours)
    rows = table_rows(PAPER_ROWS, ours, depends)
    return {"paper": PAPER, "designs": list(DESIGNS.values()), "workload": f"one {N}x{N} block, one sample", "rows": rows}
