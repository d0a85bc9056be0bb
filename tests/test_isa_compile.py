"""pimtrain.isa compiler + functional executor: a compiled MLP computes the torch model (inference) and one SGD
step of it (training), its programs round-trip, its eDRAM reader counts balance, and its mvm counts equal the plan."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from pimtrain.cli import app
from pimtrain.design import PimtrainError, load_design
from pimtrain.isa import ProgramError, format_program, parse_program, program_stats
from pimtrain.isa.compiler import compile_mlp, unit_weights
from pimtrain.isa.execute import Executor
from pimtrain.mapping import matrix_plan
from pimtrain.nn.models import mlp

DESIGN = load_design("panther-sgd")
CASES = [([64, 36, 10], "sigmoid"), ([300, 200, 130], "tanh"), ([784, 300, 10], "relu")]


def _model(sizes, act, seed=0):
    torch.manual_seed(seed)
    return mlp(sizes, act).double()


@pytest.mark.parametrize("sizes,act", CASES)
def test_inference_equals_the_model(sizes, act):
    model = _model(sizes, act)
    c = compile_mlp(model, DESIGN)
    x = torch.randn(sizes[0], dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    ex = Executor(c.program, unit_weights(c, model))
    y = ex.run({"x": x})["y"]
    torch.testing.assert_close(y, model(x[None])[0], rtol=0, atol=1e-12)
    for t in range(c.program.machine.tiles):  # every stored word read by exactly its counted readers
        left = ex.count[t].clone()
        for p in c.program.ports:
            if p.kind == "output" and p.tile == t:
                left[p.addr:p.addr + p.vec] = 0
        assert int(left.abs().sum()) == 0


@pytest.mark.parametrize("sizes,act", CASES)
def test_training_step_equals_torch_sgd(sizes, act):
    model, lr = _model(sizes, act), 0.25
    c = compile_mlp(model, DESIGN, train=True, lr=lr)
    x = torch.randn(sizes[0], dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    label = torch.tensor([3])
    before = unit_weights(c, model)
    ex = Executor(c.program, before)

    def host(e):  # the loss is the host's: dLoss/dy of cross-entropy from the program's output y
        y = e.read_output("y")
        if y is None or hasattr(e, "_d"):
            return False
        e._d = torch.softmax(y, 0) - nn.functional.one_hot(label, sizes[-1])[0].double()
        e.write_input("d", e._d)
        return True

    ex.run({"x": x}, host=host)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    nn.functional.cross_entropy(model(x[None]), label).backward()
    opt.step()
    after = unit_weights(c, model)
    moved = max(float((after[k] - before[k]).abs().max()) for k in after)
    assert moved > 1e-4
    for k in after:
        torch.testing.assert_close(ex.weights[k], after[k], rtol=0, atol=1e-12)


@pytest.mark.parametrize("train", [False, True])
def test_compiled_programs_round_trip_and_count_the_plan(train):
    sizes = [784, 300, 130, 10]
    c = compile_mlp(_model(sizes, "sigmoid"), DESIGN, train=train)
    text = format_program(c.program)
    assert format_program(parse_program(text)) == text
    s = program_stats(c.program)
    mats = [matrix_plan(DESIGN, o, i + 1, 2).matrices for i, o in zip(sizes[:-1], sizes[1:])]
    assert s["matrix_unit_ops"]["forward"] == sum(mats)
    assert s["matrix_unit_ops"]["transposed"] == (sum(mats[1:]) if train else 0)
    assert s["matrix_unit_ops"]["outer_product"] == (sum(mats) if train else 0)
    assert s["tiles_used"] == c.program.machine.tiles == 2 and s["network_words_sent"] > 0
    assert s["network_words_sent"] == s["network_words_received"]


def test_unsupported_model_is_refused_in_one_line():
    with pytest.raises(PimtrainError, match=r"node '_0' \(Conv2d\) is not supported; allowed: Linear"):
        compile_mlp(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2)).double(), DESIGN)
    with pytest.raises(PimtrainError, match="an activation must follow a Linear"):
        compile_mlp(nn.Sequential(nn.ReLU(), nn.Linear(8, 2)), DESIGN)


def test_deadlock_names_the_waiting_instruction():
    text = ".machine tiles=1 cores=1 mvmus=1 rows=4 cols=4 regs=8 edram=16\n.core 0.0\nld r0, [0] vec=4\nhlt\n"
    with pytest.raises(ProgramError, match=r"line 3: `ld r0, \[0\] vec=4` \(core 0.0\): deadlock"):
        Executor(parse_program(text)).run()


def test_cli_compile_emit_and_run(tmp_path):
    s = tmp_path / "p.s"
    r = CliRunner().invoke(app, ["compile", "-d", "panther-sgd", "-m", "mlp:64-36-10", "--train", "--emit", str(s),
                                 "--json"])
    assert r.exit_code == 0, r.output
    assert '"outer_product": 2' in r.output and s.read_text().startswith(".machine")
    r = CliRunner().invoke(app, ["run-program", str(s), "--json"])
    assert r.exit_code == 0, r.output and '"executed"' in r.output
    r = CliRunner().invoke(app, ["compile", "-d", "panther-sgd", "-m", "cnn:3"])
    assert r.exit_code == 2 and "--model" in r.output
