"""The ``pimtrain`` command.

Every sub-command reads designs through :func:`pimtrain.design.load_design` (a preset name or a YAML
path). Bad input of any kind becomes one line on stderr and exit status 2; ``--json`` output follows
the contracts of DESIGN.md and can be written atomically with ``--output``.
"""
from __future__ import annotations

import functools
import logging
import math
import sys
from typing import Callable, Optional

import typer
from typer.core import TyperGroup

try:  # typer >= 0.20 vendors click as typer._click; older typer uses click itself
    from typer._click.exceptions import ClickException, NoArgsIsHelpError
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException, NoArgsIsHelpError
Abort = typer.Abort

from pimtrain.design import PimtrainError, load_design, preset_names  # noqa: E402 - after the click compatibility shim
from pimtrain.design.models import SEED_MAX  # noqa: E402
from pimtrain.outputs import check_finite_figures, emit_result  # noqa: E402



class _OneLineGroup(TyperGroup):
    """The top-level command: argument-parser errors (unknown option, bad value, missing argument) are
    one line ``error: ...`` on stderr with exit status 2, like every other input error."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                standalone_mode=False, **extra)
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as exc:
            try:
                print(exc.format_message())
            except BrokenPipeError:  # `pimtrain | head`
                pass
            sys.exit(0)
        except ClickException as exc:
            cmd = exc.ctx.command_path + ": " if getattr(exc, "ctx", None) is not None else ""
            print(f"error: {cmd}{' '.join(exc.format_message().split())}", file=sys.stderr)
            sys.exit(exc.exit_code if exc.exit_code not in (0, 1) else 2)
        except Abort:
            print("error: aborted", file=sys.stderr)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


def _version(value: bool) -> None:
    if value:
        import torch

        import pimtrain

        print(f"pimtrain {pimtrain.__version__} (torch {torch.__version__}, Python {sys.version.split()[0]})")
        raise typer.Exit(0)


app = typer.Typer(
    name="pimtrain",
    cls=_OneLineGroup,
    help="Accuracy and cost of neural-network training on processing-in-memory designs.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
bench_app = typer.Typer(help="Benchmarks: pimtrain against a reference measured in the same run.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print the pimtrain and torch versions and exit")):
    """Accuracy and cost of neural-network training on processing-in-memory designs."""


def _fail(message: str, code: int = 2) -> None:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    raise typer.Exit(code)


def user_errors(fn: Callable) -> Callable:
    """Turn PimtrainError (and other input errors) into one line on stderr and exit code 2; a diverged
    training run (:class:`~pimtrain.design.errors.DivergenceError`) exits with 3. Anything else is a
    bug in pimtrain: one line too, exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from pimtrain.outputs import cleanup_on_signals

        try:
            with cleanup_on_signals():
                return fn(*args, **kwargs)
        except PimtrainError as exc:
            _fail(str(exc), getattr(exc, "exit_code", 2))
        except FileNotFoundError as exc:
            _fail(f"file not found: {exc.filename}")
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            _fail(f"{where}{exc.strerror or exc}")
        except (typer.Exit, ClickException, Abort):
            raise
        except RecursionError:
            _fail("input nested too deeply (recursion limit reached)")
        except MemoryError:
            _fail("out of memory: the input asks for more than this machine has", 1)
        except Exception as exc:  # noqa: BLE001 - a bug, but still one line (the fuzzer counts these)
            _fail(f"internal error ({type(exc).__name__}: {exc}); please report it with the command line", 1)

    return wrapper


def _set_threads(threads: int) -> None:
    """torch intra-op threads. Default 1: the per-step tensors of analog training are small, and
    parallel kernels on them lose more to thread start-up and (on a busy machine) oversubscription
    than they gain."""
    import torch

    torch.set_num_threads(threads)


def _precheck_step_cost(design, dataset: str, model: str = "mlp") -> None:
    """Cost one training step of the dataset's default network before training, so that a design whose
    cost figures are non-finite, negative or zero-area-with-energy is refused before any work."""
    from pimtrain.cost import evaluate
    from pimtrain.nn import load_dataset
    from pimtrain.nn.zoo import build_model
    from pimtrain.workloads import from_module

    data = load_dataset(dataset)
    step = evaluate(design, from_module(build_model(model, data), tuple(data.train_x.shape[1:])), batch_size=1)
    check_finite_figures(step.to_json(), "cost of one training step")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(name)s: %(message)s", stream=sys.stderr)


