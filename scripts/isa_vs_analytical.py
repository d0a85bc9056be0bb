"""Executed PANTHER programs (pimtrain.isa) against the analytical engine: the README table under
"PANTHER as a program". Run: PYTHONPATH=. python scripts/isa_vs_analytical.py"""
import torch

from pimtrain.cost import evaluate
from pimtrain.design import load_design
from pimtrain.isa.compiler import compile_mlp, unit_weights
from pimtrain.isa.timing import TimedExecutor
from pimtrain.mapping import matrix_plan
from pimtrain.nn.models import mlp

d = load_design("panther-sgd")
for name, sizes in (("mlpPanther", [1024, 256, 512, 512, 10]), ("mlpPantherBig", [1024, 512, 1024, 768, 10])):
    for train in (False, True):
        torch.manual_seed(0)
        model = mlp(sizes, "sigmoid").double()
        c = compile_mlp(model, d, train=train, lr=0.25)
        ex = TimedExecutor(c.program, d, unit_weights(c, model))
        inp = {"x": torch.randn(sizes[0], dtype=torch.float64)}
        if train:
            inp["d"] = torch.full((sizes[-1],), 0.1, dtype=torch.float64)
        r = ex.run_timed(inp)
        a = evaluate(d, name.lower(), batch_size=1, inference=not train)
        dyn = a.energy_j - a.kernel.get("leakage", {}).get("energy_j", 0)
        mats = sum(lp.row_blocks * lp.col_blocks for lp in c.layers)
        amats = sum(matrix_plan(d, o, i, 2).matrices for i, o in zip(sizes[:-1], sizes[1:]))
        print(f"| {name} | {'training' if train else 'inference'} | {a.latency_s * 1e6:.2f} | {r['latency_s'] * 1e6:.2f} "
              f"| {dyn * 1e6:.3f} | {r['energy_j'] * 1e6:.3f} | {amats} / {mats} "
              f"| {r['critical_path_by_opcode_s'].get('mvm', 0) * 1e6:.2f} | {r['utilisation']['mvmu']:.2f} |")
