"""The text assembly of a program: ``format_program`` prints it, ``parse_program`` reads it back (and checks it).

Layout (one instruction per line, ``#`` starts a comment)::

    .machine tiles=2 cores=8 mvmus=2 rows=128 cols=128 regs=1024 edram=65536
    .core 0.0
    ld xi0.0, [0] vec=128
    mvm m0=f m1=ft
    crs m0 m1
    alu add r0, xo0.0, xo1.0 vec=128
    alu sigmoid r0, r0 vec=128
    alui mul r0, r0, 0.01 vec=128
    cp xi1.0, r0 vec=128
    set r5, 3 vec=1
    beq r5, r6, 0
    jmp 0
    st [256], r0 count=1 vec=128
    hlt
    .tile 0
    send [256] to=1 vec=128
    recv [512] from=1 count=1 vec=128
    hlt

``format_program(parse_program(text))`` is the canonical form of ``text``: printing a parsed canonical text
gives it back unchanged (``tests/test_isa.py``).
"""
from __future__ import annotations

import math
import re

from .instructions import (
    OPCODES, Alu, AluImm, Beq, Copy, Crs, Halt, Jmp, Load, Mvm, Receive, Reg, Send, Set, Store,
)
from .program import Machine, Port, Program, ProgramError, Stream, check


def _imm(x) -> str:
    return repr(float(x))


def format_instruction(ins) -> str:
    """One instruction as its assembly line."""
    if isinstance(ins, Mvm):
        return "mvm " + " ".join(f"m{u}={modes}" for u, modes in ins.modes)
    if isinstance(ins, Crs):
        return "crs " + " ".join(f"m{u}" for u in ins.units)
    if isinstance(ins, Alu):
        srcs = f"{ins.src1}" + (f", {ins.src2}" if ins.src2 is not None else "")
        return f"alu {ins.op} {ins.dst}, {srcs} vec={ins.vec}"
    if isinstance(ins, AluImm):
        return f"alui {ins.op} {ins.dst}, {ins.src}, {_imm(ins.imm)} vec={ins.vec}"
    if isinstance(ins, Load):
        return f"ld {ins.dst}, [{ins.addr}] vec={ins.vec}"
    if isinstance(ins, Store):
        return f"st [{ins.addr}], {ins.src} count={ins.count} vec={ins.vec}"
    if isinstance(ins, Copy):
        return f"cp {ins.dst}, {ins.src} vec={ins.vec}"
    if isinstance(ins, Set):
        return f"set {ins.dst}, {ins.imm} vec={ins.vec}"
    if isinstance(ins, Jmp):
        return f"jmp {ins.target}"
    if isinstance(ins, Beq):
        return f"beq {ins.a}, {ins.b}, {ins.target}"
    if isinstance(ins, Send):
        return f"send [{ins.addr}] to={ins.to} vec={ins.vec}"
    if isinstance(ins, Receive):
        return f"recv [{ins.addr}] from={ins.frm} count={ins.count} vec={ins.vec}"
    if isinstance(ins, Halt):
        return "hlt"
    return f"<{type(ins).__name__}>"


def format_program(program: Program) -> str:
    out = [program.machine.header()] + [port.text() for port in program.ports]
    for s in program.streams:
        out.append(s.header())
        out.extend(format_instruction(i) for i in s.instructions)
    return "\n".join(out) + "\n"


_REG = re.compile(r"^(?:r(\d+)|(xi|xo)(\d+)\.(\d+))$")
_INT = re.compile(r"^-?\d+$")
_MEM = re.compile(r"^\[(-?\d+)\]$")


