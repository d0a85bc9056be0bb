"""The report pages: a design, a training run, a comparison, a reproduction. Each function gathers what
its page shows from the models (cost engine, device response, float reference run) and returns a
:class:`~pimtrain.report.html.Page`; ``Page.write`` writes it atomically."""
from __future__ import annotations

import json
import re
from contextlib import contextmanager
from pathlib import Path

from pimtrain.cost.report import component_rows, kernel_rows
from pimtrain.design import Design, design_to_dict, load_design

from . import figures as F
from .html import Page, esc, figure, table
from .render import run_caption, si


# ------------------------------------------------------------------------------------------ pieces
_PNG_DIR: list[str] = []  # set by ``png_copies``: a folder that also gets each figure of a page as PNG


@contextmanager
def png_copies(folder: str | None):
    """Inside, every figure drawn into a page is also written to ``folder/<name>.png`` (atomically)."""
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        _PNG_DIR.append(folder)
    try:
        yield
    finally:
        if folder:
            _PNG_DIR.pop()


def svg(fig, name: str) -> str:
    """``fig`` as inline SVG (and as ``<name>.png`` inside :func:`png_copies`)."""
    if _PNG_DIR:
        from pimtrain.design import atomic_path

        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "figure"
        with atomic_path(Path(_PNG_DIR[-1]) / f"{safe}.png", "--figures") as tmp:
            fig.savefig(tmp, dpi=100, format="png", metadata={"Software": None})
    return F.to_svg(fig)


def cost_tables_html(cost: dict, top: int | None = 12) -> str:
    """The kernel table and the component table of one cost JSON (each share column sums to 100 %)."""
    k = kernel_rows(cost)
    kt = table(["kernel", "energy", "share of energy", "latency", "share of latency"],
               [[r["kernel"], si(r["energy_j"], "J"), f"{r['energy_share']:.1f} %", si(r["latency_s"], "s"),
                 f"{r['latency_share']:.1f} %"] for r in k],
               caption=f"{cost.get('design', '')}: by kernel", numeric={1, 2, 3, 4},
               total=["total", si(cost["energy_j"], "J"), "100 %", si(cost["latency_s"], "s"), "100 %"])
    c = component_rows(cost, top)
    ct = table(["component", "energy", "share of energy", "area", "share of area"],
               [[r["component"], si(r["energy_j"], "J"), f"{r['energy_share']:.1f} %", f"{r['area_m2'] * 1e6:.4g} mm²",
                 f"{r['area_share']:.1f} %"] for r in c],
               caption=f"{cost.get('design', '')}: by component", numeric={1, 2, 3, 4},
               total=["total", si(cost["energy_j"], "J"), "100 %", f"{cost['area_m2'] * 1e6:.4g} mm²", "100 %"])
    extra = (f"<p class=\"note\">power {esc(si(cost.get('power_w'), 'W'))}, "
             f"{esc(si(cost.get('ops_per_s'), 'op/s'))}; leakage charged to "
             f"{'every block of the chip' if cost.get('static_power') == 'chip' else 'occupied blocks only'}.</p>")
    return kt + "\n" + ct + "\n" + extra


def _value_at(data, path: str):
    node = data
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return "—"
    return node


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return value if isinstance(value, str) else json.dumps(value, default=str)


def design_html(design: Design) -> str:
    """The design's description, where it was read from, the provenance of its numbers and its YAML."""
    import yaml

    data = design_to_dict(design)
    rows = [[path, _fmt(_value_at(data, path)), p.source, p.basis, p.note or ""]
            for path, p in sorted(design.provenance.items())]
    out = [f"<p>{esc(design.description or '(no description)')}</p>",
           f"<p class=\"note\">read from <code>{esc(design.source_path or 'a Python object')}</code>; "
           f"{len(rows)} numbers carry their source.</p>"]
    if rows:
        counts = {}
        for r in rows:
            counts[r[3]] = counts.get(r[3], 0) + 1
        out.append("<p class=\"note\">basis: " + esc(", ".join(f"{n} {b}" for b, n in sorted(counts.items()))) + "</p>")
        out.append("<details><summary>provenance of every number (field, value, source, basis)</summary>"
                   + table(["field", "value", "source", "basis", "note"], rows, numeric=set()) + "</details>")
    text = yaml.safe_dump({k: v for k, v in data.items() if k != "provenance"}, sort_keys=False, allow_unicode=True)
    out.append(f"<details><summary>the design as YAML</summary><pre>{esc(text)}</pre></details>")
    return "\n".join(out)


