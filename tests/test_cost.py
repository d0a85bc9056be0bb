"""Cost model: components, scaling, additivity, monotonicity, bad input, speed."""
import copy
import math
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pimtrain.cost import CostReport, design_summary, evaluate, kernel_costs, registry
from pimtrain.cost.components import ADC, MODELS, adc_point
from pimtrain.cost.scaling import area_scale, energy_scale, latency_scale
from pimtrain.design import DesignError, PimtrainError, design_from_dict, design_to_dict, load_design, preset_names
from pimtrain.workloads import Workload, get_workload

PRESETS = preset_names()
COST_PRESETS = ["ideal", "marinella2018-analog", "marinella2018-digital-reram", "marinella2018-sram"]
_DESIGNS = {n: load_design(n) for n in PRESETS}


def variant(name: str, **changes) -> object:
    """A copy of preset ``name`` with dotted-path changes."""
    data = copy.deepcopy(design_to_dict(_DESIGNS[name]))
    for path, value in changes.items():
        node = data
        parts = path.split("__")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return design_from_dict(data)


# ------------------------------------------------------------------------------------------ components
def test_component_registry_is_the_one_list():
    from pimtrain.design import circuits

    assert not hasattr(circuits, "COMPONENT_MODELS") and not hasattr(circuits, "DEFAULT_ROLE")
    assert set(registry.models()) == set(MODELS) >= {"crossbar", "adc", "dac", "sram", "pim_logic", "puma_mcu"}
    for model, cls in MODELS.items():
        assert cls.ROLE in circuits.COMPONENT_ROLES and registry.default_role(model) == cls.ROLE


def test_adc_published_points_and_monotone():
    d = load_design("ideal")
    adc = ADC("adc", {}, tech=d.technology.model_copy(update={"node_nm": 32.0}), design=d)
    e8, t8 = adc.convert(8)
    assert e8 == pytest.approx(1.667e-12, rel=1e-3)
    assert adc.convert(4)[0] == pytest.approx(0.79e-12, rel=1e-3)
    assert adc.convert(10)[0] == pytest.approx(2.379e-12, rel=1e-3)
    energies = [adc_point(b)[0] for b in range(1, 16)]
    assert all(b > a for a, b in zip(energies, energies[1:]))


def test_scaling_is_explicit_and_monotone():
    assert energy_scale(32, 32) == pytest.approx(1.0)
    assert area_scale(16, 16) == pytest.approx(1.0)
    assert latency_scale(16, 32) == pytest.approx(0.5)
    nodes = [130, 90, 65, 45, 32, 20, 16, 14, 10, 7]
    e = [energy_scale(n, 32) for n in nodes]
    a = [area_scale(n, 32) for n in nodes]
    assert all(x > y for x, y in zip(e, e[1:])) and all(x > y for x, y in zip(a, a[1:]))


@pytest.mark.parametrize("model", registry.models())
def test_every_component_has_area_leak_and_source(model):
    d = load_design("marinella2018-analog")
    c = MODELS[model](model, {}, tech=d.technology, design=d)
    assert c.area >= 0 and c.leak_power >= 0
    assert c.__doc__ and len(c.__doc__) > 40


# ------------------------------------------------------------------------------------------ report
def test_report_contract():
    rep = evaluate("marinella2018-analog", "mlp:784-300-10", batch_size=4)
    assert isinstance(rep, CostReport)
    j = rep.to_json()
    for key in ("energy_j", "latency_s", "area_m2", "power_w", "breakdown"):
        assert key in j
    assert set(j["breakdown"]) == {"kernel", "layer", "component"}
    assert rep.power_w == pytest.approx(rep.energy_j / rep.latency_s)
    from rich.table import Table

    assert isinstance(rep.table(), Table)


def test_inference_is_cheaper_than_training():
    tr = evaluate("marinella2018-analog", "mlp:784-300-10")
    inf = evaluate("marinella2018-analog", "mlp:784-300-10", inference=True)
    assert inf.energy_j < tr.energy_j and inf.latency_s < tr.latency_s
    assert "update" not in inf.kernel and "backward" not in inf.kernel


