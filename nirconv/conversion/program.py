"""The converted SNN (a conversion `Graph` of SNN layers) as a float `Program`, the form every later
step takes and the one writer (``nirconv/writing``) turns into NIR.

    program = snn_program(snn.graph, snn.metadata)

One builder per SNN layer kind (`BUILDERS`); each op carries its `OpInfo`: the NIR type it is
written as, the torch module path it came from and, on neurons, the conversion's λ (``act_scale``).
What each kind becomes (docs/equations/conversion.md):

* ``affine`` / ``conv``: an AffineOp / ConvOp (NIR Affine, Conv1d, Conv2d);
* ``sumpool``: over 2-D a PoolOp (NIR SumPool2d; its 1/k² is already folded into the next
  weights); over 1-D, NIR has no pooling node: a depthwise ConvOp of ones (the same sum), marked
  ``pooling`` (NIR Conv1d with metadata ``pooling="sum"``);
* ``reshape``: a FlattenOp (only flattening to a vector has a NIR node);
* ``scale``: a ScaleOp;
* ``if``: an IF neuron, ``v_t = v_{t-1} + x_t``, spike when ``v_t >= θ``, reset by subtraction,
  ``v_0 = v_init`` (`NeuronFloat` with alpha = r = 1, as the nirconv dialect reads an IF);
* ``integrator``: the membrane readout, an I neuron (``v_t = v_{t-1} + x_t``, ``v_0 = 0``);
* ``sum`` (a residual add): no op; its inputs are edges into each of its consumers (NIR sums the
  edges into a node);
* ``cat``: refused (NIR has no concatenation).

The graph metadata becomes the Program's fields: ``dt``, ``timesteps`` (the calibration's largest
T), the `InputEncoding` (a float network's input is a current) and the provenance (the rest:
``nirconv_version``, ``source_model``, ``normalization``, ...).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..equations.neurons import NeuronFloat
from ..equations.program import (AffineOp, ConvOp, Edge, FlattenOp, InputOp, NeuronOp, OutputOp,
                                 PoolOp, Program, ScaleOp)
from ..equations.records import OpInfo
from ..errors import Unsupported
from .graph import Graph, Layer

TYPED_KEYS = ("dt", "timesteps", "input_encoding")  # graph metadata that becomes Program fields


def _compact(a: np.ndarray):
    """A float when all values are equal, else the array."""
    a = np.asarray(a, dtype=np.float64)
    return float(a.reshape(-1)[0]) if a.size and np.all(a == a.reshape(-1)[0]) else a


def _act_scale(lam: np.ndarray):
    """λ as it is recorded: one value, one per channel (C,) or one per neuron."""
    a = np.asarray(lam, dtype=np.float64)
    rows = a.reshape(a.shape[0], -1) if a.ndim > 1 else a.reshape(-1, 1)
    return _compact(rows[:, 0] if np.all(rows == rows[:, :1]) else a)


def _info(layer: Layer, nir_type: str, **fields) -> OpInfo:
    return OpInfo(nir_type=nir_type, module=layer.path or None, **fields)


def _input(layer, in_shape, inputs):
    shape = tuple(layer.shape)
    return InputOp(name=layer.name, inputs=(), in_shape=shape, out_shape=shape,
                   info=OpInfo(nir_type="Input"))


def _output(layer, in_shape, inputs):
    return OutputOp(name=layer.name, inputs=inputs, in_shape=in_shape,
                    out_shape=tuple(layer.shape), info=OpInfo(nir_type="Output"))


def _affine(layer, in_shape, inputs):
    p = layer.params
    return AffineOp(name=layer.name, inputs=inputs, in_shape=in_shape,
                    out_shape=tuple(layer.shape), weight=p["weight"].copy(),
                    bias=p["bias"].copy(), info=_info(layer, "Affine"))


def _conv(layer, in_shape, inputs):
    p = layer.params
    weight = p["weight"]
    return ConvOp(name=layer.name, inputs=inputs, in_shape=in_shape,
                  out_shape=tuple(layer.shape), weight=weight.copy(), bias=p["bias"].copy(),
                  stride=_ints(p["stride"]), padding=_ints(p["padding"]),
                  dilation=_ints(p["dilation"]), groups=int(p["groups"]),
                  info=_info(layer, "Conv1d" if weight.ndim == 3 else "Conv2d"))


def _sumpool(layer, in_shape, inputs):
    p = layer.params
    if len(p["kernel"]) == 2:
        return PoolOp(name=layer.name, inputs=inputs, in_shape=in_shape,
                      out_shape=tuple(layer.shape), kernel=_ints(p["kernel"]),
                      stride=_ints(p["stride"]), padding=_ints(p["padding"]), mode="sum",
                      info=_info(layer, "SumPool2d"))
    c = int(in_shape[0])
    return ConvOp(name=layer.name, inputs=inputs, in_shape=in_shape,
                  out_shape=tuple(layer.shape), weight=np.ones((c, 1, int(p["kernel"][0]))),
                  bias=np.zeros(c), stride=_ints(p["stride"]), padding=_ints(p["padding"]),
                  dilation=(1,), groups=c, info=_info(layer, "Conv1d", pooling=True))


def _reshape(layer, in_shape, inputs):
    if len(layer.shape) != 1:
        raise Unsupported(f"a reshape to {layer.shape} has no NIR node (only flattening does)",
                          node=layer.where(), field="shape")
    return FlattenOp(name=layer.name, inputs=inputs, in_shape=in_shape,
                     out_shape=tuple(layer.shape), info=_info(layer, "Flatten"))


def _scale(layer, in_shape, inputs):
    return ScaleOp(name=layer.name, inputs=inputs, in_shape=in_shape,
                   out_shape=tuple(layer.shape),
                   scale=np.asarray(layer.params["scale"], dtype=np.float64).copy(),
                   info=OpInfo(nir_type="Scale"))


def _if(layer, in_shape, inputs):
    p = layer.params
    shape = tuple(layer.shape)
    neuron = NeuronFloat(shape=shape, alpha_mem=np.ones(shape), beta_mem=np.ones(shape),
                         bias=np.zeros(shape),
                         v_threshold=_full(p["threshold"], shape), v_reset=np.zeros(shape),
                         v_init=_full(p["v_init"], shape), reset="subtract", compare=">=",
                         model="IF")
    return NeuronOp(name=layer.name, inputs=inputs, in_shape=in_shape, out_shape=shape,
                    neuron=neuron, info=_info(layer, "IF", act_scale=_act_scale(p["scale"])))


def _integrator(layer, in_shape, inputs):
    shape = tuple(layer.shape)
    neuron = NeuronFloat(shape=shape, alpha_mem=np.ones(shape), beta_mem=np.ones(shape),
                         bias=np.zeros(shape), v_threshold=None, v_reset=np.zeros(shape),
                         v_init=np.zeros(shape), reset="zero", compare=">", model="I")
    return NeuronOp(name=layer.name, inputs=inputs, in_shape=in_shape, out_shape=shape,
                    neuron=neuron,
                    info=OpInfo(nir_type="I", act_scale=_act_scale(layer.params["scale"])))


def _cat(layer, in_shape, inputs):
    raise Unsupported("concatenation has no NIR node; the SNN runs in torch but cannot be "
                      "exported", node=layer.where(), field="type")


BUILDERS: dict[str, Callable] = {
    "input": _input, "output": _output, "affine": _affine, "conv": _conv, "sumpool": _sumpool,
    "reshape": _reshape, "scale": _scale, "if": _if, "integrator": _integrator, "cat": _cat}


def _ints(values) -> tuple[int, ...]:
    return tuple(int(v) for v in np.atleast_1d(values))


def _full(values, shape) -> np.ndarray:
    return np.broadcast_to(np.asarray(values, dtype=np.float64), shape).copy()


def _sources(name: str, by: dict) -> list[str]:
    """The layers a tensor is the sum of: itself, or a ``sum`` layer's inputs (recursively)."""
    layer = by[name]
    if layer.kind != "sum":
        return [name]
    return [s for i in layer.inputs for s in _sources(i, by)]


def snn_program(graph: Graph, metadata: dict) -> Program:
    """The float Program of a converted SNN graph with its metadata (see the module docstring)."""
    by = graph.by_name
    ops = []
    for layer in graph.layers:
        if layer.kind == "sum":
            continue
        inputs = tuple(Edge(s) for src in layer.inputs for s in _sources(src, by))
        in_shape = tuple(by[layer.inputs[0]].shape) if layer.inputs else tuple(layer.shape)
        ops.append(BUILDERS[layer.kind](layer, in_shape, inputs))
    inputs = tuple(op.name for op in ops if isinstance(op, InputOp))
    outputs = tuple(op.name for op in ops if isinstance(op, OutputOp))
    dt = metadata.get("dt")
    timesteps = metadata.get("timesteps")
    return Program(ops=tuple(ops), inputs=inputs, outputs=outputs, mode="float",
                   dt=None if dt is None else float(dt), source=graph.source,
                   timesteps=None if timesteps is None else int(timesteps),
                   provenance={k: v for k, v in metadata.items() if k not in TYPED_KEYS})
