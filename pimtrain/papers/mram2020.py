"""Wang, Zhao, Li, Wang, Lin (ISCAS 2020, arXiv 2003.01551): SOT-MRAM digital floating-point PIM for
training, against a FloatPIM-style baseline; and FloatPIM (Imani et al., ISCA 2019) against a GPU.

Designs: presets ``sot-mram-fp`` and ``floatpim`` (same organisation, bfloat16, in-memory FP MACs whose
cycle and energy counts come from the gate sequences of :mod:`pimtrain.pimlogic`) and the GTX 1080
roofline of :mod:`pimtrain.cost.gpu`. Workloads: the FloatPIM CNNs (AlexNet, VGG-16, GoogLeNet,
SqueezeNet; ImageNet shapes), one training step of batch 1 each; a ratio row is the geometric mean of
the four per-network ratios. The PipeLayer rows use the PipeLayer-like preset ``panther-base-opa-mvm``
when it is present. The power row is the FloatPIM chip's draw with every row of every block computing
(``design_summary``), against the paper's 62.6 W. Paper figures: papers.md §3 (abstract [A]) and §8.2 [S].

Basis marks are computed as in :mod:`pimtrain.papers.marinella2018`: every preset number whose
provenance says ``calibrated`` is perturbed (×1.5); a row that moves is a ``calibration``.
"""
from __future__ import annotations

import math

from pimtrain.cost import design_summary, evaluate
from pimtrain.design import Design, PimtrainError, load_design

from .basis import calibration_dependence, table_rows

PAPER = "mram2020"
DESIGNS = {"sot": "sot-mram-fp", "floatpim": "floatpim"}
PIPELAYER = "panther-base-opa-mvm"  # the PipeLayer-like ReRAM baseline (papers.md §2.1, §8.1)
GPU = "gtx1080"
WORKLOADS = ("alexnet", "vgg16", "googlenet", "squeezenet")
SRC_A = "Wang et al. 2020 abstract (papers.md §3 [A])"
SRC_F = "FloatPIM ISCA 2019 (papers.md §8.2 [S])"

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
            "notes": _notes(designs["floatpim"])}


def _notes(floatpim: Design) -> list[str]:
    """What FloatPIM's GPU figures imply per MAC on AlexNet, next to what this model computes."""
    from pimtrain.cost.gpu import gpu_step_cost
    from pimtrain.workloads import get_workload

    w = WORKLOADS[0]
    f = evaluate(floatpim, w, batch_size=1)
    g = gpu_step_cost(GPU, get_workload(w), batch_size=1, training=True)
    speed, eff = PAPER_ROWS[3][1], PAPER_ROWS[4][1]
    return [
        f"{w}: the paper's {speed}x / {eff}x over the {GPU} roofline imply {f.macs / (g['latency_s'] / speed):.3g} MAC/s "
        f"and {g['energy_j'] / eff / f.macs * 1e12:.3g} pJ per MAC for FloatPIM; the bit-serial NOR algorithms here give "
        f"{f.macs / f.latency_s:.3g} MAC/s and {f.energy_j / f.macs * 1e12:.3g} pJ per MAC (bf16, every row of the chip busy)",
    ]
