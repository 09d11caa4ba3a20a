"""The discrete-time equations nirconv implements, written once, as text (docs/equations/) and as
frozen records. Both simulators (``nirconv.backends.event`` and ``nirconv.backends.torch``) read
these records and implement the update on their own; neither imports the other's step code.

``program``  : the lowered form of a NIR graph that the simulators run (ops in topological order).
``neurons``  : per-step neuron records, float (`NeuronFloat`) and integer (one per chip family).
``encoding`` : a simulator input checked against a Program (`Program.check_input`), encoded.
``records``  : typed records that travel with a Program (scales, encoding, deployment, op info).
``roles``    : the NIR type taxonomy (weight / structure / neuron / spiking), written once.
``limits``   : ``UNLIMITED``, the one encoding of "no limit".
"""
from .program import (AffineOp, ConvOp, DelayOp, Edge, FlattenOp, InputOp, NeuronOp, Op,
                      OutputOp, PoolOp, Program, ScaleOp, ThresholdOp)
from .neurons import (BitShiftLIF, Float32LIF, LoihiCubaLIF, NeuronFloat, SpeckIAF,
                      INTEGER_FAMILIES, wrap_loihi24, sat)

__all__ = [
    "AffineOp", "ConvOp", "DelayOp", "Edge", "FlattenOp", "InputOp", "NeuronOp", "Op", "OutputOp",
    "PoolOp", "Program", "ScaleOp", "ThresholdOp", "BitShiftLIF", "Float32LIF", "LoihiCubaLIF",
    "NeuronFloat", "SpeckIAF", "INTEGER_FAMILIES", "wrap_loihi24", "sat",
]
