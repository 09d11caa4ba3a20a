"""The one error hierarchy of nirconv. Exit codes are assigned here and mapped only by the CLI.

Every error names where it happened: the file, the node and the field, as far as they are known,
so that the CLI can print one line a user can act on.
"""
from __future__ import annotations

from typing import Any


class NirconvError(Exception):
    """Base class. ``exit_code`` is what the CLI returns for it."""

    exit_code = 2

    def __init__(self, message: str, *, file: Any = None, node: str | None = None,
                 field: str | None = None):
        self.message = message
        self.file = None if file is None else str(file)
        self.node = node
        self.field = field
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.node:
            where.append(f"node '{self.node}'")
        if self.field:
            where.append(f"field '{self.field}'")
        prefix = ": ".join(where)
        text = " ".join(self.message.split())  # always one line
        return f"{prefix}: {text}" if prefix else text

    def with_file(self, file: Any) -> "NirconvError":
        """Return the same error with ``file`` filled in (when the caller knows it and we did not)."""
        if self.file is None:
            self.file = str(file)
            self.args = (self.one_line(),)
        return self


class BadInput(NirconvError):
    """Missing, corrupt or inconsistent input: files, arrays, parameters (NaN, wrong shape)."""


class Unsupported(NirconvError):
    """A layer, node type, field value or option nirconv does not handle (and will not guess)."""


class DoesNotFit(NirconvError):
    """The network does not fit the target. Carries the full report with every violation."""

    exit_code = 1

    def __init__(self, message: str, report: Any = None, **where: Any):
        self.report = report
        super().__init__(message, **where)


class CheckFailed(NirconvError):
    """A check ran and found the result wanting (e.g. audit below tolerance)."""

    exit_code = 1
