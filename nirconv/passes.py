"""The one pass runner: a pipeline is a list of plain ``state -> state`` functions, each with a
precondition (``requires``) and a postcondition (``ensures``).

A condition returns None when it holds, else a one-line reason. `run_passes` runs the passes in
order; a condition that does not hold is a bug in nirconv (never a verdict on the user's input:
bad input is refused inside a pass with `BadInput`/`Unsupported`), so it raises `PassFailed`, an
`InternalError` (exit 3) that names the pipeline, the pass, the passes that ran before it and the
reason. The conversion (``conversion/passes.py``) and the quantization
(``quantization/passes.py``) both run on it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from .errors import InternalError

Condition = Callable[[Any], Optional[str]]


def always(state) -> None:
    return None


@dataclass(frozen=True)
class Pass:
    name: str
    run: Callable[[Any], Any]
    requires: Condition = always
    ensures: Condition = always


class PassFailed(InternalError):
    """A pass's pre- or postcondition does not hold: a bug in the pipeline."""


def run_passes(state, passes: list[Pass], *, pipeline: str = "pipeline",
               source: str = "<memory>"):
    """Run ``passes`` in order on ``state``; returns the final state."""
    done: list[str] = []
    for p in passes:
        why = p.requires(state)
        if why:
            raise PassFailed(f"{pipeline} pass '{p.name}' cannot run (after "
                             f"{', '.join(done) or 'nothing'}): {why}", file=source)
        state = p.run(state)
        why = p.ensures(state)
        if why:
            raise PassFailed(f"{pipeline} pass '{p.name}' broke its postcondition (after "
                             f"{', '.join(done) or 'nothing'}): {why}", file=source)
        done.append(p.name)
    return state