@pytest.mark.parametrize("name", COST_PRESETS)
def test_design_summary(name):
    s = design_summary(name)
    assert set(s) == {"area_m2", "peak_power_w", "peak_ops_per_s"}
    assert all(v is None or v > 0 for v in s.values())


def test_stats_follow_the_data():
    base = evaluate("marinella2018-analog", "mlp:256-128")
    quiet = evaluate("marinella2018-analog", "mlp:256-128", stats={"fc1": {"input_activity": 0.05, "update_activity": 0.05}})
    assert quiet.energy_j < base.energy_j


# ------------------------------------------------------------------------------------------ properties
mlps = st.lists(st.integers(1, 3000), min_size=2, max_size=4).map(lambda d: "mlp:" + "-".join(map(str, d)))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(PRESETS), wl=mlps, batch=st.integers(1, 8), inference=st.booleans())
def test_positive_and_additive(name, wl, batch, inference):
    """Every preset: positive, finite figures whose breakdowns add up to the totals."""
    rep = evaluate(_DESIGNS[name], wl, batch_size=batch, inference=inference, check_fit=False)
    assert rep.energy_j > 0 and rep.area_m2 > 0 and rep.latency_s > 0
    assert all(math.isfinite(v) for v in (rep.energy_j, rep.area_m2, rep.latency_s, rep.power_w))
    b = rep.to_json()["breakdown"]
    for part in ("kernel", "layer", "component"):
        assert sum(v["energy_j"] for v in b[part].values()) == pytest.approx(rep.energy_j, rel=1e-9)
        assert all(v["energy_j"] >= 0 for v in b[part].values())
    for part in ("kernel", "layer"):
        assert sum(v["latency_s"] for v in b[part].values()) == pytest.approx(rep.latency_s, rel=1e-9)
    assert sum(v["area_m2"] for v in b["component"].values()) == pytest.approx(rep.area_m2, rel=1e-9)


def _dyn(rep):
    return rep.energy_j - rep.kernel.get("leakage", {}).get("energy_j", 0.0)


@settings(max_examples=20, deadline=None)
@given(bits=st.integers(2, 11), wl=mlps)
def test_more_adc_bits_never_cost_less(bits, wl):
    lo = variant("marinella2018-analog", io__forward__adc_bits=bits, io__backward__adc_bits=bits)
    hi = variant("marinella2018-analog", io__forward__adc_bits=bits + 1, io__backward__adc_bits=bits + 1)
    a, b = evaluate(lo, wl), evaluate(hi, wl)
    assert b.energy_j >= a.energy_j and b.latency_s >= a.latency_s and b.area_m2 >= a.area_m2
    sa, sb = variant("ideal", io__forward__adc_bits=bits), variant("ideal", io__forward__adc_bits=bits + 1)
    assert evaluate(sb, wl).energy_j >= evaluate(sa, wl).energy_j
    assert evaluate(sb, wl).area_m2 >= evaluate(sa, wl).area_m2


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(COST_PRESETS), o=st.integers(1, 2500), i=st.integers(1, 2500),
       do=st.integers(0, 600), di=st.integers(0, 600))
def test_larger_arrays_never_cost_less(name, o, i, do, di):
    small = evaluate(_DESIGNS[name], f"mlp:{i}-{o}")
    big = evaluate(_DESIGNS[name], f"mlp:{i + di}-{o + do}")
    assert _dyn(big) >= _dyn(small) * (1 - 1e-12)
    if _DESIGNS[name].compute == "analog":
        assert big.energy_j >= small.energy_j * (1 - 1e-12) and big.latency_s >= small.latency_s * (1 - 1e-12)


@pytest.mark.parametrize("rows", [128, 256, 512])
def test_larger_physical_arrays_never_cost_less_area(rows):
    a = evaluate(variant("marinella2018-analog", array__rows=rows, array__cols=rows), "mlp:64-10")
    b = evaluate(variant("marinella2018-analog", array__rows=2 * rows, array__cols=2 * rows), "mlp:64-10")
    assert b.area_m2 >= a.area_m2


