"""The example designs under examples/: families no paper here covers, written as YAML only (no new
Python). Each loads, costs and trains through the same engine and core family as the presets."""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from pimtrain.cost import design_summary, evaluate
from pimtrain.design import load_design
from pimtrain.nn import train
from pimtrain.nn.datasets import load_dataset

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml"))
DESIGN_EXAMPLES = [p for p in EXAMPLES if not p.name.startswith(("sweep", "explore"))]  # sweep specs are not designs


def test_the_two_new_families_are_there():
    names = {p.stem for p in DESIGN_EXAMPLES}
    assert {"sram-dcim-macro", "ecram-2slice-analog-sa"} <= names


@pytest.mark.parametrize("path", DESIGN_EXAMPLES, ids=lambda p: p.stem)
def test_example_costs(path):
    d = load_design(str(path))
    for wl in ("mlp:64-36-10", "vgg16"):
        rep = evaluate(d, wl, check_fit=False)
        for v in (rep.energy_j, rep.latency_s, rep.area_m2):
            assert math.isfinite(v) and v > 0
    s = design_summary(d)
    assert all(v is not None and v > 0 for v in s.values())


@pytest.mark.slow
@pytest.mark.parametrize("path", DESIGN_EXAMPLES, ids=lambda p: p.stem)
def test_example_trains_above_chance(path):
    data = load_dataset("digits")
    small = dataclasses.replace(data, train_x=data.train_x[:1500], train_y=data.train_y[:1500],
                                test_x=data.test_x[:300], test_y=data.test_y[:300])
    r = train(load_design(str(path)), small, epochs=2, batch_size=1, seed=0, progress=False)
    assert r.final_test_accuracy > 0.6  # chance is 0.1; the full set reaches ~0.92 in 3 epochs (README)
