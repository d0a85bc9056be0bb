"""In-memory logic technologies: what one gate costs on one row, from the cell and the periphery.

Two technologies, each a class with ``cycles(gate)``, ``gate_energy(gate)`` (J per row),
``cycle_time`` (s), ``cell_area`` (m²) and ``block_periphery_area`` (m²). Parameters are SI floats
(a design's ``pim_logic`` component passes its ``params``; defaults below, sources in the docstrings).

``nor`` — MAGIC stateful NOR in 1-bit bipolar ReRAM (FloatPIM, Imani et al. ISCA 2019,
via docs/sources.md §8.2: R_on 10 kΩ, R_off 10 MΩ, 1 ns switching; MAGIC: Kvatinsky et al., IEEE TCAS-II
61(11) 2014). NOR is the only primitive (NOT is a one-input NOR). Gate → NOR steps (our derivation):
NOT 1, NOR 1, OR 2, AND 3, XOR 5, MUX 4 (NOR(NOR(a, s̄), NOR(b, s)) + s̄), COPY 2, full adder 9
(XNOR in 4 NORs, sum = XNOR(XNOR(a, b), c) in 4 more, carry = NOR(NOR(a, b), NOR(XNOR(a, b), c))
in 1).

Initialisation. Every MAGIC NOR writes its output into a cell first set to R_on. The free
processing cells of a row are set together by one parallel write (every row, every initialised
column at once), so an algorithm step of ``s`` NOR steps needs ``ceil(s / init_columns)`` init
cycles, not one per gate (``init_columns``: the block's processing columns, FloatPIM's 93 of 1024;
an upper bound on the free ones: the cells that hold live operands are not re-initialised early).

Energy of one NOR step on one row (closed forms; ``cell_switch_energy`` and ``nor_step_energy``):
a cell that switches under a constant voltage V is taken with its resistance moving linearly in
time from R_a to R_b over the switching time t (VTEAM's linear-resistance form at constant drift,
Kvatinsky et al., IEEE TCAS-II 62(8) 2015; assumed), in series with R_s:
E = V² t · ln((R_s + R_b)/(R_s + R_a)) / (R_b − R_a). A cell that does not switch conducts for the
whole t: E = V² t / (R_s + R). Evaluation, each of the four input states equally likely: with an input
at R_on the output switches R_on → R_off in series with the parallel inputs; with both inputs at
R_off it stays at R_on. Initialisation (a SET at V0): an output cell that holds 1 (R_on, the
fraction ``output_one_fraction`` = 1/4 of NOR results, uniform inputs) conducts at R_on for the
whole pulse; one that holds 0 switches R_off → R_on. Plus the column drivers:
``column_drive_energy`` per driven column per block per cycle, shared by the block's rows (three
columns per NOR, one per initialised output cell). NOT, OR and the other gates are sequences of these
steps and are charged the mean 2-input step (their own input statistics differ; a stated simplification).

``majority`` — SOT-MRAM cells with separate read (MTJ) and write (heavy-metal channel) paths; logic by
sensing several cells of a row at once against a reference (reconfigurable sense amplifier) and
writing the result through the SOT path. Gate → steps (assumed after majority-based SHE-MTJ adders,
Roohi et al., IEEE TCAD 2017, and bulk-bitwise SOT-MRAM PIM, Angizi et al. 2019, docs/sources.md §3):
NOT/NOR/OR/AND/XOR/COPY 1, MUX 2, full adder 2 (carry = MAJ3(a, b, c); sum = MAJ5(a, b, c,
c̄out, c̄out)). A step is a read (``read_time``) then a write (``write_time``); the next step needs the
result, so they do not overlap. Step energy: sensing current V_r²/R_mtj over the sensed cells for the
read time + ``sense_energy`` + write I²·R_hm·t_write.
"""
from __future__ import annotations

import math

from pimtrain.design.errors import PimtrainError

from .gates import GATES

__all__ = ["TECHNOLOGIES", "make_technology", "MagicNorReram", "SotMram", "cell_switch_energy"]


