"""Design files: presets load and round-trip, provenance is complete, bad input is one clear line."""
from __future__ import annotations

import numbers

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pimtrain.design import (
    Design,
    DesignError,
    design_from_dict,
    load_design,
    parse_quantity,
    preset_names,
    preset_path,
    save_design,
)

PRESETS = preset_names()


def test_presets_exist():
    assert {"ideal", "marinella2018-analog", "marinella2018-analog-taox"} <= set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_preset_loads_and_round_trips(name, tmp_path):
    design = load_design(name)
    assert design.name == name
    path = save_design(design, tmp_path / f"{name}.yaml")
    again = load_design(path)
    assert again == design
    assert again.provenance == design.provenance


def _numeric_leaves(node, path=""):
    """Numbers in a raw preset that are not wrapped in a {value, source} block."""
    if isinstance(node, dict):
        if "value" in node and "source" in node:
            return []
        out = []
        for k, v in node.items():
            if path == "" and k in ("seed",):
                continue
            out += _numeric_leaves(v, f"{path}.{k}" if path else k)
        return out
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _numeric_leaves(v, f"{path}.{i}")]
    if isinstance(node, numbers.Number) and not isinstance(node, bool):
        return [path]
    if isinstance(node, str) and node[:1].isdigit():
        return [path]  # a quantity such as '1.667 pJ'
    return []


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_number_has_provenance(name):
    raw = yaml.safe_load(preset_path(name).read_text())
    bare = _numeric_leaves(raw)
    assert not bare, f"{name}: numbers without provenance: {bare}"
    design = load_design(name)
    for path, prov in design.provenance.items():
        assert prov.source.strip(), path
        if prov.basis in ("derived", "calibrated"):
            assert prov.note, f"{name}: {path} is {prov.basis} but gives no formula/target"


def test_ideal_preset_is_ideal_and_marinella_is_not():
    assert load_design("ideal").is_ideal
    assert not load_design("marinella2018-analog").is_ideal


def test_units_are_parsed_to_si():
    assert parse_quantity("1.667 pJ", "energy") == pytest.approx(1.667e-12)
    assert parse_quantity("100 ns", "time") == pytest.approx(1e-7)
    assert parse_quantity("0.0012 mm2", "area") == pytest.approx(1.2e-9)
    assert parse_quantity("31 MOhm", "resistance") == pytest.approx(31e6)
    assert parse_quantity(2.5, "energy") == 2.5
    d = design_from_dict({"name": "u", "device": {"g_min": "1 uS", "g_max": "100 uS"}})
    assert d.device.g_min == pytest.approx(1e-6) and d.device.g_max == pytest.approx(1e-4)


BAD = [
    ({"name": "x", "array": {"rowz": 3}}, ["array.rowz", "unknown field", "rows"]),
    ({"name": "x", "array": {"rows": "many"}}, ["array.rows", "integer"]),
    ({"name": "x", "io": {"forward": {"adc_bits": -2}}}, ["io.forward.adc_bits", "greater than or equal to 1"]),
    ({"name": "x", "io": {"backward": {"dac_bits": 0}}}, ["io.backward.dac_bits"]),
    ({"name": "x", "device": {"g_min": "2 uS", "g_max": "1 uS"}}, ["device", "g_min must be below g_max"]),
    ({"name": "x", "device": {"model": "memristor"}}, ["device.model", "soft_bounds", "lookup_table"]),
    ({"name": "x", "device": {"g_min": "2 pJ"}}, ["device.g_min", "conductance"]),
    ({"name": "x", "device": {"model": "lookup_table"}}, ["lookup"]),
    ({"name": "x", "update": {"rule": "magic"}}, ["update.rule", "outer_product"]),
    ({"array": {"rows": 4}}, ["name", "missing"]),
]


@pytest.mark.parametrize("data,needles", BAD)
def test_bad_design_is_one_clear_line(data, needles):
    with pytest.raises(DesignError) as info:
        design_from_dict(data, "bad.yaml")
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("bad.yaml: ")
    for needle in needles:
        assert needle in msg, (needle, msg)


def test_yaml_file_errors(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("name: [unclosed\n")
    with pytest.raises(DesignError, match="broken.yaml"):
        load_design(p)
    with pytest.raises(DesignError, match="unknown preset"):
        load_design("no-such-design")
    with pytest.raises(DesignError, match="not found"):
        load_design(tmp_path / "missing.yaml")


def test_save_is_atomic_and_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "d.yaml"
    save_design(load_design("ideal"), path)
    before = path.read_text()
    import pimtrain.design.io as dio

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(dio.yaml, "safe_dump", boom)
    with pytest.raises(RuntimeError):
        save_design(load_design("marinella2018-analog"), path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["d.yaml"]


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 4096),
    cols=st.integers(2, 4096),  # a differential weight column needs 2
    adc=st.one_of(st.none(), st.integers(1, 16)),
    gmin=st.floats(1e-9, 1e-5),
    ratio=st.floats(1.01, 1e3),
)
def test_round_trip_property(rows, cols, adc, gmin, ratio, tmp_path_factory):
    d = design_from_dict({
        "name": "h", "array": {"rows": rows, "cols": cols},
        "io": {"forward": {"adc_bits": adc}},
        "device": {"g_min": gmin, "g_max": gmin * ratio},
    })
    path = tmp_path_factory.mktemp("rt") / "h.yaml"
    assert load_design(save_design(d, path)) == d
    assert isinstance(d, Design)


def test_atomic_write_gives_ordinary_permissions(tmp_path):
    import os
    import stat

    from pimtrain.design import atomic_write_text

    target = tmp_path / "out.json"
    atomic_write_text(target, "{}")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
    assert target.read_text() == "{}"