# ----------------------------------------------------------------------------------------------- train
@app.command()
@user_errors
def train(
    design: str = typer.Option(..., "--design", "-d", help="preset name or design YAML path"),
    dataset: str = typer.Option("digits", "--dataset", "-s", help="digits, digits-sklearn, mnist5k, filetypes"),
    model: str = typer.Option("mlp", "--model", "-m", help="mlp, cnn, cnn1d, lstm, transformer (pimtrain/nn/zoo.py)"),
    epochs: int = typer.Option(5, "--epochs", "-e", min=1),
    batch_size: int = typer.Option(1, "--batch-size", "-b", min=1),
    lr: Optional[float] = typer.Option(None, "--lr", help="learning rate (default: the trainer's per-dataset default)"),
    seed: int = typer.Option(0, "--seed", min=0, max=SEED_MAX),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="write the JSON result to this file (atomically)"),
    plot: Optional[str] = typer.Option(None, "--plot", help="write accuracy and loss curves to this PNG"),
    report: Optional[str] = typer.Option(None, "--report", help="write a self-contained HTML report of the run to this file"),
    threads: int = typer.Option(1, "--threads", min=1, help="torch threads (1 is fastest for small networks)"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
    eval_at: Optional[str] = typer.Option(None, "--eval-at", help="read the trained weights as PCM pairs at these "
                                          "times after programming, e.g. 1s,1h,1d,1y (drift; result 'drift')"),
):
    """Train the dataset's default network on DESIGN and report accuracy and the cost of an epoch."""
    from pimtrain.outputs import atomic_batch, check_outputs
    from pimtrain.report import console, train_table
    from pimtrain.runs import train_with_cost

    _setup_logging(verbose)
    _set_threads(threads)
    if lr is not None and not (math.isfinite(lr) and lr > 0):
        raise PimtrainError(f"--lr: {lr} is not allowed; allowed: a finite positive number")
    check_outputs(output=output, plot=plot, report=report)
    times = None
    if eval_at is not None:
        from pimtrain.devices.drift import parse_times

        times = parse_times(eval_at)
    d = load_design(design)
    _precheck_step_cost(d, dataset, model)
    result = train_with_cost(d, dataset, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, progress=not as_json,
                             eval_at=times, model=model)

    def render():
        console.print(train_table([(d.name, result)], title=f"Training {result['dataset']} on {d.name}"))
        for w in result.get("warnings", []):
            print(f"warning: {w}", file=sys.stderr)
        cost = result.get("cost") or {}
        if cost:
            from pimtrain.report.render import si

            console.print(
                f"cost of one epoch ({cost['steps_per_epoch']} steps of batch {batch_size}): "
                f"energy {si(cost['energy_j_per_epoch'], 'J')}, latency {si(cost['latency_s_per_epoch'], 's')}"
            )
            if cost.get("measured"):
                from pimtrain.report.epoch_cost import epoch_cost_table

                console.print(epoch_cost_table(cost))
        if result.get("read_time"):  # device.drift.read_time
            r = result["read_time"]
            console.print(f"read {r['t_s']:.3g} s after programming (device.drift.read_time, compensation "
                          f"{r['compensation']}): accuracy {r['test_accuracy']:.3f}")
        for r in result.get("drift") or []:  # --eval-at
            console.print(f"read {r['t_s']:.3g} s after programming (PCM drift): accuracy {r['accuracy']:.3f}, "
                          f"with global drift compensation {r['accuracy_compensated']:.3f}")

    with atomic_batch():  # --output and --plot: both or neither
        emit_result(result, as_json, output, render)
        if plot:
            from pimtrain.report.plots import training_curves
            from pimtrain.report.render import run_caption

            training_curves([(d.name, result)], plot, title=f"{d.name}: {run_caption(result)}")
        if report:  # the HTML page, with the float reference of the same settings
            from pimtrain.report.pages import command_line, write_training_report

            write_training_report(result, report, command_line(), design=d)