@settings(max_examples=20, deadline=None)
@given(slices=st.integers(1, 7), wl=mlps, batch=st.integers(1, 4))
def test_more_weight_slices_never_cost_less(slices, wl, batch):
    lo = variant("marinella2018-analog", update__slicing__slices=slices)
    hi = variant("marinella2018-analog", update__slicing__slices=slices + 1)
    try:
        a = evaluate(lo, wl, batch_size=batch)
        b = evaluate(hi, wl, batch_size=batch)
    except PimtrainError:
        return  # does not fit the chip with more slices
    assert b.energy_j >= a.energy_j and b.latency_s >= a.latency_s


@pytest.mark.parametrize("name", COST_PRESETS)
def test_empty_workload_costs_nothing_but_leakage(name):
    rep = evaluate(name, Workload("empty", ()))
    assert rep.energy_j == rep.kernel.get("leakage", {}).get("energy_j", 0.0) == 0.0
    assert rep.latency_s == 0.0 and rep.area_m2 > 0
    zero = evaluate(name, "mlp:100-10", batch_size=0)
    assert zero.energy_j == 0.0


# ------------------------------------------------------------------------------------------ bad input
def test_negative_component_energy_rejected_at_load():
    data = design_to_dict(_DESIGNS["marinella2018-analog"])
    data["circuits"]["components"]["readout"]["params"]["compare_energy"] = "-1 pJ"
    with pytest.raises(DesignError) as exc:
        design_from_dict(data)
    msg = str(exc.value)
    assert "\n" not in msg and "compare_energy" in msg and ">= 0" in msg


def test_unknown_component_model_and_param():
    data = design_to_dict(_DESIGNS["ideal"])
    data["circuits"] = {"components": {"x": {"model": "flux_capacitor"}}}
    with pytest.raises(DesignError, match="allowed"):
        design_from_dict(data)
    data["circuits"] = {"components": {"adc": {"model": "adc", "params": {"frobnicate": 1}}}}
    with pytest.raises(PimtrainError, match="frobnicate.*allowed"):
        evaluate(design_from_dict(data), "mlp:10-10")


def test_mapping_that_cannot_fit_names_the_limit():
    with pytest.raises(PimtrainError) as exc:
        evaluate("marinella2018-analog", "mlp:100000-100000")
    msg = str(exc.value)
    assert "\n" not in msg and "limit" in msg and "arrays_per_core" in msg and "1024" in msg
    with pytest.raises(PimtrainError, match="capacity_bits"):
        evaluate(variant("marinella2018-sram", hierarchy__tiles_per_chip=1, hierarchy__cores_per_tile=1), "vgg16")


def test_unknown_workload():
    with pytest.raises(PimtrainError, match="allowed"):
        evaluate("ideal", "alexnet-3000")


# ------------------------------------------------------------------------------------------ block kernels
def test_analog_block_latencies_follow_the_circuit():
    k = kernel_costs("marinella2018-analog", 1024, 1024)
    assert k["forward"]["latency_s"] == pytest.approx((2 ** 8 + 2 ** 7) * 1e-9)
    assert k["update"]["latency_s"] == pytest.approx(4 * 2 ** 6 * 2e-9)
    assert k["forward"]["macs"] == 1024 * 1024


def test_sram_transpose_reads_whole_words():
    k = kernel_costs("marinella2018-sram", 1024, 1024)
    assert k["backward"]["latency_s"] == pytest.approx(8 * k["forward"]["latency_s"])
    assert k["update"]["latency_s"] == pytest.approx(2 * k["forward"]["latency_s"])


# ------------------------------------------------------------------------------------------ speed
@pytest.mark.parametrize("name", COST_PRESETS)
def test_vgg16_step_under_50ms(name):
    d, w = _DESIGNS[name], get_workload("vgg16")
    evaluate(d, w)
    t = time.perf_counter()
    for _ in range(5):
        evaluate(d, w)
    assert (time.perf_counter() - t) / 5 < 0.050
