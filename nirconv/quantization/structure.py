"""The structure of a program as the quantizer sees it (weight ops feed one neuron op each, through
structure ops), and the op order and edge delays of an integer program, before its family's rules.

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
from ..errors import Unsupported


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


def is_passthrough(topo: Topology, weight: str) -> bool:
    """A weight op that feeds only other weight ops (e.g. 1-D sum pooling written as a depthwise
    Conv1d of ones): kept as is when its weights are integers; no neuron to fold into."""
    found = topo.consumers(weight)
    return bool(found) and all(topo.kind(c) == "weight" for c in found)


def fed_by_input(topo: Topology, weight: str) -> bool:
    """Whether an Input reaches ``weight`` directly or through pass-through weight ops."""
    stack, seen = [weight], {weight}
    while stack:
        for p in topo.producers(stack.pop()):
            k = topo.kind(p)
            if k == "input":
                return True
            if k == "weight" and p not in seen and is_passthrough(topo, p):
                seen.add(p)
                stack.append(p)
    return False


def consumer_neuron(topo: Topology, weight: str) -> str:
    """The one neuron op ``weight`` feeds (through structure ops only), or Unsupported."""
    found = topo.consumers(weight)
    neurons = [n for n in found if topo.kind(n) == "neuron"]
    if len(found) != 1 or len(neurons) != 1:
        raise Unsupported(f"a weight layer must feed exactly one neuron layer (through "
                          f"pooling/flatten only); this one feeds {found}", node=weight,
                          field="edges")
    return neurons[0]


def readout_neurons(topo: Topology) -> set:
    """The neuron ops that feed an Output (through structure ops)."""
    return {p for o in topo.of_kind("output") for p in topo.producers(o)}
