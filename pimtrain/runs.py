"""Runs that join the two halves: a training run with the cost of its epochs, and design comparisons.

This module sits on top (beside the CLI): it imports ``nn``, ``cost`` and ``workloads`` and
passes them the same :class:`~pimtrain.design.Design`.
"""
from __future__ import annotations

from pimtrain.design import Design, PimtrainError, load_design


def _epoch(design: Design, workload, n_samples: int, batch_size: int, stats, counts) -> dict:
    """Energy and latency of one epoch: full batches plus the last partial batch."""
    from pimtrain.cost import evaluate

    full, rest = divmod(n_samples, batch_size)
    step = evaluate(design, workload, batch_size=batch_size, stats=stats, counts=counts)
    energy = full * step.energy_j
    latency = full * step.latency_s
    if rest:
        last = evaluate(design, workload, batch_size=rest, stats=stats, counts=counts)
        energy += last.energy_j
        latency += last.latency_s
    out = {"steps_per_epoch": full + (1 if rest else 0), "energy_j_per_epoch": energy, "latency_s_per_epoch": latency,
           "step": step.to_json()}
    if step.algorithm:  # update.algorithm: its parts of the epoch's energy (transfers, buffer, choppers, extra arrays)
        parts = {k: full * v for k, v in step.algorithm["energy_j"].items()}
        if rest:
            for k, v in last.algorithm["energy_j"].items():
                parts[k] = parts.get(k, 0.0) + v
        out["algorithm_energy_j_per_epoch"] = parts
    return out


def epoch_cost(design: Design, model, input_shape, n_samples: int, batch_size: int, stats: dict | None = None,
               counts: dict | None = None) -> dict:
    """Energy and latency of one epoch from the cost model, at the cost model's fixed activity.

    With ``counts`` (per layer name, :func:`measured_layer_counts` of the trained model) or ``stats`` (per
    layer name, measured ``input_activity`` / ``update_activity``), ``measured`` holds the same epoch costed
    with what the numerics counted, and ``difference`` the measured minus the fixed estimate (absolute and
    relative)."""
    from pimtrain.workloads import from_module

    workload = from_module(model, tuple(input_shape))
    out = _epoch(design, workload, n_samples, batch_size, None, None)
    if counts or stats:
        m = _epoch(design, workload, n_samples, batch_size, stats, counts)
        out["measured"] = {k: m[k] for k in ("energy_j_per_epoch", "latency_s_per_epoch", "algorithm_energy_j_per_epoch")
                           if k in m}
        out["measured"]["step"] = m["step"]
        out["measured"]["counts"] = counts or {}
        out["difference"] = {}
        for k in ("energy_j_per_epoch", "latency_s_per_epoch"):
            f, v = out[k], m[k]
            out["difference"][k] = v - f
            out["difference"][k.replace("_per_epoch", "_relative")] = (v / f - 1.0) if f else None
    return out


def measured_layer_counts(model) -> dict:
    """What each PIM layer's core counted over the run, per event, under the cost model's layer names
    (the module's qualified names, as :func:`pimtrain.workloads.from_module` records them)."""
    from pimtrain.mapping import measured_counts

    out = {}
    for qual, m in model.named_modules():
        core = getattr(m, "core", None)
        if qual and core is not None and hasattr(core, "stats"):
            out[qual] = measured_counts(core.stats)
    return out


def train_with_cost(design: Design, dataset: str, *, epochs: int, batch_size: int, lr: float | None, seed: int,
                    progress: bool = True, eval_at: list[float] | None = None, model: str = "mlp") -> dict:
    """``pimtrain train``: the training result (contract of DESIGN.md) with ``cost`` of one epoch: the
    fixed-activity estimate, the epoch costed with what the numerics counted (``cost.measured``), and the
    difference (``cost.difference``)."""
    from pimtrain.nn import load_dataset, train
    from pimtrain.nn.zoo import build_model

    data = load_dataset(dataset, seed=seed)
    kwargs = {} if lr is None else {"lr": lr}
    if model != "mlp":  # ``--model``: a named network of pimtrain/nn/zoo.py (mlp: the trainer's default)
        build_model(model, data)  # an unknown name is refused before any work
        kwargs["model"] = lambda: build_model(model, data)
    result = train(design, data, epochs=epochs, batch_size=batch_size, seed=seed, progress=progress, **kwargs)
    out = result.to_json()
    out["design"] = design.name
    out["dataset"] = data.name
    counts = measured_layer_counts(result.model)
    out["cost"] = epoch_cost(design, result.model, data.train_x.shape[1:], len(data.train_x), batch_size, counts=counts)
    if eval_at:  # --eval-at: the trained weights read as PCM pairs at times after programming (pimtrain.nn.drift_eval)
        from pimtrain.nn.drift_eval import accuracy_at

        out["drift"] = accuracy_at(result.model, data.test_x, data.test_y, eval_at, seed=seed)
    drift = design.device.drift
    if drift.model == "pcm" and drift.read_time > 0:  # device.drift.read_time: the accuracy read then (same model)
        from pimtrain.nn.drift_eval import accuracy_at

        row = accuracy_at(result.model, data.test_x, data.test_y, [drift.read_time], seed=seed)[0]
        out["read_time"] = {"t_s": row["t_s"], "compensation": drift.compensation,
                            "test_accuracy": row["accuracy_compensated" if drift.compensation == "global" else "accuracy"]}
    return out


def compare_designs(names: list[str], workload: str, *, batch_size: int = 1, inference: bool = False) -> dict:
    """``pimtrain compare``: one cost object per design and ratios of each to the first."""
    from pimtrain.cost import evaluate

    if not names:
        raise PimtrainError("--designs: no design given")
    rows = []
    for name in names:
        design = load_design(name)
        rep = evaluate(design, workload, batch_size=batch_size, inference=inference)
        row = {"design": design.name}
        row.update(rep.to_json())
        rows.append(row)
    base = rows[0]
    ratios = {}
    for row in rows[1:]:
        for key, label in (("energy_j", "energy"), ("latency_s", "latency"), ("area_m2", "area")):
            if base.get(key) and row.get(key) is not None:
                ratios[f"{label} {row['design']} / {base['design']}"] = row[key] / base[key]
    return {"workload": workload, "rows": rows, "ratios": ratios}
