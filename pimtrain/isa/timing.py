"""Timing of a program: a discrete-event run of the streams on the node's units, costs from the cost engine.

Streams are taken in order of the time they are ready (a heap); each runs its next instruction when its data is
there (the functional executor's eDRAM counters decide *whether*, the time each word was written decides *when*).
An instruction starts at the latest of: its stream's previous instruction's end (a core issues in order), the
unit it needs being free (each matrix unit, the core's vector ALU lanes, the tile's eDRAM port, the tile's
router), the time its data was written (loads, sends) or its message arrived (receives), and for stores and
receives the time the words' previous contents were last read (a reused slot waits for its reader). Per instruction, from the
design's components (:func:`pimtrain.cost.hardware.build_hardware`, the same objects the analytical PUMA engine
``pimtrain/cost/puma.py`` charges):

- ``mvm`` f / t: ``mcu.mvm(adc_bits, bits per cycle)`` × input cycles × crossbars per unit, latency
  ``read_pipeline_time`` of the input cycles; ``o``: ``mcu.opa()`` × ops per update × crossbars (× weight copies),
  latency ``opa_phases × opa_latency``; ``crs``: serial read + write of every crossbar of the unit, latency
  ``max(read, write)``; units in one instruction run in parallel.
- ``alu`` / ``alui``: ``vfu.op()`` per lane, ``ceil(vec / lanes)`` clock cycles on the core's lanes;
  ``cp`` / ``set``: ``ceil(vec / lanes)`` cycles, no energy (register moves: not charged by the analytical engine).
- ``ld`` / ``st``: ``edram.read`` / ``edram.write`` of ``vec`` 16-bit words on the tile's eDRAM port.
- ``send`` / ``recv``: ``router.transfer`` of the words (``recv`` charges nothing more), plus the eDRAM access.

Reported: latency, energy by instruction class and component, busy fraction of each kind of unit, and the
critical path (each instruction's latest-arriving predecessor, followed back from the last to end).
"""
from __future__ import annotations

import heapq
import math

import numpy as np
from collections import Counter, defaultdict

from pimtrain.cost.hardware import build_hardware
from pimtrain.cost.pipeline import read_pipeline_time
from pimtrain.cost.puma import WORD_BITS
from pimtrain.mapping import input_cycles, matrix_crossbars

from .execute import Executor
from .instructions import Alu, AluImm, Beq, Copy, Crs, Halt, Jmp, Load, Mvm, Receive, Send, Set, Store
from .program import Program, ProgramError, _where


class Costs:
    """Energy (J) and latency (s) of every instruction kind for ``design``, from its components."""

    def __init__(self, design):
        hw = build_hardware(design)
        self.mcu = hw.first("matrix_unit")
        if self.mcu is None:
            raise ProgramError(f"design {design.name!r}: no matrix unit component (model puma_mcu); allowed: a "
                               "PUMA-style design such as panther-sgd")
        self.vfus = hw.by_role("activation")
        self.buf, self.router = hw.first("buffer"), hw.first("router")
        self.clock = 1.0 / design.technology.clock_hz
        self.lanes = sum(v.count for v in self.vfus) or 1
        self.e_lane = (sum(v.op()[0] * v.count for v in self.vfus) / self.lanes) if self.vfus else 0.0
        self.xb = matrix_crossbars(design)
        self.copies = design.update.weight_copies
        cyc_f, cyc_b = input_cycles(design, "forward"), input_cycles(design, "backward")
        e_f, t_op = self.mcu.mvm(design.io.forward.adc_bits, design.io.forward.input_bits_per_cycle)
        e_b, _ = self.mcu.mvm(design.io.backward.adc_bits, design.io.backward.input_bits_per_cycle)
        e_opa, t_opa = self.mcu.opa()
        n_opa = self.mcu.p["opa_ops_per_update"] if self.mcu.p["opa_ops_per_update"] is not None else cyc_f
        e_rd, t_rd = self.mcu.serial_read()
        e_wr, t_wr = self.mcu.serial_write()
        self.mode = {  # per unit: (energy, latency)
            "f": (cyc_f * self.xb * e_f, read_pipeline_time(design, cyc_f, [t_op])),
            "t": (cyc_b * self.xb * e_b, read_pipeline_time(design, cyc_b, [t_op])),
            "o": (n_opa * self.xb * self.copies * e_opa, self.mcu.p["opa_phases"] * t_opa),
        }
        self.crs = (self.xb * self.copies * (e_rd + e_wr), max(t_rd, t_wr))

    def edram(self, write: bool, vec: int) -> tuple[float, float]:
        if self.buf is None:
            return 0.0, self.clock
        return (self.buf.write if write else self.buf.read)(vec * WORD_BITS)

    def net(self, vec: int) -> tuple[float, float]:
        return self.router.transfer(vec * WORD_BITS) if self.router is not None else (0.0, 0.0)


