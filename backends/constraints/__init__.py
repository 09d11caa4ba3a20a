"""Generic mapper and checker over a `Target` (nirconv/targets): every violation with node, rule,
value and limit, plus resources used/available.

    report = check_float_graph(graph, target)        # a float (or flattened) NIR graph

Rules shared by all targets live in `rules.py` (driven by the target's data); the assignment of
layers to cores in `mappers.py`, one function per ``chip.mapper`` value.
"""
from __future__ import annotations

from .mappers import MAPPERS
from .net import build_net
from .report import Report, Violation, Warning_
from .rules import BLOCKING, RULES


def check_float_graph(graph, target, *, dialect="auto", dt=None, source="<memory>") -> Report:
    net = build_net(graph, dialect=dialect, dt=dt, source=source)
    violations = []
    for rule in RULES:
        violations += rule(net, target)
    mapped, resources = MAPPERS[target.mapper](net, target)
    violations += mapped
    return Report(target=target.name, violations=tuple(violations), resources=resources)


__all__ = ["BLOCKING", "MAPPERS", "RULES", "Report", "Violation", "Warning_", "check_float_graph"]
