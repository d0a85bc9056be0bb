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


@pytest.mark.parametrize("sizes,act", [([64, 36, 10], "relu"), ([300, 200, 130], "tanh")])
def test_compiled_step_on_design_cores_is_bit_identical_to_the_layer_level_step(sizes, act):
    """panther-sgd numerics (bit-sliced 16-bit weights, 1-bit DAC, 8-bit ADC): same seed → same output, same weights."""
    import copy

    from pimtrain.isa.execute import LayerCores
    from pimtrain.nn import convert
    from pimtrain.nn.convert import analog_layers
    from pimtrain.nn.optim import AnalogSGD

    torch.manual_seed(0)
    model = mlp(sizes, act)
    x, label, lr = torch.randn(sizes[0]), torch.tensor([3]), 0.25
    ref = convert(copy.deepcopy(model), DESIGN, seed=5)
    start = [layer.core.get_weight().clone() for layer in analog_layers(ref)]
    opt = AnalogSGD(ref, lr)
    opt.zero_grad()
    y_ref = ref(x[None])
    nn.functional.cross_entropy(y_ref, label).backward()
    opt.step()

    mine = convert(copy.deepcopy(model), DESIGN, seed=5)
    c = compile_mlp(model, DESIGN, train=True, lr=lr)
    ex = Executor(c.program, LayerCores(c, [layer.core for layer in analog_layers(mine)]), dtype=torch.float32)
    seen = {}

    def host(e):  # the loss gradient by the same autograd the layer-level step uses
        y = e.read_output("y")
        if y is None or "y" in seen:
            return False
        seen["y"] = y
        yy = y[None].clone().requires_grad_(True)
        e.write_input("d", torch.autograd.grad(nn.functional.cross_entropy(yy, label), yy)[0][0])
        return True

    ex.run({"x": x}, host=host)
    assert torch.equal(seen["y"], y_ref[0].detach())
    for a, b, w0 in zip(analog_layers(mine), analog_layers(ref), start):
        assert not torch.equal(b.core.get_weight(), w0)  # the step moved the weights
        assert torch.equal(a.core.get_weight(), b.core.get_weight())


def test_design_cores_inference_equals_layer_level_outputs():
    import copy

    from pimtrain.isa.execute import LayerCores
    from pimtrain.nn import convert
    from pimtrain.nn.convert import analog_layers

    torch.manual_seed(1)
    model = mlp([200, 130, 10], "sigmoid")
    x = torch.randn(200)
    ref = convert(copy.deepcopy(model), DESIGN, seed=2)
    with torch.no_grad():
        y_ref = ref(x[None])[0]
    c = compile_mlp(model, DESIGN)
    mine = convert(copy.deepcopy(model), DESIGN, seed=2)
    y = Executor(c.program, LayerCores(c, [layer.core for layer in analog_layers(mine)]), dtype=torch.float32).run(
        {"x": x})["y"]
    assert torch.equal(y, y_ref)


def test_timing_of_mlppantherbig_step_charges_the_components_and_is_fast():
    import time

    from pimtrain.isa.timing import Costs, TimedExecutor

    sizes = [1024, 512, 1024, 768, 10]
    t0 = time.perf_counter()
    model = _model(sizes, "sigmoid")
    c = compile_mlp(model, DESIGN, train=True, lr=0.25)
    ex = TimedExecutor(c.program, DESIGN, unit_weights(c, model))

    def host(e):
        if e.read_output("y") is None or hasattr(e, "_d"):
            return False
        e._d = True
        e.write_input("d", torch.full((10,), 0.1, dtype=torch.float64))
        return True

    r = ex.run_timed({"x": torch.randn(1024, dtype=torch.float64)}, host=host)
    assert time.perf_counter() - t0 < 10.0  # the target: compile + timed run of a step under 10 s
    s, k = program_stats(c.program), Costs(DESIGN)
    mcu = sum(s["matrix_unit_ops"][name] * k.mode[m][0]
              for name, m in (("forward", "f"), ("transposed", "t"), ("outer_product", "o")))
    assert r["energy_by_component_j"]["mcu"] == pytest.approx(mcu, rel=1e-12)
    assert r["energy_by_class_j"]["matrix"] == pytest.approx(mcu, rel=1e-12)
    # the critical path is a chain ending at the step's end, at least one forward multiply per layer long
    path = r["critical_path"]
    assert path[-1]["end_s"] == pytest.approx(r["latency_s"])
    assert all(a["end_s"] <= b["start_s"] + 1e-15 for a, b in zip(path, path[1:]))
    assert r["critical_path_by_opcode_s"]["mvm"] >= len(sizes[1:]) * k.mode["f"][1]
    assert 0 < r["utilisation"]["mvmu"] < 1 and r["instructions_executed"] == s["instructions"]


