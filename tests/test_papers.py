"""What every paper reproduction must satisfy: the row contract of DESIGN.md and its pinned table."""
import json
from importlib import resources

import pytest

#: paper -> (relative tolerance against the pinned table, rows left unpinned)
PINNED = {
    "marinella2018": (1e-9, ()),
    "panther2020": (1e-9, ()),
    "neuralpim2022": (1e-6, ()),
    # the PipeLayer rows use another paper's preset (panther-base-opa-mvm) and are not pinned here
    "mram2020": (1e-9, ("PipeLayer",)),
}


@pytest.mark.parametrize("paper", sorted(PINNED))
def test_contract(reproduced, paper):
    result = reproduced(paper)
    assert result["paper"] == paper
    for row in result["rows"]:
        assert set(row) >= {"quantity", "paper", "ours", "unit", "deviation", "basis", "source"}
        assert row["basis"] in ("prediction", "calibration")
        assert row["deviation"] == pytest.approx(row["ours"] / row["paper"] - 1.0)


@pytest.mark.parametrize("paper", sorted(PINNED))
def test_regression_against_pinned_reference(reproduced, paper):
    rel, unpinned = PINNED[paper]
    ref = json.loads(resources.files("pimtrain.papers").joinpath(f"data/{paper}_reference.json").read_text())

    def pinned_rows(rows):
        return {r["quantity"]: r for r in rows if not any(u in r["quantity"] for u in unpinned)}

    ours, pinned = pinned_rows(reproduced(paper)["rows"]), pinned_rows(ref["rows"])
    assert list(ours) == list(pinned)
    for q, r in ours.items():
        assert r["ours"] == pytest.approx(pinned[q]["ours"], rel=rel), q
        assert r["basis"] == pinned[q]["basis"], q
