"""The MAGIC NOR step in isolation: switching energies against their closed forms and a numerical integral,
the evaluation and initialisation energies of one NOR on one row, and the initialising writes of a step."""
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pimtrain.pimlogic import FORMATS, make_technology, op_counts
from pimtrain.pimlogic.tech import cell_switch_energy

V, T, RON, ROFF = 1.0, 1e-9, 10e3, 10e6  # FloatPIM's cell (docs/sources.md §8.2) at the assumed 1 V


def _integral(v, t, r_from, r_to, r_s, n=200_000):
    """Midpoint rule of V²/(R_s + R(τ)) over a linear resistance ramp."""
    dt = t / n
    return sum(v * v / (r_s + r_from + (r_to - r_from) * (k + 0.5) / n) * dt for k in range(n))


@pytest.mark.parametrize("r_from, r_to, r_s", [(ROFF, RON, 0.0), (RON, ROFF, RON / 2), (RON, ROFF, RON * ROFF / (RON + ROFF))])
def test_switching_energy_is_the_integral_of_the_ramp(r_from, r_to, r_s):
    assert cell_switch_energy(V, T, r_from, r_to, r_s) == pytest.approx(_integral(V, T, r_from, r_to, r_s), rel=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.floats(1e2, 1e8), st.floats(1e2, 1e8), st.floats(0.0, 1e7), st.floats(0.1, 3.0), st.floats(1e-10, 1e-8))
def test_switching_energy_lies_between_its_end_states(r_a, r_b, r_s, v, t):
    e = cell_switch_energy(v, t, r_a, r_b, r_s)
    lo, hi = v * v * t / (r_s + max(r_a, r_b)), v * v * t / (r_s + min(r_a, r_b))
    assert lo * (1 - 1e-9) <= e <= hi * (1 + 1e-9)
    assert e == pytest.approx(cell_switch_energy(v, t, r_b, r_a, r_s), rel=1e-9)  # same ramp, either way


def test_nor_step_energy_against_its_closed_form():
    tech = make_technology("nor", {"r_on_resistance": RON, "r_off_resistance": ROFF, "gate_voltage": V, "switch_time": T})
    par = lambda a, b: a * b / (a + b)
    stay = V * V * T / (ROFF / 2 + RON)                                     # inputs 0, 0: output stays at R_on
    sw = lambda r_in: V * V * T * math.log((r_in + ROFF) / (r_in + RON)) / (ROFF - RON)
    evaluation = (stay + 2 * sw(par(RON, ROFF)) + sw(RON / 2)) / 4
    assert tech.nor_energy() == pytest.approx(evaluation, rel=1e-12)
    # initialisation: 1/4 of the outputs hold R_on and conduct for the whole set pulse, 3/4 switch up
    init = 0.25 * V * V * T / RON + 0.75 * V * V * T * math.log(ROFF / RON) / (ROFF - RON)
    assert tech.init_energy() == pytest.approx(init, rel=1e-12)
    assert tech.nor_step_energy() == pytest.approx(26.04e-15, rel=2e-3)    # 25.5 fJ init + 0.52 fJ evaluation
    # a SET into cells that all hold R_off costs the ramp only (0.69 fJ): the R_on quarter is what dominates
    off = make_technology("nor", {"output_one_fraction": 0.0})
    assert off.init_energy() == pytest.approx(V * V * T * math.log(1000) / (ROFF - RON), rel=1e-9)
    # the whole-pulse R_on charge of the former model was 2 x 50 fJ per step: now bounded by it
    assert tech.nor_step_energy() < 0.5 * V * V * T / RON


def test_initialising_writes_are_per_step_not_per_gate():
    c = op_counts(FORMATS["bf16"], "mul")
    batched = make_technology("nor", {"init_columns": 93})
    per_nor = make_technology("nor", {"init_columns": 1})
    steps = batched.nor_steps(c)
    assert steps == sum(n * batched.cycles(g) for g, n in c.items())
    assert batched.op_cycles(c) == steps + math.ceil(steps / 93)
    assert per_nor.op_cycles(c) == 2 * steps  # one set write before every NOR
    # the cells are initialised either way: the energy does not depend on how the writes are batched
    # beyond the column drivers (one driven column per initialised cell in both)
    assert batched.op_energy(c) == pytest.approx(per_nor.op_energy(c), rel=1e-12)
    assert batched.op_cycles({}) == 0


def test_block_settings_outside_the_physics_are_refused():
    from pimtrain.cost import evaluate
    from pimtrain.design import PimtrainError, design_from_dict, design_to_dict, load_design

    for key, value, match in (("output_one_fraction", 1.5, "output_one_fraction: must be <= 1"),
                              ("init_columns", 200, "init_columns: must be <= processing_cols"),
                              ("init_cycles_per_gate", 1, "unknown parameter")):
        data = design_to_dict(load_design("floatpim"))
        data["circuits"]["components"]["block"]["params"][key] = value
        with pytest.raises(PimtrainError, match=match):
            evaluate(design_from_dict(data, where="x"), "mlp:8-4")
