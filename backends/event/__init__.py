"""Event-driven CPU reference simulator (numpy/scipy only).

    from nirconv.backends.event import run
    result = run(program, x, record=(), dtype=None, progress=False)   # -> SimResult

Work per step is proportional to the events that arrive: every connection is precomputed as
per-input fan-out lists, and only non-zero inputs are propagated (see ``connections.py``). Float mode
is the float64 reference of `NeuronFloat`; integer mode implements the chip families of
``nirconv/equations/neurons.py`` exactly. The torch backend is an independent implementation.
"""
from .engine import run

__all__ = ["run"]
