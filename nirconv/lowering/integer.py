"""Integer mode: NIR neuron nodes of a quantized graph -> the target family's integer record.

Owned by the quantization work (issue 5): the metadata keys written by `nirconv.quantization`
are read back here. `resolve_integer_neuron(family, node, ctx, shape, graph_meta)` returns a
SpeckIAF / BitShiftLIF / LoihiCubaLIF / Float32LIF; `finish_integer_program(program)` applies the
family's structural rules (e.g. Loihi's one-step Dense delay, Xylo's delayed recurrent/readout
weights, delivery order of a neuron's inputs) and checks integer ranges.
"""
from __future__ import annotations

from ..errors import Unsupported


def resolve_integer_neuron(family, node, ctx, shape, graph_meta):
    raise Unsupported(f"integer family {family!r} is not implemented yet", file=ctx.source,
                      node=ctx.name, field="metadata.arithmetic")


def finish_integer_program(program):
    return program