def device_html(design: Design, seed: int = 0) -> str:
    """The ΔG-vs-G figure of the design's device (analog designs), or a note why there is none."""
    if design.compute != "analog":
        return "<p class=\"note\">A digital design: its cells store bits, there is no analog pulse response.</p>"
    from pimtrain.devices.response import pulse_response

    resp = pulse_response(design.device, design.source_path, seed=seed)
    fig = F.device_response(resp, title=f"{design.name}: device response (seed {seed})")
    return figure(svg(fig, f"device_{design.name}"), f"ΔG of one up / down pulse against G for the device model of {design.name} "
                                 f"({resp['model']}), {resp['devices']} devices × {resp['cycles']} pulses per conductance.")


def cost_figure_html(costs: list[dict], what: str, title: str = "") -> str:
    name = "cost_" + "_".join(c.get("design", "") for c in costs)
    return figure(svg(F.cost_breakdown(costs, title=title), name), what)


# ------------------------------------------------------------------------------------------- pages
def design_page(design: str | Design, workload: str, batch_size: int, command: str) -> Page:
    """A design: provenance, the cost of one training step of ``workload`` (tables, figure), the device."""
    from pimtrain.cost import evaluate

    d = load_design(design)
    cost = evaluate(d, workload, batch_size=batch_size).to_json()
    cost["design"] = d.name
    page = Page(f"pimtrain report: design {d.name}", command)
    page.add(f"Cost of one training step: {workload}, batch {batch_size}",
             cost_figure_html([cost], f"energy by kernel and component, and area, of {d.name}") + cost_tables_html(cost))
    page.add("Device response", device_html(d))
    page.add("Design and provenance", design_html(d))
    return page


def training_page(result: dict, command: str, reference: dict | None = None, design: Design | None = None) -> Page:
    """A training run (``train --json`` object): curves with the float reference, epoch table, cost."""
    name = result.get("design", "?")
    page = Page(f"pimtrain report: training {result.get('dataset', '?')} on {name}", command)
    caption = run_caption(result)
    rows = [[e["epoch"], f"{e['train_loss']:.4f}", f"{100 * e['test_accuracy']:.2f} %",
             f"{100 * reference['epochs'][i]['test_accuracy']:.2f} %" if reference and i < len(reference["epochs"]) else "—",
             f"{e['seconds']:.2f}"] for i, e in enumerate(result["epochs"])]
    energy, kind = F.epoch_energy(result)
    body = [f"<p>{esc(caption)}</p>",
            f"<p>final test accuracy <b>{100 * result['final_test_accuracy']:.2f} %</b>"
            + (f" (float reference {100 * reference['final_test_accuracy']:.2f} %)" if reference else "") + "</p>"]
    body += [f"<p class=\"warn\">warning: {esc(w)}</p>" for w in result.get("warnings", [])]
    body.append(table(["epoch", "training loss", "test accuracy", "float reference", "seconds"], rows,
                      caption="per epoch"))
    fig = F.training([(name, result)], reference, title=f"{name}: {caption}")
    body.append(figure(svg(fig, f"training_{name}"), f"test accuracy, training loss and energy per epoch ({kind}); dashed: the float "
                                      "reference (same network, data order, lr, batch size and seed, torch.optim.SGD)."))
    page.add("Training run", "\n".join(body))
    cost = result.get("cost") or {}
    if cost.get("step"):
        step = dict(cost["step"])
        step.setdefault("design", name)
        epoch_line = (f"<p>one epoch: {cost.get('steps_per_epoch')} steps, energy {esc(si(energy[0] if energy else None, 'J'))} "
                      f"({esc(kind)}), latency {esc(si(cost.get('latency_s_per_epoch'), 's'))}.</p>")
        page.add("Cost of one training step", epoch_line + cost_tables_html(step)
                 + cost_figure_html([step], f"energy by kernel and component, and area, of one step on {name}",
                                    title=f"Training-step cost of {(result.get('run') or {}).get('network', 'the network')}, "
                                          f"batch {step.get('batch_size')}"))
    if design is not None:
        page.add("Design and provenance", design_html(design))
        page.add("Device response", device_html(design))
    return page


