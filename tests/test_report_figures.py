"""Tables split by kernel and by component (each summing to 100 %), the device response, the figures
(labelled axes with units) and the `device` command."""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from pimtrain.cli import app
from pimtrain.cost import evaluate
from pimtrain.cost.report import component_rows, kernel_rows, round_shares
from pimtrain.design import load_design
from pimtrain.devices.response import pulse_response
from pimtrain.report import figures as F

runner = CliRunner()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=30), st.integers(0, 3))
def test_round_shares_sum_exactly_to_100(values, decimals):
    shares = round_shares(values, decimals)
    total = sum(values)
    if total == 0:
        assert shares == [0.0] * len(values)
        return
    unit = 10 ** decimals
    assert round(sum(shares) * unit) == 100 * unit
    for s, v in zip(shares, values):  # each within one last digit of its exact share
        assert abs(s - 100 * v / total) <= 1.0 / unit + 1e-9


@pytest.mark.parametrize("design", ["marinella2018-analog", "marinella2018-sram", "isaac", "sot-mram-fp", "panther-sgd"])
def test_kernel_and_component_shares_sum_to_100(design):
    cost = evaluate(design, "mlp:256-128-10", batch_size=2).to_json()
    k = kernel_rows(cost)
    assert sum(r["energy_share"] for r in k) == pytest.approx(100.0, abs=1e-9)
    assert sum(r["latency_share"] for r in k) == pytest.approx(100.0, abs=1e-9)
    assert sum(r["energy_j"] for r in k) == pytest.approx(cost["energy_j"], rel=1e-12)
    for top in (3, None):
        c = component_rows(cost, top=top)
        assert sum(r["energy_share"] for r in c) == pytest.approx(100.0, abs=1e-9)
        assert sum(r["area_share"] for r in c) == pytest.approx(100.0, abs=1e-9)
        assert sum(r["area_m2"] for r in c) == pytest.approx(cost["area_m2"], rel=1e-9)
    # the per-kernel energy of the components adds up to the kernels
    comps = cost["breakdown"]["component"].values()
    for name, v in cost["breakdown"]["kernel"].items():
        assert sum(c["kernel"].get(name, 0.0) for c in comps) == pytest.approx(v["energy_j"], rel=1e-9, abs=1e-30)


def _share_sums(text: str) -> list[float]:
    """Sums of each '… %' column of each table block of a rendered rich text (total rows excluded)."""
    sums = []
    for block in text.split("\n\n"):
        rows = [ln for ln in block.splitlines() if "│" in ln and "total" not in ln]
        cols = [[float(x) for x in re.findall(r"([\d.]+) %", ln)] for ln in rows]
        cols = [c for c in cols if c]
        if cols and len({len(c) for c in cols}) == 1:
            sums += [sum(c[i] for c in cols) for i in range(len(cols[0]))]
    return sums


def test_cost_table_printed_shares_sum_to_100():
    console = Console(width=140, record=True, file=open("/dev/null", "w"))
    rep = evaluate("marinella2018-analog", "mlp:784-300-10")
    from pimtrain.cost.report import component_table, kernel_table

    console.print(kernel_table(rep.to_json()))
    console.print()
    console.print(component_table(rep.to_json(), top=4))
    sums = _share_sums(console.export_text())
    assert len(sums) == 4 and all(s == pytest.approx(100.0, abs=1e-6) for s in sums), sums


def test_compare_kernel_table_rows_sum_to_100():
    from pimtrain.report import compare_kernel_table
    from pimtrain.runs import compare_designs

    result = compare_designs(["marinella2018-analog", "marinella2018-sram"], "mlp:256-10")
    console = Console(width=160, record=True, file=open("/dev/null", "w"))
    console.print(compare_kernel_table(result))
    rows = [ln for ln in console.export_text().splitlines() if "marinella" in ln]
    assert len(rows) == 2
    for ln in rows:
        shares = [float(x) for x in re.findall(r"([\d.]+) %", ln)]
        assert shares[-1] == 100 and sum(shares[:-1]) == pytest.approx(100.0, abs=1e-6)  # last: the total column


# ------------------------------------------------------------------------------------ device response
def test_ideal_device_responds_by_exactly_one_step():
    d = load_design("ideal")
    r = pulse_response(d.device, devices=4, cycles=4, levels=11)
    step = d.device.dw_min * (d.device.g_max - d.device.g_min)
    inner = slice(1, -1)  # the range ends clip
    assert np.allclose(r["up"]["mean"][inner], step, rtol=1e-5)
    assert np.allclose(r["down"]["mean"][inner], -step, rtol=1e-5)
    assert np.allclose(r["up"]["c2c_hi"] - r["up"]["c2c_lo"], 0, atol=step * 1e-5)
    assert r["up"]["mean"][-1] == pytest.approx(0.0, abs=step * 1e-5)  # no step beyond G_max


