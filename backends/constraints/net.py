"""What the checker sees of a network: the flat NIR graph, its float Program (shapes) and topology."""
from __future__ import annotations

from dataclasses import dataclass

import nir
import numpy as np

from nirconv.equations.program import AffineOp, ConvOp, FlattenOp, NeuronOp, PoolOp
from nirconv.reading import lower
from nirconv.quantization.graph import kind, topology

WEIGHT_OPS = (AffineOp, ConvOp)


@dataclass(frozen=True)
class Net:
    topo: object  # nirconv.quantization.graph.Topology
    ops: dict  # name -> Program op (float mode)
    input_shape: tuple
    source: str

    def node(self, name):
        return self.topo.nodes[name]

    def type_name(self, name) -> str:
        return type(self.topo.nodes[name]).__name__

    def names(self, k: str) -> list:
        return self.topo.of_kind(k)

    def size(self, name) -> int:
        return int(np.prod(self.ops[name].out_shape))

    def outputs(self) -> set:
        """Neurons that feed an Output (the readout population)."""
        return {p for o in self.names("output") for p in self.topo.producers(o)}

    def recurrent_weights(self) -> list:
        return [w for w in self.names("weight") if self.topo.on_cycle(w)]

    def spatial_input(self, wname):
        """For a weight op: the (C, H, W) map it reads before any Flatten (None if 1-D)."""
        op = self.ops[wname]
        if isinstance(op, ConvOp):
            return tuple(op.in_shape)
        src = self.ops.get(op.inputs[0].src) if op.inputs else None
        while isinstance(src, FlattenOp) and src.inputs:
            if len(src.in_shape) >= 2:
                return tuple(src.in_shape)
            src = self.ops.get(src.inputs[0].src)
        return None


def build_net(graph: nir.NIRGraph, *, dialect="auto", dt=None, source="<memory>") -> Net:
    program = lower(graph, mode="float", dialect=dialect, dt=dt, source=source)
    ops = {o.name: o for o in program.ops}
    return Net(topo=topology(graph, source), ops=ops, input_shape=tuple(program.input_shape),
               source=source)


def nnz_rows(op) -> np.ndarray:
    """Non-zero weights per output row (Affine) or per output channel (conv kernel)."""
    w = np.asarray(op.weight).reshape(op.weight.shape[0], -1)
    return np.count_nonzero(w, axis=1)


def fan_in(op) -> int:
    return int(np.max(nnz_rows(op))) if op.weight.size else 0


def fan_out_per_element(op) -> np.ndarray:
    """Targets each source element reaches through this op, as a flat vector over the op's input
    (conv: per input channel, the same upper bound for every position of that channel)."""
    w = np.asarray(op.weight)
    if isinstance(op, AffineOp):
        return np.count_nonzero(w, axis=0).astype(np.int64)
    g = int(op.groups)  # input channel c of group k feeds only that group's output channels
    grouped = w.reshape(g, w.shape[0] // g, *w.shape[1:])
    per_channel = np.count_nonzero(grouped, axis=(1, *range(3, grouped.ndim))).reshape(-1)
    positions = int(np.prod(op.in_shape[1:])) if len(op.in_shape) > 1 else 1
    return np.repeat(per_channel.astype(np.int64), positions)


def synapses(op) -> int:
    """Connections of a weight op (conv: every output position of every channel)."""
    if isinstance(op, AffineOp):
        return int(np.count_nonzero(op.weight))
    positions = int(np.prod(op.out_shape[1:]))
    return int(np.sum(nnz_rows(op)) * positions)


def stored_weights(op) -> int:
    return int(np.count_nonzero(op.weight))


def is_pool(op) -> bool:
    return isinstance(op, PoolOp)


def is_neuron(op) -> bool:
    return isinstance(op, NeuronOp)


__all__ = ["Net", "build_net", "fan_in", "fan_out_per_element", "synapses", "stored_weights",
           "kind", "WEIGHT_OPS"]
