"""Costs that follow the data: what the cores counted, passed into the cost engine (``evaluate(..., counts=)``)."""
from __future__ import annotations

import json
from dataclasses import asdict

import pytest
import torch

import pimtrain
from pimtrain.design import load_design
from pimtrain.mapping import LayerMapping, measured_counts
from pimtrain.workloads import Workload, LayerShape

WL = Workload("one", (LayerShape("fc", "linear", 24, 40, 1),))


def _derived(d, out=24, n_in=40):
    """The Mapping's own per-event counts, in the shape ``counts`` takes."""
    m = LayerMapping(out, n_in, d)
    return {"forward": asdict(m.read_counts("forward")), "backward": asdict(m.read_counts("backward")),
            "update": asdict(m.update_counts())}


@pytest.mark.parametrize("name", ["marinella2018-analog-taox", "marinella2018-analog-carry", "isaac", "ideal"])
def test_counts_equal_to_the_mapping_give_the_fixed_estimate(name):
    d = load_design(name)
    fixed = pimtrain.evaluate(d, WL, batch_size=4, first_layer_backward=True)
    same = pimtrain.evaluate(d, WL, batch_size=4, first_layer_backward=True, counts={"fc": _derived(d)})
    assert same.energy_j == pytest.approx(fixed.energy_j, rel=1e-12)
    assert same.latency_s == pytest.approx(fixed.latency_s, rel=1e-12)


def test_counted_actions_move_the_energy():
    d = load_design("marinella2018-analog-carry")
    base = _derived(d)
    fixed = pimtrain.evaluate(d, WL, batch_size=4, first_layer_backward=True)
    more = dict(base, forward=dict(base["forward"], conversions=2 * base["forward"]["conversions"]))
    assert pimtrain.evaluate(d, WL, batch_size=4, first_layer_backward=True, counts={"fc": more}).energy_j > fixed.energy_j
    no_carry = dict(base, update=dict(base["update"], carries=0.0))
    assert pimtrain.evaluate(d, WL, batch_size=4, first_layer_backward=True, counts={"fc": no_carry}).energy_j < fixed.energy_j
    quiet = {"input_activity": 0.05, "update_activity": 0.05}
    assert pimtrain.evaluate(d, WL, batch_size=4, first_layer_backward=True, counts={"fc": quiet}).energy_j < fixed.energy_j


def test_a_cores_counts_into_evaluate():
    """From Python: run a core, turn its stats into per-event counts, cost a step with them."""
    from pimtrain.xbar import make_core

    d = load_design("marinella2018-analog-taox")
    g = torch.Generator().manual_seed(0)
    core = make_core(torch.randn(24, 40, generator=g) * 0.3, d, seed=0)
    x = torch.rand(8, 40, generator=g) * (torch.rand(8, 40, generator=g) < 0.3)  # sparse inputs: low activity
    e = torch.randn(8, 24, generator=g) * 0.1
    core.vmm(x)
    core.mvm(e)
    core.opu(x, e, 0.1)
    counts = measured_counts(core.stats)
    assert 0 < counts["input_activity"] < 0.5 and 0 < counts["update_activity"] < 0.5
    assert counts["forward"]["conversions"] == LayerMapping(24, 40, d).read_counts("forward").conversions
    assert counts["update"]["row_drives"] < LayerMapping(24, 40, d).update_counts().row_drives  # only pulsed rows
    fixed = pimtrain.evaluate(d, WL, batch_size=8, first_layer_backward=True)
    measured = pimtrain.evaluate(d, WL, batch_size=8, first_layer_backward=True, counts={"fc": counts})
    assert measured.energy_j < fixed.energy_j


def test_train_reports_measured_epoch_cost_beside_the_estimate():
    from pimtrain.runs import train_with_cost

    r = train_with_cost(load_design("marinella2018-analog-taox"), "digits", epochs=1, batch_size=64, lr=0.1, seed=0,
                        progress=False)
    c = r["cost"]
    assert set(c["measured"]) >= {"energy_j_per_epoch", "latency_s_per_epoch", "counts"}
    assert set(c["measured"]["counts"]) == {"0", "2"}  # the MLP's two layers, by module name
    assert c["measured"]["energy_j_per_epoch"] != pytest.approx(c["energy_j_per_epoch"], rel=1e-3)
    assert c["difference"]["energy_j_per_epoch"] == pytest.approx(
        c["measured"]["energy_j_per_epoch"] - c["energy_j_per_epoch"])
    json.dumps(r)  # JSON-ready


def test_cli_train_json_and_table_show_both(tmp_path):
    from typer.testing import CliRunner

    from pimtrain.cli import app

    out = tmp_path / "r.json"
    res = CliRunner().invoke(app, ["train", "-d", "marinella2018-analog-taox", "-e", "1", "-b", "128", "--json", "-o", str(out)])
    assert res.exit_code == 0, res.output
    cost = json.loads(out.read_text())["cost"]
    assert "measured" in cost and "difference" in cost
    res = CliRunner().invoke(app, ["train", "-d", "marinella2018-analog-taox", "-e", "1", "-b", "128"])
    assert res.exit_code == 0 and "counted" in res.output and "fixed activity" in res.output


def test_whole_weight_rewrite_per_example_is_charged_on_the_generic_engine():
    """A bit-sliced weight without headroom under outer_product is rewritten whole at every example: the
    generic engine charges those serial writes (the PANTHER presets go through the node model instead)."""
    from pimtrain.cost import evaluate
    from pimtrain.design import design_from_dict, design_to_dict, load_design
    from pimtrain.mapping import LayerMapping, rewrites_whole_weight

    data = design_to_dict(load_design("isaac"))
    data["update"]["rule"] = "outer_product"
    d = design_from_dict(data)
    assert rewrites_whole_weight(d)
    c = LayerMapping(10, 64, d).update_counts()
    assert c.cells_written > 0 and c.pulsed_cells == 0
    one, two = (evaluate(d, "mlp:64-10", batch_size=b).kernel["update"]["energy_j"] for b in (1, 2))
    assert one > 0 and two == pytest.approx(2 * one)