# --------------------------------------------------------------------------------------------- designs
@app.command()
@user_errors
def designs(as_json: bool = typer.Option(False, "--json")):
    """List the design presets."""
    from pimtrain.report import console, designs_table, emit_json

    rows = []
    for name in preset_names():
        d = load_design(name)
        row = {"name": name, "description": d.description, "area_m2": None, "peak_power_w": None, "peak_ops_per_s": None}
        try:
            from pimtrain.cost import design_summary

            row.update(design_summary(d))
        except ImportError:  # pragma: no cover - cost package absent
            pass
        rows.append(row)
    if as_json:
        emit_json(rows)
    else:
        console.print(designs_table(rows))


# ------------------------------------------------------------------------------------------------ cost
@app.command()
@user_errors
def cost(
    design: str = typer.Option(..., "--design", "-d"),
    workload: Optional[str] = typer.Option(None, "--workload", "-w", help="zoo name (vgg16, resnet50, ...) or mlp:784-300-10"),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="your torch model instead: FILE.py:factory"),
    input_shape: Optional[str] = typer.Option(None, "--input-shape", help="with --model: one sample's shape, e.g. 1,28,28"),
    batch_size: int = typer.Option(1, "--batch-size", "-b", min=1),
    inference: bool = typer.Option(False, "--inference", help="one inference batch instead of a training step"),
    as_json: bool = typer.Option(False, "--json"),
    output: Optional[str] = typer.Option(None, "--output", "-o"),
    plot: Optional[str] = typer.Option(None, "--plot", help="write the energy-by-kernel-and-component and area figure (.png, .svg, .pdf)"),
    executor: str = typer.Option("count", "--executor", help="count (analytical) or program (also compile and execute it: pimtrain/isa)"),
):
    """Energy, latency, area and power of one training step (or inference batch) of WORKLOAD on DESIGN."""
    from pimtrain.cost import evaluate
    from pimtrain.outputs import atomic_batch, check_outputs
    from pimtrain.report import console

    check_outputs(output=output, plot=plot)
    _check_figure(plot)
    if executor not in ("count", "program"):
        raise PimtrainError(f"--executor: {executor!r} is not allowed; allowed: count, program")
    d = load_design(design)
    if (workload is None) == (model is None):
        raise PimtrainError("--workload / --model: give exactly one (a zoo name, or FILE.py:factory with --input-shape)")
    placements = None
    if model is not None:  # a user's module: traced with the layer plan convert follows (pimtrain/nn/layer_registry.py)
        from pimtrain.nn.user_model import load_model, parse_shape, placement_rows

        if executor == "program":
            raise PimtrainError("--executor: 'program' compiles named workloads; use --workload with it")
        from pimtrain.workloads import from_module

        module = load_model(model)
        traced = from_module(module, parse_shape(input_shape))
        rep = evaluate(d, traced, batch_size=batch_size, inference=inference)
        placements = placement_rows(module, rep, design=d, workload=traced)
    else:
        rep = evaluate(d, workload, batch_size=batch_size, inference=inference)
    result = rep.to_json() if placements is None else {**rep.to_json(), "placement": placements}
    prog = None
    if executor == "program":  # the analytical report and the executed program side by side
        from pimtrain.isa.costing import program_cost, program_table

        prog = program_cost(d, workload, batch_size=batch_size, inference=inference, first_layer_backward=False)
        result = {**result, "program": prog}

    def render():
        console.print(rep.table())
        if placements:
            from pimtrain.nn.user_model import placement_table

            console.print(placement_table(placements))
        if prog is not None:
            console.print(program_table(prog))

    with atomic_batch():  # --output and --plot: both or neither
        emit_result(result, as_json, output, render)
        if plot:
            from pimtrain.report.figures import cost_breakdown, save

            save(cost_breakdown([{"design": d.name, **rep.to_json()}]), plot)


