"""PANTHER's rows recomputed from executed programs (``pimtrain reproduce panther2020 --executor program``).

PANTHER's step on every benchmark layer (mlpPanther, mlpPantherBig, convA–G; batch 1, the conv sets as mid-network
layers with their first transposed read) is compiled by :mod:`pimtrain.isa` and run by its timing executor on
``panther-sgd``'s components: its latency is the executed one, its energy the executed program's dynamic energy plus
the analytical node's static power (the leakage of the tiles and cores the step occupies, ``hierarchy.static_power``)
over the executed latency. The baselines (digital, Base_mvm, Base_opa/mvm) keep their analytical steps — they are not
PANTHER nodes and have no program. The ratio rows are then formed exactly as :func:`pimtrain.papers.panther2020._ours`
forms them. The GPU rows use the full networks (VGG-16 at 32×32: millions of matrix-unit operations, not executed):
they are left to the count.
"""
from __future__ import annotations

import time

from pimtrain.cost import evaluate
from pimtrain.design import load_design

from . import panther2020 as p20

#: rows of PAPER_ROWS that need the full networks (GPU comparison): not recomputed
GPU_ROWS = (4, 5)


def executed_steps(design=None, workloads=p20.BENCHMARKS) -> dict:
    """``{workload: {analytical and executed energy / latency of PANTHER's step}}``."""
    from pimtrain.isa.costing import program_cost

    d = design if design is not None else load_design(p20.DESIGNS["panther"])
    out = {}
    for w in workloads:
        single = w.startswith("conv")
        t0 = time.perf_counter()
        prog = program_cost(d, w, first_layer_backward=single)
        a = evaluate(d, w, batch_size=1, first_layer_backward=single)
        leak = a.kernel.get("leakage", {}).get("energy_j", 0.0)
        static_w = leak / a.latency_s if a.latency_s else 0.0
        out[w] = {
            "analytical_latency_s": a.latency_s, "analytical_energy_j": a.energy_j,
            "analytical_dynamic_j": a.energy_j - leak,
            "program_latency_s": prog["latency_s"], "program_dynamic_j": prog["energy_j"],
            "program_energy_j": prog["energy_j"] + static_w * prog["latency_s"],
            "instructions": prog["program"]["instructions"], "crs_unit_ops": prog["program"]["crs_unit_ops"],
            "network_words": prog["program"]["network_words_sent"], "tiles": prog["program"]["tiles_used"],
            "edram_words_per_tile": prog["edram_words_per_tile"],
            "utilisation_mvmu": prog["utilisation"]["mvmu"],
            "critical_path_by_opcode_s": prog["critical_path_by_opcode_s"],
            "seconds": time.perf_counter() - t0,
        }
    return out


def program_rows() -> dict:
    """The paper's rows with PANTHER's steps from executed programs beside the analytical ones."""
    designs = {k: load_design(n) for k, n in p20.DESIGNS.items()}
    costs = p20.step_costs(designs)
    counted = p20._ours(designs, costs)
    steps = executed_steps(designs["panther"])
    executed = {k: dict(v) for k, v in costs.items()}
    for w, s in steps.items():
        executed["panther"][w] = (s["program_energy_j"], s["program_latency_s"])
    ours = p20._ours(designs, executed)
    rows = []
    for i, (quantity, paper, unit, _src) in enumerate(p20.PAPER_ROWS):
        prog = None if i in GPU_ROWS else ours[i]
        rows.append({"quantity": quantity, "paper": paper, "unit": unit, "count": counted[i], "program": prog})
    return {"paper": p20.PAPER, "design": p20.DESIGNS["panther"], "rows": rows, "steps": steps,
            "note": "PANTHER's step executed (dynamic energy of the program + the node's static power over its "
                    "latency); baselines analytical; GPU rows need VGG-16 (not executed): count only"}


def program_table(res: dict):
    from rich.table import Table

    t = Table(title=f"{res['paper']}: PANTHER's rows from executed programs ({res['design']}) beside the count")
    for col, j in [("quantity", "left"), ("paper", "right"), ("count", "right"), ("program", "right"), ("unit", "left")]:
        t.add_column(col, justify=j)
    for r in res["rows"]:
        t.add_row(r["quantity"], f"{r['paper']:.4g}", f"{r['count']:.4g}",
                  "—" if r["program"] is None else f"{r['program']:.4g}", r["unit"])
    t.caption = res["note"]
    s = Table(title="PANTHER's step per benchmark: analytical count vs executed program (batch 1)")
    for col in ("workload", "latency count (µs)", "latency program (µs)", "dynamic energy count (µJ)",
                "dynamic energy program (µJ)", "instructions", "crs", "tiles"):
        s.add_column(col, justify="left" if col == "workload" else "right")
    for w, v in res["steps"].items():
        s.add_row(w, f"{v['analytical_latency_s'] * 1e6:.2f}", f"{v['program_latency_s'] * 1e6:.2f}",
                  f"{v['analytical_dynamic_j'] * 1e6:.3f}", f"{v['program_dynamic_j'] * 1e6:.3f}",
                  str(v["instructions"]), str(v["crs_unit_ops"]), str(v["tiles"]))
    return [t, s]


__all__ = ["executed_steps", "program_rows", "program_table"]
