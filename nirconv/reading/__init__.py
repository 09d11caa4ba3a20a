"""Reading: a NIR graph or file -> the `Program` everything after it takes.

    program = to_program(path_or_graph_or_program, mode="auto", dialect="auto", dt=None, reset=None)
    program = lower(graph, mode="float", dialect="auto", dt=None, reset=None, source=path)

`to_program` is the one coercion of "a path, a graph or a Program" (the simulation, the audit, the
vendor formats and the CLI go through it); `lower` reads a graph already in memory.

Steps: flatten subgraphs -> topological order with back edges (cycles through state) -> per node,
the builder of its NIR type (nirconv/reading/ops.py) -> neurons resolved by the dialect (float) or
the target family's integer rules (int, nirconv/reading/integer.py) -> edge delays.
The graph is not mutated. Every error names the file, node and field.
"""
from __future__ import annotations

import math
import os
from typing import Optional

import nir
import numpy as np

from . import dialects
from ..equations.program import AffineOp, ConvOp, Edge, InputOp, NeuronOp, Program
from ..errors import BadInput, NirconvError, Unsupported
from ..nir_io.limits import check_shape
from .cache import cached
from .float_view import DEPLOYED, weights_view
from .ops import BUILDERS, Ctx, neuron_shape, positive_threshold
from .records import (calibrated_timesteps, deployment, float_view_encoding, input_encoding,
                      neuron_scales, op_info, weight_scales)
from .structure import flatten, order

__all__ = ["to_program", "float_view", "lower", "is_quantized", "graph_dt", "PROVENANCE_KEYS"]

NEURON_TYPES = (nir.I, nir.IF, nir.LI, nir.LIF, nir.CubaLI, nir.CubaLIF)
# graph metadata nirconv keeps but does not interpret (what was converted, and how). Not the
# dialect: whatever nirconv writes is in its own dialect (nirconv/writing).
PROVENANCE_KEYS = ("nirconv_version", "source_model", "normalization", "granularity", "percentile",
                   "calibration_timesteps", "calibration_choice", "scale_factor", "readout")


def graph_dt(metadata: dict, dt: Optional[float], source: str = "<memory>") -> Optional[float]:
    """The time step in seconds: ``dt`` when given, else the graph's ``metadata.dt``; a finite
    positive number, or a BadInput naming where it came from."""
    value, field = (dt, "dt") if dt is not None else (metadata.get("dt"), "metadata.dt")
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                     np.floating)):
        raise BadInput(f"dt must be a number of seconds, is {type(value).__name__} "
                       f"{str(value)[:40]!r}", file=source, field=field)
    step = float(value)
    if not (math.isfinite(step) and step > 0):
        raise BadInput(f"dt must be positive, is {step}", file=source, field=field)
    return step


def is_quantized(metadata: dict) -> bool:
    return bool(metadata.get("arithmetic"))


def _input_shape(node, name, source, batch_axis: bool):
    shape = node.input_type.get("input") if isinstance(node.input_type, dict) else None
    if shape is None:
        raise BadInput("Input node has no shape", file=source, node=name, field="shape")
    return check_shape(np.atleast_1d(np.asarray(shape)).ravel(), file=source, node=name,
                       field="shape")


