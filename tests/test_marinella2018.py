"""Marinella 2018 reproduction: ±10 %, honest basis marks (contract and pinned table: test_papers.py)."""

import pytest

from pimtrain.papers.marinella2018 import TOLERANCE

from pimtrain.papers import reproduce


@pytest.fixture(scope="module")
def result(reproduced):
    return reproduced("marinella2018")


def test_every_row_within_ten_percent(result):
    bad = [(r["quantity"], r["deviation"]) for r in result["rows"] if abs(r["deviation"]) > TOLERANCE]
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


def test_all_and_unknown():
    from pimtrain.design import PimtrainError

    assert any(r["paper"] == "marinella2018" for r in reproduce("all"))
    with pytest.raises(PimtrainError, match="allowed"):
        reproduce("nature2099")
