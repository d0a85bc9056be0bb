"""pimtrain.isa.netcompile: convolutional networks and batches compiled into PANTHER programs. A compiled step equals
torch SGD (exact units) and, on panther-sgd's numerics, the layer-level step bit for bit — carries included, run by
the program's ``crs``; the programs round-trip; a missing or misplaced ``crs`` is named."""
from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
from torch import nn

from pimtrain.design import PimtrainError, load_design
from pimtrain.isa import ProgramError, format_program, parse_program, program_stats
from pimtrain.isa.execute import Executor, run_on_layer_cores
from pimtrain.isa.instructions import Crs
from pimtrain.isa.netcompile import compile_model, host_input, net_unit_weights

DESIGN = load_design("panther-sgd")


def _cnn(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 10))


def _cnn2(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.Tanh(), nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4 * 3 * 3, 10))


def _crs_per_layer(c) -> list[int]:
    """``crs`` instructions on each layer's first core (every core of a layer carries at the same points)."""
    out = []
    for lp in c.layers:
        t, core, _ = lp.units[(0, 0)]
        out.append(sum(isinstance(i, Crs) for i in c.program.stream(t, core).instructions))
    return out


def _grad(y, label):
    yy = y.clone().requires_grad_(True)
    return torch.autograd.grad(nn.functional.cross_entropy(yy, label, reduction="sum"), yy)[0]


class _Host:
    """The host of a training step: reads ``y`` and writes ``d`` = dLoss/dy (a fresh one per run)."""

    def __init__(self, batch, label):
        self.batch, self.label, self.runs, self.y = batch, label, 0, None

    def __call__(self):
        self.runs += 1
        self.y = None

        def host(e):
            y = e.read_output("y")
            if y is None or self.y is not None:
                return False
            self.y = y.reshape(self.batch, -1)
            e.write_input("d", _grad(self.y, self.label).reshape(-1))
            return True
        return host


@pytest.mark.parametrize("make,shape,batch", [(_cnn, (1, 8, 8), 1), (_cnn2, (1, 8, 8), 2),
                                              (lambda: nn.Sequential(nn.Linear(30, 20), nn.Sigmoid(),
                                                                     nn.Linear(20, 10)), (30,), 3)])
def test_step_with_exact_units_equals_torch_sgd(make, shape, batch):
    model, lr = make().double(), 0.25
    c = compile_model(model, DESIGN, train=True, lr=lr, batch=batch, input_shape=shape)
    x = torch.randn(batch, *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    label = torch.arange(batch) % 10
    ex = Executor(c.program, net_unit_weights(c, model))
    h = _Host(batch, label)
    ex.run({"x": host_input(c, x)}, host=h())
    ref = copy.deepcopy(model)
    y = ref(x)
    torch.testing.assert_close(h.y, y.detach(), rtol=0, atol=1e-12)
    nn.functional.cross_entropy(y, label, reduction="sum").backward()
    torch.optim.SGD(ref.parameters(), lr=lr).step()
    after = net_unit_weights(c, ref)
    assert max(float((after[k] - net_unit_weights(c, model)[k]).abs().max()) for k in after) > 1e-4
    for k in after:
        torch.testing.assert_close(ex.weights[k], after[k], rtol=0, atol=1e-12)


@pytest.mark.parametrize("make,shape,batch,carries", [(_cnn, (1, 8, 8), 1, [1, 0]), (_cnn2, (1, 8, 8), 2, [2, 0, 0]),
                                                      (lambda: nn.Sequential(nn.Linear(64, 36), nn.ReLU(),
                                                                             nn.Linear(36, 10)), (64,), 2, [0, 0])])
def test_step_on_panther_cores_is_bit_identical_to_the_layer_level_step(make, shape, batch, carries):
    """panther-sgd (bit-sliced 16-bit weights, 8-bit ADC ranges over the batch): same seed → same outputs, same
    weights; a conv layer's 64 positions per example are 64 OPAs, so the program's crs runs the carry (core.carry)."""
    from pimtrain.nn import convert
    from pimtrain.nn.convert import analog_layers
    from pimtrain.nn.optim import AnalogSGD

    model, lr = make(), 0.25
    x = torch.randn(batch, *shape, generator=torch.Generator().manual_seed(1))
    label = torch.arange(batch) % 10
    ref = convert(copy.deepcopy(model), DESIGN, seed=5)
    start = [layer.core.get_weight().clone() for layer in analog_layers(ref)]
    opt = AnalogSGD(ref, lr)
    opt.zero_grad()
    y_ref = ref(x)
    nn.functional.cross_entropy(y_ref, label, reduction="sum").backward()
    opt.step()

    mine = convert(copy.deepcopy(model), DESIGN, seed=5)
    c = compile_model(model, DESIGN, train=True, lr=lr, batch=batch, input_shape=shape)
    assert _crs_per_layer(c) == carries
    h = _Host(batch, label)
    run_on_layer_cores(c, [layer.core for layer in analog_layers(mine)], {"x": host_input(c, x)}, host=h)
    assert torch.equal(h.y, y_ref.detach())
    for a, b, w0 in zip(analog_layers(mine), analog_layers(ref), start):
        assert not torch.equal(b.core.get_weight(), w0)
        assert torch.equal(a.core.get_weight(), b.core.get_weight())
        assert a.core.carry_schedule.since == b.core.carry_schedule.since
        assert a.core.counters.get("update.carries") == b.core.counters.get("update.carries")


def test_cnn_inference_on_panther_cores_equals_the_layer_level_outputs():
    from pimtrain.nn import convert
    from pimtrain.nn.convert import analog_layers

    model = _cnn2(3)
    x = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(4))
    ref = convert(copy.deepcopy(model), DESIGN, seed=2)
    with torch.no_grad():
        y_ref = ref(x)
    c = compile_model(model, DESIGN, batch=2, input_shape=(1, 8, 8))
    mine = convert(copy.deepcopy(model), DESIGN, seed=2)
    _ex, outs = run_on_layer_cores(c, [layer.core for layer in analog_layers(mine)], {"x": host_input(c, x)})
    assert torch.equal(outs["y"].reshape(2, -1), y_ref)