@app.command()
@user_errors
def inspect(
    design: str = typer.Option(..., "--design", "-d", help="preset name or design YAML path"),
    model: str = typer.Option(..., "--model", "-m", help="mlp, cnn, cnn1d, lstm, transformer, or FILE.py:factory"),
    input_shape: Optional[str] = typer.Option(None, "--input-shape", help="one sample's shape, e.g. 1,28,28 (needed with FILE.py:factory)"),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-s", help="a zoo model's dataset (default: digits; cnn1d: filetypes)"),
    batch_size: int = typer.Option(1, "--batch-size", "-b", min=1),
    as_json: bool = typer.Option(False, "--json"),
    output: Optional[str] = typer.Option(None, "--output", "-o"),
):
    """Where each module of MODEL runs on DESIGN (analog / digital / refused), its arrays and its share of the
    energy of one training step (pimtrain/nn/inspect_model.py)."""
    from pimtrain.nn.inspect_model import inspect_model
    from pimtrain.nn.user_model import placement_table
    from pimtrain.outputs import check_outputs
    from pimtrain.report import console
    from pimtrain.report.render import si

    check_outputs(output=output)
    result = inspect_model(design, model, input_shape=input_shape, dataset=dataset, batch_size=batch_size)

    def render():
        table = placement_table(result["rows"], title=f"{result['model']} on {result['design']}: where each module runs")
        table.caption = (f"one training step of batch {batch_size}: {si(result['energy_j'], 'J')}, "
                         f"{si(result['latency_s'], 's')}" + (f"; refused (costed as digital): "
                                                             f"{', '.join(result['refused'])}" if result["refused"] else ""))
        console.print(table)

    emit_result(result, as_json, output, render)


def _check_figure(plot: Optional[str]) -> None:
    if plot:
        from pimtrain.report.figures import figure_format

        figure_format(plot)


@app.command()
@user_errors
def compare(
    designs_: str = typer.Option(..., "--designs", help="comma-separated preset names or YAML paths"),
    workload: str = typer.Option(..., "--workload", "-w"),
    batch_size: int = typer.Option(1, "--batch-size", "-b", min=1),
    inference: bool = typer.Option(False, "--inference"),
    as_json: bool = typer.Option(False, "--json"),
    output: Optional[str] = typer.Option(None, "--output", "-o"),
    plot: Optional[str] = typer.Option(None, "--plot", help="write the side-by-side cost figure (.png, .svg, .pdf)"),
):
    """The same workload on several designs, with ratios to the first."""
    from pimtrain.outputs import atomic_batch, check_outputs
    from pimtrain.report import compare_component_table, compare_kernel_table, compare_table, console
    from pimtrain.runs import compare_designs

    check_outputs(output=output, plot=plot)
    _check_figure(plot)
    names = [n.strip() for n in designs_.split(",") if n.strip()]
    if len(names) < 2:
        raise PimtrainError("--designs: give at least two designs separated by commas")
    result = compare_designs(names, workload, batch_size=batch_size, inference=inference)
    def render():
        console.print(compare_table(result))
        console.print(compare_kernel_table(result))
        console.print(compare_component_table(result))
        for key, ratio in result["ratios"].items():
            console.print(f"  {key}: {ratio:.3g}×")

    with atomic_batch():  # --output and --plot: both or neither
        emit_result(result, as_json, output, render)
        if plot:
            from pimtrain.report.figures import cost_breakdown, save

            save(cost_breakdown(result["rows"]), plot)


# ---------------------------------------------------------------------------------------------- device
@app.command()
@user_errors
def device(
    design: str = typer.Option(..., "--design", "-d", help="preset name or design YAML path"),
    plot: Optional[str] = typer.Option(None, "--plot", help="write the ΔG-vs-G figure to this file (.png, .svg, .pdf)"),
    devices: int = typer.Option(64, "--devices", min=2, max=4096, help="simulated devices (device-to-device envelope)"),
    cycles: int = typer.Option(64, "--cycles", min=2, max=4096, help="pulses per device and conductance (cycle-to-cycle spread)"),
    seed: int = typer.Option(0, "--seed", min=0, max=SEED_MAX),
    as_json: bool = typer.Option(False, "--json"),
    output: Optional[str] = typer.Option(None, "--output", "-o"),
):
    """The design's device response: ΔG of one up / down pulse against G, with its spreads."""
    from pimtrain.outputs import atomic_batch, check_outputs
    from pimtrain.report import console
    from pimtrain.report.device import device_table, response_json

    check_outputs(output=output, plot=plot)
    _check_figure(plot)
    d = load_design(design)
    from pimtrain.devices.response import pulse_response

    resp = pulse_response(d.device, d.source_path, devices=devices, cycles=cycles, seed=seed)
    with atomic_batch():  # --output and --plot: both or neither
        emit_result(response_json(d.name, resp), as_json, output, lambda: console.print(device_table(d.name, resp)))
        if plot:
            from pimtrain.report.figures import device_response, save

            save(device_response(resp, title=f"{d.name}: device response (seed {seed})"), plot)


