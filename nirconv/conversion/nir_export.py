"""`to_nir`: the converted SNN as a ``nir.NIRGraph`` with nirconv's metadata.

One writer per SNN layer kind (`WRITERS`). A residual ``sum`` has no node: its inputs get edges
into each of its consumers (NIR sums the edges into a node). Sum pooling over 2-D is ``SumPool2d``
(its 1/k² is already folded into the next weights); over 1-D, NIR has no pooling node, so it is a
depthwise ``Conv1d`` with weights 1 (the same sum). A ``cat`` is refused (NIR has no concatenation).
"""
from __future__ import annotations

import nir
import numpy as np

from ..errors import Unsupported
from .graph import Graph, Layer


def _compact(a: np.ndarray):
    """A float when all values are equal, else the array (metadata stays small)."""
    a = np.asarray(a, dtype=np.float64)
    return float(a.reshape(-1)[0]) if a.size and np.all(a == a.reshape(-1)[0]) else a


def _channel_compact(a: np.ndarray):
    a = np.asarray(a, dtype=np.float64)
    rows = a.reshape(a.shape[0], -1) if a.ndim > 1 else a.reshape(-1, 1)
    per_channel = rows[:, 0] if np.all(rows == rows[:, :1]) else a
    return _compact(per_channel)


def _meta(layer: Layer) -> dict:
    return {"module": layer.path} if layer.path else {}


def _input(layer, in_shape):
    return nir.Input(input_type={"input": np.array(layer.shape)})


def _output(layer, in_shape):
    return nir.Output(output_type={"output": np.array(layer.shape)})


def _affine(layer, in_shape):
    p = layer.params
    return nir.Affine(weight=p["weight"].copy(), bias=p["bias"].copy(), metadata=_meta(layer))


def _conv(layer, in_shape):
    p = layer.params
    if p["weight"].ndim == 3:
        return nir.Conv1d(input_shape=int(in_shape[1]), weight=p["weight"].copy(),
                          stride=int(p["stride"][0]), padding=int(p["padding"][0]),
                          dilation=int(p["dilation"][0]), groups=int(p["groups"]),
                          bias=p["bias"].copy(), metadata=_meta(layer))
    return nir.Conv2d(input_shape=tuple(int(s) for s in in_shape[1:]), weight=p["weight"].copy(),
                      stride=tuple(p["stride"]), padding=tuple(p["padding"]),
                      dilation=tuple(p["dilation"]), groups=int(p["groups"]),
                      bias=p["bias"].copy(), metadata=_meta(layer))


def _sumpool(layer, in_shape):
    p = layer.params
    if len(p["kernel"]) == 2:
        return nir.SumPool2d(kernel_size=np.array(p["kernel"]), stride=np.array(p["stride"]),
                             padding=np.array(p["padding"]), metadata=_meta(layer))
    c = int(in_shape[0])
    return nir.Conv1d(input_shape=int(in_shape[1]),
                      weight=np.ones((c, 1, int(p["kernel"][0]))), stride=int(p["stride"][0]),
                      padding=int(p["padding"][0]), dilation=1, groups=c, bias=np.zeros(c),
                      metadata={**_meta(layer), "pooling": "sum"})


def _reshape(layer, in_shape):
    if len(layer.shape) != 1:
        raise Unsupported(f"a reshape to {layer.shape} has no NIR node (only flattening does)",
                          node=layer.where(), field="shape")
    # Negative dims mean the same with and without a batch axis: nir's type check (batch-free
    # shapes) and norse/Sinabs (torch.nn.Flatten on batched tensors) both flatten (C, H, W).
    return nir.Flatten(input_type={"input": np.array(in_shape)}, start_dim=-len(in_shape),
                       end_dim=-1, metadata=_meta(layer))


def _scale(layer, in_shape):
    return nir.Scale(scale=np.asarray(layer.params["scale"], dtype=np.float64).copy())


def _if(layer, in_shape):
    p = layer.params
    shape = layer.shape
    meta = {**_meta(layer), "reset": "subtract", "compare": ">=",
            "v_init": _compact(p["v_init"]), "threshold": _compact(p["threshold"]),
            "scale": _channel_compact(p["scale"])}
    return nir.IF(r=np.ones(shape), v_threshold=np.asarray(p["threshold"], dtype=np.float64).copy(),
                  v_reset=np.zeros(shape), metadata=meta)


def _integrator(layer, in_shape):
    return nir.I(r=np.ones(layer.shape),
                 metadata={"v_init": 0.0, "scale": _channel_compact(layer.params["scale"])})


def _cat(layer, in_shape):
    raise Unsupported("concatenation has no NIR node; the SNN runs in torch but cannot be "
                      "exported", node=layer.where(), field="type")


WRITERS = {"input": _input, "output": _output, "affine": _affine, "conv": _conv,
           "sumpool": _sumpool, "reshape": _reshape, "scale": _scale, "if": _if,
           "integrator": _integrator, "cat": _cat}


def _sources(name: str, by: dict) -> list[str]:
    layer = by[name]
    if layer.kind != "sum":
        return [name]
    return [s for i in layer.inputs for s in _sources(i, by)]


def graph_to_nir(graph: Graph, metadata: dict) -> nir.NIRGraph:
    by = graph.by_name
    nodes, edges = {}, []
    for layer in graph.layers:
        if layer.kind == "sum":
            continue
        in_shape = by[layer.inputs[0]].shape if layer.inputs else layer.shape
        nodes[layer.name] = WRITERS[layer.kind](layer, in_shape)
        for src in layer.inputs:
            edges.extend((s, layer.name) for s in _sources(src, by))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=dict(metadata), type_check=False)