def test_a_missing_or_misplaced_crs_is_named():
    from pimtrain.nn import convert
    from pimtrain.nn.convert import analog_layers

    model = _cnn(1)
    c = compile_model(model, DESIGN, train=True, lr=0.25, input_shape=(1, 8, 8))
    x = host_input(c, torch.randn(1, 1, 8, 8))
    for where in ("drop", "early"):
        prog = copy.deepcopy(c.program)
        for s in prog.streams:
            i = next((k for k, ins in enumerate(s.instructions) if isinstance(ins, Crs)), None)
            if i is not None:
                ins = s.instructions.pop(i)
                if where == "early":  # right after the first update instead
                    j = next(k for k, x_ in enumerate(s.instructions) if getattr(x_, "opcode", "") == "mvm"
                             and x_.modes[0][1] == "o")
                    s.instructions.insert(j + 1, ins)
        cc = dataclasses.replace(c, program=prog)
        mine = convert(copy.deepcopy(model), DESIGN, seed=1)
        with pytest.raises(ProgramError, match="crs" if where == "drop" else r"crs after 1 updates"):
            run_on_layer_cores(cc, [layer.core for layer in analog_layers(mine)], {"x": x},
                               host=_Host(1, torch.tensor([1])))


def test_crs_falls_where_the_carry_schedule_says():
    """64 positions per example: a crs after every 64th update of the conv matrix; none on the linear layer
    until its 64th example (examples_before shifts the schedule)."""
    model = _cnn(0)
    for before, conv_crs, fc_crs in ((0, 1, 0), (63, 1, 1), (5, 1, 0)):
        c = compile_model(model, DESIGN, train=True, input_shape=(1, 8, 8), examples_before=before)
        assert _crs_per_layer(c) == [conv_crs, fc_crs]
    assert program_stats(compile_model(model, DESIGN, input_shape=(1, 8, 8)).program)["crs_unit_ops"] == 0


def test_conv_programs_round_trip_and_count_the_positions():
    model = _cnn2(0)
    for train in (False, True):
        c = compile_model(model, DESIGN, train=train, batch=2, input_shape=(1, 8, 8))
        text = format_program(c.program)
        assert format_program(parse_program(text)) == text
        s = program_stats(c.program)
        vectors = [2 * 64, 2 * 9, 2 * 1]  # positions × batch of each layer
        assert s["matrix_unit_ops"]["forward"] == sum(vectors)
        assert s["matrix_unit_ops"]["transposed"] == (sum(vectors[1:]) if train else 0)
        assert s["matrix_unit_ops"]["outer_product"] == (sum(vectors) if train else 0)


def test_unsupported_conv_models_are_refused_in_one_line():
    with pytest.raises(PimtrainError, match="needs input_shape"):
        compile_model(_cnn(), DESIGN)
    with pytest.raises(PimtrainError, match=r"Conv2d\): allowed: groups=1"):
        compile_model(nn.Sequential(nn.Conv2d(2, 2, 3, groups=2)), DESIGN, input_shape=(2, 5, 5))
    with pytest.raises(PimtrainError, match=r"MaxPool2d\) is not supported"):
        compile_model(nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2)), DESIGN, input_shape=(1, 6, 6))
    with pytest.raises(PimtrainError, match="batch=0"):
        compile_model(_cnn(), DESIGN, batch=0, input_shape=(1, 8, 8))


