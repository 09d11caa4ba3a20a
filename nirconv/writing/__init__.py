"""Writing: a Program (and, for a deployed one, the float Program it came from) -> a NIR graph.

    graph = to_nir(float_program)                          # a float SNN, nirconv's dialect
    graph = to_nir(int_program, float_program=float_prog)  # a deployed graph for its target

The one writer of NIR graphs (``nirconv/nir_io`` writes them to files). It is the inverse of
reading (``nirconv/reading``): reading what this writes gives back the same Program (a round-trip
test checks it). Node names are the ops' names (a flattened subgraph keeps its dotted names);
edge delays are not written: they follow from the graph (cycles) and the family's rules.
Every metadata key is documented in ``nirconv/nir_io/metadata.py``.
"""
from __future__ import annotations

import nir
import numpy as np

from .._version import __version__
from ..equations.program import AffineOp, ConvOp, NeuronOp, Program
from ..equations.roles import op_role
from ..errors import InternalError, Unsupported
from .deployed import graph_metadata, neuron_node, weight_metadata
from .nodes import affine_node, conv_node, float_neuron_node, info_metadata, structure_node

__all__ = ["to_nir"]


def to_nir(program: Program, float_program: Program | None = None) -> nir.NIRGraph:
    """The NIR graph of ``program`` (see the module docstring). ``float_program`` is required for
    an integer program: the float record the deployed file carries."""
    if program.mode == "int":
        if float_program is None or float_program.mode != "float":
            raise InternalError("writing a deployed graph needs the float program it was "
                                "quantized from", field="float_program")
        return _deployed(program, float_program)
    return _float(program)


def _edges(program: Program) -> list:
    return [(e.src, op.name) for op in program.ops for e in op.inputs]


def _float(program: Program) -> nir.NIRGraph:
    nodes = {}
    for op in program.ops:
        try:
            nodes[op.name] = (float_neuron_node(op, program.dt) if isinstance(op, NeuronOp)
                              else structure_node(op, program))
        except Unsupported as e:
            raise e.at(file=program.source, node=op.name) from None
    meta = dict(program.provenance, nirconv_version=__version__)  # ours: nirconv's dialect
    if program.dt is not None:
        meta["dt"] = float(program.dt)
    if program.timesteps is not None:
        meta["timesteps"] = int(program.timesteps)
    meta["input_encoding"] = program.encoding.kind
    return nir.NIRGraph(nodes=nodes, edges=_edges(program), metadata=meta, type_check=False)


def _deployed(program: Program, float_program: Program) -> nir.NIRGraph:
    if program.deployment is None:
        raise InternalError("an integer program without its Deployment record",
                            file=program.source, field="deployment")
    floats = {op.name: op for op in float_program.ops}
    nodes = {}
    for op in program.ops:
        fop = floats.get(op.name)
        role = op_role(op)
        if role in ("weight", "neuron") and (fop is None or op_role(fop) != role):
            raise InternalError("the float program has no matching op", file=program.source,
                                node=op.name, field="float_program")
        try:
            nodes[op.name] = _deployed_node(op, fop, program)
        except Unsupported as e:
            raise e.at(file=program.source, node=op.name) from None
    return nir.NIRGraph(nodes=nodes, edges=_edges(program), metadata=graph_metadata(program),
                        type_check=False)


def _deployed_node(op, fop, program):
    if isinstance(op, NeuronOp):
        node = neuron_node(op, fop, program.dt)
        node.metadata = {**info_metadata(op), **node.metadata}
        return node
    if isinstance(op, (AffineOp, ConvOp)):
        weight = np.asarray(op.weight, dtype=np.float32)
        bias = None if op.bias is None else np.asarray(op.bias, dtype=np.float32)
        node = (affine_node if isinstance(op, AffineOp) else conv_node)(op, program, weight, bias)
        if hasattr(node, "bias") and node.bias is not None:
            node.bias = np.asarray(node.bias, dtype=np.float32)
        node.metadata = {**info_metadata(op), **weight_metadata(op, fop)}
        return node
    return structure_node(op, program)