def lower(graph: nir.NIRGraph, *, mode: str = "auto", dialect: str = "auto",
          dt: Optional[float] = None, reset: Optional[str] = None,
          source: str = "<memory>") -> Program:
    meta = dict(graph.metadata or {})
    quantized = is_quantized(meta)
    if mode == "auto":
        mode = "int" if quantized else "float"
    if mode not in ("float", "int"):
        raise BadInput(f"mode must be auto, float or int, is {mode!r}", field="mode")
    if mode == "int" and not quantized:
        raise BadInput("integer mode needs a graph quantized for a target (metadata "
                       "'arithmetic' is missing); export it with `nirconv export --target`",
                       file=source, field="metadata.arithmetic")
    family = str(meta["arithmetic"]) if mode == "int" else None
    if quantized and mode == "float":  # the float SNN a deployed graph was made from
        try:
            graph = weights_view(graph)
        except NirconvError as e:
            raise e.at(file=source) from None
        dia = DEPLOYED
    else:
        dialect_name = dialects.detect(meta, graph) if dialect == "auto" else dialect
        dia = dialects.get(dialect_name)
    step = graph_dt(meta, dt, source)
    # A dialect's fixed dt applies when the user named the dialect, or when ``auto`` recognised
    # a writer whose files fix it (norse's from_nir dt=1 ms is only a default: not from a guess).
    trusted = dialect != "auto" or getattr(dia, "auto_dt", True)
    if step is None and trusted and getattr(dia, "default_dt", None) is not None:
        step = float(dia.default_dt)
    if step is not None and not step > 0:  # a dialect's own dt
        raise BadInput(f"dt must be positive, is {step}", file=source, field="dt")

    encoding = (float_view_encoding(meta, source) if quantized and mode == "float"
                else input_encoding(meta, source, deployed=mode == "int"))
    deployed = deployment(meta, source) if mode == "int" else None
    if mode == "int":
        from .integer import GraphRecords, resolve_integer_neuron

        records = GraphRecords(deployed, encoding)

        def resolve(node, ctx):
            return resolve_integer_neuron(family, node, ctx, neuron_shape(node, ctx), records)
    else:
        def resolve(node, ctx):
            record = dia.neuron(node, ctx, neuron_shape(node, ctx), ctx.dt, reset_override=reset)
            return positive_threshold(record, ctx)

    flat = flatten(graph, source)
    topo, back = order(flat, source)
    preds: dict = {n: [] for n in flat.nodes}
    for s, d in flat.edges:
        preds[d].append(s)
    ops: dict = {}
    for name in topo:
        node = flat.nodes[name]
        inputs = tuple(Edge(s, 1 if (s, name) in back else 0) for s in preds[name])
        if isinstance(node, nir.Input):
            if name in flat.inputs:
                shape = _input_shape(node, name, source, batch_axis=False)
                ops[name] = InputOp(name=name, inputs=(), in_shape=shape, out_shape=shape,
                                    info=_node_record(op_info, node, name, source))
                continue
            # an inner subgraph's Input: pass-through
        in_shape = _arriving_shape(name, inputs, ops, source)
        if isinstance(node, nir.Input):
            ops[name] = _passthrough(name, inputs, in_shape, source)
            continue
        builder = BUILDERS.get(type(node))
        if builder is None:
            raise Unsupported(f"node type {type(node).__name__} is not supported", file=source,
                              node=name, field="type")
        try:  # records validate themselves; say where they came from
            ctx = Ctx(name, in_shape, inputs, source, step, resolve,
                      op_info(node, deployed=quantized))
            ops[name] = builder(node, ctx)
            if mode == "int":
                ops[name] = with_scales(ops[name], node)
        except NirconvError as e:
            raise e.at(file=source, node=name) from None
    if mode == "float":  # a recurrent bias acts from step 0 (see structure.delay_after_state)
        topo, ops = _move_delays(flat, topo, back, ops)
    # Outputs of inner subgraphs are pass-throughs; keep only the top-level ones as outputs.
    program_ops = tuple(ops[n] for n in topo)
    program = Program(ops=program_ops, inputs=tuple(flat.inputs), outputs=tuple(flat.outputs),
                      mode=mode, family=family, dt=step, source=source, encoding=encoding,
                      deployment=deployed, timesteps=calibrated_timesteps(meta, source),
                      provenance={k: v for k, v in meta.items() if k in PROVENANCE_KEYS})
    if mode == "int":
        from .integer import finish_integer_program
        program = finish_integer_program(program)
    return program


def _node_record(build, node, name, source):
    """``build(node)``, its errors naming the file and node."""
    try:
        return build(node)
    except NirconvError as e:
        raise e.at(file=source, node=name) from None


def with_scales(op, node):
    """An integer op with the `WeightScales` / `NeuronScales` its deployed node carries."""
    from dataclasses import replace

    if isinstance(op, (AffineOp, ConvOp)):
        scales = weight_scales(node)
    elif isinstance(op, NeuronOp):
        scales = neuron_scales(node)
    else:
        return op
    return op if scales is None else replace(op, scales=scales)


