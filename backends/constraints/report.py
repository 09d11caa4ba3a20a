"""The result of a fit check: every violation (node, rule, value, limit), warnings, resources."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


def jsonable(x: Any) -> Any:
    """inf -> "inf", numpy scalars/arrays -> Python, tuples -> lists (JSON has no inf)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if hasattr(x, "tolist"):
        return jsonable(x.tolist())
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


@dataclass(frozen=True)
class Violation:
    node: str
    rule: str
    value: Any
    limit: Any
    message: str = ""

    def to_json(self) -> dict:
        return jsonable({"node": self.node, "rule": self.rule, "value": self.value,
                         "limit": self.limit, "message": self.message})

    def one_line(self) -> str:
        return f"{self.rule} at '{self.node}': {jsonable(self.value)} (limit {jsonable(self.limit)})"


@dataclass(frozen=True)
class Warning_:
    node: str
    rule: str
    message: str

    def to_json(self) -> dict:
        return {"node": self.node, "rule": self.rule, "message": self.message}

    @staticmethod
    def of(warning) -> "Warning_":
        """From a `TargetWarning` of a program's `Deployment`."""
        return Warning_(warning.node, warning.rule, warning.message)

    @staticmethod
    def parse(text: str) -> "Warning_":
        """From the ``"node: rule: message"`` strings kept in a graph's ``warnings`` metadata."""
        parts = str(text).split(": ", 2)
        if len(parts) == 3:
            return Warning_(*parts)
        return Warning_("(network)", "note", str(text))


@dataclass(frozen=True)
class Report:
    """``fits`` is True when there is no violation. ``to_json()`` is the contract's shape:
    ``{"target", "fits", "violations": [{"node","rule","value","limit"}], "warnings", "resources"}``
    (a dict ready for ``json.dumps``)."""

    target: str
    violations: tuple = ()
    warnings: tuple = ()
    resources: dict = field(default_factory=dict)

    @property
    def fits(self) -> bool:
        return not self.violations

    def to_json(self) -> dict:
        return {"target": self.target, "fits": self.fits,
                "violations": [v.to_json() for v in self.violations],
                "warnings": [w.to_json() for w in self.warnings],
                "resources": jsonable(self.resources)}

    def summary(self) -> str:
        """One line: 'fits' or the violated rules."""
        if self.fits:
            return f"fits {self.target}"
        shown = "; ".join(v.one_line() for v in self.violations[:6])
        more = f"; and {len(self.violations) - 6} more" if len(self.violations) > 6 else ""
        return f"does not fit {self.target}: {len(self.violations)} violation(s): {shown}{more}"

    def with_extra(self, violations=(), warnings=()) -> "Report":
        return Report(self.target, tuple(self.violations) + tuple(violations),
                      tuple(self.warnings) + tuple(warnings), dict(self.resources))
