"""``pimtrain inspect``: each module analog / digital / refused, its arrays, its share of the step's energy."""
from __future__ import annotations

import json

import pytest
from torch import nn
from typer.testing import CliRunner

from pimtrain.cli import app
from pimtrain.design import PimtrainError
from pimtrain.nn.inspect_model import inspect_model

runner = CliRunner()


def test_inspect_a_zoo_model_names_every_module_and_shares_add_up():
    res = runner.invoke(app, ["inspect", "-d", "panther-sgd", "-m", "lstm", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    rows = {r["name"]: r for r in out["rows"]}
    assert rows["1"]["role"] == "analog" and rows["1"]["matrices"] == ["1.ih_l0", "1.hh_l0"]
    assert "1.gates" in rows["1"]["costed_as"]  # the LSTM's element-wise gates, charged as digital work
    assert rows["0"]["role"] == "digital" and rows["0"]["arrays"] is None
    assert rows["1"]["arrays"] >= 2 and rows["1"]["cores"] >= 1 and rows["1"]["tiles"] >= 1
    assert sum(r["energy_share"] for r in out["rows"]) == pytest.approx(1.0, rel=1e-9)
    table = runner.invoke(app, ["inspect", "-d", "marinella2018-analog", "-m", "transformer"])
    assert table.exit_code == 0 and "3.attn" in table.output and "digital" in table.output


def test_inspect_marks_refused_modules_and_costs_the_rest(tmp_path):
    net = tmp_path / "net.py"
    net.write_text("from torch import nn\n"
                   "class Net(nn.Module):\n"
                   "    def __init__(self):\n"
                   "        super().__init__()\n"
                   "        self.emb = nn.Linear(3, 4)\n"
                   "        self.rnn = nn.RNN(4, 5, batch_first=True)\n"
                   "        self.head = nn.Linear(5, 2)\n"
                   "    def forward(self, x):\n"
                   "        return self.head(self.rnn(self.emb(x))[0][:, -1])\n"
                   "def make():\n"
                   "    return Net()\n")
    res = runner.invoke(app, ["inspect", "-d", "ideal", "-m", f"{net}:make", "--input-shape", "6,3", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    rows = {r["name"]: r for r in out["rows"]}
    assert out["refused"] == ["rnn"] and rows["rnn"]["role"] == "refused" and "digital=" in rows["rnn"]["why"]
    assert rows["rnn"]["energy_share"] > 0 and rows["head"]["role"] == "analog"


@pytest.mark.parametrize("args,needle", [
    (["-m", "nosuch"], "--model"),
    (["-m", "lstm", "--input-shape", "0,3"], "--input-shape"),
    (["-m", "lstm", "--input-shape", "7,8"], "(Unflatten)"),  # the tracer cannot run the model on that shape
    (["-m", "cnn1d", "-s", "nosuch"], "dataset"),
    (["-m", "x.py:make"], "--input-shape"),
    (["-d", "nosuch", "-m", "lstm"], "nosuch"),
])
def test_inspect_bad_input_is_one_line_exit_2(args, needle):
    full = ["inspect", *([] if "-d" in args else ["-d", "ideal"]), *args]
    res = runner.invoke(app, full)
    assert res.exit_code == 2 and needle in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1


def test_inspect_model_takes_a_module():
    out = inspect_model("ideal", nn.Sequential(nn.Linear(4, 3), nn.Tanh()), input_shape=(4,))
    assert [r["role"] for r in out["rows"]] == ["analog", "digital"]
    with pytest.raises(PimtrainError, match="--input-shape"):
        inspect_model("ideal", nn.Linear(4, 3))


def test_cost_bad_models_are_one_line_naming_the_module(tmp_path):
    """Unsupported module, a shape the tracer cannot infer, an input shape that does not match: exit 2."""
    net = tmp_path / "net.py"
    net.write_text("from torch import nn\n"
                   "class Gate(nn.Module):\n"
                   "    def forward(self, x):\n"
                   "        return x if x.max() > 0 else -x\n"
                   "def valued():\n"
                   "    return nn.Sequential(nn.Linear(4, 4), Gate(), nn.Linear(4, 2))\n"
                   "def embed():\n"
                   "    return nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(12, 2))\n"
                   "def conv():\n"
                   "    return nn.Sequential(nn.Conv2d(1, 2, 5), nn.Flatten(), nn.Linear(2, 2))\n")
    for factory, shape, needles in (("valued", "4", ["1 (Gate)", "meta device"]),
                                    ("embed", "3", ["0 (Embedding)", "allowed on cores", "digital="]),
                                    ("conv", "1,3,3", ["0 (Conv2d)", "(1, 1, 3, 3)", "allowed: an input_shape"]),
                                    ("conv", "2,8,8", ["0 (Conv2d) takes (1,"])):
        res = runner.invoke(app, ["cost", "-d", "marinella2018-analog", "-m", f"{net}:{factory}",
                                  "--input-shape", shape])
        assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1, res.output
        assert all(n in res.output for n in needles), (needles, res.output)