# ------------------------------------------------------------------------------------------- reproduce
@app.command()
@user_errors
def reproduce(
    paper: str = typer.Argument(..., help="marinella2018, panther2020, mram2020, neuralpim2022, or all"),
    as_json: bool = typer.Option(False, "--json"),
    output: Optional[str] = typer.Option(None, "--output", "-o"),
    plots: Optional[str] = typer.Option(None, "--plots", help="folder for the paper's figures (PNG)"),
    executor: str = typer.Option("count", "--executor", help="count, or program (panther2020: PANTHER's rows also from executed programs, pimtrain/isa)"),
):
    """A paper's figures beside pimtrain's, each row marked prediction or calibration."""
    from pimtrain.outputs import atomic_batch, check_output_folder, check_outputs
    from pimtrain.papers import reproduce as run_reproduce
    from pimtrain.report import console, reproduce_table

    check_outputs(output=output)
    check_output_folder(plots, "--plots")
    if executor not in ("count", "program") or (executor == "program" and paper.strip().lower() != "panther2020"):
        raise PimtrainError(f"--executor: {executor!r} for {paper!r} is not allowed; allowed: count, or program with panther2020")
    with atomic_batch():  # --output and the --plots files: all or none
        result = run_reproduce(paper, plots=plots)
        results = result if isinstance(result, list) else [result]
        extra = []
        if executor == "program":  # PANTHER's rows recomputed from executed programs, beside the count
            from pimtrain.papers.panther_program import program_rows, program_table

            result["program"] = program_rows()
            extra = program_table(result["program"])
        emit_result(result, as_json, output,
                    lambda: [console.print(t) for t in [reproduce_table(r) for r in results] + extra])


# ---------------------------------------------------------------------------------------------- report
@app.command("report")
@user_errors
def report_cmd(
    output: str = typer.Option(..., "--output", "-o", help="the HTML file to write (atomically)"),
    design: Optional[str] = typer.Option(None, "--design", "-d", help="a design's page: provenance, cost, device"),
    designs_: Optional[str] = typer.Option(None, "--designs", help="a comparison's page: comma-separated designs"),
    reproduce_: Optional[str] = typer.Option(None, "--reproduce", help="a reproduction's page: a paper id or 'all'"),
    train_json: Optional[str] = typer.Option(None, "--train-json", help="a training run's page from a `train --json` file"),
    workload: str = typer.Option("mlp:784-300-10", "--workload", "-w", help="workload of the design / comparison page"),
    batch_size: int = typer.Option(1, "--batch-size", "-b", min=1),
    figures: Optional[str] = typer.Option(None, "--figures", help="also write each figure of the page as PNG into this folder"),
):
    """One self-contained HTML page (figures inline, nothing fetched) for a design, a comparison, a
    reproduction or a training run."""
    from pimtrain.outputs import check_outputs
    from pimtrain.report import pages

    given = [n for n, v in (("--design", design), ("--designs", designs_), ("--reproduce", reproduce_),
                            ("--train-json", train_json)) if v]
    if len(given) != 1:
        raise PimtrainError(f"report: give exactly one of --design, --designs, --reproduce, --train-json (got {len(given)})")
    if not output.lower().endswith((".html", ".htm")):
        raise PimtrainError(f"--output: {output!r} is not an .html file; allowed: a path ending in .html")
    check_outputs(output=output)
    from pimtrain.outputs import atomic_batch, check_output_folder

    check_output_folder(figures, "--figures")
    with atomic_batch(), pages.png_copies(figures):  # the page and its PNG copies: all or none
        _report_page(pages, output, design, designs_, reproduce_, train_json, workload, batch_size)
    print(f"wrote {output}", file=sys.stderr)


