"""Functional execution of a program: every stream runs until it blocks, in turn, until all have halted.

Memory semantics (PUMA's eDRAM with counters, the simulator's ``st`` count): a store waits until its words are
free, writes them and sets their reader count; a load (or a ``send``) waits until its words are valid, reads them and
takes one from the count; a word whose count reaches 0 is free again. ``recv`` waits for the next message from its
source tile (FIFO per pair of tiles) and for its words to be free. Host inputs are written before the run (or when
every stream is blocked, by the ``host`` callback, e.g. the output error of a training step from the output ``y``).

Matrix units, two backends:

- :class:`FloatUnits` (``weights`` a dict): each unit holds its block ``B`` of ``[W | b]ᵀ`` (``rows × cols``) and
  computes exactly: ``f`` xo ← xiᵀ·B, ``t`` xi ← B·xo, ``o`` B ← B − xi⊗xo (all from the registers as they were
  before the instruction). Checks the program's dataflow against the float model.
- :class:`LayerCores` (the design's numerics): the units of a layer are backed by the layer's core, the very object
  the layer-level step uses (``pimtrain.xbar``: DAC, per-array ADC, bit slices, devices, its seeded generator). An
  ``mvm`` of a layer waits until every unit of the layer has issued its ``mvm`` in that mode (a barrier), then one
  ``core.vmm`` / ``core.mvm`` / ``core.opu`` of the whole vector runs; the core sums its arrays' converted partial
  sums itself, so the first row block's (forward) / column block's (transposed) unit receives the sum and the
  others exact zeros, which the program's partial-sum adds carry through unchanged. ``o`` calls
  ``core.opu(x, xo, 1)``: the program has scaled the error by ``lr`` (exact for ``lr`` a power of two, so the
  weights equal ``core.opu(x, d, lr)`` of the layer-level step bit for bit).
"""
from __future__ import annotations

from collections import deque

import torch

from .instructions import Alu, AluImm, Beq, Copy, Crs, Halt, Jmp, Load, Mvm, Receive, Send, Set, Store
from .program import Program, ProgramError, _where, number_lines

_UNARY = {
    "relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
    "relu_d": lambda y: (y > 0).to(y.dtype), "sigmoid_d": lambda y: y * (1 - y), "tanh_d": lambda y: 1 - y * y,
    "lsh": lambda y: y * 2, "rsh": lambda y: y / 2,
}
_BINARY = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div,
           "max": torch.maximum, "min": torch.minimum}


class _Core:
    def __init__(self, m, dtype):
        self.r = torch.zeros(m.regs, dtype=dtype)
        self.xi = torch.zeros(m.mvmus, m.rows, dtype=dtype)
        self.xo = torch.zeros(m.mvmus, m.cols, dtype=dtype)

    def view(self, reg, vec):
        if reg.file == "r":
            return self.r[reg.index:reg.index + vec]
        f = self.xi if reg.file == "xi" else self.xo
        return f[reg.unit, reg.index:reg.index + vec]


class FloatUnits:
    """Exact per-unit blocks (``{(tile, core, unit): rows × cols tensor}``)."""

    def __init__(self, weights: dict):
        self.weights = {k: v.clone() for k, v in weights.items()}

    def mvm(self, ex, s, ins) -> bool:
        core = ex.cores[(s.tile, s.core)]
        xi, xo = core.xi.clone(), core.xo.clone()
        for u, modes in ins.modes:
            b = self.weights.get((s.tile, s.core, u))
            if b is None:
                raise ProgramError(f"{_where(s, ex.pc[id(s)])}: matrix unit {u} holds no weights")
            b = b.to(xi.dtype)
            if "f" in modes:
                core.xo[u] = xi[u] @ b
            if "t" in modes:
                core.xi[u] = b @ xo[u]
            if "o" in modes:
                b -= torch.outer(xi[u], xo[u])
            self.weights[(s.tile, s.core, u)] = b
        return True