def _move_delays(flat, topo, back, ops):
    from dataclasses import replace

    from .structure import delay_after_state

    new_topo, new_back = delay_after_state(flat, topo, back)
    if new_back == back:
        return topo, ops
    return new_topo, {n: replace(op, inputs=tuple(Edge(e.src, 1 if (e.src, n) in new_back else 0)
                                                   for e in op.inputs)) for n, op in ops.items()}


def _passthrough(name, inputs, in_shape, source):
    from ..equations.program import FlattenOp
    from ..equations.records import OpInfo
    if in_shape is None:
        raise BadInput("no edge reaches this subgraph input", file=source, node=name, field="edges")
    return FlattenOp(name=name, inputs=inputs, in_shape=in_shape, out_shape=in_shape,
                     info=OpInfo(nir_type="Input"))


def _arriving_shape(name, inputs, ops, source):
    """Shape arriving at a node: all non-recurrent predecessors must agree (they are summed)."""
    shapes = [ops[e.src].out_shape for e in inputs if e.src in ops]
    if not shapes:
        return None
    first = shapes[0]
    for s in shapes[1:]:
        if int(np.prod(s)) != int(np.prod(first)):
            raise BadInput(f"shape mismatch along the edges into this node: {first} vs {s}",
                           file=source, node=name, field="edges")
    return first


def to_program(obj, *, mode: str = "auto", dialect: str = "auto", dt: Optional[float] = None,
               reset: Optional[str] = None, source: Optional[str] = None) -> Program:
    """A Program from a path to a .nir file, a ``nir.NIRGraph`` or a Program (returned as is).
    An in-memory graph's lowering is kept while the graph is unchanged (``reading/cache.py``).

    A graph's ``metadata.dialect`` (``nirconv.load(path, dialect=...)`` records it) is the dialect
    ``auto`` means. ``source`` names an in-memory graph in messages (a path names itself). Every
    failure is a `NirconvError` naming the file, node and field."""
    if isinstance(obj, Program):
        return obj
    in_memory = isinstance(obj, nir.NIRGraph)
    graph, source = _graph(obj, source, dialect)
    if dialect == "auto":
        dialect = str((graph.metadata or {}).get("dialect", "auto"))

    def build() -> Program:
        return lower(graph, mode=mode, dialect=dialect, dt=dt, reset=reset, source=source)

    if not in_memory:
        return build()
    return cached(graph, (mode, dialect, dt, reset, source), build)  # reading/cache.py


def float_view(obj, *, source: Optional[str] = None) -> Program:
    """The float SNN a deployed graph (a path or a ``nir.NIRGraph``) was quantized from, read
    from the float record it keeps (``reading/float_view.py``, no dialect involved); a graph not
    quantized for a target keeps none: BadInput naming ``metadata.arithmetic``."""
    if isinstance(obj, Program):
        raise BadInput("a Program keeps no float record: read the deployed graph",
                       file=obj.source, field="metadata.arithmetic")
    graph, source = _graph(obj, source)
    if not is_quantized(graph.metadata or {}):
        raise BadInput("not a graph quantized for a target, so it keeps no float record "
                       "(metadata 'arithmetic' is missing)", file=source,
                       field="metadata.arithmetic")
    return lower(graph, mode="float", source=source)


def _graph(obj, source: Optional[str], dialect: str = "auto") -> tuple[nir.NIRGraph, str]:
    """(graph, source) of a ``nir.NIRGraph`` or a path to a .nir file (loaded)."""
    if isinstance(obj, str) or (isinstance(obj, os.PathLike) and isinstance(os.fspath(obj), str)):
        if str(obj) == "":
            raise BadInput("is an empty path", field="graph")
        from ..nir_io import load

        return load(obj, dialect=dialect), str(obj)
    if not isinstance(obj, nir.NIRGraph):
        raise BadInput(f"must be a nir.NIRGraph, a .nir path or a Program, is a "
                       f"{type(obj).__name__}", field="graph")
    return obj, source or "<memory>"
