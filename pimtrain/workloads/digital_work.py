"""The digital work of a traced torch module: per digital module, its products and element-wise operations.

:func:`pimtrain.workloads.from_module` records one :class:`DigitalWork` per module that
:func:`pimtrain.nn.layer_registry.plan` places digitally (normalisation, activation, pooling, dropout, reshapes,
modules kept digital with ``digital=[...]``, a user module's own ``pim_digital`` work) and one per analog module
whose spec names digital work beside its cores (the attention products of ``nn.MultiheadAttention``, the gates of
``nn.LSTM`` / ``nn.GRU``, the overlap-add of ``nn.ConvTranspose2d``). Counts are per sample (the trace runs
batch 1) and per forward pass; the cost (:mod:`pimtrain.cost.digital_layers`) derives backward and update.

How the operations are counted (``ops_source`` says which rule gave them):

- ``products`` (multiply-accumulates of matrix products: ``mm``, ``bmm``, convolutions …) are counted exactly
  from the aten calls of the module's forward on the ``meta`` device, with torch's own FLOP formulas
  (``torch.utils.flop_counter.flop_registry``; one MAC = 2 FLOPs).
- ``elements`` (element-wise operations) of torch's own digital modules follow :data:`OPS_PER_ELEMENT` per
  kind (from the module's documented formula); any other module's (a user module's own work, a module kept
  digital) are the output elements of every non-view aten call of its forward, outside its recorded children.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DigitalWork", "OPS_PER_ELEMENT", "OpCounter", "record_kind"]


@dataclass(frozen=True)
class DigitalWork:
    """Digital work of one module per sample and forward pass."""

    name: str  # the module's qualified name (as in ``Workload.digital``)
    kind: str  # normalisation, activation, pooling, … or "part of <Type>" for an analog module's digital part
    macs: float = 0.0  # multiply-accumulates of products computed digitally
    ops: float = 0.0  # element-wise operations
    elements_in: float = 0.0  # elements read (activation buffer traffic)
    elements_out: float = 0.0  # elements written
    params: int = 0  # parameters trained digitally (plain SGD)
    ops_source: str = ""


#: element-wise operations per element of a torch digital module's kind, forward pass (``basis`` of each:
#: counted from the formula in torch's documentation of the module; assumption: one ALU operation each)
OPS_PER_ELEMENT = {
    # y = act(x): one look-up / ALU operation per output element (ISAAC's sigmoid unit: one element per op)
    "activation": (1.0, "out", "one operation per output element (one activation-unit op, as ISAAC's sigmoid unit)"),
    # y = (x - mean) / sqrt(var + eps) * gamma + beta, with the statistics' two sums (x and x^2)
    "normalisation": (6.0, "out", "6 per element: the two sums of the statistics, subtract, scale by 1/σ, ×γ, +β"),
    # max / average pooling: one compare or add per input element of the windows
    "pooling": (1.0, "in", "one compare / add per input element"),
    "dropout": (1.0, "out", "one mask multiply per element"),
    "resampling": (1.0, "out", "one interpolation op per output element"),
    "distance": (3.0, "in", "difference, square, sum per input element"),
    # data movement only (no arithmetic): charged as buffer traffic
    "reshape": (0.0, "out", "data movement only"),
    "padding": (0.0, "out", "data movement only"),
    "identity": (0.0, "out", "no work"),
}


def record_kind(why: str) -> tuple[float, str, str] | None:
    """The :data:`OPS_PER_ELEMENT` entry of a placement's ``why`` (its digital kind), or None."""
    return OPS_PER_ELEMENT.get(why)


_FREE = {"detach", "clone", "contiguous", "copy_", "_to_copy", "lift_fresh", "empty", "empty_like", "zeros",
         "zeros_like", "ones", "ones_like", "new_empty", "new_zeros", "new_ones", "full", "full_like", "arange",
         "_unsafe_view", "alias", "empty_strided", "scalar_tensor", "_local_scalar_dense", "cat", "stack",
         "constant_pad_nd", "index", "slice_scatter", "select_scatter"}


def _counter_class():
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten
    from torch.utils.flop_counter import flop_registry

    class _Counter(TorchDispatchMode):
        """Counts the MACs of matrix products and the output elements of the other non-view aten calls."""

        def __init__(self):
            super().__init__()
            self.macs = 0.0
            self.ops = 0.0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            packet = func._overloadpacket
            if packet in flop_registry:
                self.macs += float(flop_registry[packet](*args, **kwargs, out_val=out)) / 2.0
            elif not func.is_view and packet.__name__ not in _FREE:
                self.ops += float(sum(t.numel() for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)))
            return out

    return _Counter


_COUNTER = None


def OpCounter():  # noqa: N802 - a factory named like the class it returns (torch imported lazily)
    """A fresh dispatch mode counting ``macs`` and element ``ops`` of what runs inside it (nestable)."""
    global _COUNTER
    if _COUNTER is None:
        _COUNTER = _counter_class()
    return _COUNTER()
