"""One self-contained HTML page: inline CSS, figures as inline SVG, no script, no font, no external
reference of any kind (the page is read offline). Pure formatting of given content."""
from __future__ import annotations

import html
import os
import platform
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone

from pimtrain.design import atomic_write_text

_CSS = """
body{font-family:sans-serif;max-width:1000px;margin:1.5em auto;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.5em;border-bottom:2px solid #ccc;padding-bottom:.2em}h2{font-size:1.2em;margin-top:1.6em}
h3{font-size:1.05em}table{border-collapse:collapse;margin:.6em 0;font-size:.85em}
th,td{border:1px solid #ccc;padding:.2em .5em;vertical-align:top}th{background:#f0f0f0}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}tr.total td{font-weight:bold;background:#fafafa}
figure{margin:1em 0}figure svg{max-width:100%;height:auto;display:block}figcaption{font-size:.85em;color:#555}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:.8em}code{background:#f3f3f3;padding:0 .2em}
p.note{color:#555;font-size:.9em}.warn{color:#a60}
"""


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def table(headers: list[str], rows: list[list], caption: str = "", numeric: set[int] | None = None,
          total: list | None = None) -> str:
    """An HTML table; cells are escaped text; ``numeric`` column indices are right-aligned; ``total``: a
    last bold row."""
    numeric = numeric if numeric is not None else set(range(1, len(headers)))
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{esc(caption)}</caption>")
    out.append("<tr>" + "".join(f"<th>{esc(h)}</th>" for h in headers) + "</tr>")
    for row, cls in [(r, "") for r in rows] + ([(total, "total")] if total else []):
        num = ' class="num"'
        cells = "".join(f"<td{num if i in numeric else ''}>{esc(c)}</td>" for i, c in enumerate(row))
        tr = f'<tr class="{cls}">' if cls else "<tr>"
        out.append(f"{tr}{cells}</tr>")
    out.append("</table>")
    return "\n".join(out)


def figure(svg: str, caption: str) -> str:
    """An inline-SVG figure with its caption (``svg`` from :func:`pimtrain.report.figures.to_svg`)."""
    return f'<figure class="fig">\n{svg}\n<figcaption>{esc(caption)}</figcaption>\n</figure>'


def versions() -> dict[str, str]:
    """Versions of pimtrain and the libraries that computed and drew the page."""
    import matplotlib
    import numpy
    import torch

    import pimtrain

    return {"pimtrain": pimtrain.__version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "matplotlib": matplotlib.__version__, "python": sys.version.split()[0], "platform": platform.platform()}


@dataclass
class Page:
    """A report page: a title, sections of HTML, and how it was made (the command and versions)."""

    title: str
    command: str
    sections: list[tuple[str, str]] = field(default_factory=list)

    def add(self, heading: str, body: str) -> None:
        self.sections.append((heading, body))

    def html(self) -> str:
        made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        vers = versions()
        body = [f"<h1>{esc(self.title)}</h1>",
                f"<p class=\"note\">Made by <code>{esc(self.command)}</code> on {esc(made)} "
                f"(pimtrain {esc(vers['pimtrain'])}, torch {esc(vers['torch'])}).</p>"]
        if len(self.sections) > 2:
            body.append("<ul>" + "".join(f"<li>{esc(h)}</li>" for h, _ in self.sections) + "</ul>")
        for heading, content in self.sections:
            body.append(f"<h2>{esc(heading)}</h2>\n{content}")
        body.append("<h2>How this page was made</h2>")
        body.append(f"<pre>{esc(self.command)}</pre>")
        body.append(table(["package", "version"], [[k, v] for k, v in vers.items()], numeric=set()))
        return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                f"<title>{esc(self.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
                + "\n".join(body) + "\n</body>\n</html>\n")

    def write(self, path: str | os.PathLike) -> None:
        """Write the page atomically (a reader sees the old page or the new one)."""
        atomic_write_text(path, self.html())
