"""Graph structure of a NIR graph: flatten nested subgraphs, order topologically, find cycles.

Pure functions over ``nir.NIRGraph``; the input graph is never mutated.
"""
from __future__ import annotations

from dataclasses import dataclass

import nir

from ..errors import BadInput, NirconvError
from ..nir_io.walk import depth_first

STATEFUL = (nir.I, nir.IF, nir.LI, nir.LIF, nir.CubaLI, nir.CubaLIF, nir.Delay)


@dataclass(frozen=True)
class FlatGraph:
    nodes: dict  # dotted name -> nir node (no NIRGraph among them)
    edges: tuple  # (src, dst) pairs, dotted names
    inputs: tuple  # names of top-level Input nodes
    outputs: tuple  # names of top-level Output nodes


def _endpoint(graph: nir.NIRGraph, name: str, role: str, source: str) -> str:
    """Resolve an edge endpoint to a leaf node name (relative to ``graph``): an edge into or out
    of a subgraph goes to its one Input or Output, at any depth (walked, not recursed)."""
    node = graph.nodes.get(name)
    if node is not None and not isinstance(node, nir.NIRGraph):
        return name  # the common case: a node of this graph
    path: list = []
    g = graph
    while True:
        if name in g.nodes:
            node = g.nodes[name]
            if not isinstance(node, nir.NIRGraph):
                return ".".join(path + [name])
            kind = nir.Input if role == "dst" else nir.Output
            inner = [k for k, v in node.nodes.items() if isinstance(v, kind)]
            if len(inner) != 1:
                raise BadInput(f"subgraph has {len(inner)} {kind.__name__} nodes; an edge into "
                               f"or out of it needs exactly one", file=source,
                               node=".".join(path + [name]), field="nodes")
            path.append(name)
            g, name = node, inner[0]
            continue
        head, _, rest = name.partition(".")
        if rest and head in g.nodes and isinstance(g.nodes[head], nir.NIRGraph):
            path.append(head)
            g, name = g.nodes[head], rest
            continue
        raise BadInput("edge names a node that does not exist", file=source,
                       node=".".join(path + [name]), field="edges")


def flatten(graph: nir.NIRGraph, source: str = "<memory>") -> FlatGraph:
    """Inline every nested NIRGraph; inner Input/Output nodes become pass-through nodes."""
    nodes: dict = {}
    edges: list = []
    try:
        for event, name, item in depth_first(graph):
            if event == "node":
                nodes[name] = item
                continue
            for src, dst in item.edges:  # a graph's edges, after all of its nodes
                edges.append((name + _endpoint(item, src, "src", source),
                              name + _endpoint(item, dst, "dst", source)))
    except NirconvError as e:
        raise e.with_file(source) from None
    inputs = tuple(k for k in graph.nodes if isinstance(graph.nodes[k], nir.Input))
    outputs = tuple(k for k in graph.nodes if isinstance(graph.nodes[k], nir.Output))
    if not inputs:
        raise BadInput("graph has no Input node", file=source, field="nodes")
    if not outputs:
        raise BadInput("graph has no Output node", file=source, field="nodes")
    return FlatGraph(nodes, tuple(dict.fromkeys(edges)), inputs, outputs)


def order(flat: FlatGraph, source: str = "<memory>") -> tuple[list[str], set]:
    """Topological order of the flat graph and the set of back edges that close cycles.

    A depth-first search from the inputs marks back edges; each cycle must pass through a
    stateful node (a neuron or a Delay), otherwise its value at step t would depend on itself.
    Nodes not reachable from an input are still ordered (they see zero input).
    """
    succ: dict = {n: [] for n in flat.nodes}
    for s, d in flat.edges:
        succ[s].append(d)
    color: dict = {}
    back: set = set()
    post: list = []

    starts = list(flat.inputs) + [n for n in flat.nodes if n not in flat.inputs]
    for start in starts:
        if start in color:
            continue
        stack = [(start, iter(succ[start]))]
        color[start] = 1
        path = [start]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                path.pop()
                color[node] = 2
                post.append(node)
                continue
            if color.get(nxt) == 1:  # back edge: nxt is on the current path
                cycle = path[path.index(nxt):]
                if not any(isinstance(flat.nodes[c], STATEFUL) for c in cycle):
                    raise BadInput("cycle without a stateful node (neuron or Delay): "
                                   + " -> ".join(cycle + [nxt]), file=source, node=nxt,
                                   field="edges")
                back.add((node, nxt))
            elif nxt not in color:
                color[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(succ[nxt])))
    return post[::-1], back


def delay_after_state(flat: FlatGraph, topo: list, back: set) -> tuple[list, set]:
    """Move a cycle's one-step delay onto the edge *leaving* its last stateful node when a node
    after that one on the cycle adds a bias (a recurrent Affine with bias): that node then
    computes from the previous step's state at every step, step 0 included, as snnTorch's
    RLeaky/RSynaptic do (``recurrent(spk_prev)`` with ``spk_prev = 0`` adds the bias at step 0).
    Without a bias both placements give the same result and the search's edge is kept.
    Returns the new topological order and delayed edges (unchanged when nothing moves or when
    the moved edges would not leave an acyclic graph)."""
    forward: dict = {n: [] for n in flat.nodes}
    for s, d in flat.edges:
        if (s, d) not in back:
            forward[s].append(d)
    moved = set()
    for u, v in back:
        cycle = _path(forward, v, u)
        if cycle is None:
            moved.add((u, v))
            continue
        last = max(i for i, c in enumerate(cycle) if isinstance(flat.nodes[c], STATEFUL))
        if any(_has_bias(flat.nodes[c]) for c in cycle[last + 1:]):
            moved.add((cycle[last], cycle[last + 1]))
        else:
            moved.add((u, v))
    if moved == back:
        return topo, back
    rank = {n: i for i, n in enumerate(topo)}
    indeg = {n: 0 for n in flat.nodes}
    succ: dict = {n: [] for n in flat.nodes}
    for s, d in flat.edges:
        if (s, d) not in moved:
            succ[s].append(d)
            indeg[d] += 1
    ready = sorted((n for n, k in indeg.items() if k == 0), key=rank.get)
    out = []
    while ready:
        n = ready.pop(0)
        out.append(n)
        for d in succ[n]:
            indeg[d] -= 1
            if indeg[d] == 0:
                ready.append(d)
                ready.sort(key=rank.get)
    return (out, moved) if len(out) == len(topo) else (topo, back)


def _path(forward: dict, start: str, goal: str):
    """Nodes of a path start -> ... -> goal along ``forward`` edges (breadth first), or None."""
    prev = {start: None}
    queue = [start]
    while queue:
        n = queue.pop(0)
        if n == goal:
            path = [n]
            while prev[path[-1]] is not None:
                path.append(prev[path[-1]])
            return path[::-1]
        for d in forward[n]:
            if d not in prev:
                prev[d] = n
                queue.append(d)
    return None


def _has_bias(node) -> bool:
    import numpy as np

    bias = getattr(node, "bias", None)
    return bias is not None and bool(np.any(np.asarray(bias) != 0))
