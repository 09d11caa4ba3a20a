"""The NIR type taxonomy, written once: which role each NIR primitive plays in nirconv.

Roles, by NIR type name (``type(node).__name__``; the equations do not import ``nir``):

* ``input`` / ``output``: the graph's Input and Output nodes;
* ``weight``: a linear map with parameters (Affine, Linear, Conv1d, Conv2d) — what a target stores as
  synapses and what the quantizer turns into integers;
* ``structure``: nodes that only move, sum or scale values (Flatten, SumPool2d, AvgPool2d, Scale,
  Delay, Identity);
* ``neuron``: stateful neuron populations (I, IF, LI, LIF, CubaLI, CubaLIF);
* ``threshold``: the stateless Threshold.

`SPIKING` are the types whose output is spikes (the neuron types with a threshold, and Threshold);
`SYNAPTIC` the neuron types with a synaptic current; `LEAKY` those whose update needs ``dt``.
On a lowered `Program`, `op_role` and `op_is_spiking` answer the same questions for ops.
"""
from __future__ import annotations

from .program import (AffineOp, ConvOp, DelayOp, FlattenOp, InputOp, NeuronOp, OutputOp, PoolOp,
                      ScaleOp, ThresholdOp)

ROLES: dict[str, str] = {
    "Input": "input",
    "Output": "output",
    "Affine": "weight",
    "Linear": "weight",
    "Conv1d": "weight",
    "Conv2d": "weight",
    "Flatten": "structure",
    "SumPool2d": "structure",
    "AvgPool2d": "structure",
    "Scale": "structure",
    "Delay": "structure",
    "Identity": "structure",
    "I": "neuron",
    "IF": "neuron",
    "LI": "neuron",
    "LIF": "neuron",
    "CubaLI": "neuron",
    "CubaLIF": "neuron",
    "Threshold": "threshold",
}
NEURONS = tuple(k for k, v in ROLES.items() if v == "neuron")
WEIGHTS = tuple(k for k, v in ROLES.items() if v == "weight")
SPIKING = ("IF", "LIF", "CubaLIF", "Threshold")
SPIKING_NEURONS = ("IF", "LIF", "CubaLIF")
SYNAPTIC = ("CubaLI", "CubaLIF")
LEAKY = ("LI", "LIF", "CubaLI", "CubaLIF")


def role(type_name: str) -> str:
    """The role of a NIR type name, ``"other"`` for types nirconv does not know."""
    return ROLES.get(type_name, "other")


def is_spiking(type_name: str) -> bool:
    return type_name in SPIKING


def op_role(op) -> str:
    """The role of a Program op (by its class; a pass-through op keeps its NIR type's role)."""
    if isinstance(op, (AffineOp, ConvOp)):
        return "weight"
    if isinstance(op, NeuronOp):
        return "neuron"
    if isinstance(op, InputOp):
        return "input"
    if isinstance(op, OutputOp):
        return "output"
    if isinstance(op, ThresholdOp):
        return "threshold"
    if isinstance(op, (FlattenOp, PoolOp, ScaleOp, DelayOp)):
        return "structure"
    return "other"


def op_is_spiking(op) -> bool:
    """Does this op emit spikes (0/1 or counts)? Neuron ops whose record has a threshold, and
    Threshold ops."""
    if isinstance(op, ThresholdOp):
        return True
    return isinstance(op, NeuronOp) and bool(op.neuron.spiking)
