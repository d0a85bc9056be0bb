"""``make_core``: the core kind of a design, looked up in a registry.

Each kind is one module holding one core class plus one :func:`register` line here: a name, the class
as ``"module:Class"`` (imported on first use, so no core module imports another) and a predicate on the
design. Kinds are tried in registration order, most specific first; the first whose predicate accepts the
design builds the core. To add a kind (a new device family, readout or arithmetic): write the module
(subclass :class:`pimtrain.xbar.base.CoreBase`, implement ``vmm``/``mvm``/``opu``/``get_weight``/
``set_weight``/``stats``/``state_dict``/``load_state_dict``/``to``, count under the Mapping's names) and
register it below, before any kind that would otherwise accept its designs.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

import torch

from pimtrain.design.models import Design


@dataclass(frozen=True)
class CoreKind:
    name: str
    target: str  # "module:Class", relative to pimtrain.xbar
    accepts: Callable[[Design], bool]
    doc: str = ""

    def cls(self):
        mod, _, name = self.target.partition(":")
        return getattr(importlib.import_module(f"pimtrain.xbar.{mod}"), name)


KINDS: list[CoreKind] = []


def register(name: str, target: str, accepts: Callable[[Design], bool], doc: str = "", before: str | None = None) -> CoreKind:
    """Register a core kind (``before``: insert ahead of that kind; default: at the end)."""
    kind = CoreKind(name, target, accepts, doc)
    if any(k.name == name for k in KINDS):
        raise ValueError(f"core kind {name!r} is registered already")
    idx = next((i for i, k in enumerate(KINDS) if k.name == before), len(KINDS)) if before else len(KINDS)
    KINDS.insert(idx, kind)
    return kind


def _digital_weight(d: Design) -> bool:
    a = d.array
    return (a.weight_bits is not None and a.bits_per_cell is not None
            and d.io.forward.accumulation == "single_read" and d.io.backward.accumulation == "single_read")


register("compound", "algorithms.compound:CompoundCore",
         lambda d: d.compute == "analog" and d.update.algorithm.kind != "sgd",
         "several arrays per weight trained by update.algorithm (mixed_precision, tiki_taka, ttv2, c_ttv2)")
register("digital_pim", "digital_pim:PimFPCore", lambda d: d.compute == "digital" and d.digital.in_memory,
         "digital floating point computed by in-memory logic (digital.arithmetic: in_memory_logic)")
register("digital", "digital:DigitalCore", lambda d: d.compute == "digital",
         "digital fixed point or a rounded float format")
register("bitsliced", "bitslice:BitSlicedCore",
         lambda d: d.compute == "analog" and (d.update.slicing.slice_bits is not None or _digital_weight(d)),
         "PANTHER bit slices with carry resolution (update.slicing.slice_bits, or array.weight_bits on bits_per_cell)")
register("analog", "core:AnalogCore", lambda d: d.compute == "analog",
         "analog weights (differential / offset, positional slices with periodic carry), single-read or bit-serial reads")


def core_kind(design: Design) -> CoreKind:
    """The registered kind that builds ``design``'s core."""
    from pimtrain.design import PimtrainError

    for k in KINDS:
        if k.accepts(design):
            return k
    raise PimtrainError(f"compute: no core kind accepts design {design.name!r}; registered: {', '.join(k.name for k in KINDS)}")


def make_core(weight: torch.Tensor, design: Design, layer_index: int = 0, seed: int | None = None):
    """The core of ``design`` (see :data:`KINDS`)."""
    return core_kind(design).cls()(weight, design, layer_index=layer_index, seed=seed)


__all__ = ["make_core", "register", "core_kind", "KINDS", "CoreKind"]
