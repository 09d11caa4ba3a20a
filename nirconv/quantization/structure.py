"""The op order and edge delays of an integer program, before its family's rules.

An integer program keeps each cycle's one-step delay on the edge where a depth-first search from
the inputs closes it (`Topology.back`), as a reader of the deployed file does; a float program
may have moved it (``reading/structure.py``, ``delay_after_state``). Ops stay in the float
program's order wherever that order respects the integer edges (always, when no delay moved).
"""
from __future__ import annotations

import dataclasses
import heapq

from ..equations.program import Edge
from ..equations.topology import Topology


def integer_order(topo: Topology) -> list:
    """A topological order of the ops along the edges that are not in ``topo.back``; among the
    ops that are ready, the one first in program order goes first."""
    indegree = {name: 0 for name in topo.ops}
    for dst, sources in topo.preds.items():
        for src in sources:
            if (src, dst) not in topo.back:
                indegree[dst] += 1
    ready = [(topo.rank(name), name) for name, k in indegree.items() if k == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(name)
        for dst in topo.succs[name]:
            if (name, dst) in topo.back:
                continue
            indegree[dst] -= 1
            if indegree[dst] == 0:
                heapq.heappush(ready, (topo.rank(dst), dst))
    return order


def integer_ops(topo: Topology, replaced: dict) -> tuple:
    """The ops (``replaced`` by name where given, else as in ``topo``) in `integer_order`, each
    edge with delay 1 when it closes a cycle and 0 otherwise."""
    out = []
    for name in integer_order(topo):
        op = replaced.get(name, topo.ops[name])
        inputs = tuple(Edge(e.src, 1 if (e.src, name) in topo.back else 0) for e in op.inputs)
        out.append(dataclasses.replace(op, inputs=inputs) if inputs != op.inputs else op)
    return tuple(out)
