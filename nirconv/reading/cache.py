"""The lowering of an in-memory graph, kept per graph object (issue 15: a user who simulates the
same ``nir.NIRGraph`` again pays its lowering once, and the simulators' per-op caches, keyed on
the Program's ops, are hit again).

An entry is found by the graph's identity and the lowering options, and used only while the
graph's *fingerprint* is unchanged: its node names and types, edges, metadata, and for every
array field the array object, its shape, dtype and sum. Replacing a node, an edge, a metadata value
or an array, or editing an array in place so that its sum changes, gives a new lowering. (An
in-place edit that keeps every array's sum, e.g. swapping two weights, is not seen: build a new
graph, or replace the array, after such an edit.) Entries go when the graph is garbage
collected; at most `SIZE` are kept. docs/architecture.md, "Reading".
"""
from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import Callable

import nir
import numpy as np

from ..equations.program import Program

SIZE = 8
_ENTRIES: "OrderedDict[tuple, tuple]" = OrderedDict()


def _arrays(node):
    for name, value in vars(node).items():
        if isinstance(value, np.ndarray):
            yield name, value
        elif isinstance(value, dict) and name in ("input_type", "output_type"):
            for k, v in value.items():
                if isinstance(v, np.ndarray):
                    yield f"{name}.{k}", v


def fingerprint(graph: nir.NIRGraph) -> tuple:
    """What must not change for a cached lowering to hold (see the module docstring)."""
    parts = [tuple(graph.edges), repr(sorted((graph.metadata or {}).items(), key=str))]
    stack = [("", graph)]
    while stack:
        prefix, g = stack.pop()
        for name, node in g.nodes.items():
            if isinstance(node, nir.NIRGraph):
                stack.append((f"{prefix}{name}.", node))
                parts.append((prefix + name, "graph", tuple(node.edges)))
                continue
            arrays = tuple((k, id(a), a.shape, a.dtype.str,
                            float(np.sum(a, dtype=np.float64)) if a.dtype.kind in "biuf" else 0.0)
                           for k, a in _arrays(node))
            parts.append((prefix + name, type(node).__name__, id(node), arrays,
                          repr(sorted((node.metadata or {}).items(), key=str))))
    return tuple(parts)


def cached(graph: nir.NIRGraph, options: tuple, build: Callable[[], Program]) -> Program:
    """``build()``'s Program for ``graph`` and ``options``, from the cache when it still holds."""
    key = (id(graph), options)
    try:
        mark = fingerprint(graph)
    except (TypeError, ValueError):  # a graph nirconv cannot fingerprint: no caching
        return build()
    entry = _ENTRIES.get(key)
    if entry is not None:
        ref, old_mark, program = entry
        if ref() is graph and old_mark == mark:
            _ENTRIES.move_to_end(key)
            return program
    program = build()
    try:
        ref = weakref.ref(graph, lambda _, key=key: _ENTRIES.pop(key, None))
    except TypeError:
        return program
    _ENTRIES[key] = (ref, mark, program)
    while len(_ENTRIES) > SIZE:
        _ENTRIES.popitem(last=False)
    return program
