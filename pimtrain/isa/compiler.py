"""The MLP entry of the compiler and the records of a compiled program.

:func:`compile_mlp` gates a model to a multi-layer perceptron (``Linear`` layers each optionally followed by
``ReLU``/``Sigmoid``/``Tanh``, ``Flatten``/``Identity``; anything else is refused naming the node) and compiles it with
:func:`pimtrain.isa.netcompile.compile_model` (placement, data layout, dataflow, carries: see that module).
:class:`LayerPlan` (a layer's blocks and the units that hold them) and :class:`Compiled` (program, layers, mode,
rate) are shared with it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from pimtrain.design import PimtrainError

from .program import Program

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
    batch: int = 1
    input_shape: tuple = ()
    #: examples trained before this step (where its ``crs`` fall)
    examples_before: int = 0


def fx_trace(model: nn.Module):
    """``torch.fx.symbolic_trace(model)``; a model fx cannot trace is refused in one line."""
    import torch.fx as fx

    try:
        return fx.symbolic_trace(model)
    except Exception as exc:  # noqa: BLE001 - tracing errors are the user's model
        raise PimtrainError(f"compile: the model cannot be traced by torch.fx ({type(exc).__name__}); "
                            "allowed: a feed-forward nn.Module") from None


def trace_mlp(model: nn.Module) -> list[tuple[str, nn.Linear, str | None]]:
    """``[(name, linear, activation or None)]`` of a traced MLP; refuses any other node with one line."""
    gm = fx_trace(model)
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


def compile_mlp(model: nn.Module, design, train: bool = False, lr: float = 0.1, batch: int = 1,
                examples_before: int = 0) -> Compiled:
    """Compile the MLP ``model`` for ``design``: inference (``train=False``) or one SGD step of ``batch`` examples
    with rate ``lr`` (:func:`pimtrain.isa.netcompile.compile_model`, which also takes convolutions)."""
    from .netcompile import compile_model

    trace_mlp(model)  # an MLP: refuse anything else naming the node
    return compile_model(model, design, train=train, lr=lr, batch=batch, examples_before=examples_before)


def unit_weights(compiled: Compiled, model: nn.Module) -> dict:
    """The block of ``[W | b]ᵀ`` (rows × cols, zero padded) each matrix unit holds: ``{(tile, core, unit): tensor}``."""
    from .netcompile import net_unit_weights

    return net_unit_weights(compiled, model)
