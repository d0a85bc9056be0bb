"""Training curves of one or several runs, written atomically (the figure lives in :mod:`pimtrain.report.figures`)."""
from __future__ import annotations

import os
from pathlib import Path



def training_curves(runs: list[tuple[str, dict]], path: str | os.PathLike, title: str = "",
                    reference: dict | None = None) -> Path:
    """Accuracy, loss and epoch energy of each ``(label, train-result JSON)`` (the figure of
    :func:`pimtrain.report.figures.training.training`; ``reference``: a float run drawn dashed); returns the path."""
    from .figures.common import save
    from .figures.training import training

    return save(training(runs, reference=reference, title=title), path)
