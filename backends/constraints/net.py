"""What the checker sees of a network: a `Program` (float or integer) and its `Topology`.

Node names are the program's op names (a flattened subgraph keeps its dotted names); NIR type names
(what a target's ``layers.supported`` and ``neurons.models`` list) are the ops' `OpInfo.nir_type`,
or, for an op built without one, the type it is written as.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nirconv.equations.program import (AffineOp, ConvOp, DelayOp, FlattenOp, InputOp, NeuronOp,
                                       OutputOp, PoolOp, Program, ScaleOp, ThresholdOp)
from nirconv.equations.topology import Topology

WEIGHT_OPS = (AffineOp, ConvOp)


def type_name(op) -> str:
    """The NIR type name of an op: the one it was read from, else the one it is written as."""
    if op.info.nir_type:
        return op.info.nir_type
    if isinstance(op, ConvOp):
        return "Conv1d" if op.weight.ndim == 3 else "Conv2d"
    if isinstance(op, PoolOp):
        return "SumPool2d" if op.mode == "sum" else "AvgPool2d"
    if isinstance(op, NeuronOp):
        return getattr(op.neuron, "model", "") or type(op.neuron).__name__
    return _CLASS_TYPES.get(type(op), type(op).__name__)


_CLASS_TYPES = {InputOp: "Input", OutputOp: "Output", AffineOp: "Affine", FlattenOp: "Flatten",
                ScaleOp: "Scale", DelayOp: "Delay", ThresholdOp: "Threshold"}


@dataclass(frozen=True)
class Net:
    topo: Topology
    input_shape: tuple
    source: str

    @property
    def ops(self) -> dict:
        return self.topo.ops

    def kind(self, name) -> str:
        return self.topo.kind(name)

    def type_name(self, name) -> str:
        return type_name(self.topo.ops[name])

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


def build_net(program: Program) -> Net:
    return Net(topo=Topology.of(program), input_shape=tuple(program.input_shape),
               source=program.source)


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


__all__ = ["Net", "build_net", "fan_in", "fan_out_per_element", "synapses", "stored_weights",
           "type_name", "WEIGHT_OPS"]
