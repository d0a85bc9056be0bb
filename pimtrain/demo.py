"""``pimtrain demo`` (run by ``make demo``): both halves of pimtrain on the Marinella 2018 designs.

1. Accuracy: the ideal design and the Marinella analog designs trained on the 8×8 digits
   (64-36-10 sigmoid MLP, batch 1, in-situ outer-product updates), side by side.
2. Cost: one training step of the same network and of a full 1024×1024 layer on the analog, digital
   ReRAM and SRAM blocks.
3. The comparison table of every reproduced paper (paper vs pimtrain), Marinella 2018 first.
"""
from __future__ import annotations

from pimtrain.design import PimtrainError, load_design, preset_names
from pimtrain.report import compare_table, console, reproduce_table, train_table


def demo_designs() -> list[str]:
    names = ["ideal", "marinella2018-analog", "marinella2018-analog-carry",
             "marinella2018-analog-taox", "marinella2018-analog-taox-carry"]  # TaOx tables ship in pimtrain/data
    return [n for n in names if n in preset_names()]


def demo_results(names: list[str] | None = None, epochs: int = 10, seed: int = 0, progress: bool = True) -> list:
    """``(design, train JSON)`` of the demo's accuracy runs (digits, batch 1, the trainer's lr): the same
    settings as the README's digits rows (``scripts/accuracy_table.py``)."""
    from pimtrain.runs import train_with_cost

    results = []
    for name in names or demo_designs():
        design = load_design(name)
        r = train_with_cost(design, "digits", epochs=epochs, batch_size=1, lr=None, seed=seed, progress=progress)
        results.append((name, r))
    return results


def run_demo(epochs: int = 10, seed: int = 0, plot: str | None = None, json_out: str | None = None) -> None:
    from pimtrain.runs import compare_designs

    console.rule("[bold]pimtrain demo: Marinella et al. 2018")
    results = demo_results(epochs=epochs, seed=seed)
    if json_out:
        from pimtrain.report import emit_json

        emit_json([{"design": n, **r} for n, r in results], json_out)
    console.print(train_table(results, title=f"8×8 digits, 64-36-10 sigmoid MLP, batch 1, {epochs} epochs, seed {seed}"))
    if plot:
        from pimtrain.report.plots import training_curves
        from pimtrain.report.render import run_caption

        console.print(f"training curves: {training_curves(results, plot, title=run_caption(results[0][1]))}")

    cost_designs = [n for n in ("marinella2018-analog", "marinella2018-digital-reram", "marinella2018-sram") if n in preset_names()]
    if len(cost_designs) >= 2:
        for workload in ("mlp:64-36-10", "mlp:1024-1024"):
            try:
                result = compare_designs(cost_designs, workload, batch_size=1)
            except PimtrainError as exc:
                console.print(f"[yellow]{workload}: {exc}[/]")
                continue
            console.print(compare_table(result))
            for key, ratio in result["ratios"].items():
                console.print(f"  {key}: {ratio:.3g}×")

    from pimtrain.papers import paper_names, reproduce

    for paper in paper_names():
        console.rule(f"[bold]{paper}: paper vs pimtrain")
        console.print(reproduce_table(reproduce(paper)))
