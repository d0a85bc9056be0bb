"""Matplotlib figures: training curves of one or several runs (written atomically as PNG)."""
from __future__ import annotations

import os
from pathlib import Path

from pimtrain.design import atomic_path


def training_curves(runs: list[tuple[str, dict]], path: str | os.PathLike, title: str = "") -> Path:
    """Test accuracy and training loss per epoch for each ``(label, train-result JSON)``; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(10, 4))
    for label, result in runs:
        epochs = [e["epoch"] for e in result["epochs"]]
        ax_acc.plot(epochs, [100 * e["test_accuracy"] for e in result["epochs"]], marker="o", label=label)
        ax_loss.plot(epochs, [e["train_loss"] for e in result["epochs"]], marker="o", label=label)
    ax_acc.set(xlabel="epoch", ylabel="test accuracy (%)", title="accuracy")
    ax_loss.set(xlabel="epoch", ylabel="training loss (mean cross-entropy)", title="loss")
    from matplotlib.ticker import MaxNLocator

    for ax in (ax_acc, ax_loss):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120, format="png")
    finally:
        plt.close(fig)
    return Path(path)
