"""Networks for cost studies, as lists of layer shapes (no weights are allocated).

``get_workload(name)``: inline MLPs (``mlp:784-300-10``) and zoo networks (``vgg16``, ``vgg16-cifar``,
``vgg16-cifar100``, ``resnet18``, ``resnet18-cifar``, ``resnet50``, ``resnet50-cifar``).
``from_module(module, input_shape)``: the core matrices of a torch module (input shape without the batch
dimension) as :mod:`pimtrain.nn.layer_registry` places them, traced on the ``meta`` device.

A layer is a weight matrix ``(out_features, in_features)`` used ``reuse`` times per sample (a
convolution: once per output position; its matrix is ``out_channels × in_channels/groups·kh·kw``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from pimtrain.design.errors import PimtrainError


@dataclass(frozen=True)
class LayerShape:
    name: str
    kind: str  # "linear" or "conv"
    out_features: int
    in_features: int
    reuse: int = 1
    #: MVM rows of the backward per sample (from_module: 0 where the rows read an input that needs no gradient,
    #: e.g. the model's input; steps − 1 for a recurrent matrix); None = ``reuse``. The numerics run exactly
    #: these; the cost engine charges ``reuse`` rows for every layer but the first.
    backward_reuse: int | None = None

    @property
    def macs(self) -> int:
        return self.out_features * self.in_features * self.reuse

    @property
    def weights(self) -> int:
        return self.out_features * self.in_features


@dataclass(frozen=True)
class Workload:
    name: str
    layers: tuple[LayerShape, ...] = field(default_factory=tuple)
    input_shape: tuple[int, ...] = ()
    digital: tuple[str, ...] = ()  # modules that run digitally (from_module), beside the core layers
    #: per module doing digital work (the digital modules, and analog modules' digital parts such as the attention
    #: products): :class:`pimtrain.workloads.digital_work.DigitalWork`, per sample; costed as digital work
    digital_work: tuple = ()

    @property
    def macs(self) -> int:
        return sum(L.macs for L in self.layers)

    @property
    def weights(self) -> int:
        return sum(L.weights for L in self.layers)


# ----------------------------------------------------------------------------------------------- zoo
def _out(size: int, k: int, s: int, p: int) -> int:
    return (size + 2 * p - k) // s + 1


def _vgg16(name: str, hw: int, classes: int, fc: tuple[int, ...]) -> Workload:
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    layers, c, s, i = [], 3, hw, 0
    for v in cfg:
        if v == "M":
            s //= 2
            continue
        i += 1
        layers.append(LayerShape(f"conv{i}", "conv", v, c * 9, s * s))
        c = v
    feat = c * s * s if hw >= 32 and s > 0 else c
    if hw == 224:
        feat = 512 * 7 * 7  # torchvision: adaptive pool to 7x7
    dims = (feat, *fc, classes)
    for j in range(len(dims) - 1):
        layers.append(LayerShape(f"fc{j + 1}", "linear", dims[j + 1], dims[j], 1))
    return Workload(name, tuple(layers), (3, hw, hw))


def _resnet(name: str, hw: int, classes: int, blocks: tuple[int, ...], bottleneck: bool, cifar: bool) -> Workload:
    layers: list[LayerShape] = []
    if cifar:
        s = hw
        layers.append(LayerShape("conv1", "conv", 64, 3 * 9, s * s))
    else:
        s = _out(hw, 7, 2, 3)
        layers.append(LayerShape("conv1", "conv", 64, 3 * 49, s * s))
        s = _out(s, 3, 2, 1)
    c = 64
    exp = 4 if bottleneck else 1
    for stage, n in enumerate(blocks):
        width = 64 * 2 ** stage
        for b in range(n):
            stride = 2 if (stage > 0 and b == 0) else 1
            so = _out(s, 3, stride, 1)
            tag = f"layer{stage + 1}.{b}"
            if bottleneck:
                layers.append(LayerShape(f"{tag}.conv1", "conv", width, c, s * s))
                layers.append(LayerShape(f"{tag}.conv2", "conv", width, width * 9, so * so))
                layers.append(LayerShape(f"{tag}.conv3", "conv", width * exp, width, so * so))
            else:
                layers.append(LayerShape(f"{tag}.conv1", "conv", width, c * 9, so * so))
                layers.append(LayerShape(f"{tag}.conv2", "conv", width, width * 9, so * so))
            if stride != 1 or c != width * exp:
                layers.append(LayerShape(f"{tag}.downsample", "conv", width * exp, c, so * so))
            c, s = width * exp, so
    layers.append(LayerShape("fc", "linear", classes, c, 1))
    return Workload(name, tuple(layers), (3, hw, hw))


ZOO = {
    "vgg16": lambda: _vgg16("vgg16", 224, 1000, (4096, 4096)),
    "vgg16-cifar": lambda: _vgg16("vgg16-cifar", 32, 10, (4096, 4096)),
    "vgg16-cifar100": lambda: _vgg16("vgg16-cifar100", 32, 100, (4096, 4096)),
    "resnet18": lambda: _resnet("resnet18", 224, 1000, (2, 2, 2, 2), False, False),
    "resnet18-cifar": lambda: _resnet("resnet18-cifar", 32, 10, (2, 2, 2, 2), False, True),
    "resnet50": lambda: _resnet("resnet50", 224, 1000, (3, 4, 6, 3), True, False),
    "resnet50-cifar": lambda: _resnet("resnet50-cifar", 32, 10, (3, 4, 6, 3), True, True),
}
_CACHE: dict[str, Workload] = {}

#: further zoo modules, each with ``WORKLOADS: dict[name, () -> Workload]`` (one file per family;
#: a module not written yet is skipped)
EXTRA_MODULES = ("pimtrain.workloads.imagenet", "pimtrain.workloads.panther")
_EXTRA_LOADED = False


def _load_extra() -> None:
    global _EXTRA_LOADED
    if _EXTRA_LOADED:
        return
    import importlib

    for mod in EXTRA_MODULES:
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name == mod:
                continue
            raise
        for k, fn in getattr(module, "WORKLOADS", {}).items():
            ZOO.setdefault(k, fn)
    _EXTRA_LOADED = True


def workload_names() -> list[str]:
    _load_extra()
    return sorted(ZOO) + ["mlp:<in>-<hidden>-...-<out>"]


def get_workload(name: str) -> Workload:
    """A zoo network or an inline MLP by name; an unknown name raises PimtrainError listing the names."""
    if not isinstance(name, str):
        raise PimtrainError(f"workload: expected a name, got {type(name).__name__}")
    key = name.strip().lower()
    if key in _CACHE:
        return _CACHE[key]
    _load_extra()
    if key.startswith("mlp:"):
        try:
            dims = [int(x) for x in key[4:].split("-")]
        except ValueError:
            dims = []
        if len(dims) < 2 or any(d < 1 for d in dims):
            raise PimtrainError(f"workload: {name!r} is not an MLP shape; allowed: mlp:<in>-<hidden>-...-<out> with positive integers, e.g. mlp:784-300-10")
        layers = tuple(LayerShape(f"fc{i + 1}", "linear", dims[i + 1], dims[i], 1) for i in range(len(dims) - 1))
        wl = Workload(key, layers, (dims[0],))
    elif key in ZOO:
        wl = ZOO[key]()
    else:
        raise PimtrainError(f"workload: unknown {name!r}; allowed: {', '.join(workload_names())}")
    _CACHE[key] = wl
    return wl


# ----------------------------------------------------------------------------------------------- from torch
def from_module(module, input_shape, name: str | None = None, digital=None) -> Workload:
    """The core matrices of ``module`` for an input of ``input_shape`` (per sample, no batch dim; a leading 1
    is accepted too), placed by :func:`pimtrain.nn.layer_registry.plan` — the same plan ``convert`` follows,
    so the layers named here are exactly the analog layers of ``convert(module, ...)`` (a grouped convolution:
    one layer per group, ``<name>.groups.<i>``). Digital modules are listed in ``Workload.digital``; a module
    with weights and no analog mapping is refused (one line) unless named in ``digital``. The work of every
    digital module, and the digital part of analog modules (attention products, recurrent gates), is counted in
    ``Workload.digital_work`` (:mod:`pimtrain.workloads.digital_work`; the cost charges it as digital work).

    Runs on the ``meta`` device (nothing large is allocated), in eval mode whatever the module's mode
    (``BatchNorm`` with one sample), which is restored afterwards; analog layers are not executed. Autograd is on
    (meta tensors, no memory) so that each matrix's ``backward_reuse`` says whether its rows take a gradient."""
    import torch
    from torch import nn
    from torch.func import functional_call

    from pimtrain.nn.layer_registry import plan

    from .digital_work import DigitalWork, OpCounter, record_kind

    if not isinstance(module, nn.Module):
        raise PimtrainError(f"workload: model must be a torch.nn.Module, got {type(module).__name__}")
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise PimtrainError(f"workload: input_shape {input_shape!r} is not a tuple of positive integers") from None
    if not shape or any(s < 1 for s in shape):
        raise PimtrainError(f"workload: input_shape {input_shape!r} is not a tuple of positive integers")
    placements = plan(module, digital)
    x = torch.empty((1, *shape), device="meta")
    records: list[LayerShape] = []
    patched = []
    work: dict[str, dict] = {}  # qualified name -> summed digital work of its calls
    parts: dict[str, list[str]] = {}  # analog module -> the names of its digital parts

    def add_work(label, kind, macs, ops, e_in, e_out, source):
        w = work.setdefault(label, {"kind": kind, "macs": 0.0, "ops": 0.0, "in": 0.0, "out": 0.0, "source": source})
        w["macs"] += macs
        w["ops"] += ops
        w["in"] += e_in
        w["out"] += e_out

    def numel(obj):
        if isinstance(obj, torch.Tensor):
            return float(obj.numel())
        if isinstance(obj, (tuple, list)):
            return sum(numel(o) for o in obj)
        if isinstance(obj, dict):
            return sum(numel(o) for o in obj.values())
        return 0.0

    def make_forward(qual, m, spec):
        def fwd(inp, *args, **kwargs):
            if not isinstance(inp, torch.Tensor):
                raise PimtrainError(f"workload: {qual or '<model>'} ({type(m).__name__}) got a "
                                    f"{type(inp).__name__}, not a tensor")
            extra = (args, kwargs) if spec.wants_args else ((), {})
            problem = spec.check(m, inp, *extra[0], **extra[1]) if spec.check else None
            if problem:
                raise PimtrainError(f"workload: {qual or '<model>'} ({type(m).__name__}) {problem}")
            sources = {"input": inp, "key": args[0] if args else None, "value": args[1] if len(args) > 1 else None}
            sources.update({k: v for k, v in kwargs.items() if k in ("key", "value")})
            for mat in spec.matrices(m, inp, *extra[0], **extra[1]):
                full = ".".join(p for p in (qual or "layer", mat.suffix) if p)
                src = sources.get(mat.reads)
                src = inp if src is None and mat.reads != "internal" else src
                needs = mat.reads == "internal" or bool(getattr(src, "requires_grad", False))
                back = (mat.reuse if mat.backward_reuse is None else mat.backward_reuse) if needs else 0
                records.append(LayerShape(full, "linear" if mat.kind == "linear" else "conv", mat.out_features,
                                          mat.in_features, mat.reuse, back))
            out = _needs_grad(spec.output(m, inp, *extra[0], **extra[1]))  # computed from trained weights
            if spec.digital_work is not None:
                suffix, macs, ops, how = spec.digital_work(m, inp, *extra[0], **extra[1])
                label = ".".join(p for p in (qual, suffix) if p)
                add_work(label, f"part of {type(m).__name__}", macs, ops, numel(inp), numel(out), how)
                if label not in parts.setdefault(qual, []):
                    parts[qual].append(label)
            return out
        return fwd

    def make_digital(qual, m, why):
        inner = type(m).forward.__get__(m)

        def fwd(*args, **kwargs):
            counter = OpCounter()
            with counter:
                out = inner(*args, **kwargs)
            add_work(qual or "<model>", why, counter.macs, counter.ops, numel(args) + numel(kwargs), numel(out),
                     "counted")
            return out
        return fwd

    for p in placements:
        if p.role == "analog":
            p.module.forward = make_forward(p.name, p.module, p.spec)
            patched.append(p.module)
        elif p.role == "digital":
            p.module.forward = make_digital(p.name, p.module, p.why)
            patched.append(p.module)
    modes = [(m, m.training) for m in module.modules()]
    running: list[tuple[str, nn.Module, tuple]] = []  # the modules whose forward is running (innermost last)

    def enter(qual):
        def hook(m, args):
            running.append((qual, m, tuple(tuple(a.shape) for a in args if isinstance(a, torch.Tensor))))
        return hook

    def leave(m, args, out):
        running.pop()

    hooks = []
    for qual, m in module.named_modules():
        hooks.append(m.register_forward_pre_hook(enter(qual)))
        hooks.append(m.register_forward_hook(leave))
    try:
        module.eval()
        # trained parameters require a gradient on the meta device too: a matrix whose input needs none (the
        # model's input) has no backward, as in the numerics
        state = {k: torch.empty_like(v, device="meta").requires_grad_(bool(v.requires_grad))
                 for k, v in module.named_parameters() if isinstance(v, torch.Tensor)}
        state.update({k: torch.empty_like(v, device="meta") for k, v in module.named_buffers()
                      if isinstance(v, torch.Tensor)})
        functional_call(module, state, (x,))
    except PimtrainError:
        raise
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        failed = running[-1:]
        if failed and failed[0][1] is not module:  # name the innermost module whose forward failed
            qual, m, shapes = failed[0]
            got = ", ".join(str(s) for s in shapes) or "no tensor"
            allowed = ("a forward whose control flow depends on shapes only (the trace runs on the meta device, "
                       "without values)" if "meta" in first.lower() or "data-dependent" in first.lower() else
                       "an input_shape the model accepts (one sample, without the batch dimension)")
            raise PimtrainError(f"workload: {qual} ({type(m).__name__}) cannot run on its traced input {got} "
                                f"(model input_shape {shape}): {type(exc).__name__}: {first}; allowed: {allowed}") from None
        raise PimtrainError(f"workload: cannot trace {type(module).__name__} with input shape {shape} on the meta "
                            f"device ({type(exc).__name__}: {first}); allowed: an input_shape the model accepts (one "
                            "sample, without the batch dimension)") from None
    finally:
        for h in hooks:
            h.remove()
        for m in patched:
            del m.forward
        for m, mode in modes:
            m.training = mode
    digital_names = tuple(p.name or "<model>" for p in placements if p.role == "digital")
    digital_work = _digital_work(placements, work, parts, DigitalWork, record_kind)
    return Workload(name or type(module).__name__.lower(), tuple(records), shape, digital_names, digital_work)


