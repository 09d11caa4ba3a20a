"""The one error hierarchy of nirconv. Exit codes are assigned here and mapped only by the CLI.

Exit codes: 0 success, 1 checked and found wanting (`DoesNotFit`, `CheckFailed`), 2 bad input or
unsupported (`BadInput`, `Unsupported`), 3 a bug in nirconv (`InternalError`, and any exception
that is not a `NirconvError`).

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
        return self.at(file=file)

    def at(self, *, file: Any = None, node: str | None = None,
           field: str | None = None) -> "NirconvError":
        """The same error with whatever of ``file``, ``node``, ``field`` it did not know yet
        (records validate themselves without knowing where they came from; the reader adds it)."""
        if self.file is None and file is not None:
            self.file = str(file)
        if self.node is None and node is not None:
            self.node = node
        if self.field is None and field is not None:
            self.field = field
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


class InternalError(NirconvError):
    """A bug in nirconv: a broken invariant or postcondition. Never a verdict on the input."""

    exit_code = 3