class _Tech:
    name = "tech"
    DEFAULTS: dict[str, float] = {}
    STEPS: dict[str, int] = {}
    INPUTS: dict[str, int] = {}

    def __init__(self, params: dict | None = None):
        p = dict(self.DEFAULTS)
        for k, v in (params or {}).items():
            if k in p:
                p[k] = float(v)
        bad = [k for k, v in p.items() if not (v >= 0)]
        if bad:
            raise PimtrainError(f"pim_logic.{bad[0]}: must be >= 0")
        self.p = p

    def cycles(self, gate: str) -> int:
        if gate not in GATES:
            raise PimtrainError(f"gate: {gate!r} is unknown; allowed: {', '.join(GATES)}")
        return self.STEPS[gate]

    def op_cycles(self, counts: dict[str, int]) -> int:
        """Cycles of an algorithm whose per-row gate counts are ``counts``."""
        return sum(n * self.cycles(g) for g, n in counts.items())

    def op_energy(self, counts: dict[str, int]) -> float:
        """Energy (J) of the algorithm on one row (cells, sensing, drivers shared over the block's rows)."""
        return sum(n * self.gate_energy(g) for g, n in counts.items())

    @property
    def cell_area(self) -> float:
        f = self.p["feature_size"]
        return self.p["cell_area_f2"] * f * f


def cell_switch_energy(v: float, t: float, r_from: float, r_to: float, r_series: float = 0.0) -> float:
    """Energy (J) of a cell whose resistance moves linearly in time from ``r_from`` to ``r_to`` over ``t``
    under a constant ``v`` across it and ``r_series``: V² t ln((R_s + R_to)/(R_s + R_from)) / (R_to − R_from)."""
    if r_to == r_from:
        return v * v * t / (r_series + r_to)
    return v * v * t * math.log((r_series + r_to) / (r_series + r_from)) / (r_to - r_from)


class MagicNorReram(_Tech):
    """FloatPIM-style MAGIC NOR in 1-bit ReRAM (see module docstring)."""

    name = "nor"
    DEFAULTS = {
        "r_on_resistance": 10e3,        # FloatPIM (docs/sources.md §8.2)
        "r_off_resistance": 10e6,       # FloatPIM (docs/sources.md §8.2)
        "switch_time": 1e-9,            # FloatPIM (docs/sources.md §8.2)
        "gate_voltage": 1.0,            # assumed MAGIC V0 (also the initialising SET)
        "periphery_time": 0.1e-9,       # assumed decoder/driver set-up per cycle
        "init_columns": 93.0,           # FloatPIM's processing columns per row (docs/sources.md §8.2)
        "output_one_fraction": 0.25,    # NOR of two uniform independent bits is 1 in 1 of 4 states
        "column_drive_energy": 0.2e-12, # assumed: 1024 cells x 0.2 fF x (1 V)^2 per driven column
        "rows": 1024.0,
        "feature_size": 28e-9,
        "cell_area_f2": 4.0,            # crosspoint 4F^2 (assumed; presets derive it from FloatPIM's area)
    }
    STEPS = {"not": 1, "nor": 1, "or": 2, "and": 3, "xor": 5, "mux": 4, "fa": 9, "copy": 2}
    NOR_COLS = {"not": 2, "nor": 3, "or": 5, "and": 7, "xor": 15, "mux": 11, "fa": 27, "copy": 4}

    @property
    def cycle_time(self) -> float:
        return self.p["switch_time"] + self.p["periphery_time"]

    def nor_steps(self, counts: dict[str, int]) -> int:
        return sum(n * self.cycles(g) for g, n in counts.items())

    def init_cycles(self, counts: dict[str, int]) -> int:
        """Parallel initialising writes of an algorithm step: its NOR outputs over ``init_columns``."""
        s = self.nor_steps(counts)
        return math.ceil(s / max(self.p["init_columns"], 1.0)) if s > 0 else 0

    def op_cycles(self, counts: dict[str, int]) -> int:
        return self.nor_steps(counts) + self.init_cycles(counts)

    def nor_energy(self) -> float:
        """Mean evaluation energy of one 2-input MAGIC NOR on one row (J), four input states equally likely."""
        ron, roff, v, t = (self.p[k] for k in ("r_on_resistance", "r_off_resistance", "gate_voltage", "switch_time"))
        par = lambda r1, r2: r1 * r2 / (r1 + r2)
        e = [v * v * t / (par(roff, roff) + ron)]                     # both inputs 0: output stays at R_on
        e += [cell_switch_energy(v, t, ron, roff, r) for r in (par(ron, roff), par(roff, ron), par(ron, ron))]
        return sum(e) / 4.0

    def init_energy(self) -> float:
        """Mean energy of setting one output cell to R_on before its NOR (J)."""
        ron, roff, v, t = (self.p[k] for k in ("r_on_resistance", "r_off_resistance", "gate_voltage", "switch_time"))
        one = self.p["output_one_fraction"]
        return one * v * v * t / ron + (1.0 - one) * cell_switch_energy(v, t, roff, ron)

    def nor_step_energy(self) -> float:
        """Cell energy of one NOR step on one row, its output's initialisation included (J)."""
        return self.nor_energy() + self.init_energy()

    def gate_energy(self, gate: str) -> float:
        n = self.STEPS[gate]
        drive = (self.NOR_COLS[gate] + n) * self.p["column_drive_energy"] / max(self.p["rows"], 1.0)
        return n * self.nor_step_energy() + drive