class LayerCores:
    """Units backed by the layers' cores: ``cores[i]`` holds layer ``i`` of ``compiled`` (``[W | b]``).

    ``batched=True`` reproduces the layer-level step of several vectors (a batch, a convolution's positions): the
    layer-level model converts every read of a layer with one DAC / ADC range over all its vectors (the batch
    maximum), which a vector-at-a-time program cannot know in advance. :func:`run_on_layer_cores` therefore runs
    the step once per read kernel to learn each kernel's vectors (in the order of execution, one ``core.vmm`` /
    ``core.mvm`` of the stacked vectors when they are all known; updates and carries held back), then once more
    serving every ``mvm`` its row of those reads and applying the updates and carries; a vector that differs from
    the one learnt is an error. With one vector per read it equals the direct mode (``batched=False``).

    Carries: the core's own carry schedule is held (``carry_schedule.interval`` lifted during ``opu``); a ``crs``
    runs ``core.carry()`` when the schedule is due, and a ``crs`` off the schedule or an update past a due carry is a
    :class:`ProgramError` naming the instruction.
    """

    def __init__(self, compiled, cores, batched: bool = False):
        self.c, self.cores = compiled, list(cores)
        self.unit = {key: (li, rb, cb) for li, lp in enumerate(compiled.layers) for (rb, cb), key in lp.units.items()}
        self.arrived: dict = {}
        self.served: set = set()
        self.batched = batched
        self.table: dict = {}  # (layer, mode) -> (inputs, outputs) of the layer-level read
        self.final = not batched
        self._start_run()

    def _start_run(self):
        self.seen: dict = {}  # (layer, mode) -> inputs met in this run
        self.first_missing = None
        self._w: dict = {}

    def _perm(self, li):
        lp = self.c.layers[li]
        p = getattr(lp, "perm", None)
        return torch.tensor(p) if p else None

    def _barrier(self, ex, s, ins, keys, kind, action) -> bool:
        if all(k in self.served for k in keys):
            self.served.difference_update(keys)
            return True
        for t, c, u, modes in keys:
            li = self.unit[(t, c, u)][0]
            group = self.arrived.setdefault((li, modes), set())
            group.add((t, c, u))
            if len(group) == len(self.c.layers[li].units):
                action(li, modes)
                self.served.update((k[0], k[1], k[2], modes) for k in group)
                del self.arrived[(li, modes)]
        if all(k in self.served for k in keys):  # this instruction completed the barrier
            self.served.difference_update(keys)
            return True
        return False

    def mvm(self, ex, s, ins) -> bool:
        keys = [(s.tile, s.core, u, modes) for u, modes in ins.modes]
        for t, c, u, modes in keys:
            if (t, c, u) not in self.unit:
                raise ProgramError(f"{_where(s, ex.pc[id(s)])}: matrix unit {u} holds no layer")
            if len(modes) != 1:
                raise ProgramError(f"{_where(s, ex.pc[id(s)])}: one mode per unit with layer cores; allowed: f, t or o")
        return self._barrier(ex, s, ins, keys, "mvm", lambda li, mode: self._run(ex, s, li, mode))

    def crs(self, ex, s, ins) -> bool:
        keys = [(s.tile, s.core, u, "c") for u in ins.units]
        for t, c, u, _ in keys:
            if (t, c, u) not in self.unit:
                raise ProgramError(f"{_where(s, ex.pc[id(s)])}: matrix unit {u} holds no layer")
        return self._barrier(ex, s, ins, keys, "crs", lambda li, mode: self._carry(ex, s, li))

    def _carry(self, ex, s, li):
        core = self.cores[li]
        sched = getattr(core, "carry_schedule", None)
        if not self.final or sched is None:
            return
        if sched.since != sched.interval:
            raise ProgramError(f"{_where(s, ex.pc[id(s)])}: crs after {sched.since} updates of layer {li}; allowed: "
                               f"every {sched.interval} (the design's carry schedule)")
        core.carry()
        sched.since = 0

    def _read(self, li, mode, v, core):
        """The layer-level read of vector ``v`` (``f`` forward, ``t`` transposed)."""
        if not self.batched:
            return (core.vmm if mode == "f" else core.mvm)(v[None])[0]
        key = (li, mode)
        k = len(self.seen.setdefault(key, []))
        self.seen[key].append(v.to(torch.float32).clone())
        known = self.table.get(key)
        if known is not None and k < known[0].shape[0] and torch.equal(known[0][k], v.to(torch.float32)):
            return known[1][k]
        if self.final:
            raise ProgramError(f"layer {li}: read {mode} #{k} differs from the step learnt; allowed: a deterministic program")
        if self.first_missing is None:
            self.first_missing = key
        if li not in self._w:
            self._w[li] = core.get_weight().to(torch.float32)
        w = self._w[li]
        return v.to(torch.float32) @ (w.T if mode == "f" else w)

    def learn(self) -> bool:
        """After a run: read the first kernel whose vectors were not all known; False when every one was."""
        key = self.first_missing
        if key is None:
            return False
        xs = torch.stack(self.seen[key])
        core = self.cores[key[0]]
        self.table[key] = (xs, (core.vmm if key[1] == "f" else core.mvm)(xs))
        return True

    def _run(self, ex, s, li, mode):
        lp, m = self.c.layers[li], ex.m
        R, C = m.rows, m.cols
        perm = self._perm(li)

        def reg(rb, cb, file):
            t, c, u = lp.units[(rb, cb)]
            return getattr(ex.cores[(t, c)], file)[u]

        x = torch.cat([reg(rb, 0, "xi")[:min(R, lp.in_rows - rb * R)] for rb in range(lp.row_blocks)])
        if perm is not None:
            x = torch.empty_like(x).index_copy_(0, perm, x)
        d = torch.cat([reg(0, cb, "xo")[:min(C, lp.out_features - cb * C)] for cb in range(lp.col_blocks)])
        core = self.cores[li]
        if mode == "f":
            y = self._read(li, "f", x, core)
            for (rb, cb) in lp.units:
                out = reg(rb, cb, "xo")
                out.zero_()
                if rb == 0:
                    part = y[cb * C:(cb + 1) * C]
                    out[:part.numel()] = part
        elif mode == "t":
            g = self._read(li, "t", d, core)
            if perm is not None:
                g = g[perm]
            for (rb, cb) in lp.units:
                out = reg(rb, cb, "xi")
                out.zero_()
                if cb == 0:
                    part = g[rb * R:(rb + 1) * R]
                    out[:part.numel()] = part
        elif self.final:
            sched = getattr(core, "carry_schedule", None)
            if sched is not None and sched.since >= sched.interval:
                raise ProgramError(f"{_where(s, ex.pc[id(s)])}: update of layer {li} after {sched.since} updates "
                                   f"without a crs; allowed: a crs every {sched.interval} (the design's carry schedule)")
            held = None
            if sched is not None:
                held, sched.interval = sched.interval, 1 << 62
            try:
                core.opu(x[None], d[None], 1.0)
            finally:
                if held is not None:
                    sched.interval = held


