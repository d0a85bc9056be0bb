"""The one exception type pimtrain raises for bad input.

Every user-facing error (a design file, a CLI option, a dataset name, a workload) is a
:class:`PimtrainError` whose message is a single line naming the field or value and what is
allowed. The CLI prints it and exits with status 2; nothing else is shown.
"""
from __future__ import annotations


class PimtrainError(ValueError):
    """Bad input, reported as one line: ``<where>: <field>: <problem>; allowed: <what>``."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class DesignError(PimtrainError):
    """A design file or design object that does not validate."""


class DivergenceError(PimtrainError):
    """Training produced a non-finite loss, weight or output; the CLI exits with status 3."""

    exit_code = 3