class _Line:
    """One instruction line split into opcode, positional operands and ``key=value`` options."""

    def __init__(self, no: int, text: str):
        self.no, self.text = no, text
        parts = text.replace(",", " ").split()
        self.opcode = parts[0]
        self.args = [p for p in parts[1:] if "=" not in p]
        self.opts = {}
        for p in parts[1:]:
            if "=" in p:
                k, _, v = p.partition("=")
                if k in self.opts:
                    self.fail(f"option {k} given twice")
                self.opts[k] = v

    def fail(self, problem: str):
        raise ProgramError(f"line {self.no}: `{self.text}`: {problem}")

    def nargs(self, *allowed: int):
        if len(self.args) not in allowed:
            want = " or ".join(str(a) for a in allowed)
            self.fail(f"{len(self.args)} operands; allowed: {want}")

    def options(self, *names: str, **defaults) -> dict:
        extra = set(self.opts) - set(names)
        if extra:
            self.fail(f"unknown option {sorted(extra)[0]}; allowed: {' '.join(names) or 'none'}")
        vals = {}
        for n in names:
            raw = self.opts.get(n, defaults.get(n))
            if raw is None:
                self.fail(f"option {n}= missing")
            vals[n] = self.int(str(raw), n)
        return vals

    def int(self, s: str, what: str) -> int:
        if not _INT.match(s):
            self.fail(f"{what} {s!r} is not an integer")
        return int(s)

    def reg(self, s: str) -> Reg:
        mt = _REG.match(s)
        if not mt:
            self.fail(f"register {s!r}; allowed: r<n>, xi<unit>.<n>, xo<unit>.<n>")
        if mt.group(1) is not None:
            return Reg("r", 0, int(mt.group(1)))
        return Reg(mt.group(2), int(mt.group(3)), int(mt.group(4)))

    def mem(self, s: str) -> int:
        mt = _MEM.match(s)
        if not mt:
            self.fail(f"eDRAM address {s!r}; allowed: [<word>]")
        return int(mt.group(1))

    def unit(self, s: str) -> int:
        if not re.match(r"^m\d+$", s):
            self.fail(f"matrix unit {s!r}; allowed: m<n>")
        return int(s[1:])


def _instruction(ln: _Line):
    op, a = ln.opcode, ln.args
    if op not in OPCODES:
        ln.fail(f"unknown opcode {op!r}; allowed: {' '.join(OPCODES)}")
    if op == "mvm":
        modes = []
        for p in ln.text.split()[1:]:
            u, eq, m = p.partition("=")
            if not eq:
                ln.fail(f"operand {p!r}; allowed: m<unit>=<modes in fto>")
            modes.append((ln.unit(u), m))
        return Mvm(tuple(modes))
    if op == "crs":
        ln.options()
        return Crs(tuple(ln.unit(u) for u in a))
    if op == "alu":
        o = ln.options("vec", vec=1)
        ln.nargs(3, 4)
        return Alu(a[0], ln.reg(a[1]), ln.reg(a[2]), ln.reg(a[3]) if len(a) == 4 else None, o["vec"])
    if op == "alui":
        o = ln.options("vec", vec=1)
        ln.nargs(4)
        try:
            imm = float(a[3])
        except ValueError:
            ln.fail(f"immediate {a[3]!r} is not a number")
        if not math.isfinite(imm):
            ln.fail(f"immediate {a[3]!r}; allowed: a finite number")
        return AluImm(a[0], ln.reg(a[1]), ln.reg(a[2]), imm, o["vec"])
    if op == "ld":
        o = ln.options("vec", vec=1)
        ln.nargs(2)
        return Load(ln.reg(a[0]), ln.mem(a[1]), o["vec"])
    if op == "st":
        o = ln.options("count", "vec", count=1, vec=1)
        ln.nargs(2)
        return Store(ln.mem(a[0]), ln.reg(a[1]), o["count"], o["vec"])
    if op == "cp":
        o = ln.options("vec", vec=1)
        ln.nargs(2)
        return Copy(ln.reg(a[0]), ln.reg(a[1]), o["vec"])
    if op == "set":
        o = ln.options("vec", vec=1)
        ln.nargs(2)
        return Set(ln.reg(a[0]), ln.int(a[1], "immediate"), o["vec"])
    if op == "jmp":
        ln.options()
        ln.nargs(1)
        return Jmp(ln.int(a[0], "jump target"))
    if op == "beq":
        ln.options()
        ln.nargs(3)
        return Beq(ln.reg(a[0]), ln.reg(a[1]), ln.int(a[2], "jump target"))
    if op == "send":
        o = ln.options("to", "vec", vec=1)
        ln.nargs(1)
        return Send(ln.mem(a[0]), o["to"], o["vec"])
    if op == "recv":
        o = ln.options("from", "count", "vec", count=1, vec=1)
        ln.nargs(1)
        return Receive(ln.mem(a[0]), o["from"], o["count"], o["vec"])
    ln.options()
    ln.nargs(0)
    return Halt()


