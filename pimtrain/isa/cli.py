"""``pimtrain check-program FILE.s``: parse and check an assembly program, print its static statistics."""
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
        from rich.table import Table

        t = Table(title=f"{file}: static program statistics")
        t.add_column("quantity")
        t.add_column("value", justify="right")
        for k, v in stats.items():
            if isinstance(v, dict):
                for kk, vv in v.items():
                    t.add_row(f"{k}.{kk}", str(vv))
            else:
                t.add_row(k, str(v))
        console.print(t)

    emit_result({"file": file, **stats}, as_json, output, render)


def register(app: typer.Typer, user_errors) -> None:
    """Add the commands to the ``pimtrain`` app (called once by ``pimtrain.cli``)."""
    app.command("check-program")(user_errors(check_program))
