"""``pimtrain compile`` (a model for a design → assembly + statistics), ``pimtrain check-program FILE.s`` (parse,
check, statistics) and ``pimtrain run-program FILE.s`` (functional run of a compiled MLP with seeded weights)."""
from __future__ import annotations

from typing import Optional

import typer

from pimtrain.outputs import emit_result


def check_program(
    file: str = typer.Argument(..., help="assembly program (.s), see pimtrain/isa/README.md"),
    as_json: bool = typer.Option(False, "--json"),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="write the statistics as JSON to this file"),
):
    """Parse and check a PANTHER assembly program; print its static statistics (a malformed program: one line, exit 2)."""
    from pimtrain.outputs import check_outputs
    from pimtrain.report import console

    from .asm import parse_program
    from .stats import program_stats

    check_outputs(output=output)
    with open(file, encoding="utf-8") as fh:
        text = fh.read()
    stats = program_stats(parse_program(text))

    def render():
        console.print(_stats_table(f"{file}: static program statistics", stats))

    emit_result({"file": file, **stats}, as_json, output, render)


def _stats_table(title: str, stats: dict):
    from rich.table import Table

    t = Table(title=title)
    t.add_column("quantity")
    t.add_column("value", justify="right")
    for k, v in stats.items():
        if isinstance(v, dict):
            for kk, vv in v.items():
                t.add_row(f"{k}.{kk}", str(vv))
        else:
            t.add_row(k, str(v))
    return t


def model_from_spec(spec: str):
    """``(model, input shape)``: ``mlp:784-300-10`` or ``mlp:784-300-10:relu`` (activation of the hidden layers;
    default sigmoid), or a workload name whose layers chain (mlppanther, conva … convg: :mod:`pimtrain.isa.costing`)."""
    from pimtrain.design import PimtrainError
    from pimtrain.nn.models import ACTIVATIONS, mlp

    parts = spec.split(":")
    if parts[0] != "mlp":
        from pimtrain.workloads import get_workload
        from pimtrain.workloads.panther import WORKLOADS

        from .costing import workload_model

        if spec.lower() not in WORKLOADS:
            raise PimtrainError(f"--model: {spec!r} is not allowed; allowed: mlp:<in>-<hidden>-...-<out>[:"
                                + "|".join(ACTIVATIONS) + "] or " + ", ".join(sorted(WORKLOADS)))
        return workload_model(get_workload(spec.lower()))
    ok = len(parts) in (2, 3) and all(p.isdigit() for p in parts[1].split("-"))
    if not ok or (len(parts) == 3 and parts[2] not in ACTIVATIONS):
        raise PimtrainError(f"--model: {spec!r} is not allowed; allowed: mlp:<in>-<hidden>-...-<out>[:"
                            + "|".join(ACTIVATIONS) + "]")
    sizes = [int(p) for p in parts[1].split("-")]
    return mlp(sizes, parts[2] if len(parts) == 3 else "sigmoid"), (sizes[0],)


def compile_cmd(
    design: str = typer.Option(..., "--design", "-d", help="preset name or design YAML path (a PUMA-style node)"),
    model: str = typer.Option(..., "--model", "-m", help="mlp:<in>-<hidden>-...-<out>[:activation], or a PANTHER workload (mlppanther, conva … convg)"),
    train: bool = typer.Option(False, "--train", help="one SGD training step (forward, backward, update)"),
    batch: int = typer.Option(1, "--batch", "-b", min=1, help="examples per step (all read before any update)"),
    lr: float = typer.Option(0.1, "--lr", help="learning rate folded into the update (alui mul by lr)"),
    emit: Optional[str] = typer.Option(None, "--emit", help="write the assembly to this file (.s)"),
    as_json: bool = typer.Option(False, "--json"),
    output: Optional[str] = typer.Option(None, "--output", "-o"),
):
    """Compile an MLP for a design into per-core and per-tile PANTHER instruction streams."""
    import math

    from pimtrain.design import PimtrainError, load_design
    from pimtrain.design.io import atomic_write_text
    from pimtrain.outputs import atomic_batch, check_outputs
    from pimtrain.report import console

    from .asm import format_program
    from .netcompile import compile_model
    from .stats import program_stats

    check_outputs(emit=emit, output=output)
    if not math.isfinite(lr) or lr <= 0:
        raise PimtrainError(f"--lr: {lr} is not allowed; allowed: a finite positive number")
    net, shape = model_from_spec(model)
    compiled = compile_model(net, load_design(design), train=train, lr=lr, batch=batch, input_shape=shape)
    stats = program_stats(compiled.program)
    data = {"design": design, "model": model, "train": train, "batch": batch, **stats}
    with atomic_batch():
        if emit:
            atomic_write_text(emit, format_program(compiled.program))
        emit_result(data, as_json, output, lambda: console.print(_stats_table(f"{model} on {design}", stats)))