def _machine(no: int, text: str) -> Machine:
    vals = {}
    for p in text.split()[1:]:
        k, eq, v = p.partition("=")
        if not eq or not _INT.match(v) or k not in Machine.__dataclass_fields__:
            raise ProgramError(f"line {no}: `{text}`: field {p!r}; allowed: "
                               + " ".join(f"{f}=<int>" for f in Machine.__dataclass_fields__))
        vals[k] = int(v)
    try:
        return Machine(**vals)
    except ProgramError as exc:
        raise ProgramError(f"line {no}: {exc}") from None


def _port(no: int, text: str) -> Port:
    parts = text.split()
    kind = parts[0][1:]
    names = ("tile", "addr", "vec", "offset") + (("count",) if kind == "input" else ())
    vals = {}
    for p in parts[2:]:
        k, eq, v = p.partition("=")
        if not eq or k not in names or not _INT.match(v) or k in vals:
            raise ProgramError(f"line {no}: `{text}`: field {p!r}; allowed: " + " ".join(f"{n}=<int>" for n in names))
        vals[k] = int(v)
    if len(parts) < 2 or "=" in parts[1] or set(vals) != set(names):
        raise ProgramError(f"line {no}: `{text}`: allowed: .{kind} <name> " + " ".join(f"{n}=<int>" for n in names))
    return Port(kind, parts[1], **vals)


def parse_program(text: str, validate: bool = True) -> Program:
    """Read an assembly text; with ``validate`` also :func:`~pimtrain.isa.program.check` it."""
    machine, stream, streams, ports = None, None, [], []
    for no, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        word = line.split()[0]
        if word == ".machine":
            if machine is not None:
                raise ProgramError(f"line {no}: `{line}`: a second .machine; allowed: one, first")
            machine = _machine(no, line)
            continue
        if machine is None:
            raise ProgramError(f"line {no}: `{line}`: before .machine; allowed: the program starts with .machine")
        if word in (".input", ".output"):
            if stream is not None:
                raise ProgramError(f"line {no}: `{line}`: a port after a stream; allowed: ports right after .machine")
            ports.append(_port(no, line))
            continue
        if word in (".core", ".tile"):
            parts = line.split()
            where = parts[1] if len(parts) == 2 else ""
            if word == ".core" and re.match(r"^\d+\.\d+$", where):
                t, c = where.split(".")
                stream = Stream(int(t), int(c))
            elif word == ".tile" and re.match(r"^\d+$", where):
                stream = Stream(int(where), None)
            else:
                raise ProgramError(f"line {no}: `{line}`: allowed: .core <tile>.<core> or .tile <tile>")
            streams.append(stream)
            continue
        if stream is None:
            raise ProgramError(f"line {no}: `{line}`: instruction outside a stream; allowed: after .core or .tile")
        stream.instructions.append(_instruction(_Line(no, line)))
        stream.lines.append(no)
    if machine is None:
        raise ProgramError("line 1: empty program; allowed: a .machine line then .core / .tile streams")
    prog = Program(machine, streams, ports)
    if validate:
        check(prog)
    return prog