def test_soft_bounds_response_shrinks_towards_the_bound_and_has_both_spreads():
    d = load_design("marinella2018-analog")
    assert d.device.write_noise > 0 and d.device.d2d_variation > 0
    r = pulse_response(d.device, d.source_path, seed=1)
    up, down = r["up"]["mean"], r["down"]["mean"]
    assert up[0] > up[len(up) // 2] > up[-2] and down[-1] < down[len(down) // 2] < down[1]
    assert (r["up"]["c2c_hi"] - r["up"]["c2c_lo"])[5:-5].min() > 0  # cycle-to-cycle spread
    assert (r["up"]["d2d_hi"] - r["up"]["d2d_lo"])[5:-5].min() > 0  # device-to-device spread
    again = pulse_response(d.device, d.source_path, seed=1)
    assert np.array_equal(again["up"]["c2c_lo"], r["up"]["c2c_lo"])  # a seed gives the same numbers


def test_lookup_tables_give_a_device_to_device_envelope():
    d = load_design("marinella2018-analog-taox")
    r = pulse_response(d.device, d.source_path, devices=32, cycles=16)
    assert r["g_min_s"] < r["g_max_s"]
    width = r["up"]["d2d_hi"] - r["up"]["d2d_lo"]
    assert width[5:-5].min() > 0


# --------------------------------------------------------------------------------------------- figures
COUNTS = {"epoch"}  # dimensionless counts: no unit to name


def _numeric(labels) -> bool:
    return not any(t.get_text() and not re.fullmatch(r"[−\-\d.,e+ $^{}\\mathdefault]*", t.get_text()) for t in labels)


def _axes_have_units(fig):
    """Every numeric axis is labelled with its unit in parentheses (or is a count); categorical axes are
    labelled by their tick labels (kernels, designs, paper rows)."""
    for ax in fig.axes:
        for label, ticks in ((ax.get_xlabel(), ax.get_xticklabels()), (ax.get_ylabel(), ax.get_yticklabels())):
            if _numeric(ticks) and any(t.get_text() for t in ticks):
                assert label and ("(" in label and ")" in label or label in COUNTS), (ax.get_title(), label)
    assert fig._suptitle is not None and fig._suptitle.get_text()
    assert fig.get_figwidth() * fig.dpi == pytest.approx(800)


def test_figures_label_every_axis_with_units():
    import matplotlib.pyplot as plt

    from pimtrain.runs import compare_designs

    rows = compare_designs(["marinella2018-analog", "marinella2018-sram"], "mlp:256-10")["rows"]
    d = load_design("marinella2018-analog")
    result = {"design": "x", "epochs": [{"epoch": 1, "train_loss": 1.0, "test_accuracy": 0.5, "seconds": 1.0},
                                        {"epoch": 2, "train_loss": 0.5, "test_accuracy": 0.7, "seconds": 1.0}],
              "final_test_accuracy": 0.7, "cost": {"energy_j_per_epoch": 1e-6}}
    repro = {"paper": "marinella2018", "rows": [
        {"quantity": "a", "paper": 1.0, "ours": 1.05, "unit": "fJ", "deviation": 0.05, "basis": "prediction"},
        {"quantity": "b", "paper": 2.0, "ours": 4.0, "unit": "us", "deviation": 1.0, "basis": "calibration"}]}
    figs = [F.cost_breakdown(rows), F.device_response(pulse_response(d.device, devices=8, cycles=8)),
            F.reproduction(repro), F.training([("x", result)], reference=result)]
    for fig in figs:
        fig.canvas.draw()
        _axes_have_units(fig)
        plt.close(fig)


def test_epoch_energy_prefers_measured_figures():
    base = {"epochs": [{"epoch": 1}, {"epoch": 2}], "cost": {"energy_j_per_epoch": 5.0}}
    assert F.epoch_energy(base) == ([5.0, 5.0], "fixed-activity estimate (every epoch the same)")
    measured = {**base, "cost": {"energy_j_per_epoch": 5.0, "measured": {"energy_j_per_epoch": [3.0, 4.0]}}}
    assert F.epoch_energy(measured)[0] == [3.0, 4.0]


def test_svg_is_inline_and_self_contained():
    import xml.etree.ElementTree as ET

    svg = F.to_svg(F.reproduction({"paper": "p", "rows": [
        {"quantity": "a", "paper": 1.0, "ours": 1.0, "unit": "x", "deviation": 0.0, "basis": "prediction"}]}))
    assert svg.startswith("<svg") and "<?xml" not in svg and "DOCTYPE" not in svg
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert not re.search(r"(?:href|src)\s*=\s*\"(?!#)", svg)  # no reference outside the SVG itself


# --------------------------------------------------------------------------------------------- the CLI
def test_device_command_writes_the_figure(tmp_path):
    out = tmp_path / "dev.png"
    res = runner.invoke(app, ["device", "--design", "marinella2018-analog", "--plot", str(out), "--devices", "8",
                              "--cycles", "8", "--json"])
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import json

    data = json.loads(res.stdout)
    assert len(data["g_s"]) == len(data["up"]["mean_s"]) and data["devices"] == 8


@pytest.mark.parametrize("args,needle", [
    (["device", "--design", "ideal", "--plot", "x.gif"], "--plot"),
    (["device", "--design", "nosuch"], "nosuch"),
    (["report", "-o", "x.html"], "exactly one"),
    (["report", "-o", "x.txt", "--design", "ideal"], "--output"),
    (["report", "-o", "x.html", "--design", "ideal", "--reproduce", "all"], "exactly one"),
])
def test_bad_input_is_one_line(args, needle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in res.output
    assert not list(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize("args", [
    ["cost", "--design", "marinella2018-analog", "--workload", "mlp:64-10"],
    ["compare", "--designs", "marinella2018-analog,marinella2018-sram", "--workload", "mlp:64-10"],
])
def test_cost_and_compare_plot(args, tmp_path):
    out, js = tmp_path / "c.svg", tmp_path / "c.json"
    res = runner.invoke(app, [*args, "--plot", str(out), "--output", str(js)])
    assert res.exit_code == 0, res.output
    assert out.read_text().lstrip().startswith("<?xml") and "<svg" in out.read_text()
    assert js.exists()
    res = runner.invoke(app, [*args, "--plot", str(tmp_path / "c.bmp")])
    assert res.exit_code == 2 and "--plot" in res.stderr
