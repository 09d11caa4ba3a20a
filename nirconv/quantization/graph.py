"""Structure of a flat NIR graph as the quantizer and the checker see it.

Node roles: *weight* nodes (Affine, Linear, Conv1d, Conv2d), *structure* nodes that only move or sum
values (Flatten, SumPool2d, AvgPool2d), *neurons* (I, IF, LI, LIF, CubaLI, CubaLIF), Input, Output.
Every weight node has exactly one *consumer* neuron (reached through structure nodes) whose
parameters are folded into the weight's rows, and a *producer* (a neuron or the Input).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import nir
import numpy as np

from ..errors import Unsupported
from ..reading.structure import flatten, order

WEIGHT_TYPES = (nir.Affine, nir.Linear, nir.Conv1d, nir.Conv2d)
STRUCTURE_TYPES = (nir.Flatten, nir.SumPool2d, nir.AvgPool2d)
NEURON_TYPES = (nir.I, nir.IF, nir.LI, nir.LIF, nir.CubaLI, nir.CubaLIF)
SPIKING_TYPES = (nir.IF, nir.LIF, nir.CubaLIF)
SYNAPSE_TYPES = (nir.CubaLI, nir.CubaLIF)


_KIND_OF_TYPE: dict = {}  # node class -> kind (isinstance on nir's ABC classes is slow)


def kind(node) -> str:
    """The role of ``node``: weight, structure, neuron, input, output or other."""
    cls = type(node)
    found = _KIND_OF_TYPE.get(cls)
    if found is None:
        found = _KIND_OF_TYPE[cls] = _kind(node)
    return found


def _kind(node) -> str:
    if isinstance(node, WEIGHT_TYPES):
        return "weight"
    if isinstance(node, STRUCTURE_TYPES):
        return "structure"
    if isinstance(node, NEURON_TYPES):
        return "neuron"
    if isinstance(node, nir.Input):
        return "input"
    if isinstance(node, nir.Output):
        return "output"
    return "other"


@dataclass(frozen=True)
class Topology:
    nodes: dict
    edges: tuple
    order: tuple  # topological
    back: frozenset  # edges closing a cycle
    preds: dict
    succs: dict
    rank: dict = None  # node -> position in ``order``

    def __post_init__(self):
        if self.rank is None:
            object.__setattr__(self, "rank", {n: i for i, n in enumerate(self.order)})

    def of_kind(self, k: str) -> list:
        return [n for n in self.order if kind(self.nodes[n]) == k]

    def reach(self, start: str, forward: bool) -> list:
        """Neuron/weight/input/output nodes reached from ``start`` through structure nodes only."""
        step = self.succs if forward else self.preds
        found, stack, seen = [], list(step[start]), set()
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            if kind(self.nodes[n]) == "structure":
                stack.extend(step[n])
            else:
                found.append(n)
        return sorted(set(found), key=self.rank.__getitem__)

    def consumers(self, name: str) -> list:
        return self.reach(name, forward=True)

    def producers(self, name: str) -> list:
        return self.reach(name, forward=False)

    def consumer_neuron(self, weight: str, source: str = "<memory>") -> str:
        found = self.consumers(weight)
        neurons = [n for n in found if kind(self.nodes[n]) == "neuron"]
        if len(found) != 1 or len(neurons) != 1:
            raise Unsupported(f"a weight layer must feed exactly one neuron layer (through "
                              f"pooling/flatten only); this one feeds {found}", file=source,
                              node=weight, field="edges")
        return neurons[0]

    def incoming_weights(self, neuron: str) -> list:
        return [n for n in self.producers(neuron) if kind(self.nodes[n]) == "weight"]

    def on_cycle(self, name: str) -> bool:
        """Is ``name`` on a cycle (it reaches itself)?"""
        stack, seen = list(self.succs[name]), set()
        while stack:
            n = stack.pop()
            if n == name:
                return True
            if n not in seen:
                seen.add(n)
                stack.extend(self.succs[n])
        return False


def flat_graph(graph: nir.NIRGraph, source: str = "<memory>") -> nir.NIRGraph:
    """The graph with nested subgraphs inlined (dotted names); the input is not mutated."""
    flat = flatten(graph, source)
    nodes = {k: copy.copy(v) for k, v in flat.nodes.items()}
    for v in nodes.values():
        v.metadata = dict(v.metadata or {})
    out = nir.NIRGraph(nodes=nodes, edges=list(flat.edges), metadata=dict(graph.metadata or {}),
                      type_check=False)
    return out


def topology(graph: nir.NIRGraph, source: str = "<memory>") -> Topology:
    flat = flatten(graph, source)
    topo, back = order(flat, source)
    preds = {n: [] for n in flat.nodes}
    succs = {n: [] for n in flat.nodes}
    for s, d in flat.edges:
        preds[d].append(s)
        succs[s].append(d)
    return Topology(nodes=flat.nodes, edges=tuple(flat.edges), order=tuple(topo),
                    back=frozenset(back), preds=preds, succs=succs)


def working_copy(graph: nir.NIRGraph) -> nir.NIRGraph:
    """A shallow copy a pass may edit in place: its own ``nodes`` dict, ``edges`` list and
    ``metadata`` dict; the nodes are shared (replace them, never mutate them). `run_passes`
    gives each pass one, so that a pass over n nodes costs O(n), not O(n²)."""
    new = copy.copy(graph)
    new.nodes = dict(graph.nodes)
    new.edges = list(graph.edges)
    new.metadata = dict(graph.metadata or {})
    return new


def replace_node(graph: nir.NIRGraph, name: str, node) -> nir.NIRGraph:
    """``graph`` with node ``name`` replaced, in place: ``graph`` must be the running pass's
    `working_copy`. Returns ``graph``."""
    graph.nodes[name] = node
    if isinstance(node, (nir.Input, nir.Output)):
        graph.__post_init__()  # the graph's input_type / output_type follow its Input / Output
    return graph


def fold_scales(graph: nir.NIRGraph, source: str = "<memory>") -> nir.NIRGraph:
    """Fold every ``Scale`` node that directly follows a weight layer (its only consumer) into
    that layer's output rows: ``s·(W x + b) = (s·W) x + s·b``. Exact; chips have no Scale layer.
    A Scale elsewhere (after pooling, on a residual branch) is left for the checker to report.
    Works on a flat graph (see `flat_graph`); returns a new graph, the input is not mutated."""
    nodes = dict(graph.nodes)
    edges = list(graph.edges)
    for name, node in list(nodes.items()):
        if not isinstance(node, nir.Scale):
            continue
        preds = [s for s, d in edges if d == name]
        if len(preds) != 1 or not isinstance(nodes[preds[0]], WEIGHT_TYPES):
            continue
        w_name = preds[0]
        if [d for s, d in edges if s == w_name] != [name]:
            continue
        folded = _scaled_weight_node(nodes[w_name], np.asarray(node.scale, dtype=np.float64))
        if folded is None:
            continue
        nodes[w_name] = folded
        del nodes[name]
        edges = [(s, d) for s, d in edges if d != name]
        edges = [(w_name if s == name else s, d) for s, d in edges]
    if len(nodes) == len(graph.nodes):
        return graph
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=dict(graph.metadata or {}),
                        type_check=False)


def _scaled_weight_node(node, scale: np.ndarray):
    """The weight node with its output rows (channels) multiplied by ``scale``, or None when the
    scale varies inside one conv output channel."""
    w = np.asarray(node.weight, dtype=np.float64)
    c_out = w.shape[0]
    if scale.size == 1:
        per_row = np.full(c_out, float(scale.ravel()[0]))
    elif isinstance(node, (nir.Affine, nir.Linear)) and scale.size == c_out:
        per_row = scale.ravel()
    elif scale.ndim >= 1 and scale.shape[0] == c_out:
        flat = scale.reshape(c_out, -1)
        if not np.all(flat == flat[:, :1]):
            return None
        per_row = flat[:, 0]
    else:
        return None
    new = copy.copy(node)
    new.weight = w * per_row.reshape(-1, *([1] * (w.ndim - 1)))
    if getattr(node, "bias", None) is not None:
        new.bias = np.broadcast_to(np.asarray(node.bias, dtype=np.float64), (c_out,)) * per_row
    new.metadata = dict(node.metadata or {}, folded_scale=True)
    return new
