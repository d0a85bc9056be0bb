"""The one layer registry: what runs on the cores, what stays digital and why — for ``convert`` and the cost.

``convert`` (training) and :func:`pimtrain.workloads.from_module` (cost) both call :func:`plan`, so they can
never disagree on where a module runs. Each torch module of a model is classified, in ``named_modules`` order:

- **analog** — a :class:`LayerSpec` says how it is built on cores (``convert``), which matrices its cores hold
  (``matrices``: the cost model's layers, one per core, named like ``convert``'s analog layers), and how the
  output shape follows (``output``: traced on the ``meta`` device). Per training step and per matrix, the
  forward kernel is one VMM per row (``reuse`` rows per sample), the backward one MVM per row, the update one
  outer product of the saved rows (see :mod:`pimtrain.nn.layers`).
- **digital** — normalisation, activation, pooling, dropout, reshapes, padding (torch's own modules of those
  kinds), or anything the user names in ``digital=[...]`` (a qualified name, a class or a class name). Their
  parameters are trained by plain SGD; the cost lists them (``Workload.digital``) beside the analog layers.
  A user module may state digital work of its own besides its children with a class attribute
  ``pim_digital = "why"`` (e.g. attention scores, :class:`pimtrain.nn.zoo.SelfAttention`).
- **refused** — any other module with weights (``nn.LSTM``, ``nn.GRU``, ``nn.MultiheadAttention``,
  ``nn.Embedding`` …, or a user module owning parameters directly): a one-line :class:`PimtrainError` naming
  it and what is allowed.

To add a layer: write its analog module (``layers.py`` / ``conv_layers.py``), then one :class:`LayerSpec` in
:data:`SPECS` with its converter, its matrices and its output shape.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from pimtrain.design import PimtrainError

from .attention import AnalogMultiheadAttention
from .conv_layers import AnalogComposite, AnalogConv1d, AnalogConvTranspose2d, AnalogGroupedConv
from .layers import AnalogConv2d, AnalogLayer, AnalogLinear
from .recurrent import AnalogGRU, AnalogLSTM

__all__ = ["LayerSpec", "Matrix", "Placement", "SPECS", "plan", "spec_of", "DIGITAL_KINDS", "describe", "step_counts"]


@dataclass(frozen=True)
class Matrix:
    """One core's matrix: ``(out, in)`` (bias row excluded), ``reuse`` VMM rows per sample, under ``suffix``.

    ``reads``: what its rows come from — ``input`` (the module's input), ``key`` / ``value`` (attention's other
    inputs) or ``internal`` (computed inside the module from trained weights): its backward (one MVM per row)
    runs only when that needs a gradient. ``backward_reuse``: MVM rows per sample when not ``reuse`` (a
    recurrent matrix: no gradient into the zero initial state, ``steps − 1``)."""

    suffix: str
    out_features: int
    in_features: int
    reuse: int
    kind: str
    reads: str = "input"
    backward_reuse: int | None = None


@dataclass(frozen=True)
class LayerSpec:
    name: str
    torch_types: tuple[type, ...]
    analog_types: tuple[type, ...]
    convert: Callable  # (module, design, next_index, seed) -> nn.Module
    matrices: Callable  # (module, input meta tensor) -> list[Matrix]
    output: Callable  # (module, input meta tensor) -> output meta tensor
    digital_part: str  # what of it stays digital, and why
    check: Callable | None = None  # (module, input meta tensor) -> error text or None
    core_names: Callable | None = None  # (module) -> the suffixes of its cores (default: one core, "")
    wants_args: bool = False  # matrices / output / check also take the call's other arguments (key, value …)
    #: (module, input meta tensor, …) -> (suffix, MACs, element-wise ops, how counted) of its digital part per
    #: traced forward call, costed as digital work under ``<module>.<suffix>``; None: no arithmetic beside the cores
    digital_work: Callable | None = None


@dataclass(frozen=True)
class Placement:
    """Where one module runs: ``role`` is ``analog``, ``digital`` or ``refused``; ``why`` says why."""

    name: str
    module: nn.Module
    role: str
    why: str
    spec: LayerSpec | None = None


# ------------------------------------------------------------------------------------------ the specs
def _groups(m) -> int:
    return int(getattr(m, "groups", 1)) if not isinstance(m, AnalogGroupedConv) else m.n_groups


def _tuple(v, n):
    return tuple(int(a) for a in v) if isinstance(v, (tuple, list)) else (int(v),) * n


def _linear_matrices(m, x):
    rows = math.prod(x.shape[1:-1]) if x.dim() > 2 else 1
    return [Matrix("", int(m.out_features), int(m.in_features), int(rows), "linear")]


def _linear_check(m, x):
    if x.shape[-1] != m.in_features:
        return f"takes {m.in_features} input features, the traced input has {x.shape[-1]} (shape {tuple(x.shape)})"
    return None


def _linear_output(m, x):
    return torch.empty((*x.shape[:-1], int(m.out_features)), device="meta")


def _conv_output(m, x, dims):
    g = _groups(m)
    k = _tuple(m.kernel_size, dims)
    w = torch.empty((int(m.out_channels), int(m.in_channels) // g, *k), device="meta")
    pad = m.padding if isinstance(m.padding, str) else _tuple(m.padding, dims)
    fn = F.conv1d if dims == 1 else F.conv2d
    return fn(x, w, None, _tuple(m.stride, dims), pad, _tuple(m.dilation, dims), g)


def _conv_matrices(m, x, dims):
    out = _conv_output(m, x, dims)
    g = _groups(m)
    k = math.prod(_tuple(m.kernel_size, dims))
    positions = math.prod(out.shape[2:])
    cin, cout = int(m.in_channels) // g, int(m.out_channels) // g
    if g == 1:
        return [Matrix("", cout, cin * k, positions, "conv")]
    return [Matrix(f"groups.{i}", cout, cin * k, positions, "conv") for i in range(g)]


def _conv_check(dims):
    def check(m, x):
        if x.dim() != dims + 2 or x.shape[1] != m.in_channels:
            return (f"takes ({m.in_channels}, {', '.join(['…'] * dims)}) per sample, the traced input has shape "
                    f"{tuple(x.shape[1:])}")
        return None
    return check


def _convt_output(m, x):
    g = _groups(m)
    k = _tuple(m.kernel_size, 2)
    w = torch.empty((int(m.in_channels), int(m.out_channels) // g, *k), device="meta")
    return F.conv_transpose2d(x, w, None, _tuple(m.stride, 2), _tuple(m.padding, 2), _tuple(m.output_padding, 2),
                              g, _tuple(m.dilation, 2))


def _convt_matrices(m, x):
    g = _groups(m)
    k = math.prod(_tuple(m.kernel_size, 2))
    positions = math.prod(x.shape[2:])  # one VMM row per *input* position
    cin, cout = int(m.in_channels) // g, int(m.out_channels) // g
    if g == 1:
        return [Matrix("", cout * k, cin, positions, "conv_transpose")]
    return [Matrix(f"groups.{i}", cout * k, cin, positions, "conv_transpose") for i in range(g)]


def _convt_work(m, x):
    cols = sum(mat.out_features * mat.reuse for mat in _convt_matrices(m, x))
    out = _convt_output(m, x).numel() if m.bias is not None else 0
    return "fold", 0.0, float(cols + out), "one add per column element of the overlap-add, one per output element (bias)"


def _convert_linear(m, design, next_index, seed):
    return AnalogLinear.from_linear(m, design, layer_index=next_index(), seed=seed)


def _convert_conv(single_cls):
    def convert(m, design, next_index, seed):
        if int(m.groups) > 1:
            return AnalogGroupedConv.from_conv(m, design, next_index=next_index, seed=seed)
        return single_cls.from_conv(m, design, layer_index=next_index(), seed=seed)
    return convert


SPECS: tuple[LayerSpec, ...] = (
    LayerSpec("Linear", (nn.Linear,), (AnalogLinear,), _convert_linear, _linear_matrices, _linear_output,
              "nothing (the bias is the array's constant-1 input row)", _linear_check),
    LayerSpec("Conv1d", (nn.Conv1d,), (AnalogConv1d,), _convert_conv(AnalogConv1d),
              lambda m, x: _conv_matrices(m, x, 1), lambda m, x: _conv_output(m, x, 1),
              "the unfold of the input into patches (data movement); groups > 1: one core per group",
              _conv_check(1)),
    LayerSpec("Conv2d", (nn.Conv2d,), (AnalogConv2d,), _convert_conv(AnalogConv2d),
              lambda m, x: _conv_matrices(m, x, 2), lambda m, x: _conv_output(m, x, 2),
              "the unfold of the input into patches (data movement); groups > 1: one core per group",
              _conv_check(2)),
    LayerSpec("ConvTranspose2d", (nn.ConvTranspose2d,), (AnalogConvTranspose2d,),
              _convert_conv(AnalogConvTranspose2d), _convt_matrices, _convt_output,
              "the overlap-add (fold) of the columns and the bias, added after it where no array row can "
              "carry it (plain SGD)", _conv_check(2), digital_work=lambda m, x: _convt_work(m, x)),
)


def _rnn_steps(m, x):
    unbatched = x.dim() == 2
    steps = x.shape[0] if unbatched or not m.batch_first else x.shape[1]
    return int(steps), unbatched


def _rnn_matrices(m, x):
    rows = math.prod(x.shape[:-1])  # rows per traced call (batch 1): time steps × the traced batch
    batch = rows // _rnn_steps(m, x)[0]
    gates = 4 if isinstance(m, (nn.LSTM, AnalogLSTM)) else 3
    out = []
    for layer in range(int(m.num_layers)):
        n_in = int(m.input_size) if layer == 0 else int(m.hidden_size)
        out.append(Matrix(f"ih_l{layer}", gates * int(m.hidden_size), n_in, rows, "linear",
                          "input" if layer == 0 else "internal"))
        out.append(Matrix(f"hh_l{layer}", gates * int(m.hidden_size), int(m.hidden_size), rows, "linear", "internal",
                          rows - batch))  # h_0 = 0 takes no gradient
    return out


def _rnn_output(m, x):
    steps, unbatched = _rnn_steps(m, x)
    batch = 1 if unbatched else (x.shape[0] if m.batch_first else x.shape[1])
    h = int(m.hidden_size)
    if unbatched:
        out, state = torch.empty((steps, h), device="meta"), torch.empty((int(m.num_layers), h), device="meta")
    else:
        shape = (batch, steps, h) if m.batch_first else (steps, batch, h)
        out, state = torch.empty(shape, device="meta"), torch.empty((int(m.num_layers), batch, h), device="meta")
    return (out, (state, state.clone())) if isinstance(m, (nn.LSTM, AnalogLSTM)) else (out, state)


def _rnn_check(m, x):
    if x.dim() not in (2, 3) or x.shape[-1] != m.input_size:
        return f"takes (steps, {m.input_size}) per sample, the traced input has shape {tuple(x.shape[1:])}"
    return None


def _rnn_names(m):
    return [f"{p}_l{layer}" for layer in range(int(m.num_layers)) for p in ("ih", "hh")]


#: element-wise operations per hidden unit and time step (torch's documented equations of the cells)
RNN_OPS_PER_UNIT = {"LSTM": (13, "4 adds of the two matrix products, 3 sigmoids, 2 tanh, c' = f·c + i·g (3), "
                              "h = o·tanh(c') (1 multiply)"),
                    "GRU": (11, "2 adds (r, z), 2 sigmoids, r·(W_hn h + b) (1) + add (1) + tanh (1), "
                                "h' = (1 − z)·n + z·h (4)")}


def _rnn_work(m, x):
    per, how = RNN_OPS_PER_UNIT["LSTM" if isinstance(m, (nn.LSTM, AnalogLSTM)) else "GRU"]
    steps = math.prod(x.shape[:-1])
    return "gates", 0.0, float(per * int(m.hidden_size) * steps * int(m.num_layers)), f"{per} per hidden unit and step: {how}"


def _convert_rnn(cls):
    def convert(m, design, next_index, seed):
        return cls.from_rnn(m, design, next_index=next_index, seed=seed)
    return convert


SPECS = SPECS + (
    LayerSpec("LSTM", (nn.LSTM,), (AnalogLSTM,), _convert_rnn(AnalogLSTM), _rnn_matrices, _rnn_output,
              "the gate non-linearities and the cell state (element-wise); input and recurrent matrices on cores",
              _rnn_check, _rnn_names, digital_work=_rnn_work),
    LayerSpec("GRU", (nn.GRU,), (AnalogGRU,), _convert_rnn(AnalogGRU), _rnn_matrices, _rnn_output,
              "the gate non-linearities and the state update (element-wise); input and recurrent matrices on "
              "cores", _rnn_check, _rnn_names, digital_work=_rnn_work),
)


def _mha_tensors(m, query, key=None, *args, **kwargs):
    key = kwargs.get("key", key)
    key = query if key is None else key
    batched = query.dim() == 3
    first = (lambda z: z) if (not batched or m.batch_first) else (lambda z: z.transpose(0, 1))
    return first(query), first(key), batched


def _mha_matrices(m, query, *args, **kwargs):
    q, k, batched = _mha_tensors(m, query, *args, **kwargs)
    tgt = math.prod(q.shape[:-1])
    src = math.prod(k.shape[:-1])
    e = int(m.embed_dim)
    return [Matrix("q_proj", e, e, tgt, "linear"), Matrix("k_proj", e, e, src, "linear", "key"),
            Matrix("v_proj", e, e, src, "linear", "value"), Matrix("out_proj", e, e, tgt, "linear", "internal")]


def _mha_work(m, query, *args, **kwargs):
    q, k, _ = _mha_tensors(m, query, *args, **kwargs)
    batch = math.prod(q.shape[:-2]) if q.dim() > 2 else 1
    tgt, src, e, heads = q.shape[-2], k.shape[-2], int(m.embed_dim), int(m.num_heads)
    scores = batch * heads * tgt * src
    return ("scores", 2.0 * batch * tgt * src * e, 6.0 * scores,
            "QKᵀ and softmax·V: 2·L_q·L_k·E MACs; per score: the 1/√d scale and softmax (max, subtract, exp, sum, "
            "divide) = 6 ops")


def _mha_output(m, query, *args, **kwargs):
    return torch.empty_like(query, device="meta"), None  # attention weights are not traced


def _mha_check(m, query, *args, **kwargs):
    q, k, _ = _mha_tensors(m, query, *args, **kwargs)
    if q.shape[-1] != m.embed_dim or k.shape[-1] != m.embed_dim:
        return f"takes embeddings of {m.embed_dim}, the traced query / key have {q.shape[-1]} / {k.shape[-1]}"
    return None


SPECS = SPECS + (
    LayerSpec("MultiheadAttention", (nn.MultiheadAttention,), (AnalogMultiheadAttention,),
              lambda m, design, next_index, seed: AnalogMultiheadAttention.from_mha(m, design, next_index=next_index,
                                                                                    seed=seed),
              _mha_matrices, _mha_output,
              "the attention scores QKᵀ/√d and softmax·V (products of two activations), masks, softmax, dropout",
              _mha_check, lambda m: ["q_proj", "k_proj", "v_proj", "out_proj"], wants_args=True,
              digital_work=_mha_work),
)

#: torch layers made only of registered children plus element-wise work: walked through like containers
WALK_THROUGH = {
    nn.TransformerEncoderLayer: "residual adds (element-wise); its attention, feed-forward and norms are children",
    nn.TransformerDecoderLayer: "residual adds (element-wise); its attentions, feed-forward and norms are children",
    nn.TransformerEncoder: "a stack of encoder layers", nn.TransformerDecoder: "a stack of decoder layers",
}


def _conv_options(m):
    if getattr(m, "padding_mode", "zeros") != "zeros":
        return f"padding_mode={m.padding_mode!r} (allowed: 'zeros')"
    return None


def _rnn_options(m):
    bad = [f"{k}={v}" for k, v in (("bidirectional", m.bidirectional), ("proj_size", getattr(m, "proj_size", 0)),
                                   ("dropout", m.dropout)) if v]
    return ", ".join(bad) + " (allowed: unidirectional, proj_size=0, dropout=0)" if bad else None


def _mha_options(m):
    if not m._qkv_same_embed_dim or m.bias_k is not None or m.add_zero_attn:
        return "kdim/vdim != embed_dim, add_bias_kv or add_zero_attn (allowed: the defaults)"
    return None


#: per spec: the settings of a torch module that no analog layer maps (refused, or digital on request)
_OPTIONS = {"Conv1d": _conv_options, "Conv2d": _conv_options, "ConvTranspose2d": _conv_options,
            "LSTM": _rnn_options, "GRU": _rnn_options, "MultiheadAttention": _mha_options}


def _grouped_spec(m: AnalogGroupedConv) -> LayerSpec:
    return next(s for s in SPECS if s.name == m.kind)


def spec_of(module: nn.Module) -> LayerSpec | None:
    """The spec of a torch layer or of its analog twin; None for anything else."""
    if isinstance(module, AnalogGroupedConv):
        return _grouped_spec(module)
    for spec in SPECS:
        if type(module) in spec.analog_types or type(module) in spec.torch_types:
            return spec
    for spec in SPECS:  # subclasses
        if isinstance(module, spec.analog_types + spec.torch_types):
            return spec
    return None


#: torch's own module files whose modules are purely digital work (no weight matrix a core could hold)
DIGITAL_KINDS = {
    "activation": "activation", "batchnorm": "normalisation", "normalization": "normalisation",
    "instancenorm": "normalisation", "pooling": "pooling", "dropout": "dropout", "flatten": "reshape",
    "padding": "padding", "pixelshuffle": "reshape", "upsampling": "resampling", "channelshuffle": "reshape",
    "distance": "distance", "fold": "reshape",
}
#: modules of those files that do hold weight matrices (and are therefore not digital by nature)
_NOT_DIGITAL = (nn.MultiheadAttention,)
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


def _digital_kind(module: nn.Module) -> str | None:
    if isinstance(module, _NOT_DIGITAL):
        return None
    if type(module) is nn.Identity:
        return "identity"
    mod = type(module).__module__
    if mod.startswith("torch.nn.modules."):
        return DIGITAL_KINDS.get(mod.rsplit(".", 1)[1])
    return None


def _allowed() -> str:
    return ", ".join(s.name for s in SPECS)


def _wants_digital(name: str, module: nn.Module, digital: Iterable) -> bool:
    for d in digital:
        if isinstance(d, str):
            if d == name or d == type(module).__name__ or (name and name.startswith(d + ".")):
                return True
        elif isinstance(d, type) and isinstance(module, d):
            return True
    return False


def _check_digital_arg(digital) -> tuple:
    if digital is None:
        return ()
    if isinstance(digital, (str, type)):
        digital = [digital]
    items = tuple(digital)
    for d in items:
        if not isinstance(d, (str, type)):
            raise PimtrainError(f"digital: {d!r} is not a module name or class; allowed: qualified names "
                                "(e.g. 'encoder.0'), class names ('LSTM') or classes (nn.LSTM)")
    return items


def plan(model: nn.Module, digital=None, *, strict: bool = True) -> list[Placement]:
    """Every module of ``model`` that does work, in ``named_modules`` order, with where it runs.

    Containers (``nn.Sequential`` … and user modules without parameters of their own) are walked through.
    ``strict``: raise the one-line error for the first refused module (else it is returned as ``refused``).
    """
    if not isinstance(model, nn.Module):
        raise PimtrainError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    wanted = _check_digital_arg(digital)
    out: list[Placement] = []
    seen: set[int] = set()

    def visit(name: str, module: nn.Module) -> None:
        if id(module) in seen:
            return
        seen.add(id(module))
        label = name or "<model>"
        spec = spec_of(module)
        if wanted and _wants_digital(name, module, wanted):
            out.append(Placement(name, module, "digital", "kept digital on request (digital=[...])"))
            return
        if spec is not None:
            check = _OPTIONS.get(spec.name)
            problem = None if is_analog_module(module) or check is None else check(module)
            if problem is None:
                out.append(Placement(name, module, "analog", f"on cores; digital: {spec.digital_part}", spec))
                return
            why = f"{problem} has no analog mapping; or keep it digital with digital=[{label!r}]"
            if strict:
                raise PimtrainError(f"{label} ({type(module).__name__}): {why}")
            out.append(Placement(name, module, "refused", why))
            return
        kind = _digital_kind(module)
        if kind is not None:
            out.append(Placement(name, module, "digital", kind))
            return
        own = [p for p, _ in module.named_parameters(recurse=False)]
        torch_layer = type(module).__module__.startswith("torch.nn.modules.") and not isinstance(
            module, _CONTAINERS + tuple(WALK_THROUGH))
        if own or torch_layer:
            why = (f"no analog mapping; allowed on cores: {_allowed()}; digital by nature: normalisation, "
                   f"activation, pooling, dropout, reshapes; or keep it digital with digital=[{label!r}]")
            if strict:
                raise PimtrainError(f"{label} ({type(module).__name__}): {why}")
            out.append(Placement(name, module, "refused", why))
            return
        note = getattr(type(module), "pim_digital", None)  # a module's own work beside its children
        if note:
            out.append(Placement(name, module, "digital", str(note)))
        for child_name, child in module.named_children():
            visit(f"{name}.{child_name}" if name else child_name, child)

    visit("", model)
    return out


def describe(model: nn.Module, digital=None) -> list[dict]:
    """One row per module: ``{"name", "type", "role", "why", "matrices"}`` (``matrices``: core names)."""
    rows = []
    for p in plan(model, digital, strict=False):
        names = []
        if p.spec is not None:
            names = [".".join(s for s in (p.name, suffix) if s) for suffix in core_names(p.module)]
        rows.append({"name": p.name or "<model>", "type": type(p.module).__name__, "role": p.role, "why": p.why,
                     "matrices": names})
    return rows


def core_names(module: nn.Module) -> list[str]:
    """The suffixes of the cores an analog-mappable module uses ("" for a single core)."""
    spec = spec_of(module)
    if spec is None:
        return []
    if spec.core_names is not None:
        return spec.core_names(module)
    g = _groups(module)
    return [""] if g == 1 else [f"groups.{i}" for i in range(g)]


def is_analog_module(module: nn.Module) -> bool:
    return isinstance(module, (AnalogLayer, AnalogComposite))


def step_counts(workload, batch_size: int, design) -> dict[str, dict[str, int]]:
    """Kernel counts of one training step of ``batch_size`` samples, per core (a traced ``Workload``'s layers):
    ``forward`` VMM rows (``batch × reuse``), ``backward`` MVM rows (``batch × backward_reuse``: none where the
    rows read an input that takes no gradient, ``steps − 1`` per sequence for a recurrent matrix) and ``update``
    events (rule ``outer_product``: one outer product per forward row; any other rule: one write per batch).
    The cores' own statistics (``vectors_forward``, ``vectors_backward``, ``update_events``) equal these with
    every non-ideality off (tests/test_layers_counts.py)."""
    outer = design.update.rule == "outer_product"
    out = {}
    for L in workload.layers:
        back = L.reuse if getattr(L, "backward_reuse", None) is None else L.backward_reuse
        out[L.name] = {"forward": batch_size * L.reuse, "backward": batch_size * back,
                       "update": batch_size * L.reuse if outer else 1}
    return out
