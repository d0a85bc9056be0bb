"""Executed PANTHER programs (pimtrain.isa) against the analytical engine: the README table under
"PANTHER as a program" (one training step, batch 1, panther-sgd; the conv sets as mid-network layers).
Run: PYTHONPATH=. python scripts/isa_vs_analytical.py"""
import time

import torch

from pimtrain.design import load_design
from pimtrain.isa.costing import workload_model
from pimtrain.isa.netcompile import compile_model, host_input, net_unit_weights
from pimtrain.isa.timing import TimedExecutor
from pimtrain.papers.panther2020 import BENCHMARKS
from pimtrain.papers.panther_program import executed_steps
from pimtrain.workloads import get_workload

MOVE = ("ld", "st", "send", "recv", "cp", "set", "alu", "alui")

print("| workload | latency count (µs) | latency program (µs) | dynamic energy count (µJ) | dynamic energy program (µJ) "
      "| instructions | tiles | words sent between tiles | crs (unit ops) | mvm + crs on critical path (µs) "
      "| data movement and ALU on critical path (µs) | MVMU busy | eDRAM words/tile |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for w, s in executed_steps(workloads=BENCHMARKS).items():
    cp = s["critical_path_by_opcode_s"]
    print(f"| {w} | {s['analytical_latency_s'] * 1e6:.2f} | {s['program_latency_s'] * 1e6:.2f} "
          f"| {s['analytical_dynamic_j'] * 1e6:.3f} | {s['program_dynamic_j'] * 1e6:.3f} | {s['instructions']} "
          f"| {s['tiles']} | {s['network_words']} | {s['crs_unit_ops']} "
          f"| {(cp.get('mvm', 0) + cp.get('crs', 0)) * 1e6:.2f} | {sum(cp.get(k, 0) for k in MOVE) * 1e6:.2f} "
          f"| {s['utilisation_mvmu']:.2f} | {s['edram_words_per_tile']} |")

# compile + timed execution of an mlpPantherBig training step on one core
d = load_design("panther-sgd")
torch.set_num_threads(1)
t0 = time.perf_counter()
model, shape = workload_model(get_workload("mlppantherbig"))
c = compile_model(model, d, train=True, lr=0.25, input_shape=shape)
t1 = time.perf_counter()
TimedExecutor(c.program, d, net_unit_weights(c, model)).run_timed(
    {"x": host_input(c, torch.randn(1, *shape, dtype=torch.float64)), "d": torch.randn(10, dtype=torch.float64)})
t2 = time.perf_counter()
print(f"mlpPantherBig training step: compile {t1 - t0:.2f} s, timed execution {t2 - t1:.2f} s (one thread)")
