"""Walks over nested NIR graphs and nested dicts, without recursion.

A file may nest subgraphs deeply and a graph may hold thousands of nodes: no walk over either may
use the Python stack (README, "Security and untrusted files"). Every walk over subgraphs goes
through these helpers, and refuses subgraphs nested more than `MAX_NESTING` deep (a graph that
contains itself is one).
"""
from __future__ import annotations

import copy
from typing import Callable, Iterator

import nir

from ..errors import BadInput
from .limits import MAX_NESTING


def _too_deep(prefix: str) -> BadInput:
    return BadInput(f"subgraphs nested more than {MAX_NESTING} deep", node=prefix.rstrip("."),
                    field="nodes")


def graphs(graph: nir.NIRGraph) -> list[tuple[str, nir.NIRGraph]]:
    """``(prefix, graph)`` for the graph and every nested subgraph, parents before children;
    ``prefix`` is the dotted path of the subgraph with a trailing dot (``''`` at the top)."""
    out, stack = [], [("", graph, 0)]
    while stack:
        prefix, g, depth = stack.pop()
        if depth > MAX_NESTING:
            raise _too_deep(prefix)
        out.append((prefix, g))
        subs = [(f"{prefix}{name}.", node, depth + 1) for name, node in g.nodes.items()
                if isinstance(node, nir.NIRGraph)]
        stack.extend(reversed(subs))
    return out


def depth_first(graph: nir.NIRGraph) -> Iterator[tuple[str, str, object]]:
    """The walk a recursive visitor would make: ``("node", dotted name, node)`` for every node
    that is not a subgraph, in order, a subgraph's nodes where the subgraph stands, and
    ``("end", prefix, graph)`` after the last node of each graph (innermost graphs first)."""
    stack = [("", graph, iter(graph.nodes.items()))]
    while stack:
        prefix, g, items = stack[-1]
        item = next(items, None)
        if item is None:
            stack.pop()
            yield "end", prefix, g
            continue
        name, node = item
        if isinstance(node, nir.NIRGraph):
            if len(stack) > MAX_NESTING:
                raise _too_deep(f"{prefix}{name}")
            stack.append((f"{prefix}{name}.", node, iter(node.nodes.items())))
        else:
            yield "node", f"{prefix}{name}", node


def leaves(graph: nir.NIRGraph) -> dict:
    """Every node that is not a subgraph, by dotted name (``outer.inner.node``), in the order a
    recursive walk would find them."""
    return {name: node for event, name, node in depth_first(graph) if event == "node"}


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
