"""pimtrain: accuracy and cost of neural-network training on processing-in-memory designs.

One :class:`~pimtrain.design.Design` feeds both evaluators::

    import pimtrain
    design = pimtrain.load_design("marinella2018-analog")
    model = pimtrain.convert(my_torch_model, design)          # analog layers, same Design
    report = pimtrain.evaluate(design, "mlp:784-300-10")        # cost of one training step
"""
from __future__ import annotations

from pimtrain.design import Design, DesignError, PimtrainError, load_design, preset_names, save_design

__version__ = "0.1.0"


def __getattr__(name):  # lazy: importing pimtrain does not import torch until needed
    if name in ("convert", "AnalogLinear", "AnalogConv2d", "AnalogSGD", "train", "load_dataset"):
        import pimtrain.nn as nn

        return getattr(nn, name)
    if name in ("evaluate",):
        from pimtrain.cost import evaluate

        return evaluate
    if name in ("make_core", "AnalogCore"):
        import pimtrain.xbar as xbar

        return getattr(xbar, name)
    raise AttributeError(name)


__all__ = ["Design", "DesignError", "PimtrainError", "load_design", "preset_names", "save_design", "__version__"]
