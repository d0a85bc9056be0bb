"""PANTHER's instruction set as typed, immutable records.

The fields follow the authors' simulator (``Aayush-Ankit/puma-simulator``, branch ``training``,
``src/instrn_proto.py`` / ``src/tile_instrn_proto.py``): a core runs ``ld``/``st``/``cp``/``set``, vector ``alu``
and ``alui`` (immediate) operations, ``mvm`` with a mode mask per matrix unit (PANTHER extends PUMA's forward
multiply with the transposed multiply and the outer-product update) and ``crs`` (carry resolution) with one bit per
matrix unit, ``jmp``/``beq`` and ``hlt``; a tile's control unit runs ``send``/``receive`` between tiles and ``hlt``.
The records are ours (no code of the simulator): registers are named by file (``r`` data memory, ``xi<m>`` /
``xo<m>`` the input / output memory of matrix unit ``m``), eDRAM addresses are words of the tile's shared memory.
"""
from __future__ import annotations

from dataclasses import dataclass

#: vector ALU operations with two register operands (``alu``); the PUMA VFU set plus PANTHER's training needs
BINARY_OPS = ("add", "sub", "mul", "div", "max", "min")
#: vector ALU operations with one register operand: activations, their derivatives (backward pass), shifts
UNARY_OPS = ("relu", "sigmoid", "tanh", "relu_d", "sigmoid_d", "tanh_d", "lsh", "rsh")
#: operations with a register and an immediate (``alui``)
IMMEDIATE_OPS = ("add", "sub", "mul", "div", "max", "min")
#: matrix-unit modes of ``mvm``: forward multiply (x·W), transposed multiply (d·Wᵀ), outer-product update (W −= x⊗d)
MVM_MODES = ("f", "t", "o")
#: instruction classes (statistics, the executor's units)
CLASSES = ("matrix", "alu", "memory", "control", "network")


@dataclass(frozen=True, order=True)
class Reg:
    """A register: ``file`` 'r' (core data memory), 'xi' / 'xo' (input / output memory of matrix unit ``unit``)."""

    file: str
    unit: int
    index: int

    def __str__(self) -> str:
        return f"r{self.index}" if self.file == "r" else f"{self.file}{self.unit}.{self.index}"


@dataclass(frozen=True)
class Mvm:
    """Matrix operation on the units named: ``modes`` = ((unit, mode letters in 'fto'), ...)."""

    modes: tuple[tuple[int, str], ...]
    opcode = "mvm"
    klass = "matrix"


@dataclass(frozen=True)
class Crs:
    """Carry resolution on the matrix units named (PANTHER: read, propagate carries, write the slices)."""

    units: tuple[int, ...]
    opcode = "crs"
    klass = "matrix"


@dataclass(frozen=True)
class Alu:
    """Vector ALU op on ``vec`` lanes: ``dst[i] = op(src1[i], src2[i])`` (``src2`` is None for unary ops)."""

    op: str
    dst: Reg
    src1: Reg
    src2: Reg | None
    vec: int = 1
    opcode = "alu"
    klass = "alu"


@dataclass(frozen=True)
class AluImm:
    """Vector ALU op with an immediate: ``dst[i] = op(src[i], imm)``."""

    op: str
    dst: Reg
    src: Reg
    imm: float
    vec: int = 1
    opcode = "alui"
    klass = "alu"


@dataclass(frozen=True)
class Load:
    """``vec`` words from the tile's eDRAM at ``addr`` into registers from ``dst`` on."""

    dst: Reg
    addr: int
    vec: int = 1
    opcode = "ld"
    klass = "memory"


@dataclass(frozen=True)
class Store:
    """``vec`` words from registers at ``src`` into eDRAM at ``addr``; ``count`` readers before it may be reused
    (the simulator's eDRAM counter)."""

    addr: int
    src: Reg
    count: int = 1
    vec: int = 1
    opcode = "st"
    klass = "memory"


@dataclass(frozen=True)
class Copy:
    """``vec`` words register to register (e.g. an ``xo`` output into an ``xi`` input)."""

    dst: Reg
    src: Reg
    vec: int = 1
    opcode = "cp"
    klass = "memory"


@dataclass(frozen=True)
class Set:
    """``vec`` registers from ``dst`` on set to the integer ``imm``."""

    dst: Reg
    imm: int
    vec: int = 1
    opcode = "set"
    klass = "memory"


@dataclass(frozen=True)
class Jmp:
    """Jump to instruction ``target`` (index in the same stream)."""

    target: int
    opcode = "jmp"
    klass = "control"


@dataclass(frozen=True)
class Beq:
    """Branch to ``target`` when registers ``a`` and ``b`` are equal."""

    a: Reg
    b: Reg
    target: int
    opcode = "beq"
    klass = "control"


@dataclass(frozen=True)
class Send:
    """Tile instruction: ``vec`` words at eDRAM ``addr`` to tile ``to``."""

    addr: int
    to: int
    vec: int = 1
    opcode = "send"
    klass = "network"


@dataclass(frozen=True)
class Receive:
    """Tile instruction: ``vec`` words from tile ``frm`` into eDRAM ``addr``, read by ``count`` consumers."""

    addr: int
    frm: int
    count: int = 1
    vec: int = 1
    opcode = "recv"
    klass = "network"


@dataclass(frozen=True)
class Halt:
    opcode = "hlt"
    klass = "control"


Instruction = Mvm | Crs | Alu | AluImm | Load | Store | Copy | Set | Jmp | Beq | Send | Receive | Halt
#: instructions a core may hold; a tile's stream holds Send, Receive, Halt
CORE_OPS = (Mvm, Crs, Alu, AluImm, Load, Store, Copy, Set, Jmp, Beq, Halt)
TILE_OPS = (Send, Receive, Halt)
OPCODES = {c.opcode: c for c in (Mvm, Crs, Alu, AluImm, Load, Store, Copy, Set, Jmp, Beq, Send, Receive, Halt)}
