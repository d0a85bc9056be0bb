"""The demo gives the README's numbers: the digits rows of the README's accuracy table (its source is
``scripts/accuracy_table.py``, the same runs as ``pimtrain demo``) against the demo's own results, on a
clone with nothing beside it (``PIMTRAIN_DATA`` pointed at a folder that does not exist)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
ROW = re.compile(r"^\| (?P<design>[^|]+?) \| digits \| 10 \| (?P<final>[0-9.]+) % \|")


def readme_digits_rows() -> dict[str, float]:
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        m = ROW.match(line)
        if m:
            rows[m["design"].split(" (")[0]] = float(m["final"])
    return rows


def test_readme_has_the_demo_designs():
    from pimtrain.demo import demo_designs

    rows = readme_digits_rows()
    assert set(demo_designs()) <= set(rows), (demo_designs(), rows)


@pytest.mark.slow
@pytest.mark.parametrize("design", ["ideal", "marinella2018-analog-taox-carry",
                                    "marinella2018-analog", "marinella2018-analog-taox"])  # the last two: CPU fast path
def test_demo_prints_the_readme_numbers(design, monkeypatch, tmp_path):
    from pimtrain.demo import demo_results

    monkeypatch.setenv("PIMTRAIN_DATA", str(tmp_path / "absent"))
    (name, result), = demo_results([design], epochs=10, seed=0, progress=False)
    assert result["run"]["data_origin"] == "packaged"
    assert round(100 * result["final_test_accuracy"], 1) == pytest.approx(readme_digits_rows()[name], abs=0.051)
