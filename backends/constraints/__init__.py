"""Generic mapper and checker over a `Target` (nirconv/targets): every violation with node, rule,
value and limit, plus resources used/available (docs/equations/targets.md).

    report = check_program(program, target)        # a float or integer Program

Rules shared by all targets live in `rules.py` (driven by the target's data); the assignment of
layers to cores in `mappers.py`, one function per ``chip.mapper`` value. The checker reads the
program and the target only (layers 0 and 1: nirconv.equations, nirconv.targets).
"""
from __future__ import annotations

from .mappers import MAPPERS
from .net import build_net
from .report import Report, Violation, Warning_
from .rules import BLOCKING, RULES


def check_program(program, target) -> Report:
    """The fit report of ``program`` (a float or integer `Program`) on ``target`` (a `Target`)."""
    net = build_net(program)
    violations = []
    for rule in RULES:
        violations += rule(net, target)
    mapped, resources = MAPPERS[target.mapper](net, target)
    violations += mapped
    return Report(target=target.name, violations=tuple(violations), resources=resources)


__all__ = ["BLOCKING", "MAPPERS", "RULES", "Report", "Violation", "Warning_", "check_program"]
