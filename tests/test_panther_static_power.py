"""PANTHER node static power and the board view of the GPU comparison, each checked in isolation:
the node's static power against the sum of its components, the power-gating policy against the leakage
the engine charges, the off-chip link against its packet arithmetic, the derived digital leakage."""
import math

import pytest

from pimtrain.cost import evaluate
from pimtrain.cost.hardware import build_hardware
from pimtrain.cost.puma import OffchipLink, example_transfer, node_static_power
from pimtrain.design import PimtrainError, design_from_dict, design_to_dict, load_design
from pimtrain.papers.panther2020 import board, board_step, example_bits

MW = 1e-3


def _comp(design, name, key):
    return design.circuits.components[name].params[key]


def test_node_static_power_is_the_sum_of_its_blocks():
    d = load_design("panther-sgd")
    h = d.hierarchy
    core = 2 * _comp(d, "mcu", "leak_power") + 4 * _comp(d, "vfu", "leak_power") + _comp(d, "core_rest", "leak_power")
    tile = h.cores_per_tile * core + sum(_comp(d, n, "leak_power") for n in ("edram", "tile_rest", "router"))
    expect = h.tiles_per_chip * tile + _comp(d, "link", "leak_power")
    assert node_static_power(d) == pytest.approx(expect, rel=1e-12)
    # the preset numbers: 138 tiles x 28.2 mW + the 10.4 W link
    assert h.tiles_per_chip == 138
    assert node_static_power(d) == pytest.approx(138 * (8 * (2 * 0.806 + 4 * 0.192 + 0.961) + 0.46 + 0.6 + 0.41) * MW + 10.4,
                                                 rel=1e-9)


def test_chip_policy_charges_the_node_static_power_over_the_step():
    d = board(load_design("panther-sgd"))
    r = evaluate(d, "mlpPanther")
    assert r.kernel["leakage"]["energy_j"] == pytest.approx(node_static_power(d) * r.latency_s, rel=1e-9)


def test_occupied_policy_gates_the_link_and_the_idle_tiles():
    d = load_design("panther-sgd")
    assert d.hierarchy.static_power == "occupied"
    r = evaluate(d, "mlpPanther")
    data = design_to_dict(d)
    del data["circuits"]["components"]["link"]
    no_link = evaluate(design_from_dict(data, where="no-link"), "mlpPanther")
    # the simulator-benchmark rows do not move with the link: it is gated (noc_inter_pow_leak = 0)
    assert r.energy_j == pytest.approx(no_link.energy_j, rel=1e-12)
    assert r.latency_s == pytest.approx(no_link.latency_s, rel=1e-12)
    # and far less leaks than the whole node
    assert r.kernel["leakage"]["energy_j"] < 0.05 * node_static_power(d) * r.latency_s


def test_link_moves_whole_packets():
    link = next(c for c in build_hardware(load_design("panther-sgd")).components.values() if isinstance(c, OffchipLink))
    e, t = link.transfer(256)
    assert t == pytest.approx(5e-9) and e == pytest.approx(10.4 * 5e-9)
    assert link.transfer(257)[1] == pytest.approx(10e-9)
    assert link.transfer(0) == (0.0, 0.0)
    # 6.4 GB/s: 256 bits per 5 ns
    assert link.transfer(256 * 1000)[1] == pytest.approx(256 * 1000 / 8 / 6.4e9, rel=1e-9)


def test_board_step_adds_the_example_transfer():
    d = load_design("panther-sgd")
    bits = example_bits("mlp-svhn-4layer")
    assert bits == (3 * 32 * 32 + 2 * 10) * 16
    e_io, t_io = example_transfer(board(d), bits)
    assert t_io == pytest.approx(math.ceil(bits / 256) * 5e-9)
    assert e_io == pytest.approx(node_static_power(d) * t_io)
    r = evaluate(board(d), "mlp-svhn-4layer")
    e, t = board_step(d, "mlp-svhn-4layer")
    assert t == pytest.approx(r.latency_s + t_io) and e == pytest.approx(r.energy_j + e_io)


def test_example_transfer_needs_a_link():
    data = design_to_dict(load_design("panther-sgd"))
    del data["circuits"]["components"]["link"]
    with pytest.raises(PimtrainError, match="offchip_link"):
        example_transfer(design_from_dict(data, where="no-link"), 1024)


def test_digital_mvmu_leakage_is_area_times_sram_density():
    d = load_design("panther-base-digital")
    sram_density = 0.33 * MW / 0.00392e-6  # simulator's 2 KB data memory: W per m2
    area = _comp(d, "mcu", "area")
    assert area == pytest.approx(8.97 * 0.00287e-6, rel=1e-3)
    assert _comp(d, "mcu", "leak_power") == pytest.approx(area * sram_density, rel=1e-3)
    assert d.provenance["circuits.components.mcu.params.leak_power"].basis == "derived"
