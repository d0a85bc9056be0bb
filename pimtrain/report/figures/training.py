"""Training: test accuracy and training loss per epoch with the float reference drawn, and the energy of
each epoch beside them (measured when the run carries it, else the fixed-activity estimate)."""
from __future__ import annotations

from .common import WIDTH_IN, pyplot, si_scale


def epoch_energy(result: dict) -> tuple[list[float], str]:
    """Energy of each epoch (J) and what it is: the run's measured figure when its JSON carries one
    (``cost.measured.energy_j_per_epoch``, written by ``pimtrain train``: one figure, or one per epoch), else
    the fixed-activity estimate ``cost.energy_j_per_epoch`` repeated (the same for every epoch)."""
    cost = result.get("cost") or {}
    n = len(result.get("epochs", []))
    v = (cost.get("measured") or {}).get("energy_j_per_epoch")
    if isinstance(v, list) and len(v) == n:
        return [float(x) for x in v], "measured activity of each epoch"
    if isinstance(v, (int, float)):
        return [float(v)] * n, "measured activity (mean epoch)"
    if isinstance(cost.get("energy_j_per_epoch"), (int, float)):
        return [float(cost["energy_j_per_epoch"])] * n, "fixed-activity estimate (every epoch the same)"
    return [], "no cost in the result"


def training(runs: list[tuple[str, dict]], reference: dict | None = None, title: str = "", note: str = ""):
    """Accuracy, loss and epoch energy of ``(label, train JSON)`` runs; ``reference``: the float run."""
    plt = pyplot()
    fig, (ax_acc, ax_loss, ax_e) = plt.subplots(1, 3, figsize=(WIDTH_IN, 3.6), layout="constrained")
    if reference:
        ep = [e["epoch"] for e in reference["epochs"]]
        ax_acc.plot(ep, [100 * e["test_accuracy"] for e in reference["epochs"]], color="k", ls="--", marker=".",
                    label="float reference")
        ax_loss.plot(ep, [e["train_loss"] for e in reference["epochs"]], color="k", ls="--", marker=".",
                     label="float reference")
    energies = []
    for label, result in runs:
        ep = [e["epoch"] for e in result["epochs"]]
        ax_acc.plot(ep, [100 * e["test_accuracy"] for e in result["epochs"]], marker="o", ms=4, label=label)
        ax_loss.plot(ep, [e["train_loss"] for e in result["epochs"]], marker="o", ms=4, label=label)
        energies.append((label, ep, *epoch_energy(result)))
    scale, prefix = si_scale([v for _, _, e, _ in energies for v in e])
    kinds = sorted({kind for _, _, e, kind in energies if e})
    for label, ep, e, _ in energies:
        if e:
            ax_e.bar([x + 0.0 for x in ep], [v / scale for v in e], width=0.6, alpha=0.8, label=label)
    ax_acc.set(xlabel="epoch", ylabel="test accuracy (%)", title="accuracy")
    ax_loss.set(xlabel="epoch", ylabel="training loss (mean cross-entropy)", title="loss")
    ax_e.set(xlabel="epoch", ylabel=f"energy per epoch ({prefix}J)", title="energy of each epoch")
    from matplotlib.ticker import MaxNLocator

    for ax in (ax_acc, ax_loss, ax_e):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    ax_acc.legend(fontsize=7)
    line = note or ("energy: " + ("; ".join(kinds) if kinds else "not in the result"))
    import textwrap

    head = "\n".join(textwrap.wrap(title, 115)) if title else ""
    fig.suptitle(f"{head}\n{line}" if head else line, fontsize=9)
    return fig