def _report_page(pages, output, design, designs_, reproduce_, train_json, workload, batch_size) -> None:
    command = pages.command_line()
    if design:
        page = pages.design_page(design, workload, batch_size, command)
    elif designs_:
        from pimtrain.runs import compare_designs

        names = [n.strip() for n in designs_.split(",") if n.strip()]
        if len(names) < 2:
            raise PimtrainError("--designs: give at least two designs separated by commas")
        page = pages.compare_page(compare_designs(names, workload, batch_size=batch_size), command)
    elif reproduce_:
        from pimtrain.papers import reproduce as run_reproduce

        result = run_reproduce(reproduce_)
        page = pages.reproduce_page(result if isinstance(result, list) else [result], command)
    else:
        result = pages.read_train_json(train_json)
        try:
            d = load_design(result["design"])
        except PimtrainError:  # a design file that has moved: the page shows the run without its design
            d = None
        page = pages.training_page(result, command, reference=pages.float_reference(result), design=d)
    page.write(output)


# ----------------------------------------------------------------------------------------------- bench
@bench_app.command("training")
@user_errors
def bench_training(
    epochs: int = typer.Option(2, "--epochs", min=1, help="interleaved rounds per case (one epoch of each per round)"),
    threads: int = typer.Option(1, "--threads", min=1, help="torch threads (the targets are single-threaded)"),
    device: str = typer.Option("cpu", "--device"),
    only: Optional[str] = typer.Option(None, "--only", help="run only the cases whose name contains this text"),
    as_json: bool = typer.Option(False, "--json"),
    output: Optional[str] = typer.Option(None, "--output", "-o"),
):
    """Analog training per epoch against plain PyTorch float training of the same network, same run."""
    from pimtrain.bench import bench_training as run
    from pimtrain.outputs import check_outputs
    from pimtrain.report import bench_table, console

    check_outputs(output=output)
    cases = run(epochs=epochs, threads=threads, device=device, progress=not as_json, only=only)
    emit_result({"cases": cases}, as_json, output, lambda: console.print(bench_table(cases)))


@bench_app.command("cost")
@user_errors
def bench_cost(
    repeats: int = typer.Option(20, "--repeats", min=1),
    as_json: bool = typer.Option(False, "--json"),
    output: Optional[str] = typer.Option(None, "--output", "-o"),
):
    """Time to cost one VGG-16 training step on one preset of each engine family (target: under 5 ms)."""
    from pimtrain.bench import bench_cost as run
    from pimtrain.outputs import check_outputs
    from pimtrain.report import bench_table, console

    check_outputs(output=output)
    cases = run(repeats=repeats)
    emit_result({"cases": cases}, as_json, output, lambda: console.print(bench_table(cases)))


# ------------------------------------------------------------------------------------------------ demo
@app.command()
@user_errors
def demo(
    epochs: int = typer.Option(10, "--epochs", min=1),
    seed: int = typer.Option(0, "--seed", min=0, max=SEED_MAX),
    plot: Optional[str] = typer.Option(None, "--plot", help="write the training curves of the demo runs to this PNG"),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="write the accuracy runs as JSON to this file"),
    threads: int = typer.Option(1, "--threads", min=1),
):
    """The main job: accuracy of the ideal and Marinella designs on the digits, and their costs."""
    from pimtrain.demo import run_demo
    from pimtrain.outputs import atomic_batch, check_outputs

    check_outputs(plot=plot, output=output)
    _set_threads(threads)
    with atomic_batch():
        run_demo(epochs=epochs, seed=seed, plot=plot, json_out=output)


def _register_explore() -> None:  # sweep, explore, results, bench sweep (pimtrain/explore/cli.py)
    from pimtrain.explore.cli import register

    register(app, bench_app)


_register_explore()


def _register_isa() -> None:  # compile, check-program, run-program (pimtrain/isa/cli.py)
    from pimtrain.isa.cli import register

    register(app, user_errors)


_register_isa()


def main() -> None:  # console-script entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
