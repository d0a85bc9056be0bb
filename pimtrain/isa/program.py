"""A program for a PANTHER node: the machine it is written for and one instruction stream per core and per tile.

``check(program)`` refuses what the node cannot run, with one :class:`ProgramError` line naming the instruction
and its line number in the printed (or parsed) text: an instruction in the wrong kind of stream, a register,
eDRAM address, matrix unit, core, tile or jump target that does not exist, and a ``recv`` with no matching ``send``
(or a ``send`` nobody receives).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from pimtrain.design import PimtrainError

from .instructions import (
    BINARY_OPS, CORE_OPS, IMMEDIATE_OPS, MVM_MODES, TILE_OPS, UNARY_OPS,
    Alu, AluImm, Beq, Copy, Crs, Load, Mvm, Receive, Reg, Send, Set, Store,
)


class ProgramError(PimtrainError):
    """A malformed program: ``line N: `instruction`: problem; allowed: ...``."""


@dataclass(frozen=True)
class Machine:
    """What a program addresses: ``tiles`` × ``cores`` per tile × ``mvmus`` matrix units per core of
    ``rows`` × ``cols`` (the input memory of a unit has ``rows`` words, its output memory ``cols``), ``regs``
    data-memory words per core and ``edram`` words of eDRAM per tile."""

    tiles: int = 1
    cores: int = 8
    mvmus: int = 2
    rows: int = 128
    cols: int = 128
    regs: int = 1024
    edram: int = 65536

    #: largest value of each field (a node far beyond PANTHER's 138 tiles × 8 cores × 2 units still fits)
    LIMITS = {"tiles": 4096, "cores": 256, "mvmus": 64, "rows": 4096, "cols": 4096, "regs": 1 << 20, "edram": 1 << 24}

    def __post_init__(self):
        for f in fields(self):
            v, top = getattr(self, f.name), self.LIMITS[f.name]
            if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= top:
                raise ProgramError(f".machine: {f.name}={v!r} is not allowed; allowed: an integer 1..{top}")

    @classmethod
    def from_design(cls, design, tiles: int | None = None, regs: int = 1024, edram: int = 65536) -> "Machine":
        """The node of a PUMA-style ``design`` (``hierarchy``: tiles, cores per tile; matrix units per core: the
        count of its ``matrix_unit`` component, else ``arrays_per_core``; ``array`` rows × cols). ``regs`` / ``edram`` are assumptions of this ISA (data memory of 1024 16-bit words per core,
        a 128 KB eDRAM of 16-bit words per tile), not read from the design."""
        from pimtrain.cost.hardware import build_hardware

        h = design.hierarchy
        mcu = build_hardware(design).first("matrix_unit")  # the units the cost charges (as cost/puma.py plans them)
        units = mcu.count if mcu is not None else h.arrays_per_core
        return cls(tiles=int(tiles or h.tiles_per_chip or 1), cores=int(h.cores_per_tile or 1),
                   mvmus=int(units or 1), rows=int(design.array.rows), cols=int(design.array.cols),
                   regs=regs, edram=edram)

    def header(self) -> str:
        return ".machine " + " ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))


@dataclass
class Stream:
    """The instructions of one core (``core`` set) or of one tile's control unit (``core`` None).
    ``lines``: the text line of each instruction when parsed (else filled by :func:`number_lines`)."""

    tile: int
    core: int | None
    instructions: list = field(default_factory=list)
    lines: list[int] = field(default_factory=list, compare=False, repr=False)

    @property
    def name(self) -> str:
        return f"core {self.tile}.{self.core}" if self.core is not None else f"tile {self.tile}"

    def header(self) -> str:
        return f".core {self.tile}.{self.core}" if self.core is not None else f".tile {self.tile}"


@dataclass(frozen=True)
class Port:
    """Host I/O: words ``offset .. offset+vec`` of the host vector ``name`` at eDRAM ``addr`` of ``tile``; an
    input is written there by the host with ``count`` readers, an output read from there after the run."""

    kind: str  # "input" | "output"
    name: str
    tile: int
    addr: int
    vec: int
    offset: int = 0
    count: int = 1

    def text(self) -> str:
        tail = f" count={self.count}" if self.kind == "input" else ""
        return f".{self.kind} {self.name} tile={self.tile} addr={self.addr} vec={self.vec} offset={self.offset}{tail}"


@dataclass
class Program:
    machine: Machine
    streams: list[Stream] = field(default_factory=list)
    ports: list[Port] = field(default_factory=list)

    def stream(self, tile: int, core: int | None = None) -> Stream:
        """The stream of core ``tile.core`` (or of tile ``tile``), created empty on first use."""
        for s in self.streams:
            if s.tile == tile and s.core == core:
                return s
        s = Stream(tile, core)
        self.streams.append(s)
        return s


def number_lines(program: Program) -> None:
    """Give every stream's instructions the line numbers they have in ``format_program``'s text."""
    line = 2 + len(program.ports)  # line 1: .machine, then the ports
    for s in program.streams:
        line += 1
        s.lines = list(range(line, line + len(s.instructions)))
        line += len(s.instructions)


def _where(s: Stream, i: int) -> str:
    from .asm import format_instruction

    line = s.lines[i] if i < len(s.lines) else "?"
    return f"line {line}: `{format_instruction(s.instructions[i])}` ({s.name})"


def check(program: Program) -> None:
    """Raise :class:`ProgramError` (one line) at the first instruction the machine cannot run."""
    m = program.machine
    seen = set()
    if any(len(s.lines) != len(s.instructions) for s in program.streams):
        number_lines(program)
    for s in program.streams:
        key = (s.tile, s.core)
        if key in seen:
            raise ProgramError(f"{s.header()}: stream given twice; allowed: one stream per core and per tile")
        seen.add(key)
        if not 0 <= s.tile < m.tiles:
            raise ProgramError(f"{s.header()}: tile {s.tile} does not exist; allowed: 0..{m.tiles - 1}")
        if s.core is not None and not 0 <= s.core < m.cores:
            raise ProgramError(f"{s.header()}: core {s.core} does not exist; allowed: 0..{m.cores - 1} per tile")
        allowed = CORE_OPS if s.core is not None else TILE_OPS
        for i, ins in enumerate(s.instructions):
            if not isinstance(ins, allowed):
                kind = "core" if s.core is not None else "tile"
                names = " ".join(c.opcode for c in allowed)
                raise ProgramError(f"{_where(s, i)}: not a {kind} instruction; allowed: {names}")
            problem = _problem(ins, m, len(s.instructions))
            if problem:
                raise ProgramError(f"{_where(s, i)}: {problem}")
    for port in program.ports:
        p = None
        if not 0 <= port.tile < m.tiles:
            p = f"tile {port.tile} does not exist; allowed: 0..{m.tiles - 1}"
        else:
            p = _vec(port.vec) or _vec(port.count, "count") or _addr(port.addr, m, port.vec)
        if p or port.offset < 0:
            raise ProgramError(f"`{port.text()}`: {p or 'offset < 0; allowed: >= 0'}")
    _match_network(program)


def _vec(vec, what: str = "vec") -> str | None:
    if not isinstance(vec, int) or vec < 1:
        return f"{what}={vec!r}; allowed: a positive integer"
    return None


def _reg(r: Reg, m: Machine, vec: int) -> str | None:
    if r.file == "r":
        size, name = m.regs, "data memory r0..r" + str(m.regs - 1)
    elif r.file in ("xi", "xo"):
        if not 0 <= r.unit < m.mvmus:
            return f"register {r}: matrix unit {r.unit} does not exist; allowed: 0..{m.mvmus - 1}"
        size = m.rows if r.file == "xi" else m.cols
        name = f"{r.file}{r.unit}.0..{r.file}{r.unit}.{size - 1}"
    else:
        return f"register {r}: unknown register file; allowed: r, xi<unit>, xo<unit>"
    if not 0 <= r.index or r.index + vec > size:
        return f"register {r} (vec={vec}) out of range; allowed: {name}"
    return None


def _addr(addr: int, m: Machine, vec: int) -> str | None:
    if not 0 <= addr or addr + vec > m.edram:
        return f"eDRAM address [{addr}] (vec={vec}) out of range; allowed: 0..{m.edram - 1}"
    return None


def _problem(ins, m: Machine, n: int) -> str | None:
    vec = getattr(ins, "vec", 1)
    p = _vec(vec)
    if p:
        return p
    if isinstance(ins, Mvm):
        if not ins.modes:
            return "no matrix unit named; allowed: m<unit>=<modes in fto>"
        units = [u for u, _ in ins.modes]
        if len(set(units)) != len(units):
            return "a matrix unit named twice; allowed: each unit once"
        for u, modes in ins.modes:
            if not 0 <= u < m.mvmus:
                return f"matrix unit {u} does not exist; allowed: 0..{m.mvmus - 1}"
            if not modes or any(c not in MVM_MODES for c in modes) or len(set(modes)) != len(modes):
                return f"mode {modes!r} of unit {u}; allowed: letters of 'fto' (forward, transposed, outer product)"
        return None
    if isinstance(ins, Crs):
        if not ins.units or len(set(ins.units)) != len(ins.units):
            return "matrix units must be named once each"
        for u in ins.units:
            if not 0 <= u < m.mvmus:
                return f"matrix unit {u} does not exist; allowed: 0..{m.mvmus - 1}"
        return None
    if isinstance(ins, Alu):
        if ins.op in BINARY_OPS:
            if ins.src2 is None:
                return f"alu {ins.op} needs two source registers"
        elif ins.op in UNARY_OPS:
            if ins.src2 is not None:
                return f"alu {ins.op} takes one source register"
        else:
            return f"unknown alu operation {ins.op!r}; allowed: {' '.join(BINARY_OPS + UNARY_OPS)}"
        return next((p for r in (ins.dst, ins.src1, ins.src2) if r is not None for p in [_reg(r, m, vec)] if p), None)
    if isinstance(ins, AluImm):
        if ins.op not in IMMEDIATE_OPS:
            return f"unknown alui operation {ins.op!r}; allowed: {' '.join(IMMEDIATE_OPS)}"
        if not isinstance(ins.imm, (int, float)) or not math.isfinite(ins.imm):
            return f"immediate {ins.imm!r}; allowed: a finite number"
        return _reg(ins.dst, m, vec) or _reg(ins.src, m, vec)
    if isinstance(ins, Load):
        return _reg(ins.dst, m, vec) or _addr(ins.addr, m, vec)
    if isinstance(ins, Store):
        return _reg(ins.src, m, vec) or _addr(ins.addr, m, vec) or _vec(ins.count, "count")
    if isinstance(ins, Copy):
        return _reg(ins.dst, m, vec) or _reg(ins.src, m, vec)
    if isinstance(ins, Set):
        return _reg(ins.dst, m, vec)
    if isinstance(ins, (Beq,)):
        p = _reg(ins.a, m, 1) or _reg(ins.b, m, 1)
        if p:
            return p
    if hasattr(ins, "target") and not 0 <= ins.target < n:
        return f"jump target {ins.target} outside the stream; allowed: 0..{n - 1}"
    if isinstance(ins, Send):
        if not 0 <= ins.to < m.tiles:
            return f"destination tile {ins.to} does not exist; allowed: 0..{m.tiles - 1}"
        return _addr(ins.addr, m, vec)
    if isinstance(ins, Receive):
        if not 0 <= ins.frm < m.tiles:
            return f"source tile {ins.frm} does not exist; allowed: 0..{m.tiles - 1}"
        return _addr(ins.addr, m, vec) or _vec(ins.count, "count")
    return None


def _match_network(program: Program) -> None:
    """The k-th ``recv`` at tile B from tile A takes the k-th ``send`` from A to B: same ``vec``, and none left over."""
    sends: dict[tuple[int, int], list] = {}
    recvs: dict[tuple[int, int], list] = {}
    for s in program.streams:
        if s.core is not None:
            continue
        for i, ins in enumerate(s.instructions):
            if isinstance(ins, Send):
                sends.setdefault((s.tile, ins.to), []).append((s, i))
            elif isinstance(ins, Receive):
                recvs.setdefault((ins.frm, s.tile), []).append((s, i))
    for pair, rs in recvs.items():
        ss = sends.get(pair, [])
        for k, (s, i) in enumerate(rs):
            if k >= len(ss):
                raise ProgramError(f"{_where(s, i)}: receive with no send (tile {pair[0]} sends {len(ss)} messages "
                                   f"to tile {pair[1]}); allowed: one recv per send, in order")
            ts, ti = ss[k]
            if ts.instructions[ti].vec != s.instructions[i].vec:
                raise ProgramError(f"{_where(s, i)}: vec={s.instructions[i].vec} but the matching send "
                                   f"({_where(ts, ti)}) has vec={ts.instructions[ti].vec}; allowed: equal widths")
    for pair, ss in sends.items():
        n = len(recvs.get(pair, []))
        if len(ss) > n:
            s, i = ss[n]
            raise ProgramError(f"{_where(s, i)}: send with no receive (tile {pair[1]} receives {n} messages from "
                               f"tile {pair[0]}); allowed: one recv per send, in order")