def test_python_driven_steps_carry_across_steps_bit_identically():
    """Two steps of batch 40 (80 examples): the linear matrix's 64th update falls in the second step, whose program
    (StepPrograms(40)) has the crs there; weights equal two layer-level AnalogSGD steps."""
    from pimtrain.isa.execute import LayerCores, train_step
    from pimtrain.isa.netcompile import StepPrograms
    from pimtrain.nn import convert
    from pimtrain.nn.convert import analog_layers
    from pimtrain.nn.optim import AnalogSGD

    torch.manual_seed(4)
    model, lr, batch = nn.Sequential(nn.Linear(20, 10)), 0.125, 40
    xs = torch.randn(2, batch, 20, generator=torch.Generator().manual_seed(6))
    labels = torch.randint(0, 10, (2, batch), generator=torch.Generator().manual_seed(7))
    ref = convert(copy.deepcopy(model), DESIGN, seed=3)
    opt = AnalogSGD(ref, lr)
    mine = convert(copy.deepcopy(model), DESIGN, seed=3)
    steps = StepPrograms(model, DESIGN, lr, batch)
    assert _crs_per_layer(steps(0)) == [0] and _crs_per_layer(steps(batch)) == [1]
    for k in range(2):
        opt.zero_grad()
        nn.functional.cross_entropy(ref(xs[k]), labels[k], reduction="sum").backward()
        opt.step()
        c = steps(k * batch)
        train_step(c, LayerCores(c, [layer.core for layer in analog_layers(mine)]), xs[k].reshape(-1),
                   lambda y, k=k: _grad(y.reshape(batch, -1), labels[k]).reshape(-1))
    a, b = analog_layers(mine)[0].core, analog_layers(ref)[0].core
    assert b.counters.get("update.carries") == 1 == a.counters.get("update.carries")
    assert torch.equal(a.get_weight(), b.get_weight())


def test_executed_steps_of_panther_benchmarks():
    from pimtrain.papers.panther_program import executed_steps

    s = executed_steps(workloads=("convF", "convC"))
    for v in s.values():
        assert v["program_latency_s"] > 0 and v["program_dynamic_j"] > 0
        assert v["program_energy_j"] > v["program_dynamic_j"]  # the node's static power over the executed latency
        assert v["program_dynamic_j"] == pytest.approx(v["analytical_dynamic_j"], rel=0.1)
    assert s["convC"]["tiles"] == 5 and s["convC"]["instructions"] > 10_000  # 16 positions × 72 units


def test_reproduce_executor_option_is_checked_in_one_line():
    from typer.testing import CliRunner

    from pimtrain.cli import app

    for args in (["marinella2018", "--executor", "program"], ["panther2020", "--executor", "gpu"]):
        r = CliRunner().invoke(app, ["reproduce", *args])
        assert r.exit_code == 2 and "--executor" in r.output
        assert len([ln for ln in r.output.splitlines() if ln.strip()]) == 1, r.output


@pytest.mark.slow
def test_reproduce_panther2020_with_executed_programs():
    import json

    from typer.testing import CliRunner

    from pimtrain.cli import app

    r = CliRunner().invoke(app, ["reproduce", "panther2020", "--executor", "program", "--json"])
    assert r.exit_code == 0, r.output
    prog = json.loads(r.output)["program"]
    assert set(prog["steps"]) == {"mlpPanther", "mlpPantherBig", "convA", "convB", "convC", "convD", "convE", "convF",
                                  "convG"}
    rows = prog["rows"]
    assert [r_["program"] is None for r_ in rows] == [i in (4, 5) for i in range(len(rows))]
    assert all(r_["program"] > 1 for r_ in rows if r_["program"] is not None)


def test_unaligned_conv_net_on_two_tiles_equals_torch_and_balances_every_count():
    """Channels that do not divide the 128-row blocks, several row and column blocks, two tiles, stride and
    padding, batch 2: weights, the input error dx (col2im of the first layer) and the outputs equal torch, and every
    stored word is read by exactly its counted readers."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(20, 150, 3, padding=1), nn.Tanh(), nn.Conv2d(150, 30, 3, stride=2, padding=1),
                          nn.Sigmoid(), nn.Flatten(), nn.Linear(30 * 3 * 3, 140), nn.ReLU(), nn.Linear(140, 10)).double()
    batch, lr = 2, 0.25
    c = compile_model(model, DESIGN, train=True, lr=lr, batch=batch, input_shape=(20, 5, 5), first_layer_backward=True)
    assert c.program.machine.tiles == 2
    x = torch.randn(batch, 20, 5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    label = torch.tensor([1, 8])
    ex = Executor(c.program, net_unit_weights(c, model))
    h = _Host(batch, label)
    out = ex.run({"x": host_input(c, x)}, host=h())
    ref, xx = copy.deepcopy(model), x.clone().requires_grad_(True)
    y = ref(xx)
    nn.functional.cross_entropy(y, label, reduction="sum").backward()
    torch.optim.SGD(ref.parameters(), lr=lr).step()
    torch.testing.assert_close(h.y, y.detach(), rtol=0, atol=1e-12)
    torch.testing.assert_close(out["dx"].reshape(batch, 5, 5, 20).permute(0, 3, 1, 2), xx.grad, rtol=0, atol=1e-12)
    after = net_unit_weights(c, ref)
    for k in after:
        torch.testing.assert_close(ex.weights[k], after[k], rtol=0, atol=1e-12)
    for t in range(c.program.machine.tiles):
        left = ex.count[t].clone()
        for p in c.program.ports:
            if p.kind == "output" and p.tile == t:
                left[p.addr:p.addr + p.vec] = 0
        assert int(left.abs().sum()) == 0
