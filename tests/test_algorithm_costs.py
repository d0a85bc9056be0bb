"""What an update.algorithm costs (pimtrain.cost.algorithms): the charged energy is the numerics' counts times the
components' action energies; the extra arrays add area; mixed precision writes its gradient digitally."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from pimtrain.cost import build_hardware, evaluate
from pimtrain.cost.algorithms import extra_arrays_per_weight
from pimtrain.design.models import Design
from pimtrain.mapping import measured_counts
from pimtrain.xbar import make_core

OUT, IN, B = 6, 5, 4


def des(**alg) -> Design:
    return Design.model_validate({
        "name": "t", "compute": "analog", "array": {"w_max": 1.0, "rows": 64, "cols": 64},
        "device": {"model": "soft_bounds", "dw_min": 0.01},
        "io": {"forward": {"adc_bits": 8, "dac_bits": 8}, "backward": {"adc_bits": 8, "dac_bits": 8}},
        "update": {"rule": "outer_product", "algorithm": alg}})


def workload():
    return SimpleNamespace(name="one", layers=[SimpleNamespace(name="fc", out_features=OUT, in_features=IN, reuse=1,
                                                               kind="linear")])


def trained_counts(d: Design, steps: int = 3) -> dict:
    core = make_core(torch.zeros(OUT, IN), d)
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        x, dd = torch.rand(B, IN, generator=g), torch.randn(B, OUT, generator=g)
        core.vmm(x)
        core.mvm(dd)
        core.opu(x, dd, 0.5)
    return measured_counts(core.stats)


@pytest.mark.parametrize("kind", ["c_ttv2", "agad"])
def test_transfer_energy_is_counts_times_component_energy(kind):
    d = des(kind=kind, columns_per_transfer=2, chopper_probability=0.5, buffer_decay=0.1, transfer_lr=0.5,
            transfer_io={"adc_bits": 4, "dac_bits": 8})
    m = trained_counts(d)
    a = m["algorithm"]
    agad = kind == "agad"  # AGAD subtracts its reference from every entry read and copies it at each flip
    assert a["transfer.reads"] == 2 and a["buffer.adds"] == 2 * OUT * (1 + agad) and a["buffer.multiplies"] == 2 * 2 * OUT
    assert (a.get("buffer.reference_writes", 0) > 0) == agad
    rep = evaluate(d, workload(), batch_size=B, counts={"fc": m})
    comp = rep.component
    hw = build_hardware(d)
    adc = hw.first("readout")
    e_conv, _ = adc.convert(4, d.array.read_time)  # the transfer read converts at transfer_io's 4 bits
    assert comp[adc.name]["kernel"]["transfer"] == pytest.approx(a["transfer.read.conversions"] * e_conv, rel=1e-9)
    # the buffer: a read and a write of buffer_bits per add and multiply, a read per compare, a write per cell out
    from pimtrain.cost.registry import get

    bits = d.update.algorithm.buffer_bits
    buf = get("sram")("b", {"capacity_bits": OUT * IN * bits * (1 + agad), "width_bits": bits}, tech=d.technology, design=d)
    er, _ = buf.read(bits)
    ew, _ = buf.write(bits)
    rmw = a["buffer.adds"] + a["buffer.multiplies"]
    want = rmw * (er + ew) + a["buffer.compares"] * er + (a["transfer.cells_written"] + a.get("buffer.reference_writes", 0)) * ew
    assert comp["algorithm_buffer.fc"]["energy_j"] - comp["algorithm_buffer.fc"]["kernel"].get("leakage", 0) \
        == pytest.approx(want, rel=1e-9)
    alu = get("mac")("a", {"acc_bits": bits}, tech=d.technology, design=d)
    want = a["buffer.multiplies"] * alu.mac()[0] + (a["buffer.adds"] + a["buffer.compares"]) * alu.add()[0]
    assert comp["algorithm_alu.fc"]["kernel"]["transfer"] == pytest.approx(want, rel=1e-9)
    reg = get("register")("r", {"bits": IN}, tech=d.technology, design=d)
    want = (a["chopper.sign_flips_applied"] + a["chopper.flips"]) * reg.access(1)[0]
    assert comp["algorithm_chopper.fc"]["kernel"]["transfer"] == pytest.approx(want, rel=1e-9)
    # the parts add up to the transfer kernel, and the kernel to the step
    parts = rep.algorithm["energy_j"]
    leak_digital = sum(c["kernel"].get("leakage", 0) for k, c in comp.items() if k.startswith("algorithm_"))
    assert parts["transfer_reads"] + parts["transfer_writes"] + parts["buffer"] + parts["choppers"] == pytest.approx(
        rep.kernel["transfer"]["energy_j"] + leak_digital, rel=1e-9)
    assert rep.energy_j == pytest.approx(sum(k["energy_j"] for k in rep.kernel.values()), rel=1e-12)


def test_extra_arrays_add_area_and_their_count():
    sgd = evaluate(des(), workload(), batch_size=B)
    tt = evaluate(des(kind="tiki_taka"), workload(), batch_size=B)
    ref = evaluate(des(kind="tiki_taka", reference="array"), workload(), batch_size=B)
    hw = build_hardware(des())
    per_array = sum(c.area * c.count for c in hw.components.values() if c.level == "array")
    assert extra_arrays_per_weight(des(kind="tiki_taka", reference="array")) == 2
    assert tt.algorithm["arrays"] == {"weights": 1, "extra": 1} and ref.algorithm["arrays"]["extra"] == 2
    assert tt.algorithm["area_m2"]["extra_arrays"] == pytest.approx(per_array)
    # the default (growing) chip grows by the arrays' own blocks at least
    assert tt.area_m2 - sgd.area_m2 >= per_array * (1 - 1e-9)
    assert ref.area_m2 - tt.area_m2 >= per_array * (1 - 1e-9)
    assert tt.kernel["transfer"]["energy_j"] > 0 and "transfer" not in sgd.kernel


def test_mixed_precision_gradient_is_digital():
    d = des(kind="mixed_precision")
    m = trained_counts(d)
    assert m["algorithm"]["buffer.macs"] == B * OUT * IN  # χ += dᵀx per update call
    rep = evaluate(d, workload(), batch_size=B, counts={"fc": m})
    assert "update" not in rep.kernel  # no analog gradient write: the gradient is summed in χ
    assert rep.algorithm["energy_j"]["buffer"] > 0 and rep.algorithm["area_m2"]["extra_arrays"] == 0
    # without measured counts the derived estimate charges the same multiply-adds
    est = evaluate(d, workload(), batch_size=B)
    assert est.algorithm["counts_per_step"]["fc"]["buffer.macs"] == B * OUT * IN


def test_a_puma_node_design_refuses_an_algorithm_it_cannot_cost():
    from pimtrain.design import PimtrainError, load_design
    from pimtrain.design.models import AlgorithmSpec

    d = load_design("panther-sgd")
    d = d.model_copy(update={"update": d.update.model_copy(update={"algorithm": AlgorithmSpec(kind="tiki_taka")})})
    with pytest.raises(PimtrainError, match="update.algorithm"):
        evaluate(d, workload(), batch_size=B)


def test_epoch_cost_carries_the_algorithm_parts_per_epoch():
    from pimtrain.runs import epoch_cost

    d = des(kind="ttv2")
    model = torch.nn.Sequential(torch.nn.Linear(IN, OUT))
    cost = epoch_cost(d, model, (IN,), n_samples=10, batch_size=4)  # 2 full steps of 4 and one of 2
    per = cost["algorithm_energy_j_per_epoch"]
    step = cost["step"]["algorithm"]["energy_j"]
    assert per["transfer_reads"] > 2 * step["transfer_reads"] * (1 - 1e-9)  # plus the last, partial step's
