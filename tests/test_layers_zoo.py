"""The named networks of ``pimtrain train --model``: they convert fully, the cost names their cores, and
the CLI trains them and refuses a bad name in one line."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from typer.testing import CliRunner

from pimtrain.cli import app
from pimtrain.design import PimtrainError
from pimtrain.design.paths import shared_data_dir
from pimtrain.nn import AnalogSGD, convert, load_dataset
from pimtrain.nn.layer_registry import plan
from pimtrain.nn.layers import AnalogLayer
from pimtrain.nn.zoo import MODEL_NAMES, build_model
from pimtrain.workloads import from_module

runner = CliRunner()

#: the file-type set is read from the shared data folder (not shipped): its cases skip without it
needs_filetypes = pytest.mark.skipif(
    not (shared_data_dir() and (shared_data_dir() / "crosssim" / "file_types").exists()),
    reason="needs the shared data folder (../shared/data or PIMTRAIN_DATA) with crosssim/file_types")


@pytest.mark.parametrize("name,dataset", [("lstm", "digits"), ("transformer", "digits"),
                                          pytest.param("cnn1d", "filetypes", marks=needs_filetypes),
                                          ("cnn", "digits"), pytest.param("mlp", "filetypes", marks=needs_filetypes)])
def test_named_models_convert_fully_and_cost_the_same_cores(name, dataset):
    data = load_dataset(dataset)
    torch.manual_seed(0)
    model = build_model(name, data)
    assert {p.role for p in plan(model)} <= {"analog", "digital"}
    analog = convert(model, "ideal", seed=0)
    shape = tuple(data.train_x.shape[1:])
    cores = [q for q, m in analog.named_modules() if isinstance(m, AnalogLayer)]
    assert [L.name for L in from_module(model, shape).layers] == cores
    x = data.train_x[:4]
    torch.testing.assert_close(analog(x), model(x), atol=1e-5, rtol=1e-5)
    loss = torch.nn.functional.cross_entropy(analog(x), data.train_y[:4])
    loss.backward()
    AnalogSGD(analog, lr=0.1).step()  # one step on the cores runs


def test_transformer_states_its_digital_attention_products():
    model = build_model("transformer", load_dataset("digits"))
    attention = [p for p in plan(model) if p.role == "digital" and "QK" in p.why]
    assert [p.name for p in attention] == ["3.attn", "4.attn"]


def test_shapes_a_model_cannot_read_are_refused():
    odd = SimpleNamespace(name="odd", n_features=50, n_classes=3)
    with pytest.raises(PimtrainError, match="--model cnn"):
        build_model("cnn", odd)
    with pytest.raises(PimtrainError, match="sequence"):
        build_model("lstm", SimpleNamespace(name="odd", n_features=51, n_classes=3))
    assert set(MODEL_NAMES) == {"mlp", "cnn", "cnn1d", "lstm", "transformer"}


@needs_filetypes
def test_cli_trains_a_named_model_and_refuses_a_bad_one():
    res = runner.invoke(app, ["train", "-d", "ideal", "-s", "filetypes", "-m", "cnn1d", "-e", "1", "-b", "8",
                              "--lr", "0.1", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["run"]["network"].startswith("2 Conv1d")
    assert sorted(out["cost"]["measured"]["counts"]) == ["1", "4", "8"]
    bad = runner.invoke(app, ["train", "-d", "ideal", "-m", "rnn", "-e", "1"])
    assert bad.exit_code == 2 and "--model" in bad.output and len(bad.output.strip().splitlines()) == 1


def test_cli_cost_of_a_users_module_with_its_placement(tmp_path):
    net = tmp_path / "net.py"
    net.write_text("from torch import nn\n"
                   "def make():\n"
                   "    return nn.Sequential(nn.Conv1d(1, 4, 3), nn.BatchNorm1d(4), nn.ReLU(), nn.Flatten(),\n"
                   "                         nn.Linear(24, 3))\n"
                   "def bad():\n"
                   "    return nn.Sequential(nn.RNN(3, 4))\n")
    res = runner.invoke(app, ["cost", "-d", "marinella2018-analog", "-m", f"{net}:make", "--input-shape", "1,8",
                              "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    rows = {r["name"]: r for r in out["placement"]}
    assert rows["0"]["role"] == "analog" and rows["1"]["role"] == "digital" and rows["1"]["why"] == "normalisation"
    assert rows["0"]["arrays"] == rows["0"]["cores"] == 1 and rows["1"]["arrays"] is None
    shares = [r["energy_share"] for r in out["placement"]]  # digital modules are costed too: every row has one
    assert None not in shares and sum(shares) == pytest.approx(1.0, rel=1e-9)
    for args, needle in ((["-m", f"{net}:bad", "--input-shape", "5,3"], "0 (RNN)"),
                         (["-m", f"{net}:make", "--input-shape", "2,8"], "0 (Conv1d)"),
                         (["-m", f"{net}:make", "--input-shape", "a"], "--input-shape"),
                         (["-m", f"{net}:nothing", "--input-shape", "1,8"], "nothing"),
                         (["-m", "missing.py:make", "--input-shape", "1,8"], "--model"),
                         ([], "--workload")):
        bad = runner.invoke(app, ["cost", "-d", "ideal", *args])
        assert bad.exit_code == 2 and needle in bad.output, (args, bad.output)
        assert len(bad.output.strip().splitlines()) == 1