class TimedExecutor(Executor):
    """:class:`~pimtrain.isa.execute.Executor` that also times every instruction (see the module docstring)."""

    def __init__(self, program: Program, design, weights=None, **kw):
        super().__init__(program, weights, **kw)
        self.costs = Costs(design)
        # per eDRAM word: when it was last written / last read, and by which event (-1: none)
        self.written = {t: np.zeros(self.m.edram) for t in range(self.m.tiles)}
        self.writer = {t: np.full(self.m.edram, -1, dtype=np.int64) for t in range(self.m.tiles)}
        self.read_end = {t: np.zeros(self.m.edram) for t in range(self.m.tiles)}
        self.reader = {t: np.full(self.m.edram, -1, dtype=np.int64) for t in range(self.m.tiles)}
        self.free: dict = defaultdict(float)  # unit -> time free
        self.last_user: dict = {}  # unit -> event that last held it
        self.busy: Counter = Counter()  # unit kind -> busy seconds
        self.energy_class: Counter = Counter()
        self.energy_comp: Counter = Counter()
        self.events: list = []  # (start, end, stream name, line, opcode, predecessor event index)
        self.msg_meta: dict = defaultdict(list)  # (src, dst) -> [(arrival, event)]

    def _cost(self, s, ins):
        """(units held, energy by component, latency, data time, data event)."""
        c, tile = self.costs, s.tile
        core = ("core", s.tile, s.core)
        if isinstance(ins, Mvm):
            e, t = 0.0, 0.0
            for _, modes in ins.modes:
                for m in modes:
                    e += c.mode[m][0]
                    t = max(t, c.mode[m][1])
            return [core] + [("mvmu", s.tile, s.core, u) for u, _ in ins.modes], {"mcu": e}, t
        if isinstance(ins, Crs):
            return [core] + [("mvmu", s.tile, s.core, u) for u in ins.units], {"mcu": c.crs[0] * len(ins.units)}, c.crs[1]
        if isinstance(ins, (Alu, AluImm)):
            return [core], {"vfu": c.e_lane * ins.vec}, math.ceil(ins.vec / c.lanes) * c.clock
        if isinstance(ins, (Copy, Set)):
            return [core], {}, math.ceil(ins.vec / c.lanes) * c.clock
        if isinstance(ins, (Load, Store)):
            e, t = c.edram(isinstance(ins, Store), ins.vec)
            return [core, ("edram", tile)], {"edram": e}, t
        if isinstance(ins, (Send, Receive)):
            e, t = c.edram(isinstance(ins, Receive), ins.vec)
            en, tn = c.net(ins.vec) if isinstance(ins, Send) else (0.0, 0.0)
            return [("router", tile), ("edram", tile)], {"edram": e, "router": en}, t + tn
        return [], {}, 0.0

    def run_timed(self, inputs: dict | None = None, host=None) -> dict:
        for k, v in (inputs or {}).items():
            self.write_input(k, v)
        ready = {id(s): 0.0 for s in self.p.streams}
        prev_ev = {id(s): None for s in self.p.streams}
        heap = [(0.0, i) for i in range(len(self.p.streams))]
        waiting: dict[int, list[int]] = {}  # tile -> streams waiting for its eDRAM / messages (or -1: a barrier)
        barrier = hasattr(self.units, "arrived")  # matrix units that wait for one another (LayerCores)
        while heap or any(waiting.values()):
            if not heap:
                if not (host and host(self)):
                    first = min(i for w in waiting.values() for i in w)
                    s = self.p.streams[first]
                    raise ProgramError(f"{_where(s, self.pc[id(s)])}: deadlock, every stream waits "
                                       f"({sum(map(len, waiting.values()))} streams); allowed: a program whose loads "
                                       "follow their stores")
                t_host = max((ev[1] for ev in self.events), default=0.0)
                for i in (i for w in waiting.values() for i in w):
                    heapq.heappush(heap, (max(ready[id(self.p.streams[i])], t_host), i))
                waiting = {}
                continue
            _, i = heapq.heappop(heap)
            s = self.p.streams[i]
            pc = self.pc[id(s)]
            if pc >= len(s.instructions):
                continue
            ins = s.instructions[pc]
            if isinstance(ins, (Halt, Jmp, Beq)):
                if isinstance(ins, Halt):
                    self.pc[id(s)] = len(s.instructions)
                elif isinstance(ins, Jmp):
                    self.pc[id(s)] = ins.target
                else:
                    c = self.cores[(s.tile, s.core)]
                    self.pc[id(s)] = ins.target if bool(c.view(ins.a, 1)[0] == c.view(ins.b, 1)[0]) else pc + 1
                self.executed += 1
                if self.executed > self.max_steps:
                    raise ProgramError(f"{_where(s, pc)}: more than {self.max_steps} instructions executed")
                heapq.heappush(heap, (ready[id(s)], i))
                continue
            data_t, data_ev = 0.0, None
            if isinstance(ins, (Load, Send)):  # read after write
                data_t, data_ev = _latest(self.written[s.tile], self.writer[s.tile], ins.addr, ins.vec)
            if isinstance(ins, Receive):
                q = self.msg_meta.get((ins.frm, s.tile))
                if q:
                    data_t, data_ev = q[0]
            if isinstance(ins, (Store, Receive)):  # write after read: the words' previous readers are done
                war_t, war_ev = _latest(self.read_end[s.tile], self.reader[s.tile], ins.addr, ins.vec)
                if war_t > data_t:
                    data_t, data_ev = war_t, war_ev
            if not self._step(s, ins):
                waiting.setdefault(-1 if isinstance(ins, (Mvm, Crs)) else s.tile, []).append(i)
                continue
            if isinstance(ins, Receive):
                self.msg_meta[(ins.frm, s.tile)].pop(0)
            units, energy, lat = self._cost(s, ins)
            start, pred = ready[id(s)], prev_ev[id(s)]
            for u in units:
                if self.free[u] > start:
                    start, pred = self.free[u], self.last_user.get(u)
            if data_t > start:
                start, pred = data_t, data_ev
            end = start + lat
            ev = len(self.events)
            line = s.lines[pc] if pc < len(s.lines) else None
            self.events.append((start, end, s.name, line, ins.opcode, pred))
            for u in units:
                self.free[u] = end
                self.last_user[u] = ev
                self.busy[u[0]] += lat
            for comp, e in energy.items():
                self.energy_comp[comp] += e
                self.energy_class[ins.klass] += e
            if isinstance(ins, (Store, Receive)):
                self.written[s.tile][ins.addr:ins.addr + ins.vec] = end
                self.writer[s.tile][ins.addr:ins.addr + ins.vec] = ev
            if isinstance(ins, (Load, Send)):
                r_end, r_ev = self.read_end[s.tile][ins.addr:ins.addr + ins.vec], self.reader[s.tile][ins.addr:ins.addr + ins.vec]
                later = r_end < end
                r_end[later] = end
                r_ev[later] = ev
            if isinstance(ins, Send):
                self.msg_meta[(s.tile, ins.to)].append((end, ev))
            self.pc[id(s)] = pc + 1
            self.executed += 1
            ready[id(s)], prev_ev[id(s)] = end, ev
            heapq.heappush(heap, (end, i))
            # what this instruction changed: the streams waiting on it try again
            woken = []
            if isinstance(ins, (Load, Store, Send, Receive)):
                woken += waiting.pop(s.tile, [])
            if isinstance(ins, Send):
                woken += waiting.pop(ins.to, [])
            if barrier and isinstance(ins, (Mvm, Crs)):
                woken += waiting.pop(-1, [])
            for j in woken:
                heapq.heappush(heap, (max(ready[id(self.p.streams[j])], end), j))
        return self.report()

    def report(self) -> dict:
        latency = max((ev[1] for ev in self.events), default=0.0)
        m = self.m
        used_cores = {(s.tile, s.core) for s in self.p.streams if s.core is not None and s.instructions}
        n_units = {"core": len(used_cores), "mvmu": len(used_cores) * m.mvmus,
                   "edram": len({s.tile for s in self.p.streams if s.instructions}),
                   "router": len({s.tile for s in self.p.streams if s.core is None and s.instructions})}
        util = {k: (self.busy[k] / (latency * n) if latency and n else 0.0) for k, n in n_units.items()}
        path, ev = [], (max(range(len(self.events)), key=lambda j: self.events[j][1]) if self.events else None)
        while ev is not None:
            st, en, name, line, op, pred = self.events[ev]
            path.append({"stream": name, "line": line, "opcode": op, "start_s": st, "end_s": en})
            ev = pred
        path.reverse()
        return {
            "latency_s": latency,
            "energy_j": sum(self.energy_comp.values()),
            "energy_by_class_j": dict(self.energy_class),
            "energy_by_component_j": dict(self.energy_comp),
            "utilisation": util,
            "critical_path": path,
            "critical_path_by_opcode_s": _by_op(path),
            "instructions_executed": self.executed,
        }


def _latest(times, events, addr: int, vec: int) -> tuple[float, int | None]:
    """The latest time over words ``addr .. addr+vec`` and its event (None if none)."""
    w = times[addr:addr + vec]
    i = int(w.argmax())
    ev = int(events[addr + i])
    return float(w[i]), (ev if ev >= 0 else None)


def _by_op(path) -> dict:
    out: Counter = Counter()
    for p in path:
        out[p["opcode"]] += p["end_s"] - p["start_s"]
    return dict(out)