class SotMram(_Tech):
    """SOT-MRAM logic with separate read and write paths (see module docstring)."""

    name = "majority"
    DEFAULTS = {
        "mtj_p_resistance": 3.5e3,      # NeuroSim STT-MRAM digital cell R_ON (docs/sources.md §9), same MTJ assumed
        "mtj_ap_resistance": 8.05e3,    # on/off 2.3 (docs/sources.md §9)
        "read_voltage": 0.1,            # assumed
        "read_time": 1e-9,              # assumed sensing time
        "sense_energy": 5e-15,          # assumed sense-amplifier energy per row and step
        "write_current": 200e-6,        # assumed SOT critical current at ~1 ns
        "hm_resistance": 800.0,         # assumed heavy-metal channel resistance
        "write_time": 1e-9,             # SOT switching at ns pulses (arXiv:1509.02375 shows down to 0.4 ns)
        "column_drive_energy": 0.2e-12, # assumed, as the ReRAM block
        "rows": 1024.0,
        "feature_size": 28e-9,
        "cell_area_f2": 40.0,           # assumed 2T1MTJ cell
    }
    STEPS = {"not": 1, "nor": 1, "or": 1, "and": 1, "xor": 1, "mux": 2, "fa": 2, "copy": 1}
    INPUTS = {"not": 1, "nor": 2, "or": 2, "and": 2, "xor": 2, "mux": 5, "fa": 8, "copy": 1}

    @property
    def cycle_time(self) -> float:
        return self.p["read_time"] + self.p["write_time"]

    def gate_energy(self, gate: str) -> float:
        p = self.p
        r_mean = 0.5 * (p["mtj_p_resistance"] + p["mtj_ap_resistance"])
        read = self.INPUTS[gate] * p["read_voltage"] ** 2 / r_mean * p["read_time"]
        steps = self.STEPS[gate]
        write = p["write_current"] ** 2 * p["hm_resistance"] * p["write_time"]
        drive = (self.INPUTS[gate] + steps) * p["column_drive_energy"] / max(p["rows"], 1.0)
        return read + steps * (p["sense_energy"] + write) + drive


#: gate family (``digital.logic_family``) -> the technology that implements it
TECHNOLOGIES = {"nor": MagicNorReram, "majority": SotMram}


def make_technology(name: str, params: dict | None = None) -> _Tech:
    try:
        cls = TECHNOLOGIES[name]
    except KeyError:
        raise PimtrainError(f"digital.logic_family: {name!r} has no technology; allowed: {', '.join(TECHNOLOGIES)}") from None
    return cls(params)
