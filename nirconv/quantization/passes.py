"""The quantization pipeline as a list of plain ``graph -> graph`` passes.

Each `Pass` has a precondition (``requires``) and a postcondition (``ensures``), both functions of
the graph that return None when satisfied or a one-line reason; `run_passes` runs them in order and
names the failing pass (and the passes that ran before it) when a condition fails.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import nir

from ..errors import NirconvError

Condition = Callable[[nir.NIRGraph], Optional[str]]


def always(graph) -> None:
    return None


@dataclass(frozen=True)
class Pass:
    name: str
    run: Callable[[nir.NIRGraph], nir.NIRGraph]
    requires: Condition = always
    ensures: Condition = always


class PassFailed(NirconvError):
    """A pass's pre- or postcondition does not hold (a bug in the pipeline, or unusual input)."""


def run_passes(graph: nir.NIRGraph, passes: list[Pass], source: str = "<memory>") -> nir.NIRGraph:
    """Run ``passes`` in order; each gets its own `working_copy` of the graph (edited in place by
    the pass, never the caller's graph)."""
    from .graph import working_copy

    done: list[str] = []
    for p in passes:
        why = p.requires(graph)
        if why:
            raise PassFailed(f"quantization pass '{p.name}' cannot run (after "
                             f"{', '.join(done) or 'nothing'}): {why}", file=source)
        graph = p.run(working_copy(graph))
        why = p.ensures(graph)
        if why:
            raise PassFailed(f"quantization pass '{p.name}' broke its postcondition (after "
                             f"{', '.join(done) or 'nothing'}): {why}", file=source)
        done.append(p.name)
    return graph