def _needs_grad(out):
    """Tensors (in tuples) as computed from trained weights: requiring a gradient, not leaves (in-place safe)."""
    import torch

    if isinstance(out, torch.Tensor):
        return out.detach().requires_grad_(True).clone()
    if isinstance(out, tuple):
        return tuple(_needs_grad(o) for o in out)
    return out


def _digital_work(placements, work: dict, parts: dict, DigitalWork, record_kind) -> tuple:
    """One DigitalWork per digital placement (in plan order; zero work if its forward never ran) and per analog
    module with a digital part. A digital module's counted work excludes that of its recorded digital children
    (a user module's own ``pim_digital`` work around them); torch's digital kinds use the per-kind rule."""
    out = []
    digital = {p.name or "<model>": p for p in placements if p.role == "digital"}
    inclusive = {k: (w["macs"], w["ops"]) for k, w in work.items()}
    for child in work:  # the counted (inclusive) work of a module, less that of its recorded digital children
        parents = [a for a in work if a != child and a in digital and child in digital
                   and (a == "<model>" or child.startswith(a + "."))]
        if parents:
            nearest = max(parents, key=lambda a: -1 if a == "<model>" else len(a))
            work[nearest]["macs"] -= inclusive[child][0]
            work[nearest]["ops"] -= inclusive[child][1]
    for p in placements:
        label = p.name or "<model>"
        w = work.get(label)
        if p.role == "analog":
            for part in parts.get(p.name, ()):  # its digital part, "<module>.<suffix>"
                w = work[part]
                out.append(DigitalWork(part, w["kind"], w["macs"], w["ops"], w["in"], w["out"], 0, w["source"]))
            continue
        if p.role != "digital":
            continue
        own = p.module.parameters(recurse=getattr(type(p.module), "pim_digital", None) is None)
        params = int(sum(t.numel() for t in own))
        if w is None:
            out.append(DigitalWork(label, p.why, params=params, ops_source="not called in the traced forward"))
            continue
        rule = record_kind(p.why)
        if rule is not None:
            per, base, how = rule
            ops, source = per * (w["in"] if base == "in" else w["out"]), how
        else:
            ops, source = max(w["ops"], 0.0), ("output elements of its aten calls (meta trace), products' MACs by "
                                                "torch.utils.flop_counter")
        out.append(DigitalWork(label, p.why, max(w["macs"], 0.0), ops, w["in"], w["out"], params, source))
    return tuple(out)


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


__all__ = ["Workload", "LayerShape", "get_workload", "from_module", "workload_names", "ZOO"]