def run_program(
    file: str = typer.Argument(..., help="assembly program (.s) with .input x (and .output y)"),
    seed: int = typer.Option(0, "--seed", min=0),
    design: Optional[str] = typer.Option(None, "--design", "-d", help="also time it on this design's components"),
    as_json: bool = typer.Option(False, "--json"),
):
    """Run a program on seeded random inputs and matrix-unit weights: its outputs and instructions executed; with
    --design also its latency, energy by class and component, unit utilisation and critical path."""
    import torch

    from pimtrain.design import load_design

    from .asm import parse_program
    from .execute import Executor

    with open(file, encoding="utf-8") as fh:
        prog = parse_program(fh.read())
    g = torch.Generator().manual_seed(seed)
    m = prog.machine
    weights = {(s.tile, s.core, u): torch.randn(m.rows, m.cols, generator=g, dtype=torch.float64) / m.rows ** 0.5
               for s in prog.streams if s.core is not None for u in range(m.mvmus)}
    if design:
        from .timing import TimedExecutor

        ex = TimedExecutor(prog, load_design(design), weights)
    else:
        ex = Executor(prog, weights)
    inputs = {}
    for p in prog.ports:
        if p.kind == "input" and p.name not in inputs:
            n = max(q.offset + q.vec for q in prog.ports if q.name == p.name and q.kind == "input")
            inputs[p.name] = torch.randn(n, generator=g, dtype=torch.float64)
    timing = ex.run_timed(inputs) if design else None
    outs = {n: ex.read_output(n) for n in {p.name for p in prog.ports if p.kind == "output"}}
    if not design:
        outs = ex.run(inputs)
    data = {"file": file, "seed": seed, "executed": ex.executed,
            "outputs": {k: (v.tolist() if v is not None else None) for k, v in outs.items()}}
    if timing:
        data["timing"] = {k: v for k, v in timing.items() if k != "critical_path"}
        data["timing"]["critical_path_length"] = len(timing["critical_path"])

    def render():
        from pimtrain.report import console

        console.print(f"{file}: {ex.executed} instructions executed (seed {seed})")
        for k, v in data["outputs"].items():
            console.print(f"{k} = {v}")
        if timing:
            t = data["timing"]
            flat = {"latency (µs)": round(t["latency_s"] * 1e6, 4), "energy (µJ)": round(t["energy_j"] * 1e6, 4)}
            flat |= {f"energy {k} (µJ)": round(v * 1e6, 4) for k, v in t["energy_by_component_j"].items()}
            flat |= {f"utilisation {k}": round(v, 3) for k, v in t["utilisation"].items()}
            flat |= {f"critical path {k} (µs)": round(v * 1e6, 4) for k, v in t["critical_path_by_opcode_s"].items()}
            console.print(_stats_table(f"{file} timed on {design}", flat))

    emit_result(data, as_json, None, render)


def register(app: typer.Typer, user_errors) -> None:
    """Add the commands to the ``pimtrain`` app (called once by ``pimtrain.cli``)."""
    app.command("check-program")(user_errors(check_program))
    app.command("compile")(user_errors(compile_cmd))
    app.command("run-program")(user_errors(run_program))
