"""Compile a torch MLP (traced with torch.fx) for a PUMA-style design into a PANTHER program.

Placement: every ``Linear`` weight ``(out N, in K)`` with its bias as one more input row (as
:mod:`pimtrain.nn.layers` stores it) is cut by :func:`pimtrain.mapping.matrix_plan` into ``row_blocks × col_blocks``
blocks of ``array.rows × array.cols``, one matrix unit each; a layer's units fill ``hierarchy.arrays_per_core`` units
per core, each layer starting on a fresh core, cores filling tiles of ``hierarchy.cores_per_tile`` in order.

Dataflow (weight-stationary, one vector per step, batch 1 as PANTHER trains):

- forward: each unit loads its input piece from its tile's eDRAM into ``xi`` (the bias row: ``set … 1``), one
  ``mvm m…=f`` per core; the partial outputs of a column block are summed on the core of its first row block
  (other cores store theirs to eDRAM), the activation applied, and the result stored cut at the next layer's row
  blocks, with one reader count per load; a piece needed on another tile goes there by ``send`` / ``recv``.
- training step (``train=True``): the host reads output ``y`` and writes the output error ``d`` (dLoss/dy; the
  loss is the host's); backward per layer: ``ld xo`` (error piece), ``mvm t``, the partial input errors summed per
  row block, multiplied by the activation derivative (``alu <act>_d`` of the saved activation, reloaded), stored for
  the layer below; update: the unit reloads its forward input into ``xi``, scales ``xo`` by ``lr`` and runs
  ``mvm o`` (W ← W − (lr·d)⊗x, in place). The transposed read precedes the update (the layer-level order).

Only activation-after-linear MLPs are compiled (``Linear``, ``ReLU``/``Sigmoid``/``Tanh`` modules or functions,
``Flatten``/``Identity``); anything else is refused naming the node.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from pimtrain.design import PimtrainError
from pimtrain.mapping import matrix_plan

from .instructions import Alu, AluImm, Copy, Halt, Load, Mvm, Receive, Reg, Send, Set, Store
from .program import Machine, Port, Program, check

_ACT_MODULES = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}
_ACT_FUNCS = {torch.relu: "relu", torch.sigmoid: "sigmoid", torch.tanh: "tanh",
              nn.functional.relu: "relu", nn.functional.sigmoid: "sigmoid", nn.functional.tanh: "tanh"}


@dataclass
class LayerPlan:
    name: str
    out_features: int
    in_rows: int  # inputs + bias row
    in_features: int
    bias: bool
    activation: str | None
    row_blocks: int
    col_blocks: int
    #: (rb, cb) -> (tile, core, unit)
    units: dict = field(default_factory=dict)

    def reducer(self, cb: int) -> tuple[int, int]:
        t, c, _ = self.units[(0, cb)]
        return t, c

    def back_reducer(self, rb: int) -> tuple[int, int]:
        t, c, _ = self.units[(rb, 0)]
        return t, c


@dataclass
class Compiled:
    program: Program
    layers: list[LayerPlan]
    train: bool
    lr: float


def trace_mlp(model: nn.Module) -> list[tuple[str, nn.Linear, str | None]]:
    """``[(name, linear, activation or None)]`` of a traced MLP; refuses any other node with one line."""
    import torch.fx as fx

    try:
        gm = fx.symbolic_trace(model)
    except Exception as exc:  # noqa: BLE001 - tracing errors are the user's model
        raise PimtrainError(f"compile: the model cannot be traced by torch.fx ({type(exc).__name__}); "
                            "allowed: a feed-forward nn.Module") from None
    mods = dict(gm.named_modules())
    layers: list = []
    for node in gm.graph.nodes:
        if node.op in ("placeholder", "output"):
            continue
        act = None
        if node.op == "call_module":
            m = mods[node.target]
            if isinstance(m, nn.Linear):
                layers.append([node.target, m, None])
                continue
            if isinstance(m, (nn.Flatten, nn.Identity)):
                continue
            act = next((a for t, a in _ACT_MODULES.items() if isinstance(m, t)), None)
        elif node.op == "call_function":
            act = _ACT_FUNCS.get(node.target)
        if act is None:
            what = type(mods[node.target]).__name__ if node.op == "call_module" else f"{node.op} {node.target}"
            raise PimtrainError(f"compile: node {node.name!r} ({what}) is not supported; allowed: "
                                "Linear, ReLU, Sigmoid, Tanh, Flatten, Identity")
        if not layers or layers[-1][2] is not None:
            raise PimtrainError(f"compile: node {node.name!r}: an activation must follow a Linear layer")
        layers[-1][2] = act
    if not layers:
        raise PimtrainError("compile: the model has no Linear layer; allowed: an MLP")
    for (n1, l1, _), (n2, l2, _) in zip(layers, layers[1:]):
        if l1.out_features != l2.in_features:
            raise PimtrainError(f"compile: {n1} gives {l1.out_features} features but {n2} takes {l2.in_features}")
    return [tuple(x) for x in layers]


class _Emitter:
    def __init__(self, machine: Machine):
        self.m = machine
        self.program = Program(machine)
        self.edram_top: dict[int, int] = {}
        self.reg_top: dict[tuple[int, int], int] = {}

    def core(self, tile, core):
        return self.program.stream(tile, core).instructions

    def tile(self, tile):
        return self.program.stream(tile, None).instructions

    def edram(self, tile: int, n: int) -> int:
        a = self.edram_top.get(tile, 0)
        if a + n > self.m.edram:
            raise PimtrainError(f"compile: eDRAM of tile {tile} full ({self.m.edram} words); "
                                "allowed: a model whose step fits the tile buffers")
        self.edram_top[tile] = a + n
        return a

    def reg(self, tc, n: int) -> Reg:
        a = self.reg_top.get(tc, 0)
        if a + n > self.m.regs:
            raise PimtrainError(f"compile: data memory of core {tc[0]}.{tc[1]} full ({self.m.regs} words)")
        self.reg_top[tc] = a + n
        return Reg("r", 0, a)

    def free_regs(self):
        self.reg_top.clear()

    def store(self, tc, src: Reg, vec: int, readers: list) -> dict[int, int]:
        """Store ``vec`` words of core ``tc`` for ``readers`` (one (tile, core) per load); send to remote tiles.
        Returns eDRAM address per reader tile."""
        tile = tc[0]
        local = sum(1 for r in readers if r[0] == tile)
        remote = sorted({r[0] for r in readers if r[0] != tile})
        addr = self.edram(tile, vec)
        self.core(*tc).append(Store(addr, src, local + len(remote), vec))
        where = {tile: addr}
        for b in remote:
            self.tile(tile).append(Send(addr, b, vec))
            ab = self.edram(b, vec)
            self.tile(b).append(Receive(ab, tile, sum(1 for r in readers if r[0] == b), vec))
            where[b] = ab
        return where

    def host_input(self, name, offset, vec, readers) -> dict[int, int]:
        where = {}
        for t in sorted({r[0] for r in readers}):
            a = self.edram(t, vec)
            self.program.ports.append(Port("input", name, t, a, vec, offset, sum(1 for r in readers if r[0] == t)))
            where[t] = a
        return where


def plan_layers(traced, design, machine: Machine) -> list[LayerPlan]:
    plans, core_g = [], 0
    for name, lin, act in traced:
        bias = lin.bias is not None
        k = lin.in_features + int(bias)
        mp = matrix_plan(design, lin.out_features, k, machine.mvmus)
        lp = LayerPlan(name, lin.out_features, k, lin.in_features, bias, act, mp.row_blocks, mp.col_blocks)
        for i, (cb, rb) in enumerate((cb, rb) for cb in range(mp.col_blocks) for rb in range(mp.row_blocks)):
            g = core_g + i // machine.mvmus
            lp.units[(rb, cb)] = (g // machine.cores, g % machine.cores, i % machine.mvmus)
        core_g += mp.cores
        plans.append(lp)
    return plans, core_g


def compile_mlp(model: nn.Module, design, train: bool = False, lr: float = 0.1) -> Compiled:
    """Compile ``model`` for ``design``: inference (``train=False``) or one SGD training step with rate ``lr``."""
    traced = trace_mlp(model)
    base = Machine.from_design(design, tiles=1)
    plans, cores = plan_layers(traced, design, base)
    machine = Machine(tiles=max(1, math.ceil(cores / base.cores)), cores=base.cores, mvmus=base.mvmus,
                      rows=base.rows, cols=base.cols, regs=base.regs, edram=base.edram)
    e = _Emitter(machine)
    R, C = machine.rows, machine.cols
    L = len(plans)

    def rb_len(lp, rb):
        return min(R, lp.in_rows - rb * R)

    def cb_len(lp, cb):
        return min(C, lp.out_features - cb * C)

    def x_readers(li, rb):
        """Loads of layer li's input piece in row block rb: forward (+ derivative and update reload in training)."""
        lp = plans[li]
        rd = [lp.units[(rb, cb)][:2] for cb in range(lp.col_blocks)]
        if train:
            rd = rd * 2 + ([lp.back_reducer(rb)] if li > 0 and plans[li - 1].activation else [])
        return rd

    # x_pieces[li][rb] = list of (start within the row block, length, {tile: addr})
    x_pieces: list[dict] = [dict() for _ in plans]
    lp0 = plans[0]
    for rb in range(lp0.row_blocks):
        n = min(R, lp0.in_features - rb * R)
        if n > 0:
            x_pieces[0][rb] = [(0, n, e.host_input("x", rb * R, n, x_readers(0, rb)))]

    def load_x(li, rb, tc, u):
        lp = plans[li]
        for start, n, where in x_pieces[li].get(rb, []):
            e.core(*tc).append(Load(Reg("xi", u, start), where[tc[0]], n))
        if lp.bias and rb == (lp.in_rows - 1) // R:
            e.core(*tc).append(Set(Reg("xi", u, (lp.in_rows - 1) % R), 1, 1))

    for li, lp in enumerate(plans):
        by_core: dict = {}
        for (rb, cb), (t, c, u) in lp.units.items():
            by_core.setdefault((t, c), []).append((rb, cb, u))
        partial = {}
        for tc, us in by_core.items():
            for rb, _cb, u in us:
                load_x(li, rb, tc, u)
            e.core(*tc).append(Mvm(tuple((u, "f") for _, _, u in us)))
            for rb, cb, u in us:
                if lp.reducer(cb) != tc:
                    partial[(rb, cb)] = e.store(tc, Reg("xo", u, 0), cb_len(lp, cb), [lp.reducer(cb)])
        for cb in range(lp.col_blocks):
            tc, n = lp.reducer(cb), cb_len(lp, cb)
            e.free_regs()  # an in-order core: what the previous block stored may be overwritten
            acc, tmp = e.reg(tc, n), None
            e.core(*tc).append(Copy(acc, Reg("xo", lp.units[(0, cb)][2], 0), n))
            for rb in range(1, lp.row_blocks):
                t, c, u = lp.units[(rb, cb)]
                if (t, c) == tc:
                    e.core(*tc).append(Alu("add", acc, acc, Reg("xo", u, 0), n))
                else:
                    tmp = tmp if tmp is not None else e.reg(tc, n)
                    e.core(*tc).append(Load(tmp, partial[(rb, cb)][tc[0]], n))
                    e.core(*tc).append(Alu("add", acc, acc, tmp, n))
            if lp.activation:
                e.core(*tc).append(Alu(lp.activation, acc, acc, None, n))
            if li == L - 1:
                a = e.edram(tc[0], n)
                e.core(*tc).append(Store(a, acc, 1, n))
                e.program.ports.append(Port("output", "y", tc[0], a, n, cb * C))
                continue
            lo, hi = cb * C, cb * C + n  # output features = next layer's input rows
            s = lo
            while s < hi:
                rb2 = s // R
                e2 = min(hi, (rb2 + 1) * R)
                where = e.store(tc, Reg("r", 0, acc.index + s - lo), e2 - s, x_readers(li + 1, rb2))
                x_pieces[li + 1].setdefault(rb2, []).append((s - rb2 * R, e2 - s, where))
                s = e2
        e.free_regs()
    if train:
        lpL = plans[-1]
        # d pieces per layer li, col block cb: (start within cb, length, {tile: addr}); readers: every unit of the cb
        d_pieces: list[dict] = [dict() for _ in plans]
        for cb in range(lpL.col_blocks):
            readers = [lpL.units[(rb, cb)][:2] for rb in range(lpL.row_blocks)]
            d_pieces[-1][cb] = [(0, cb_len(lpL, cb), e.host_input("d", cb * C, cb_len(lpL, cb), readers))]
        for li in range(L - 1, -1, -1):
            lp = plans[li]
            by_core = {}
            for (rb, cb), (t, c, u) in lp.units.items():
                by_core.setdefault((t, c), []).append((rb, cb, u))
            partial = {}
            for tc, us in by_core.items():
                for _rb, cb, u in us:
                    for start, n, where in d_pieces[li][cb]:
                        e.core(*tc).append(Load(Reg("xo", u, start), where[tc[0]], n))
                if li > 0:
                    e.core(*tc).append(Mvm(tuple((u, "t") for _, _, u in us)))
                    for rb, cb, u in us:
                        if lp.back_reducer(rb) != tc and rb * R < lp.in_features:
                            n = min(R, lp.in_features - rb * R)
                            partial[(rb, cb)] = e.store(tc, Reg("xi", u, 0), n, [lp.back_reducer(rb)])
            if li > 0:
                below = plans[li - 1]
                for rb in range(lp.row_blocks):
                    n = min(R, lp.in_features - rb * R)
                    if n <= 0:
                        continue
                    tc = lp.back_reducer(rb)
                    e.free_regs()
                    acc, tmp = e.reg(tc, n), None
                    e.core(*tc).append(Copy(acc, Reg("xi", lp.units[(rb, 0)][2], 0), n))
                    for cb in range(1, lp.col_blocks):
                        t, c, u = lp.units[(rb, cb)]
                        if (t, c) == tc:
                            e.core(*tc).append(Alu("add", acc, acc, Reg("xi", u, 0), n))
                        else:
                            tmp = tmp if tmp is not None else e.reg(tc, n)
                            e.core(*tc).append(Load(tmp, partial[(rb, cb)][tc[0]], n))
                            e.core(*tc).append(Alu("add", acc, acc, tmp, n))
                    if below.activation:
                        y = e.reg(tc, n)
                        for start, m, where in x_pieces[li][rb]:
                            e.core(*tc).append(Load(Reg("r", 0, y.index + start), where[tc[0]], m))
                        e.core(*tc).append(Alu(below.activation + "_d", y, y, None, n))
                        e.core(*tc).append(Alu("mul", acc, acc, y, n))
                    lo, hi = rb * R, rb * R + n  # input features of li = output features of li-1
                    s = lo
                    while s < hi:
                        cb2 = s // C
                        e2 = min(hi, (cb2 + 1) * C)
                        readers = [below.units[(r, cb2)][:2] for r in range(below.row_blocks)]
                        where = e.store(tc, Reg("r", 0, acc.index + s - lo), e2 - s, readers)
                        d_pieces[li - 1].setdefault(cb2, []).append((s - cb2 * C, e2 - s, where))
                        s = e2
            for tc, us in by_core.items():  # update: reload x, xo <- -lr d, outer product in place
                for rb, cb, u in us:
                    load_x(li, rb, tc, u)
                    e.core(*tc).append(AluImm("mul", Reg("xo", u, 0), Reg("xo", u, 0), float(lr), cb_len(lp, cb)))
                e.core(*tc).append(Mvm(tuple((u, "o") for _, _, u in us)))
            e.free_regs()
    for s in e.program.streams:
        s.instructions.append(Halt())
    e.program.streams.sort(key=lambda s: (s.tile, -1 if s.core is None else s.core))
    check(e.program)
    return Compiled(e.program, plans, train, float(lr))


def unit_weights(compiled: Compiled, model: nn.Module) -> dict:
    """The block of ``[W | b]ᵀ`` (rows × cols, zero padded) each matrix unit holds: ``{(tile, core, unit): tensor}``."""
    mods = dict(model.named_modules())
    m = compiled.program.machine
    out = {}
    for lp in compiled.layers:
        lin = mods[lp.name]
        w = lin.weight.detach().to(torch.float64)
        if lp.bias:
            w = torch.cat((w, lin.bias.detach().to(torch.float64).reshape(-1, 1)), dim=1)
        wt = w.T  # in_rows x out
        for (rb, cb), key in lp.units.items():
            blk = torch.zeros(m.rows, m.cols, dtype=torch.float64)
            part = wt[rb * m.rows:(rb + 1) * m.rows, cb * m.cols:(cb + 1) * m.cols]
            blk[:part.shape[0], :part.shape[1]] = part
            out[key] = blk
    return out
