"""Compile a torch network (traced with torch.fx) of ``Linear`` and ``Conv2d`` layers for a PUMA-style design into a
PANTHER program: inference, or one SGD step of a batch of examples, with PANTHER's carry resolution where the
design's carry schedule falls.

**Placement.** Every layer's matrix ``[W | b]`` (``out × in``, the bias one more input row, as :mod:`pimtrain.nn.layers`
stores it; a convolution's ``in`` is ``C·kh·kw``) is cut by :func:`pimtrain.mapping.matrix_plan` into ``row_blocks ×
col_blocks`` blocks of ``array.rows × array.cols``, one matrix unit each, ``matrix_unit`` units per core, each layer
on fresh cores, cores filling tiles in order (as :func:`pimtrain.isa.compiler.plan_layers`).

**Data layout.** Feature maps live in the tiles' eDRAM position-major (``HWC``: the channels of one pixel adjacent),
so the input rows of one kernel row of a patch are one contiguous range; the matrix unit holds its rows in the
same order (``(kernel row, kernel column, channel)``; a ``Linear`` after ``Flatten`` in ``(y, x, channel)`` order),
a fixed permutation of the core's columns (``LayerPlan.perm``: unit row → column of the layer's ``[W | b]``).
A map is written once per step (a fresh eDRAM range per map and tile); a consumer on another tile gets the words it
reads by ``send`` / ``recv``, issued where it first needs them. Partial sums go through one eDRAM slot per matrix
unit, reused vector after vector (a store waits until the reducer has read the previous one: PUMA's counters).

**Dataflow.** One vector at a time (weight stationary): a linear layer has one vector per example, a convolution
one per output position (``b``-major, positions row-major: the rows of ``F.unfold``). Forward: each unit loads its
piece of the patch into ``xi`` (``set … 0`` where the patch hangs over the zero padding, ``set … 1`` for the bias
row), one ``mvm f`` per core, the partial outputs of a column block summed on its first row block's core, the
activation applied, the result stored into the next map. Training (``train=True``): the host reads ``y`` and writes
the output error ``d``; per layer, last first: every vector's error into ``xo``, ``mvm t``, the partial input errors
summed per row block; a linear layer multiplies them by the derivative of the activation below (``alu <act>_d`` of
the stored activation) and stores the error map of the layer below; a convolution stores the per-position patch
errors and folds them (col2im, every input pixel summing the patch entries that cover it, positions in order) before
the derivative. Then the update: every vector's input reloaded into ``xi``, its error into ``xo`` scaled by ``lr``
(``alui mul``), ``mvm o`` (W ← W − (lr·d)⊗x in place, one rank-1 update per vector, as the outer-product rule and
PANTHER's OPA do); every layer's transposed reads precede its update, so all vectors of a batch see the same
weights (the layer-level batch step). The update of vector ``v`` is the ``(examples_before·positions + v + 1)``-th
of its matrix since the start; when that is a multiple of ``update.slicing.carry_interval`` (the design's carry
schedule) each core of the layer issues ``crs`` on its units right after that ``mvm o``.

Supported: ``Linear``, ``Conv2d`` (groups 1, dilation 1, zero padding), ``ReLU``/``Sigmoid``/``Tanh`` (modules or
functions) after a matrix layer, ``Flatten``/``Identity``; anything else is refused naming the node.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from pimtrain.design import PimtrainError
from pimtrain.mapping import matrix_plan

from .compiler import _ACT_FUNCS, _ACT_MODULES, Compiled, LayerPlan, fx_trace
from .instructions import Alu, AluImm, Copy, Crs, Halt, Load, Mvm, Receive, Reg, Send, Set, Store
from .program import Machine, Port, Program, check


@dataclass
class NetLayer(LayerPlan):
    """A :class:`~pimtrain.isa.compiler.LayerPlan` with the geometry of its input map and patches."""

    kind: str = "linear"
    in_hwc: tuple = (1, 1, 1)
    out_hw: tuple = (1, 1)
    kernel: tuple = (1, 1)
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    perm: list = field(default_factory=list)

    @property
    def positions(self) -> int:
        return self.out_hw[0] * self.out_hw[1]

    def segments(self, q: int) -> list[tuple[int, int, int]]:
        """``(unit row, length, map offset)`` of the in-bound input rows of the patch of position ``q``."""
        if self.kind == "linear":
            return [(0, self.in_features, 0)]
        h, w, c = self.in_hwc
        kh, kw = self.kernel
        oy, ox = divmod(q, self.out_hw[1])
        x0 = ox * self.stride[1] - self.padding[1]
        j_lo, j_hi = max(0, -x0), min(kw - 1, w - 1 - x0)
        out = []
        for i in range(kh):
            y = oy * self.stride[0] - self.padding[0] + i
            if 0 <= y < h and j_lo <= j_hi:
                out.append(((i * kw + j_lo) * c, (j_hi - j_lo + 1) * c, (y * w + x0 + j_lo) * c))
        return out


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def trace_model(model: nn.Module, input_shape) -> list[dict]:
    """The matrix layers of a traced feed-forward network: ``[{name, module, act, in_hwc, out_hw, perm}]``."""
    gm = fx_trace(model)
    mods = dict(gm.named_modules())
    shape = tuple(int(s) for s in input_shape)  # (C, H, W) or (F,)
    if len(shape) not in (1, 3) or min(shape) < 1:
        raise PimtrainError(f"compile: input shape {shape}; allowed: (features,) or (channels, height, width)")
    layers: list[dict] = []
    for node in gm.graph.nodes:
        if node.op in ("placeholder", "output"):
            continue
        act, m = None, mods.get(node.target) if node.op == "call_module" else None
        if isinstance(m, nn.Linear):
            if len(shape) == 3:
                c, h, w = shape
                perm = [ch * h * w + y * w + x for y in range(h) for x in range(w) for ch in range(c)]
                hwc = (h, w, c)
                flat = c * h * w
            else:
                flat, hwc, perm = shape[0], (1, 1, shape[0]), list(range(shape[0]))
            if flat != m.in_features:
                raise PimtrainError(f"compile: node {node.name!r} takes {m.in_features} features, gets {flat}")
            layers.append(dict(name=node.target, module=m, kind="linear", act=None, in_hwc=hwc, out_hw=(1, 1),
                               kernel=(1, 1), stride=(1, 1), padding=(0, 0), perm=perm))
            shape = (m.out_features,)
            continue
        if isinstance(m, nn.Conv2d):
            if len(shape) != 3 or shape[0] != m.in_channels:
                raise PimtrainError(f"compile: node {node.name!r} (Conv2d) takes {m.in_channels} channels, gets shape {shape}")
            if m.groups != 1 or _pair(m.dilation) != (1, 1) or m.padding_mode != "zeros" or isinstance(m.padding, str):
                raise PimtrainError(f"compile: node {node.name!r} (Conv2d): allowed: groups=1, dilation=1, numeric zero padding")
            c, h, w = shape
            (kh, kw), (sh, sw), (ph, pw) = _pair(m.kernel_size), _pair(m.stride), _pair(m.padding)
            oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
            if oh < 1 or ow < 1:
                raise PimtrainError(f"compile: node {node.name!r} (Conv2d): no output position on a {h}x{w} input")
            perm = [ch * kh * kw + i * kw + j for i in range(kh) for j in range(kw) for ch in range(c)]
            layers.append(dict(name=node.target, module=m, kind="conv", act=None, in_hwc=(h, w, c), out_hw=(oh, ow),
                               kernel=(kh, kw), stride=(sh, sw), padding=(ph, pw), perm=perm))
            shape = (m.out_channels, oh, ow)
            continue
        if isinstance(m, (nn.Flatten, nn.Identity)) or (node.op == "call_function" and node.target is torch.flatten):
            continue
        if m is not None:
            act = next((a for t, a in _ACT_MODULES.items() if isinstance(m, t)), None)
        elif node.op == "call_function":
            act = _ACT_FUNCS.get(node.target)
        if act is None:
            what = type(m).__name__ if m is not None else f"{node.op} {node.target}"
            raise PimtrainError(f"compile: node {node.name!r} ({what}) is not supported; allowed: "
                                "Linear, Conv2d, ReLU, Sigmoid, Tanh, Flatten, Identity")
        if not layers or layers[-1]["act"] is not None:
            raise PimtrainError(f"compile: node {node.name!r}: an activation must follow a Linear or Conv2d layer")
        layers[-1]["act"] = act
    if not layers:
        raise PimtrainError("compile: the model has no Linear or Conv2d layer")
    return layers


def plan_net(traced, design, base: Machine) -> tuple[list[NetLayer], int]:
    plans, core_g = [], 0
    for t in traced:
        m = t["module"]
        bias = m.bias is not None
        k_in = len(t["perm"])
        n_out = m.out_features if t["kind"] == "linear" else m.out_channels
        mp = matrix_plan(design, n_out, k_in + int(bias), base.mvmus)
        perm = list(t["perm"]) + ([k_in] if bias else [])
        lp = NetLayer(t["name"], n_out, k_in + int(bias), k_in, bias, t["act"], mp.row_blocks, mp.col_blocks,
                      kind=t["kind"], in_hwc=t["in_hwc"], out_hw=t["out_hw"], kernel=t["kernel"],
                      stride=t["stride"], padding=t["padding"], perm=perm)
        for i, (cb, rb) in enumerate((cb, rb) for cb in range(mp.col_blocks) for rb in range(mp.row_blocks)):
            g = core_g + i // base.mvmus
            lp.units[(rb, cb)] = (g // base.cores, g % base.cores, i % base.mvmus)
        core_g += mp.cores
        plans.append(lp)
    return plans, core_g


class _Map:
    """A vector of ``size`` words written once per step: by the host (``port`` set) or by stores of the program."""

    def __init__(self, size: int, port: str | None = None, offset: int = 0, output: str | None = None,
                 chunk: int | None = None, readers=()):
        self.size, self.port, self.offset, self.output = size, port, offset, output
        #: tiles whose cores read the map: every piece is sent there as it is stored (in production order)
        self.readers = set(readers)
        #: words allocated together on a tile (a tile holds only the chunks it writes or reads)
        self.chunk = chunk or size
        self.base: dict = {}  # (tile, chunk) -> eDRAM address of the chunk's first word
        self.written: dict[int, np.ndarray] = {}  # tile -> bool per word present there
        self.pieces: list[tuple[int, int, int]] = []  # (offset, length, producer tile)


class _Net:
    def __init__(self, machine: Machine):
        self.m = machine
        self.program = Program(machine)
        self.edram_top: dict[int, int] = {}
        self.deferred: list = []  # (kind, stream or port list, object) whose reader counts are set at the end
        self.slots: dict = {}
        self._streams: dict = {}
        self.reg_top: dict = {}

    # -- streams, memory --------------------------------------------------------------------------------------
    def stream(self, tile, core=None):
        k = (tile, core)
        if k not in self._streams:
            self._streams[k] = self.program.stream(tile, core)
        return self._streams[k]

    def core(self, tc):
        return self.stream(tc[0], tc[1]).instructions

    def tile(self, t):
        return self.stream(t, None).instructions

    def edram(self, tile: int, n: int) -> int:
        a = self.edram_top.get(tile, 0)
        if a + n > self.m.edram:
            raise _EdramFull(f"compile: eDRAM of tile {tile} full ({self.m.edram} words); "
                                "allowed: a model whose step fits the tile buffers")
        self.edram_top[tile] = a + n
        return a

    def reg(self, tc, n: int) -> Reg:
        a = self.reg_top.get(tc, 0)
        if a + n > self.m.regs:
            raise PimtrainError(f"compile: data memory of core {tc[0]}.{tc[1]} full ({self.m.regs} words)")
        self.reg_top[tc] = a + n
        return Reg("r", 0, a)

    def slot(self, tile, key, n) -> int:
        """The eDRAM slot of a matrix unit's partial sums (reused vector after vector: one reader stream)."""
        k = (tile, key)
        if k not in self.slots:
            self.slots[k] = self.edram(tile, max(n, self.m.rows, self.m.cols))
        return self.slots[k]

    # -- maps ------------------------------------------------------------------------------------------------
    def _addr(self, mp: _Map, tile: int, offset: int) -> int:
        """eDRAM address of word ``offset`` of ``mp`` on ``tile`` (its chunk allocated there on first use)."""
        return self._chunk(mp, tile, offset)[0]

    def _chunk(self, mp: _Map, tile: int, offset: int):
        """``(address of word offset, reader counts of the chunk's words, offset of the word in the chunk)``."""
        k = offset // mp.chunk
        if (tile, k) not in mp.base:
            n = min(mp.chunk, mp.size - k * mp.chunk)
            mp.base[(tile, k)] = (self.edram(tile, n), np.zeros(n, dtype=np.int64))
            if tile not in mp.written:
                mp.written[tile] = np.zeros(mp.size, dtype=bool)
            if mp.port is not None:
                a, r = mp.base[(tile, k)]
                self.deferred.append(("port", tile, Port("input", mp.port, tile, a, n, mp.offset + k * mp.chunk, 1), r, 0))
        a, r = mp.base[(tile, k)]
        return a + offset - k * mp.chunk, r, offset - k * mp.chunk

    def _read(self, mp, tile, offset, n):
        _a, r, i = self._chunk(mp, tile, offset)
        r[i:i + n] += 1

    def _runs(self, mp: _Map, offset: int, n: int):
        """``(offset, length)`` pieces of a range cut at ``mp``'s chunk boundaries."""
        s = offset
        while s < offset + n:
            e = min(offset + n, (s // mp.chunk + 1) * mp.chunk)
            yield s, e - s
            s = e

    def put(self, tc, mp: _Map, offset: int, src: Reg, n: int) -> None:
        """Store ``n`` words of core ``tc`` into ``mp`` at ``offset`` (reader count set at the end)."""
        for o, m in self._runs(mp, offset, n):
            a, r, i = self._chunk(mp, tc[0], o)
            reg = Reg(src.file, src.unit, src.index + o - offset)
            st = Store(a, reg, 1, m)
            self.core(tc).append(st)
            self.deferred.append(("store", self.stream(*tc), st, r, i))
            mp.pieces.append((o, m, tc[0]))
            mp.written[tc[0]][o:o + m] = True
            for t in sorted(mp.readers - {tc[0]}):
                self._send(mp, tc[0], t, o, m)
            if mp.output is not None:  # the host reads it (a reader that leaves the count)
                self._read(mp, tc[0], o, m)
                self.program.ports.append(Port("output", mp.output, tc[0], a, m, mp.offset + o))

    def get(self, tc, mp: _Map, offset: int, dst: Reg, n: int) -> None:
        """Load ``n`` words of ``mp`` at ``offset`` into ``dst`` of core ``tc`` (receiving what its tile lacks)."""
        tile = tc[0]
        for o, m in self._runs(mp, offset, n):
            addr = self._addr(mp, tile, o)
            if mp.port is None:
                self._bring(mp, tile, o, m)
            self.core(tc).append(Load(Reg(dst.file, dst.unit, dst.index + o - offset), addr, m))
            self._read(mp, tile, o, m)

    def _bring(self, mp: _Map, tile: int, offset: int, n: int) -> None:
        """``send`` / ``recv`` the words of ``offset .. offset+n`` (one chunk) that ``tile`` does not hold yet."""
        have = mp.written[tile]
        if have[offset:offset + n].all():
            return
        for po, pn, pt in mp.pieces:
            lo, hi = max(po, offset), min(po + pn, offset + n)
            if lo >= hi or pt == tile:
                continue
            s = lo
            while s < hi:  # runs of words not yet here
                if have[s]:
                    s += 1
                    continue
                e = s
                while e < hi and not have[e]:
                    e += 1
                self._send(mp, pt, tile, s, e - s)
                s = e
        if not have[offset:offset + n].all():
            raise AssertionError(f"compile: map words {offset}..{offset + n} read before written")

    def _send(self, mp: _Map, src_tile: int, tile: int, offset: int, n: int) -> None:
        """``send`` / ``recv`` words ``offset .. offset+n`` of ``mp`` (one chunk) from ``src_tile`` to ``tile``."""
        src, sr, si = self._chunk(mp, src_tile, offset)
        self.tile(src_tile).append(Send(src, tile, n))
        sr[si:si + n] += 1
        dst, r, i = self._chunk(mp, tile, offset)
        rv = Receive(dst, src_tile, 1, n)
        self.tile(tile).append(rv)
        self.deferred.append(("recv", self.stream(tile, None), rv, r, i, sr, si))
        mp.written[tile][offset:offset + n] = True

    def partial(self, src_tc, key, reg: Reg, n: int, dst_tc) -> int:
        """Store a partial sum into the unit's slot, sent to the reducer's tile if needed; its address there."""
        a = self.slot(src_tc[0], key, n)
        self.core(src_tc).append(Store(a, reg, 1, n))
        if dst_tc[0] == src_tc[0]:
            return a
        b = self.slot(dst_tc[0], (key, "in", src_tc[0]), n)
        self.tile(src_tc[0]).append(Send(a, dst_tc[0], n))
        self.tile(dst_tc[0]).append(Receive(b, src_tc[0], 1, n))
        return b

    # -- reader counts ---------------------------------------------------------------------------------------
    def finish(self) -> None:
        """Give every deferred store / receive / input port the count of its readers, split where it varies."""
        split: dict = {}
        sends_of: dict = {}
        for s in self.program.streams:
            if s.core is None:
                for ins in s.instructions:
                    if isinstance(ins, Send):
                        sends_of.setdefault((s.tile, ins.to), []).append(ins)
        recv_pairs: dict = {}
        for s in self.program.streams:  # FIFO per tile pair: the k-th recv from a tile takes its k-th send
            if s.core is None:
                seen: dict = {}
                for ins in s.instructions:
                    if isinstance(ins, Receive):
                        k = seen.get(ins.frm, 0)
                        seen[ins.frm] = k + 1
                        recv_pairs[id(ins)] = sends_of[(ins.frm, s.tile)][k]
        def runs_of(r):
            runs, s = [], 0
            while s < len(r):
                e = s + 1
                while e < len(r) and r[e] == r[s]:
                    e += 1
                runs.append((s, e, int(r[s])))
                s = e
            return runs

        for item in self.deferred:  # receives first: words nobody reads there are not sent (nor counted at the source)
            if item[0] != "recv":
                continue
            _k, _w, obj, reads, at, src_reads, src_at = item
            snd = recv_pairs[id(obj)]
            runs = runs_of(reads[at:at + obj.vec])
            for s, e, c in runs:
                if c == 0:
                    src_reads[src_at + s:src_at + e] -= 1
            split[id(obj)] = [replace(obj, addr=obj.addr + s, count=c, vec=e - s) for s, e, c in runs if c]
            split[id(snd)] = [replace(snd, addr=snd.addr + s, vec=e - s) for s, e, c in runs if c]
        for kind, _where, obj, reads, at, *_src in self.deferred:
            if kind == "recv":
                continue
            addr = obj.addr
            runs = runs_of(reads[at:at + obj.vec])
            if kind == "port":
                for s, e, c in runs:
                    if c:
                        self.program.ports.append(replace(obj, addr=addr + s, vec=e - s, offset=obj.offset + s, count=c))
            elif kind == "store":
                split[id(obj)] = [replace(obj, addr=addr + s, src=Reg(obj.src.file, obj.src.unit, obj.src.index + s),
                                          count=c, vec=e - s) for s, e, c in runs if c]
        for s in self.program.streams:
            if any(id(i) in split for i in s.instructions):
                s.instructions = [j for i in s.instructions for j in split.get(id(i), [i])]


class _EdramFull(PimtrainError):
    pass


def compile_model(model: nn.Module, design, train: bool = False, lr: float = 0.1, batch: int = 1,
                  input_shape=None, examples_before: int = 0, first_layer_backward: bool = False,
                  edram: int | None = None) -> Compiled:
    """Compile ``model`` for ``design``: inference (``train=False``) or one SGD step of ``batch`` examples with rate
    ``lr``. ``input_shape``: one example's shape, ``(C, H, W)`` for a convolutional network (default: the first
    Linear's features). ``examples_before``: examples trained before this step (places the ``crs``).
    ``first_layer_backward``: also the first layer's transposed read and input error (output ``dx``), as a layer in
    the middle of a network has. ``edram``: words of eDRAM per tile (default: 65536, the ISA's assumption, doubled
    until the step's buffers fit; ``compiled.program.machine.edram`` says what was used)."""
    if edram is not None:
        return _compile(model, design, train, lr, batch, input_shape, examples_before, first_layer_backward, edram)
    words = 65536
    while True:
        try:
            return _compile(model, design, train, lr, batch, input_shape, examples_before, first_layer_backward, words)
        except _EdramFull:
            if words >= Machine.LIMITS["edram"]:
                raise
            words *= 2


def _compile(model, design, train, lr, batch, input_shape, examples_before, first_layer_backward, edram):
    if not isinstance(batch, int) or batch < 1:
        raise PimtrainError(f"compile: batch={batch!r}; allowed: a positive integer")
    if input_shape is None:
        first = next((m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))), None)
        if not isinstance(first, nn.Linear):
            raise PimtrainError("compile: a convolutional model needs input_shape=(channels, height, width)")
        input_shape = (first.in_features,)
    traced = trace_model(model, input_shape)
    base = Machine.from_design(design, tiles=1)
    plans, cores = plan_net(traced, design, base)
    machine = Machine(tiles=max(1, math.ceil(cores / base.cores)), cores=base.cores, mvmus=base.mvmus,
                      rows=base.rows, cols=base.cols, regs=base.regs, edram=int(edram))
    e = _Net(machine)
    R, C = machine.rows, machine.cols
    L = len(plans)
    interval = _carry_interval(design) if train else None

    def rows_of(lp, rb):
        return min(R, lp.in_rows - rb * R)

    def cols_of(lp, cb):
        return min(C, lp.out_features - cb * C)

    def out_size(lp):
        return lp.positions * lp.out_features

    in_size = math.prod(plans[0].in_hwc)
    # maps[li][b]: input map of layer li for example b; maps[L][b]: the network's output y
    maps = [[_Map(in_size, "x", b * in_size) for b in range(batch)]]
    for li, lp in enumerate(plans):
        last = li == L - 1
        nxt = () if last else {t for t, _c, _u in plans[li + 1].units.values()}
        maps.append([_Map(out_size(lp), output="y" if last else None, offset=b * out_size(lp), readers=nxt)
                     for b in range(batch)])

    def by_core(lp):
        out: dict = {}
        for (rb, cb), (t, c, u) in lp.units.items():
            out.setdefault((t, c), []).append((rb, cb, u))
        return out

    def gather(lp, mp, q, tc, rb, u):
        """Load the patch rows of row block ``rb`` for position ``q`` into ``xi<u>``; zeros and the bias row set."""
        lo, hi = rb * R, rb * R + rows_of(lp, rb)
        covered = []
        for row, n, off in lp.segments(q):
            a, b = max(row, lo), min(row + n, hi, lp.in_features)
            if a < b:
                e.get(tc, mp, off + a - row, Reg("xi", u, a - lo), b - a)
                covered.append((a, b))
        s = lo
        for a, b in sorted(covered) + [(min(hi, lp.in_features), min(hi, lp.in_features))]:
            if a > s:
                e.core(tc).append(Set(Reg("xi", u, s - lo), 0, a - s))
            s = max(s, b)
        if lp.bias and lo <= lp.in_rows - 1 < hi:
            e.core(tc).append(Set(Reg("xi", u, lp.in_rows - 1 - lo), 1, 1))

    # -------------------------------------------------------------------------------------------- forward
    for li, lp in enumerate(plans):
        groups = by_core(lp)
        for b in range(batch):
            for q in range(lp.positions):
                part = {}
                for tc, us in groups.items():
                    for rb, _cb, u in us:
                        gather(lp, maps[li][b], q, tc, rb, u)
                    e.core(tc).append(Mvm(tuple((u, "f") for _, _, u in us)))
                    for rb, cb, u in us:
                        if lp.reducer(cb) != tc:
                            part[(rb, cb)] = e.partial(tc, ("f", li, rb, cb), Reg("xo", u, 0), cols_of(lp, cb), lp.reducer(cb))
                for cb in range(lp.col_blocks):
                    tc, n = lp.reducer(cb), cols_of(lp, cb)
                    e.reg_top.clear()
                    acc, tmp = e.reg(tc, n), None
                    e.core(tc).append(Copy(acc, Reg("xo", lp.units[(0, cb)][2], 0), n))
                    for rb in range(1, lp.row_blocks):
                        t, c, u = lp.units[(rb, cb)]
                        if (t, c) == tc:
                            e.core(tc).append(Alu("add", acc, acc, Reg("xo", u, 0), n))
                        else:
                            tmp = tmp if tmp is not None else e.reg(tc, n)
                            e.core(tc).append(Load(tmp, part[(rb, cb)], n))
                            e.core(tc).append(Alu("add", acc, acc, tmp, n))
                    if lp.activation:
                        e.core(tc).append(Alu(lp.activation, acc, acc, None, n))
                    e.put(tc, maps[li + 1][b], q * lp.out_features + cb * C, acc, n)
    # ----------------------------------------------------------------------------------------- training
    if train:
        out_l = plans[-1]
        errs = [None] * L  # errs[li][b]: error map of layer li's output
        errs[-1] = [_Map(out_size(out_l), "d", b * out_size(out_l)) for b in range(batch)]
        for li in range(L - 1, -1, -1):
            lp = plans[li]
            groups = by_core(lp)
            below = plans[li - 1] if li > 0 else None
            do_t = li > 0 or first_layer_backward
            if do_t:
                if li > 0:
                    errs[li - 1] = [_Map(out_size(below), readers={t for t, _c, _u in below.units.values()})
                                    for _ in range(batch)]
                    target = errs[li - 1]
                else:
                    target = [_Map(in_size, output="dx", offset=b * in_size) for b in range(batch)]
                kp = lp.row_blocks * R  # a patch error per position, one chunk per row block (held where it is made and read)
                # per example and output row of positions
                folders = {lp.back_reducer(rb)[0] for rb in range(lp.row_blocks) if rb * R < lp.in_features}
                pe = [[_Map(lp.out_hw[1] * kp, chunk=R, readers=folders) for _ in range(lp.out_hw[0])]
                      for _ in range(batch)] if lp.kind == "conv" else None
                fold = _Folder(e, lp, below, R, C) if lp.kind == "conv" else None
            for b in range(batch if do_t else 0):
                for q in range(lp.positions):
                    part = {}
                    for tc, us in groups.items():
                        for _rb, cb, u in us:
                            e.get(tc, errs[li][b], q * lp.out_features + cb * C, Reg("xo", u, 0), cols_of(lp, cb))
                        e.core(tc).append(Mvm(tuple((u, "t") for _, _, u in us)))
                        for rb, cb, u in us:
                            n = min(R, lp.in_features - rb * R)
                            if lp.back_reducer(rb) != tc and n > 0:
                                part[(rb, cb)] = e.partial(tc, ("t", li, rb, cb), Reg("xi", u, 0), n, lp.back_reducer(rb))
                    for rb in range(lp.row_blocks):
                        n = min(R, lp.in_features - rb * R)
                        if n <= 0:
                            continue
                        tc = lp.back_reducer(rb)
                        e.reg_top.clear()
                        acc, tmp = e.reg(tc, n), None
                        e.core(tc).append(Copy(acc, Reg("xi", lp.units[(rb, 0)][2], 0), n))
                        for cb in range(1, lp.col_blocks):
                            t, c, u = lp.units[(rb, cb)]
                            if (t, c) == tc:
                                e.core(tc).append(Alu("add", acc, acc, Reg("xi", u, 0), n))
                            else:
                                tmp = tmp if tmp is not None else e.reg(tc, n)
                                e.core(tc).append(Load(tmp, part[(rb, cb)], n))
                                e.core(tc).append(Alu("add", acc, acc, tmp, n))
                        if lp.kind == "conv":  # the patch error: only its in-bound rows are folded
                            lo = rb * R
                            for row, m, _off in lp.segments(q):
                                a, z = max(row, lo), min(row + m, lo + n)
                                if a < z:
                                    e.put(tc, pe[b][q // lp.out_hw[1]], (q % lp.out_hw[1]) * kp + a, Reg("r", 0, acc.index + a - lo), z - a)
                            continue
                        if below is not None and below.activation:
                            y = e.reg(tc, n)
                            e.get(tc, maps[li][b], rb * R, y, n)
                            e.core(tc).append(Alu(below.activation + "_d", y, y, None, n))
                            e.core(tc).append(Alu("mul", acc, acc, y, n))
                        _put_cut(e, tc, target[b], rb * R, acc, n, lp.in_hwc[2], C)
                    if fold is not None and (q + 1) % lp.out_hw[1] == 0:  # an output row done: fold what is complete
                        fold.rows(pe[b], maps[li][b], target[b], q // lp.out_hw[1])
            # update: reload x, xo <- lr·d, outer product in place; crs where the carry schedule falls
            single = batch * lp.positions == 1 and do_t  # xo still holds the error of the one vector
            for b in range(batch):
                for q in range(lp.positions):
                    v = b * lp.positions + q
                    for tc, us in groups.items():
                        for rb, cb, u in us:
                            gather(lp, maps[li][b], q, tc, rb, u)
                            if not single:
                                e.get(tc, errs[li][b], q * lp.out_features + cb * C, Reg("xo", u, 0), cols_of(lp, cb))
                            e.core(tc).append(AluImm("mul", Reg("xo", u, 0), Reg("xo", u, 0), float(lr), cols_of(lp, cb)))
                        e.core(tc).append(Mvm(tuple((u, "o") for _, _, u in us)))
                        if interval and (examples_before * lp.positions + v + 1) % interval == 0:
                            e.core(tc).append(Crs(tuple(u for _, _, u in us)))
    e.finish()
    for s in e.program.streams:
        s.instructions.append(Halt())
    e.program.streams.sort(key=lambda s: (s.tile, -1 if s.core is None else s.core))
    e.program.ports.sort(key=lambda p: (p.kind != "input", p.name, p.offset, p.tile))
    check(e.program)
    return Compiled(e.program, plans, train, float(lr), batch, tuple(input_shape), examples_before)


def _put_cut(e: _Net, tc, mp: _Map, offset: int, acc: Reg, n: int, channels: int, C: int) -> None:
    """Store ``n`` words at ``offset`` of an error map, cut where the readers' column blocks of ``channels`` end."""
    s = offset
    while s < offset + n:
        q, c = divmod(s, channels)
        nxt = min(offset + n, q * channels + min(channels, (c // C + 1) * C))
        e.put(tc, mp, s, Reg("r", 0, acc.index + s - offset), nxt - s)
        s = nxt


class _Folder:
    """col2im of a convolution's patch errors: the error of every input pixel's channel block is the sum of the patch
    entries that cover it (positions in order), times the derivative of the activation below; on the layer's
    back-reduce cores in turn. Input rows are folded as soon as the output rows covering them are done. (Map memory is
    not reused within a step: with PUMA's counters a later map's reader could take an earlier map's valid words.)"""

    def __init__(self, e: _Net, lp: NetLayer, below, R: int, C: int):
        self.e, self.lp, self.below, self.R, self.C = e, lp, below, R, C
        self.cores = sorted({lp.back_reducer(rb) for rb in range(lp.row_blocks) if rb * R < lp.in_features})
        self.k = 0

    def rows(self, pe: list, xmap: _Map, target: _Map, oy_done: int) -> None:
        lp, R, C = self.lp, self.R, self.C
        h, w, c_in = lp.in_hwc
        kh, kw = lp.kernel
        (sh, sw), (ph, pw) = lp.stride, lp.padding
        oh, ow = lp.out_hw
        kp = lp.row_blocks * R
        last = oy_done == oh - 1

        def ready(y):  # every output row covering input row y is done
            return last or min(oh - 1, (y + ph) // sh) <= oy_done

        for y in range(h):
            if getattr(self, "_done", -1) >= y or not ready(y):
                continue
            self._done = y
            for x in range(w):
                for cb in range(math.ceil(c_in / C)):
                    self._pixel(pe, xmap, target, y, x, cb * C, min(C, c_in - cb * C), kh, kw, sh, sw, ph, pw, oh, ow, kp)
        if last:
            self._done = -1

    def _pixel(self, pe, xmap, target, y, x, c0, n, kh, kw, sh, sw, ph, pw, oh, ow, kp):
        e, lp = self.e, self.lp
        c_in = lp.in_hwc[2]
        tc = self.cores[self.k % len(self.cores)]
        self.k += 1
        e.reg_top.clear()
        acc, tmp, first = e.reg(tc, n), None, True
        for oy in range(oh):
            i = y + ph - oy * sh
            if not 0 <= i < kh:
                continue
            for ox in range(ow):
                j = x + pw - ox * sw
                if not 0 <= j < kw:
                    continue
                off = ox * kp + (i * kw + j) * c_in + c0
                if first:
                    e.get(tc, pe[oy], off, acc, n)
                    first = False
                else:
                    tmp = tmp if tmp is not None else e.reg(tc, n)
                    e.get(tc, pe[oy], off, tmp, n)
                    e.core(tc).append(Alu("add", acc, acc, tmp, n))
        if first:
            e.core(tc).append(Set(acc, 0, n))
        pix = (y * lp.in_hwc[1] + x) * c_in + c0
        if self.below is not None and self.below.activation:
            yv = e.reg(tc, n)
            e.get(tc, xmap, pix, yv, n)
            e.core(tc).append(Alu(self.below.activation + "_d", yv, yv, None, n))
            e.core(tc).append(Alu("mul", acc, acc, yv, n))
        e.put(tc, target, pix, acc, n)


class StepPrograms:
    """The training-step programs of one model, batch and rate for a Python-driven loop: ``programs(examples_before)``
    compiles (once per phase of the carry schedule, ``examples_before % carry_interval``) the step whose ``crs`` fall
    where the design's schedule is after that many examples."""

    def __init__(self, model: nn.Module, design, lr: float, batch: int = 1, input_shape=None):
        self.model, self.design, self.lr, self.batch, self.input_shape = model, design, lr, batch, input_shape
        self.interval = _carry_interval(design) or 1
        self._cache: dict = {}

    def __call__(self, examples_before: int) -> Compiled:
        k = examples_before % self.interval
        if k not in self._cache:
            self._cache[k] = compile_model(self.model, self.design, train=True, lr=self.lr, batch=self.batch,
                                           input_shape=self.input_shape, examples_before=k)
        return self._cache[k]


def host_input(compiled: Compiled, x: torch.Tensor) -> torch.Tensor:
    """The host vector of port ``x`` for a batch ``x`` (``(B, C, H, W)`` → position-major ``HWC`` per example;
    ``(B, F)`` as is), flattened."""
    x = torch.as_tensor(x)
    if x.dim() == 4:
        x = x.permute(0, 2, 3, 1)
    return x.reshape(-1)


def _carry_interval(design) -> int | None:
    """The design's carry schedule: ``update.slicing.carry_interval`` of a sliced outer-product update, else None."""
    u = design.update
    sl = getattr(u, "slicing", None)
    if sl is None or getattr(u, "rule", None) != "outer_product" or not getattr(sl, "carry_interval", None):
        return None
    if design.compute != "analog" or getattr(sl, "slices", 1) <= 1:
        return None
    return int(sl.carry_interval)


def net_unit_weights(compiled: Compiled, model: nn.Module) -> dict:
    """The block of ``[W | b]ᵀ`` each matrix unit holds, rows in the unit's order (``perm``): ``{key: tensor}``."""
    mods = dict(model.named_modules())
    m = compiled.program.machine
    out = {}
    for lp in compiled.layers:
        mod = mods[lp.name]
        w = mod.weight.detach().to(torch.float64).reshape(lp.out_features, -1)
        if lp.bias:
            w = torch.cat((w, mod.bias.detach().to(torch.float64).reshape(-1, 1)), dim=1)
        perm = getattr(lp, "perm", None) or list(range(lp.in_rows))
        wt = w.T[torch.tensor(perm)]  # unit rows x out
        for (rb, cb), key in lp.units.items():
            blk = torch.zeros(m.rows, m.cols, dtype=torch.float64)
            part = wt[rb * m.rows:(rb + 1) * m.rows, cb * m.cols:(cb + 1) * m.cols]
            blk[:part.shape[0], :part.shape[1]] = part
            out[key] = blk
    return out


__all__ = ["NetLayer", "StepPrograms", "compile_model", "host_input", "net_unit_weights", "trace_model"]
