"""NNADC / NNS+A: trained with 3-bit weights and sigma 0.025 variation; stored transfer; sizes for cost."""
from __future__ import annotations

import pytest
import torch

from pimtrain.mapping import nn_adc_size, nn_shift_add_size
from pimtrain.design import PimtrainError
from pimtrain.xbar import nn_peripherals as nnp


@pytest.fixture(scope="module")
def stored():
    return nnp.default_peripherals()


def test_weights_are_three_bit_cells(stored):
    for m in (stored.sa(2), stored._adc[8]):
        for name, t in m.state_dict().items():
            if name.endswith(("gp", "gn")):
                q = nnp.quantize_cells(t)
                assert torch.all((q * 7 - torch.round(q * 7)).abs() < 1e-5), name
                assert torch.unique(q).numel() <= 8, name


def test_nnadc_nominal_transfer_is_monotone_and_within_one_lsb(stored):
    """The trained transfer function (no variation): monotone, within 1 LSB over its whole range."""
    q = nnp.transfer_quality(stored._adc[8].nominal())
    assert q["monotone"]
    assert q["within_1lsb"] >= 0.99  # measured: 1.000 (mean |error| 0.28 LSB)
    stored._adc[8].instance(100 + 8)  # restore the instance default_peripherals() uses


def test_nnadc_with_variation_mostly_within_one_lsb(stored):
    """Eight chip instances with sigma 0.025 variation: measured within 1 LSB over 0.38-0.98 of the
    range (mean 0.78, median 0.90); none is monotone (max error 3-8 LSB)."""
    adc = stored._adc[8]
    fr = sorted(nnp.transfer_quality(adc.instance(s))["within_1lsb"] for s in range(8))
    adc.instance(100 + 8)
    assert sum(fr) / len(fr) > 0.7
    assert (fr[3] + fr[4]) / 2 > 0.8


def test_nnsa_approximates_the_shift_and_add(stored):
    sa = stored.sa(2)
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(64, 16, generator=g) * 2 - 1, torch.rand(64, 16, generator=g) * 2 - 1
    err = sa(a, b) - (a + b) / 2  # per-column chip instances with variation
    assert float(err.pow(2).mean().sqrt()) < 0.02
    with torch.no_grad():
        nominal = nnp.NNSA.forward(sa, a, b)
    assert float((nominal - (a + b) / 2).pow(2).mean().sqrt()) < 0.01


def test_training_reduces_the_error_and_is_seeded():
    m1, m2 = nnp.NNSA(2, hidden=4, seed=3), nnp.NNSA(2, hidden=4, seed=3)
    for m in (m1, m2):  # start away from the analytic initial point
        with torch.no_grad():
            for t in (m.l1.gp, m.l1.gn, m.l2.gp, m.l2.gn):
                t.copy_(torch.rand(t.shape, generator=torch.Generator().manual_seed(t.numel())))
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(200, generator=g) * 2 - 1, torch.rand(200, generator=g) * 2 - 1
    with torch.no_grad():
        before = float((m1(a, b) - (a + b) / 2).pow(2).mean())
    m1.fit(steps=150, seed=3)
    m2.fit(steps=150, seed=3)
    with torch.no_grad():
        after = float((m1(a, b) - (a + b) / 2).pow(2).mean())
    assert after < before
    assert all(torch.equal(p, q) for p, q in zip(m1.state_dict().values(), m2.state_dict().values()))


def test_sizes_for_cost_match_the_networks(stored):
    """The cost charges the cells and inverters of the networks the numerics run (NNADC cells x copies)."""
    from pimtrain.cost.hardware import build_hardware
    from pimtrain.design import load_design

    sa, adc = stored.sa(2), stored._adc[8]
    assert sa.built_cells() == nn_shift_add_size(sa.hidden)["cells"]
    assert adc.built_cells() == (nn_adc_size(8)["cells"] * adc.copies, nn_adc_size(8)["inverters"])
    d = load_design("neuralpim")
    comps = d.circuits.components
    assert comps["nn_shift_add"].params["hidden"] == sa.hidden == nnp.SA_HIDDEN
    assert comps["nnadc"].params["copies"] == adc.copies == nnp.ADC_COPIES
    hw = build_hardware(d)
    assert hw.components["nnadc"].size(8)["cells"] == adc.built_cells()[0]
    assert hw.components["nn_shift_add"].size["cells"] == sa.built_cells()


def test_parallel_copies_average_the_variation():
    """A weight of k parallel cell pairs, each off by its own relative variation, is off by sigma/sqrt(k):
    the spread of an NNADC instance's weights around the nominal ones shrinks as 1/sqrt(copies)."""
    spread = {}
    for k in (1, 4, 16):
        adc = nnp.NNADC(8, seed=0, copies=k)
        with torch.no_grad():
            nominal = adc.s2.x.weight()
        devs = []
        for s in range(40):
            with torch.no_grad():
                w = adc.instance(s).inst_w[1]
            m = nominal.abs() > 0.05
            devs.append(((w - nominal)[m] / nominal[m]))
        spread[k] = float(torch.cat(devs).std())
    assert spread[1] == pytest.approx(nnp.VARIATION, rel=0.15)
    assert spread[4] == pytest.approx(spread[1] / 2, rel=0.15)
    assert spread[16] == pytest.approx(spread[1] / 4, rel=0.15)
    with pytest.raises(PimtrainError):
        nnp.NNADC(8, copies=0)


def test_stored_chain_reaches_the_sinad_of_the_larger_peripherals():
    """The stored 24-neuron NNS+A and 4-copy NNADC: the full-scale sine through the Neural-PIM chain (trained
    peripherals with variation) scores > 42.5 dB (measured 43.3 dB; the 16-neuron, 1-copy set: 37.3 dB)."""
    from pimtrain.design import load_design
    from pimtrain.papers.neuralpim2022 import sinad_per_dataflow

    s = sinad_per_dataflow({"neuralpim": load_design("neuralpim")})
    assert s["neuralpim_sine"] > 42.5
    assert s["neuralpim_ideal_peripherals_sine"] > s["neuralpim_sine"]


def test_missing_peripheral_is_one_line_error(stored):
    with pytest.raises(PimtrainError) as e:
        stored.adc(6)
    assert "\n" not in str(e.value) and "allowed" in str(e.value)
    with pytest.raises(PimtrainError):
        nnp.NNADC(1)


@pytest.mark.slow
def test_stored_peripherals_are_what_seeded_training_gives():
    """``python -m pimtrain.xbar.nn_peripherals --train`` (seed 0) reproduces the stored cells exactly (~6 s)."""
    fresh, stored = nnp.train_peripherals(), nnp.load()
    for kind in ("nnsa", "nnadc"):
        for key, d in stored[kind].items():
            for name, cells in d["cells"].items():
                assert torch.allclose(torch.tensor(fresh[kind][key]["cells"][name]), torch.tensor(cells), atol=1e-6), (kind, name)
