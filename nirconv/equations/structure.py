"""The structural rules of the integer families: when a weight op's output reaches a neuron, in
what order a neuron receives its inputs, and what a family's carriers can hold exactly.

They are part of each family's arithmetic (docs/equations/targets.md, docs/equations/vendors.md),
written once here and applied by both places that make an integer Program: reading a deployed
file (``nirconv/reading``) and quantizing (``nirconv/quantization``).

* loihi2 — lava's ``Dense`` delivers a step later: every edge weight op -> `LoihiCubaLIF` gets
  delay >= 1, and a weight op feeding such a neuron has no bias (it is the neuron's
  ``bias_mant << bias_exp``);
* xylo — hidden spikes reach recurrent and readout weights one step later (xylosim ``evolve``): an
  edge neuron -> weight op gets delay 1, unless a path back is already delayed (a recurrent
  weight op whose edge into the neuron has the delay keeps its single step); a neuron receives
  the weight ops that read no neuron (input weights) first, then the others (xylosim's delivery
  order), each group in its own order;
* spinnaker2 — ``|Σ w·s|`` of every weight op stays below 2**24, so that the float32 sum of
  `Float32LIF` is exact (the largest input per channel and step from the encoding).

`apply(program)` returns the Program with its family's rules applied (the same Program when the
family has none); a rule the program cannot meet raises `Unsupported` naming the op and field
(the caller adds the file).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from ..errors import Unsupported
from .neurons import LoihiCubaLIF
from .program import AffineOp, ConvOp, Edge, NeuronOp, Program
from .records import InputEncoding

WEIGHT_OPS = (AffineOp, ConvOp)
FLOAT32_EXACT = 2 ** (np.finfo(np.float32).nmant + 1)  # float32 holds every integer below 2**24


def _with_inputs(op, inputs) -> object:
    inputs = tuple(inputs)
    return op if inputs == op.inputs else dataclasses.replace(op, inputs=inputs)


def loihi_dense_delay(program: Program) -> Program:
    by_name = {o.name: o for o in program.ops}

    def edge(e: Edge) -> Edge:
        src = by_name[e.src]
        if not isinstance(src, WEIGHT_OPS):
            return e
        if src.bias is not None and np.any(np.asarray(src.bias) != 0):
            raise Unsupported("a weight layer feeding a Loihi neuron has no bias (it is the "
                              "neuron's bias_mant)", node=src.name, field="bias")
        return Edge(e.src, max(e.delay, 1))

    ops = tuple(_with_inputs(op, map(edge, op.inputs))
                if isinstance(op, NeuronOp) and isinstance(op.neuron, LoihiCubaLIF) else op
                for op in program.ops)
    return dataclasses.replace(program, ops=ops)


def xylo_delivery(program: Program) -> Program:
    neurons = {o.name for o in program.ops if isinstance(o, NeuronOp)}
    delays_out: dict = {}
    for o in program.ops:
        for e in o.inputs:
            delays_out.setdefault(e.src, []).append(e.delay)
    delayed = []
    for op in program.ops:
        if isinstance(op, WEIGHT_OPS):
            already = any(d >= 1 for d in delays_out.get(op.name, []))
            op = _with_inputs(op, (Edge(e.src, 1) if e.src in neurons and e.delay == 0
                                   and not already else e for e in op.inputs))
        delayed.append(op)
    by_name = {o.name: o for o in delayed}

    def rank(e: Edge) -> int:  # 0: an input weight (reads no neuron), 1: recurrent
        return int(any(x.src in neurons for x in getattr(by_name[e.src], "inputs", ())))

    ops = tuple(_with_inputs(op, sorted(op.inputs, key=rank)) if isinstance(op, NeuronOp)
                else op for op in delayed)
    return dataclasses.replace(program, ops=ops)


def largest_input(encoding: InputEncoding) -> int:
    """The largest input value per channel and step the encoding delivers: ``max_events`` (rate,
    default 1), ``2**(bits - 1)`` (current, default 8 bits) or one spike."""
    if encoding.kind == "rate":
        return int(encoding.max_events or 1)
    if encoding.kind == "current":
        return 1 << (int(encoding.bits or 8) - 1)
    return 1


def float32_exact_sums(program: Program) -> Program:
    events = max(largest_input(program.encoding), 1)
    for op in program.ops:
        if isinstance(op, WEIGHT_OPS) and np.size(op.weight):
            w = np.abs(np.asarray(op.weight, dtype=np.float64)).reshape(op.weight.shape[0], -1)
            bound = float(np.max(w.sum(axis=1))) * events
            if bound >= FLOAT32_EXACT:
                raise Unsupported(f"|sum of w*s| can reach {bound:.0f} >= 2**24: not exact in "
                                  "float32", node=op.name, field="weight")
    return program


RULES: dict[str, Callable[[Program], Program]] = {
    "loihi2": loihi_dense_delay,
    "xylo": xylo_delivery,
    "spinnaker2": float32_exact_sums,
}


def apply(program: Program) -> Program:
    """``program`` with the structural rules of its family (``program.family``) applied."""
    rule = RULES.get(program.family)
    return program if rule is None else rule(program)