def test_cli_run_program_timed(tmp_path):
    s = tmp_path / "p.s"
    r = CliRunner().invoke(app, ["compile", "-d", "panther-sgd", "-m", "mlp:300-130-10:relu", "--emit", str(s)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["run-program", str(s), "-d", "panther-sgd", "--json"])
    assert r.exit_code == 0, r.output
    import json

    data = json.loads(r.output)
    assert data["timing"]["latency_s"] > 0 and data["timing"]["energy_by_component_j"]["mcu"] > 0
    assert len(data["outputs"]["y"]) == 10


def test_three_compiled_steps_driven_from_python_stay_bit_identical():
    import copy

    from pimtrain.isa.execute import LayerCores, train_step
    from pimtrain.nn import convert
    from pimtrain.nn.convert import analog_layers
    from pimtrain.nn.optim import AnalogSGD

    torch.manual_seed(3)
    model = mlp([64, 36, 10], "relu")
    xs, labels, lr = torch.randn(3, 64), torch.tensor([1, 7, 4]), 0.125
    ref = convert(copy.deepcopy(model), DESIGN, seed=9)
    opt = AnalogSGD(ref, lr)
    mine = convert(copy.deepcopy(model), DESIGN, seed=9)
    c = compile_mlp(model, DESIGN, train=True, lr=lr)
    units = LayerCores(c, [layer.core for layer in analog_layers(mine)])
    for x, label in zip(xs, labels):
        opt.zero_grad()
        y_ref = ref(x[None])
        nn.functional.cross_entropy(y_ref, label[None]).backward()
        opt.step()

        def grad(y, label=label):
            yy = y[None].clone().requires_grad_(True)
            return torch.autograd.grad(nn.functional.cross_entropy(yy, label[None]), yy)[0][0]

        y = train_step(c, units, x, grad)
        assert torch.equal(y, y_ref[0].detach())
    for a, b in zip(analog_layers(mine), analog_layers(ref)):
        assert torch.equal(a.core.get_weight(), b.core.get_weight())


def test_cli_cost_executor_program():
    import json

    r = CliRunner().invoke(app, ["cost", "-d", "panther-sgd", "-w", "mlp:300-130-10", "--executor", "program", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["program"]["executor"] == "program" and data["program"]["latency_s"] > 0
    assert data["program"]["matrix_units"] == 3 * 2 + 2 * 1  # 300 inputs × 130 outputs, then 130 × 10 (128-blocks)
    r = CliRunner().invoke(app, ["cost", "-d", "panther-sgd", "-w", "convf", "-b", "2", "--executor", "program", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["program"]["program"]["matrix_unit_ops"]["outer_product"] == 2 * 32  # 4096×10: 32 units
    for args in (["-w", "vgg16"], ["-w", "mlp:300-130-10", "--executor", "x"]):
        extra = [] if "--executor" in args else ["--executor", "program"]
        r = CliRunner().invoke(app, ["cost", "-d", "panther-sgd", *args, *extra])
        assert r.exit_code == 2 and len([ln for ln in r.output.splitlines() if ln.strip()]) == 1, r.output


def test_layer_cores_barrier_completed_by_the_first_attempt_counts_as_progress():
    import copy

    from pimtrain.isa import Halt, Mvm, Program, Stream
    from pimtrain.isa.execute import LayerCores
    from pimtrain.nn import convert
    from pimtrain.nn.convert import analog_layers

    torch.manual_seed(0)
    model = mlp([20, 10], "relu")
    c = compile_mlp(model, DESIGN)
    assert list(c.layers[0].units.values()) == [(0, 0, 0)]
    bare = Program(c.program.machine, [Stream(0, 0, [Mvm(((0, "f"),)), Halt()])])
    cores = [layer.core for layer in analog_layers(convert(copy.deepcopy(model), DESIGN, seed=1))]
    ex = Executor(bare, LayerCores(c, cores), dtype=torch.float32)
    ex.run()
    assert ex.executed == 2
