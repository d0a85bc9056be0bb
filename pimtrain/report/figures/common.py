"""What every figure shares: the Agg backend, a style readable at 800 px wide, SI scaling of an axis,
and writing a figure (PNG / SVG / PDF by suffix, atomically) or turning it into inline SVG text."""
from __future__ import annotations

import io
import os
import re
from pathlib import Path

from pimtrain.design import PimtrainError, atomic_path

#: width of every figure in inches at 100 dpi -> 800 px (readable at 800 px wide without scaling)
WIDTH_IN = 8.0
_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
_PREFIXES = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"),
             (1e-12, "p"), (1e-15, "f"), (1e-18, "a")]


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed) with the house style."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
                         "svg.fonttype": "path", "svg.hashsalt": "pimtrain", "figure.dpi": 100})
    return plt


def si_scale(values) -> tuple[float, str]:
    """(divisor, prefix) so that the largest |value| reads between 1 and 1000: 3e-9 J -> (1e-9, 'n')."""
    mag = max((abs(float(v)) for v in values), default=0.0)
    if mag == 0:
        return 1.0, ""
    for scale, prefix in _PREFIXES:
        if mag >= scale:
            return scale, prefix
    return _PREFIXES[-1]


def figure_format(path: str | os.PathLike, field: str = "--plot") -> str:
    """The matplotlib format of ``path`` by its suffix; a one-line error for any other suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in _FORMATS:
        raise PimtrainError(f"{field}: {str(path)!r} has suffix {suffix or '(none)'!r}; allowed: {', '.join(_FORMATS)}")
    return _FORMATS[suffix]


def save(fig, path: str | os.PathLike, field: str = "--plot", dpi: int = 100) -> Path:
    """Write ``fig`` to ``path`` (format by suffix) atomically and close it."""
    plt = pyplot()
    fmt = figure_format(path, field)
    try:
        with atomic_path(path, field) as tmp:
            fig.savefig(tmp, dpi=dpi, format=fmt, metadata={"Software": None} if fmt == "png" else None)
    finally:
        plt.close(fig)
    return Path(path)


def to_svg(fig) -> str:
    """``fig`` as an inline ``<svg>`` element (glyphs as paths: no fonts, no external references); closes it."""
    plt = pyplot()
    buf = io.StringIO()
    try:
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    finally:
        plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg"):]  # drop the XML declaration and DOCTYPE (not allowed inside HTML)
    # the namespace URIs are identifiers, not fetched; the xlink one is only needed for xlink:href
    return re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)


def caption(fig, text: str, y: float = 0.005) -> None:
    """A caption line (run settings) at the bottom edge of the figure."""
    if text:
        fig.text(0.5, y, text, ha="center", va="bottom", fontsize=7.5, color="0.25", wrap=True)
