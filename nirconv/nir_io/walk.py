"""Walks over nested NIR graphs and nested dicts, without recursion.

A file may nest subgraphs deeply and a graph may hold thousands of nodes: no walk over either may
use the Python stack (README, "Security and untrusted files"). Every walk over subgraphs goes
through these helpers.
"""
from __future__ import annotations

import copy
from typing import Callable

import nir


def graphs(graph: nir.NIRGraph) -> list[tuple[str, nir.NIRGraph]]:
    """``(prefix, graph)`` for the graph and every nested subgraph, parents before children;
    ``prefix`` is the dotted path of the subgraph with a trailing dot (``''`` at the top)."""
    out, stack = [], [("", graph)]
    while stack:
        prefix, g = stack.pop()
        out.append((prefix, g))
        subs = [(f"{prefix}{name}.", node) for name, node in g.nodes.items()
                if isinstance(node, nir.NIRGraph)]
        stack.extend(reversed(subs))
    return out


def leaves(graph: nir.NIRGraph) -> dict:
    """Every node that is not a subgraph, by dotted name (``outer.inner.node``), in file order."""
    out = {}
    for prefix, g in graphs(graph):
        for name, node in g.nodes.items():
            if not isinstance(node, nir.NIRGraph):
                out[f"{prefix}{name}"] = node
    return out


def rebuild(graph: nir.NIRGraph, fn: Callable) -> nir.NIRGraph:
    """A copy of ``graph`` in which every graph, innermost first, is replaced by
    ``fn(copy_of_graph, prefix)``. The copy given to ``fn`` is shallow, with a new ``nodes``
    dict whose subgraphs are already rebuilt; the input graph is not mutated."""
    order = graphs(graph)
    done: dict = {}
    for prefix, g in reversed(order):
        new = copy.copy(g)
        new.nodes = {name: done[id(node)] if isinstance(node, nir.NIRGraph) else node
                     for name, node in g.nodes.items()}
        done[id(g)] = fn(new, prefix)
    return done[id(graph)]


def map_dict(tree: dict, leaf: Callable, key: Callable = lambda k: k) -> dict:
    """A copy of a nested dict with ``leaf`` applied to every value that is not a dict and
    ``key`` to every key."""
    out: dict = {}
    stack = [(tree, out)]
    while stack:
        src, dst = stack.pop()
        for k, value in src.items():
            if isinstance(value, dict):
                dst[key(k)] = {}
                stack.append((value, dst[key(k)]))
            else:
                dst[key(k)] = leaf(value)
    return out