def run_on_layer_cores(compiled, cores, inputs: dict, host=None, dtype=torch.float32, max_runs: int = 1000):
    """Run ``compiled`` on the layers' ``cores`` equal to the layer-level step (see :class:`LayerCores`,
    ``batched``). Returns ``(executor of the final run, outputs)``."""
    units = LayerCores(compiled, cores, batched=True)
    for _ in range(max_runs):
        units._start_run()
        ex = Executor(compiled.program, units, dtype=dtype)
        outs = ex.run(dict(inputs), host=host() if host else None)
        if not units.learn():
            break
    else:
        raise ProgramError(f"run_on_layer_cores: more than {max_runs} runs; allowed: a program with fewer read kernels")
    units.final = True
    units._start_run()
    ex = Executor(compiled.program, units, dtype=dtype)
    outs = ex.run(dict(inputs), host=host() if host else None)
    for li, core in enumerate(units.cores):
        sched = getattr(core, "carry_schedule", None)
        if sched is not None and sched.since >= sched.interval:
            raise ProgramError(f"layer {li} ({compiled.layers[li].name}): {sched.since} updates without the crs the "
                               f"design's carry schedule needs; allowed: a crs every {sched.interval} updates")
    return ex, outs


class Executor:
    def __init__(self, program: Program, weights=None, max_steps: int = 10_000_000, dtype=torch.float64):
        self.p, self.m = program, program.machine
        if any(len(s.lines) != len(s.instructions) for s in program.streams):
            number_lines(program)  # a program built in Python: the lines of its printed form
        words = self.m.tiles * self.m.edram + len(program.streams) * (self.m.regs + self.m.mvmus * (self.m.rows + self.m.cols))
        if words > 1 << 28:
            raise ProgramError(f".machine: {words} words of eDRAM and registers to simulate; allowed: at most {1 << 28}")
        self.units = weights if hasattr(weights, "mvm") else FloatUnits(weights or {})
        self.dtype = dtype
        self.edram = {t: torch.zeros(self.m.edram, dtype=dtype) for t in range(self.m.tiles)}
        self.count = {t: torch.zeros(self.m.edram, dtype=torch.int64) for t in range(self.m.tiles)}
        self.cores = {(s.tile, s.core): _Core(self.m, dtype) for s in program.streams if s.core is not None}
        self.queues: dict = {}
        self.pc = {id(s): 0 for s in program.streams}
        self.executed = 0
        self.max_steps = max_steps

    @property
    def weights(self) -> dict:
        return self.units.weights

    # -- host ------------------------------------------------------------------------------------------------
    def write_input(self, name: str, vector: torch.Tensor) -> None:
        v = torch.as_tensor(vector, dtype=self.dtype).reshape(-1)
        ports = [p for p in self.p.ports if p.kind == "input" and p.name == name]
        if not ports:
            raise ProgramError(f"input {name!r}: the program has no such input port")
        for p in ports:
            if p.offset + p.vec > v.numel():
                raise ProgramError(f"input {name!r}: {v.numel()} values, the port needs {p.offset + p.vec}")
            self.edram[p.tile][p.addr:p.addr + p.vec] = v[p.offset:p.offset + p.vec]
            self.count[p.tile][p.addr:p.addr + p.vec] = p.count

    def read_output(self, name: str) -> torch.Tensor | None:
        ports = [p for p in self.p.ports if p.kind == "output" and p.name == name]
        n = max(p.offset + p.vec for p in ports)
        out = torch.zeros(n, dtype=self.dtype)
        for p in ports:
            if not bool((self.count[p.tile][p.addr:p.addr + p.vec] > 0).all()):
                return None
            out[p.offset:p.offset + p.vec] = self.edram[p.tile][p.addr:p.addr + p.vec]
        return out

    # -- one instruction; False when it must wait ----------------------------------------------------------------
    def _mem(self, tile, addr, vec):
        return self.edram[tile][addr:addr + vec], self.count[tile][addr:addr + vec]

    def _step(self, s, ins) -> bool:
        if isinstance(ins, Send):
            val, cnt = self._mem(s.tile, ins.addr, ins.vec)
            if not bool((cnt > 0).all()):
                return False
            self.queues.setdefault((s.tile, ins.to), deque()).append(val.clone())
            cnt -= 1
            return True
        if isinstance(ins, Receive):
            q = self.queues.get((ins.frm, s.tile))
            val, cnt = self._mem(s.tile, ins.addr, ins.vec)
            if not q or bool((cnt > 0).any()):
                return False
            val[:] = q.popleft()
            cnt[:] = ins.count
            return True
        core = self.cores[(s.tile, s.core)]
        if isinstance(ins, Load):
            val, cnt = self._mem(s.tile, ins.addr, ins.vec)
            if not bool((cnt > 0).all()):
                return False
            core.view(ins.dst, ins.vec)[:] = val
            cnt -= 1
            return True
        if isinstance(ins, Store):
            val, cnt = self._mem(s.tile, ins.addr, ins.vec)
            if bool((cnt > 0).any()):
                return False
            val[:] = core.view(ins.src, ins.vec)
            cnt[:] = ins.count
            return True
        if isinstance(ins, Mvm):
            return self.units.mvm(self, s, ins)
        if isinstance(ins, Crs):
            crs = getattr(self.units, "crs", None)  # exact arithmetic (FloatUnits): no carries to resolve
            return True if crs is None else crs(self, s, ins)
        if isinstance(ins, Alu):
            a = core.view(ins.src1, ins.vec)
            out = _UNARY[ins.op](a) if ins.src2 is None else _BINARY[ins.op](a, core.view(ins.src2, ins.vec))
            core.view(ins.dst, ins.vec)[:] = out
            return True
        if isinstance(ins, AluImm):
            core.view(ins.dst, ins.vec)[:] = _BINARY[ins.op](core.view(ins.src, ins.vec),
                                                            torch.tensor(ins.imm, dtype=self.dtype))
            return True
        if isinstance(ins, Copy):
            core.view(ins.dst, ins.vec)[:] = core.view(ins.src, ins.vec).clone()
            return True
        if isinstance(ins, Set):
            core.view(ins.dst, ins.vec)[:] = float(ins.imm)
            return True
        raise AssertionError(ins)  # control flow is handled by run()

    def _advance(self, s) -> bool:
        """Run stream ``s`` until it blocks or halts; True if it made progress."""
        progressed = False
        while True:
            pc = self.pc[id(s)]
            if pc >= len(s.instructions):
                return progressed
            ins = s.instructions[pc]
            if isinstance(ins, Halt):
                self.pc[id(s)] = len(s.instructions)
                self.executed += 1
                return True
            if isinstance(ins, Jmp):
                self.pc[id(s)] = ins.target
            elif isinstance(ins, Beq):
                c = self.cores[(s.tile, s.core)]
                eq = bool(c.view(ins.a, 1)[0] == c.view(ins.b, 1)[0])
                self.pc[id(s)] = ins.target if eq else pc + 1
            elif self._step(s, ins):
                self.pc[id(s)] = pc + 1
            else:
                return progressed
            progressed = True
            self.executed += 1
            if self.executed > self.max_steps:
                raise ProgramError(f"{_where(s, pc)}: more than {self.max_steps} instructions executed; "
                                   "allowed: a program that halts")

    def run(self, inputs: dict | None = None, host=None) -> dict:
        """Execute to the end; ``host(executor)`` is called when every stream waits (it writes further inputs and
        returns True, or False). Returns ``{output name: vector}``."""
        for k, v in (inputs or {}).items():
            self.write_input(k, v)
        while True:
            progress = False
            for s in self.p.streams:
                progress |= self._advance(s)
            live = [s for s in self.p.streams if self.pc[id(s)] < len(s.instructions)]
            if not live:
                break
            if not progress and not (host and host(self)):
                s = live[0]
                raise ProgramError(f"{_where(s, self.pc[id(s)])}: deadlock, every stream waits "
                                   f"({len(live)} streams); allowed: a program whose loads follow their stores")
        names = {p.name for p in self.p.ports if p.kind == "output"}
        return {n: self.read_output(n) for n in names}


