"""In-memory digital logic for floating-point PIM: formats, gates, FP algorithms and technologies.

Imports ``pimtrain.design`` (errors) and torch (formats and algorithms only); used by
``pimtrain.xbar.digital_pim`` (numerics) and ``pimtrain.cost.digital_pim`` (cost). Names are loaded
on first use so that ``gates`` and ``tech`` (what the cost model's component needs) import no torch.
See README.md.
"""
from importlib import import_module

_WHERE = {
    "FORMATS": "formats", "FPFormat": "formats", "from_bits": "formats", "get_format": "formats", "to_bits": "formats",
    "fp_add": "fparith", "fp_mul": "fparith", "op_counts": "fparith", "round_pack": "fparith",
    "GATES": "gates", "GateCounter": "gates",
    "TECHNOLOGIES": "tech", "MagicNorReram": "tech", "SotMram": "tech", "make_technology": "tech",
}

__all__ = list(_WHERE)


def __getattr__(name):
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{mod}"), name)
