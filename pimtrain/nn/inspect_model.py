"""``pimtrain inspect``: where each module of a model runs on a design, its arrays and its share of the cost.

``inspect_model(design, model, input_shape=None, dataset=None, digital=None, batch_size=1)``: ``model`` is a zoo
name (``mlp``, ``cnn``, ``cnn1d``, ``lstm``, ``transformer``: built for ``dataset``, by default the one it trains
on in the README, and traced with that dataset's sample shape unless ``input_shape`` is given), a
``FILE.py:factory`` (``input_shape`` required) or an ``nn.Module``. One row per module
(:func:`pimtrain.nn.user_model.placement_rows`): analog / digital / refused, its cores, the arrays they need, its
energy share of one training step. A refused module is costed as if kept digital and marked ``refused`` (the
table says so), so one call shows every problem of a model at once.
"""
from __future__ import annotations

from torch import nn

from pimtrain.design import PimtrainError, load_design

from .layer_registry import plan
from .user_model import load_model, parse_shape, placement_rows

__all__ = ["inspect_model", "ZOO_DATASETS"]

#: the dataset a zoo model is built for unless told (the README's workloads)
ZOO_DATASETS = {"mlp": "digits", "cnn": "digits", "lstm": "digits", "transformer": "digits", "cnn1d": "filetypes"}


def _model(model, dataset, input_shape):
    if isinstance(model, nn.Module):
        if input_shape is None:
            raise PimtrainError("--input-shape: required with an nn.Module or FILE.py:factory (one sample's shape, "
                                "e.g. 1,28,28)")
        return model, "module", parse_shape(",".join(str(s) for s in input_shape))
    if not isinstance(model, str) or not model.strip():
        raise PimtrainError(f"--model: {model!r} is not allowed; allowed: {', '.join(ZOO_DATASETS)} or FILE.py:factory")
    if ":" in model or model.endswith(".py"):
        if dataset is not None:
            raise PimtrainError("--dataset: applies to a zoo model name only, not to FILE.py:factory")
        if input_shape is None:
            raise PimtrainError("--input-shape: required with --model FILE.py:factory (one sample's shape, e.g. 1,28,28)")
        return load_model(model), model, parse_shape(input_shape)
    from .datasets import load_dataset
    from .zoo import MODEL_NAMES, build_model

    key = model.strip().lower()
    if key not in MODEL_NAMES:
        raise PimtrainError(f"--model: unknown {model!r}; allowed: {', '.join(MODEL_NAMES)} or FILE.py:factory")
    data = load_dataset(dataset or ZOO_DATASETS[key])
    shape = (data.n_features,) if input_shape is None else parse_shape(input_shape)
    return build_model(key, data), f"{key} ({data.name})", shape


def inspect_model(design, model, input_shape=None, dataset: str | None = None, digital=None,
                  batch_size: int = 1) -> dict:
    """``{"design", "model", "input_shape", "batch_size", "energy_j", "latency_s", "refused", "rows"}``."""
    from pimtrain.cost import evaluate
    from pimtrain.workloads import from_module

    if isinstance(input_shape, (tuple, list)):
        input_shape = ",".join(str(s) for s in input_shape)
    d = load_design(design)
    module, label, shape = _model(model, dataset, input_shape)
    refused = [p.name or "<model>" for p in plan(module, digital, strict=False) if p.role == "refused"]
    keep = list(digital or []) + refused  # costed as digital work so that the rest can be shown
    workload = from_module(module, shape, name=label, digital=keep or None)
    report = evaluate(d, workload, batch_size=batch_size)
    rows = placement_rows(module, report, digital=keep or None, design=d, workload=workload)
    for row in rows:
        if row["name"] in refused:
            row["role"] = "refused"
            row["why"] = next(p.why for p in plan(module, digital, strict=False) if (p.name or "<model>") == row["name"])
    return {"design": d.name, "model": label, "input_shape": list(shape), "batch_size": batch_size,
            "energy_j": report.energy_j, "latency_s": report.latency_s, "refused": refused, "rows": rows}