def compare_page(result: dict, command: str) -> Page:
    """A comparison (``compare --json`` object): totals, ratios, per-design tables, side-by-side figure."""
    rows = result["rows"]
    page = Page(f"pimtrain report: {', '.join(r['design'] for r in rows)} on {result['workload']}", command)
    totals = table(["design", "energy", "latency", "area", "power"],
                   [[r["design"], si(r["energy_j"], "J"), si(r["latency_s"], "s"), f"{r['area_m2'] * 1e6:.4g} mm²",
                     si(r["power_w"], "W")] for r in rows], caption="one training step")
    ratios = table(["ratio", "value"], [[k, f"{v:.3g}×"] for k, v in result.get("ratios", {}).items()])
    page.add("Totals", totals + ratios + cost_figure_html(rows, "energy by kernel and component, side by side, and area"))
    page.add("Breakdown of each design", "\n".join(cost_tables_html(r, top=8) for r in rows))
    for r in rows:
        try:
            d = load_design(r["design"])
        except Exception:  # noqa: BLE001 - a design given by a path that has moved: the page still shows its cost
            continue
        page.add(f"Design {d.name}", design_html(d))
    return page


def reproduce_page(results: list[dict], command: str) -> Page:
    """One or all paper reproductions: per paper its rows and the ratio figure."""
    page = Page(f"pimtrain report: reproduction of {', '.join(r['paper'] for r in results)}", command)
    summary = []
    for r in results:
        tol = F.reproduce.tolerance(r)
        ok = [x for x in r["rows"] if x.get("deviation") is not None and abs(x["deviation"]) <= tol]
        summary.append([r["paper"], len(r["rows"]), len(ok), sum(1 for x in ok if x["basis"] == "prediction"),
                        f"±{100 * tol:g} %"])
    page.add("Summary", table(["paper", "rows", "within tolerance", "of which predictions", "tolerance"], summary))
    for r in results:
        rows = [[x["quantity"], f"{x['paper']:.4g}", f"{x['ours']:.4g}", x["unit"],
                 f"{100 * x['deviation']:+.1f} %" if x.get("deviation") is not None else "—", x["basis"], x.get("source", "")]
                for x in r["rows"]]
        body = [f"<p class=\"note\">designs: {esc(', '.join(r.get('designs', [])))}; workload: {esc(r.get('workload', ''))}</p>",
                table(["quantity", "paper", "ours", "unit", "deviation", "basis", "source"], rows, numeric={1, 2, 4}),
                figure(svg(F.reproduction(r), f"reproduce_{r['paper']}"), f"{r['paper']}: ours / paper per row on a log axis; hollow squares "
                                                    "are calibrations (a preset number was tuned to them).")]
        body += [f"<p class=\"note\">{esc(n)}</p>" for n in r.get("notes", [])]
        page.add(r["paper"], "\n".join(body))
    return page


# ----------------------------------------------------------------------------------- training runs
def float_reference(result: dict) -> dict:
    """The float run of a training result's settings (dataset, epochs, lr, batch size, seed): the same
    network, data order and loop with ``torch.optim.SGD``."""
    from pimtrain.nn import load_dataset, train_float

    run = result.get("run") or {}
    seed = int(run.get("seed", 0))
    data = load_dataset(run.get("dataset", result.get("dataset", "digits")), seed=seed)
    kwargs = {"lr": float(run["lr"])} if isinstance(run.get("lr"), (int, float)) else {}
    ref = train_float(data, epochs=len(result["epochs"]), batch_size=int(run.get("batch_size", 1)), seed=seed,
                      progress=False, **kwargs)
    return ref.to_json()


def write_training_report(result: dict, path: str, command: str, design: Design | None = None) -> None:
    """``train --report FILE.html``: the training page with its float reference, written atomically."""
    training_page(result, command, reference=float_reference(result), design=design).write(path)


def command_line() -> str:
    """The command that is running, as one shell-quoted line."""
    import shlex
    import sys

    return "pimtrain " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def read_train_json(path: str) -> dict:
    """A ``train --json`` result from a file; a one-line error naming what is missing."""
    from pimtrain.design import PimtrainError

    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise PimtrainError(f"--train-json: {path!r} is not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("epochs"), list) or not data["epochs"]:
        raise PimtrainError(f"--train-json: {path!r} is not a `pimtrain train --json` result (needs 'epochs')")
    for key in ("design", "final_test_accuracy"):
        if key not in data:
            raise PimtrainError(f"--train-json: {path!r} lacks {key!r}; give the output of `pimtrain train --json`")
    return data
