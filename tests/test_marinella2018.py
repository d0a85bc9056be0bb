"""Marinella 2018 reproduction: contract, ±10 %, honest basis marks, pinned reference table."""
import json
from importlib import resources

import pytest

from pimtrain.papers import reproduce


@pytest.fixture(scope="module")
def result():
    return reproduce("marinella2018")


def test_contract(result):
    assert result["paper"] == "marinella2018"
    for row in result["rows"]:
        assert set(row) >= {"quantity", "paper", "ours", "unit", "deviation", "basis", "source"}
        assert row["basis"] in ("prediction", "calibration")
        assert row["deviation"] == pytest.approx(row["ours"] / row["paper"] - 1.0)


def test_every_row_within_ten_percent(result):
    bad = [(r["quantity"], r["deviation"]) for r in result["rows"] if abs(r["deviation"]) > 0.10]
    assert not bad, bad


def test_calibration_is_a_minority(result):
    rows = result["rows"]
    n_cal = sum(r["basis"] == "calibration" for r in rows)
    assert n_cal < len(rows) / 2


def test_rows_that_use_a_calibrated_number_are_marked(result):
    by = {r["quantity"]: r["basis"] for r in result["rows"]}
    # the OPU slot is calibrated to the OPU latency, the integrator power to the 11 fJ figure
    assert by["analog OPU latency"] == "calibration"
    assert by["analog energy per MAC (mean of VMM, MVM, OPU)"] == "calibration"
    assert by["analog VMM latency"] == "prediction"
    assert by["SRAM MVM latency"] == "prediction"


def test_regression_against_pinned_reference(result):
    ref = json.loads(resources.files("pimtrain.papers").joinpath("data/marinella2018_reference.json").read_text())
    assert [r["quantity"] for r in result["rows"]] == [r["quantity"] for r in ref["rows"]]
    for ours, pinned in zip(result["rows"], ref["rows"]):
        assert ours["ours"] == pytest.approx(pinned["ours"], rel=1e-9), ours["quantity"]
        assert ours["basis"] == pinned["basis"], ours["quantity"]


def test_all_and_unknown():
    from pimtrain.design import PimtrainError

    assert any(r["paper"] == "marinella2018" for r in reproduce("all"))
    with pytest.raises(PimtrainError, match="allowed"):
        reproduce("nature2099")
