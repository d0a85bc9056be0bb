"""Typed component parameters, the component registry and its plug-ins, validation at design load."""
from __future__ import annotations

import copy
import math
import subprocess
import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
import tomllib

from pimtrain.cost import evaluate, registry
from pimtrain.cost.components import ADC, Component, ComponentParams, action
from pimtrain.design import (
    DesignError,
    PimtrainError,
    design_from_dict,
    design_to_dict,
    load_design,
)

ROOT = Path(__file__).resolve().parents[1]
ISAAC = design_to_dict(load_design("isaac"))

PLUGIN_SOURCE = '''
from pydantic import Field

from pimtrain.cost.components import Component, ComponentParams, Q, action


class FlashADC(Component):
    """A flash ADC: 2^bits - 1 comparators fire per conversion (test plug-in; numbers assumed)."""

    model = "fake_flash_adc"
    ROLE = "readout"

    class Params(ComponentParams):
        compare_energy: Q("energy") = Field(default=50e-15, description="one comparator decision (J), assumed")
        conversion_time: Q("time") = Field(default=1e-9, description="one conversion (s), assumed")

    @action
    def convert(self, bits, t_integrate=0.0):
        return (2 ** bits - 1) * self.p["compare_energy"], self.p["conversion_time"]
'''


def _with_component(name: str, spec: dict, base: dict = ISAAC) -> dict:
    data = copy.deepcopy(base)
    data["circuits"]["components"][name] = spec
    return data


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """An installed-looking plug-in package: a module on sys.path and an entry point naming its class."""
    (tmp_path / "pimtrain_fakeplugin.py").write_text(PLUGIN_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [EntryPoint(name="fake_flash_adc", value="pimtrain_fakeplugin:FlashADC", group=registry.ENTRY_POINT_GROUP)]
    monkeypatch.setattr(registry, "_entry_points", lambda: eps)
    registry.discover(force=True)
    yield sys.modules["pimtrain_fakeplugin"].FlashADC
    registry.unregister("fake_flash_adc")
    sys.modules.pop("pimtrain_fakeplugin", None)


# ------------------------------------------------------------------------------------------ plug-ins
def test_plugin_from_entry_point_costs_a_design(plugin):
    assert "fake_flash_adc" in registry.models() and registry.get("fake_flash_adc") is plugin
    base = copy.deepcopy(ISAAC)
    del base["circuits"]["components"]["adc"]
    spec = {"model": "fake_flash_adc", "count": 1, "params": {"compare_energy": "50 fJ"}}
    d = design_from_dict(_with_component("flash", spec, base))
    assert d.circuits.components["flash"].role == "readout"
    assert d.circuits.components["flash"].params == {"compare_energy": pytest.approx(50e-15)}
    rep = evaluate(d, "mlp:64-32-10")
    flash = rep.component["flash"]["energy_j"]
    assert flash > 0 and math.isfinite(rep.energy_j)
    # the plug-in's parameter moves the cost: twice the comparator energy, twice its share
    spec2 = {**spec, "params": {"compare_energy": "100 fJ"}}
    rep2 = evaluate(design_from_dict(_with_component("flash", spec2, base)), "mlp:64-32-10")
    assert rep2.component["flash"]["energy_j"] == pytest.approx(2 * flash, rel=1e-9)
    # and its typed parameters are checked at load like the built-in ones
    bad = {**spec, "params": {"compare_energy": "3 ns"}}
    with pytest.raises(DesignError, match=r"circuits\.components\.flash\.params\.compare_energy: expected an energy"):
        design_from_dict(_with_component("flash", bad, base))


def test_register_function_and_decorator():
    @registry.register
    class Leaky(Component):
        """Only leaks (test component)."""

        model = "fake_leaky"
        ROLE = "static"

        class Params(ComponentParams):
            pass

    try:
        d = design_from_dict(_with_component("leaky", {"model": "fake_leaky", "level": "chip", "params": {"leak_power": "2 mW"}}))
        assert d.circuits.components["leaky"].params == {"leak_power": pytest.approx(2e-3)}
        assert registry.roles_of("fake_leaky") == ["static"]
        with pytest.raises(PimtrainError, match="already"):
            registry.register(type("Other", (Leaky,), {"__doc__": "x", "model": "fake_leaky"}))
    finally:
        registry.unregister("fake_leaky")
    with pytest.raises(DesignError, match="unknown component model 'fake_leaky'"):
        design_from_dict(_with_component("leaky", {"model": "fake_leaky"}))
    with pytest.raises(PimtrainError, match="not a pimtrain"):
        registry.register(dict)


def test_broken_plugin_warns_and_the_rest_still_load(monkeypatch):
    eps = [EntryPoint(name="broken", value="pimtrain_no_such_module:Thing", group=registry.ENTRY_POINT_GROUP)]
    monkeypatch.setattr(registry, "_entry_points", lambda: eps)
    with pytest.warns(UserWarning, match="entry point 'broken'.*failed to load"):
        registry.discover(force=True)
    assert {"adc", "crossbar", "puma_mcu", "pim_logic"} <= set(registry.models())


def test_pyproject_declares_every_builtin_component():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = data["project"]["entry-points"][registry.ENTRY_POINT_GROUP]
    loaded = {}
    for name, value in declared.items():
        obj = EntryPoint(name=name, value=value, group=registry.ENTRY_POINT_GROUP).load()
        loaded[obj.model] = obj
        assert name == obj.model
    assert set(loaded) == set(registry.models())
    assert all(registry.get(m) is cls for m, cls in loaded.items())


def test_design_does_not_import_cost_statically():
    for path in (ROOT / "pimtrain" / "design").glob("*.py"):
        text = path.read_text()
        assert "import pimtrain.cost" not in text and "from pimtrain.cost" not in text, path.name
        assert "from pimtrain import cost" not in text, path.name
    code = "import sys, pimtrain.design; print('pimtrain.cost' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------------------------------ validation at load
@pytest.mark.parametrize(("field", "value", "message"), [
    ("params", {"convert_energy": {"a": 1}},
     "circuits.components.adc.params.convert_energy: expected an energy such as '1.2 pJ' (got a mapping)"),
    ("params", {"bogus": 1}, ("circuits.components.adc.params.bogus: unknown parameter of model 'adc'; allowed: area, "
                              "convert_energy, leak_power, ref_node_nm, sample_rate_hz")),
    ("model", "nosuch", "circuits.components.adc.model: unknown component model 'nosuch'; allowed: activation, adc,"),
    ("params", {"convert_energy": "3 ns"}, "params.convert_energy: expected an energy such as '1.2 pJ' (got '3 ns')"),
    ("params", {"convert_energy": -1}, "params.convert_energy: must be >= 0 (got -1)"),
    ("params", {"convert_energy": math.inf}, "params.convert_energy: must be a finite number"),
    ("params", {"convert_energy": math.nan}, "params.convert_energy: must be a finite number"),
    ("params", {"convert_energy": 1e300}, "params.convert_energy: must be <= 1 joule (got 1e+300)"),
    ("params", {"convert_energy": None}, "params.convert_energy: expected an energy such as '1.2 pJ' (got null)"),
    ("params", {"convert_energy": True}, "params.convert_energy: expected an energy such as '1.2 pJ' (got a boolean)"),
    ("params", {"convert_energy": [1]}, "params.convert_energy: expected an energy such as '1.2 pJ' (got a list)"),
    ("params", {"sample_rate_hz": 0}, "params.sample_rate_hz: must be > 0"),
    ("params", {"ref_node_nm": 1}, "params.ref_node_nm: must be >= 5"),
    ("count", 0, "circuits.components.adc.count: must be >= 1: a block with no instances"),
    ("count", 2**40, "circuits.components.adc.count: must be <= 2**31"),
    ("role", "sample_hold", "circuits.components.adc.role: model 'adc' cannot play role 'sample_hold'"),
])
def test_bad_component_is_one_line_naming_the_field(field, value, message):
    data = copy.deepcopy(ISAAC)
    data["circuits"]["components"]["adc"][field] = value
    with pytest.raises(DesignError) as err:
        design_from_dict(data)
    text = str(err.value)
    assert "\n" not in text and message in text, text


def test_params_parse_units_and_round_trip():
    data = _with_component("adc", {"model": "adc", "count": 2, "params": {"convert_energy": "1.667 pJ", "area": "0.0012 mm2"}})
    d = design_from_dict(data)
    spec = d.circuits.components["adc"]
    assert spec.params == {"convert_energy": pytest.approx(1.667e-12), "area": pytest.approx(1.2e-9)}
    assert design_from_dict(design_to_dict(d)).circuits == d.circuits
    # only the given parameters are stored; the rest take the class defaults, scaled to the node
    comp = ADC("adc", spec.params, tech=d.technology, design=d)
    assert comp.p["convert_energy"] == pytest.approx(1.667e-12) and comp.p["sample_rate_hz"] == 1.2e9


def test_programmatic_component_with_bad_params_is_one_line():
    d = load_design("isaac")
    with pytest.raises(PimtrainError, match=r"^circuits\.components\.x\.params\.convert_energy: expected an energy .* \(got a mapping\)$"):
        ADC("x", {"convert_energy": {"a": 1}}, tech=d.technology, design=d)


# ------------------------------------------------------------------------------------------ every class
@pytest.mark.parametrize("model", registry.models())
def test_every_component_declares_typed_params_and_actions(model):
    cls = registry.get(model)
    assert issubclass(cls.Params, ComponentParams) and cls.Params.model_config.get("extra") == "forbid"
    assert cls.__doc__ and len(cls.__doc__) > 40
    if cls.__module__ != "pimtrain.cost.puma":  # puma.py still gives a PARAMS dict (typed from the names)
        assert all(f.description for f in cls.Params.model_fields.values()), "every default states its source"
    d = load_design("marinella2018-analog")
    comp = cls(model, {}, tech=d.technology, design=d)
    assert comp.role == cls.ROLE == registry.default_role(model)
    assert comp.area >= 0 and comp.leak_power >= 0
    needs_actions = {n for n in registry.ROLE_NEEDS[cls.ROLE] if not n.startswith("params.")}
    if cls.actions():
        assert set(cls.actions()) & needs_actions or cls.ROLE == "static"


def test_actions_are_listed_and_checked():
    assert set(ADC.actions()) == {"convert"}
    d = load_design("isaac")
    adc = ADC("adc", {}, tech=d.technology, design=d)
    e, t = adc.convert(8)
    assert e > 0 and t > 0

    class Broken(Component):
        """Returns a negative energy (test)."""

        model = "fake_broken"

        @action
        def go(self):
            return -1.0, 0.0

    with pytest.raises(PimtrainError, match="action go of model 'fake_broken' gives energy -1.0"):
        Broken("b", {}, tech=d.technology).go()


def test_legacy_params_dict_is_typed():
    class Old(Component):
        """A component written before typed parameters (a plain PARAMS dict of defaults)."""

        model = "fake_old"
        PARAMS = {"hop_energy": 1e-12, "hop_latency": 1e-9, "lanes": 4.0, "spare_time": None}  # noqa: RUF012

    d = load_design("isaac")
    assert set(Old.Params.model_fields) >= {"hop_energy", "hop_latency", "lanes", "area", "leak_power"}
    comp = Old("o", {"hop_energy": "2 pJ", "ref_node_nm": 32}, tech=d.technology)
    assert comp.p["hop_energy"] == pytest.approx(2e-12) and comp.p["spare_time"] is None
    with pytest.raises(PimtrainError, match=r"params\.hop_latency: expected a time such as '10 ns' \(got '1 pJ'\)"):
        Old("o", {"hop_latency": "1 pJ"}, tech=d.technology)


def test_builtin_registration_needs_no_installed_entry_point(monkeypatch):
    monkeypatch.setattr(registry, "_entry_points", list)
    registry.discover(force=True)
    code = textwrap.dedent("""
        import pimtrain.cost.registry as r
        r._entry_points = lambda: []
        print(len(r.models()))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert int(out.stdout) == len(registry.models()) >= 17