def train_step(compiled, units, x, loss_grad, dtype=torch.float32) -> torch.Tensor:
    """Run one compiled training step (``compiled.train``) on ``units`` for input ``x`` (the host vector of port
    ``x``, :func:`pimtrain.isa.netcompile.host_input`); ``loss_grad(y) -> d`` is the host's loss gradient (``y`` and
    ``d`` flat over the batch). ``units``: :class:`LayerCores` (run as the layer-level step,
    :func:`run_on_layer_cores`) or :class:`FloatUnits` (kept across steps). Returns the output ``y``. Loops over
    batches and epochs are Python around this call (:class:`pimtrain.isa.netcompile.StepPrograms` gives each step
    the program whose ``crs`` fall where the carry schedule is)."""
    if not compiled.train:
        raise ProgramError("train_step: the program was compiled for inference; allowed: compile_model(..., train=True)")
    seen = {}

    def factory():
        seen.clear()

        def host(ex):
            y = ex.read_output("y")
            if y is None or "y" in seen:
                return False
            seen["y"] = y
            ex.write_input("d", loss_grad(y))
            return True
        return host

    if isinstance(units, LayerCores):
        run_on_layer_cores(compiled, units.cores, {"x": x}, host=factory, dtype=dtype)
    else:
        Executor(compiled.program, units, dtype=dtype).run({"x": x}, host=factory())
    if "y" not in seen:
        raise ProgramError("train_step: the program ended without its output y")
    return seen["y"]
