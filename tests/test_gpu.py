"""GPU roofline baseline: figures follow from the vendor numbers and the workload, not from a paper."""
import pytest

from pimtrain.cost.gpu import GPUS, gpu_step_cost
from pimtrain.design import PimtrainError


def test_big_batch_is_compute_bound_and_near_peak():
    r = gpu_step_cost("rtx2080ti", "vgg16", batch_size=256)
    assert r["flops"] == pytest.approx(6 * 256 * 15.47e9, rel=0.01)
    spec = GPUS["rtx2080ti"]
    achieved = r["flops"] / r["latency_s"]
    assert 0.5 * spec.peak_flops < achieved < spec.peak_flops
    assert r["power_w"] > 0.9 * spec.board_power


def test_batch_one_mlp_is_memory_or_launch_bound():
    r = gpu_step_cost("gtx1080", "mlp:1024-256-512-512-10", batch_size=1)
    assert all(L["bound"] == "memory" for L in r["layers"])
    assert r["flops"] / r["latency_s"] < 0.05 * GPUS["gtx1080"].peak_flops
    assert r["power_w"] < GPUS["gtx1080"].board_power


def test_energy_is_additive_and_grows_with_batch():
    a = gpu_step_cost("gtx1080", "alexnet", batch_size=1)
    b = gpu_step_cost("gtx1080", "alexnet", batch_size=8)
    assert sum(L["energy_j"] for L in a["layers"]) == pytest.approx(a["energy_j"])
    assert b["energy_j"] > a["energy_j"] and b["energy_per_sample_j"] < a["energy_per_sample_j"]
    inf = gpu_step_cost("gtx1080", "alexnet", batch_size=1, training=False)
    assert inf["latency_s"] < a["latency_s"] and inf["flops"] * 3 == pytest.approx(a["flops"])


@pytest.mark.parametrize("kw", [{"gpu": "titan"}, {"batch_size": 0}, {"dtype": "int8"}])
def test_bad_input_one_line(kw):
    args = {"gpu": "gtx1080", "workload": "alexnet", **kw}
    with pytest.raises(PimtrainError) as exc:
        gpu_step_cost(**args)
    assert "\n" not in str(exc.value) and ("allowed" in str(exc.value) or "positive" in str(exc.value))
