"""Graph passes of the conversion, each ``Graph -> Graph`` with its postcondition.

    PIPELINE = [collapse_pool1d, fold_bn, drop_trivial_reshapes]

`run_passes` runs them on the one pass runner (`nirconv.passes`), which names the pass whose
postcondition fails (an internal error).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..passes import Pass, run_passes as run_pipeline
from .graph import WEIGHTED, Graph, Layer


def _rewire(layers, old: str, new: str):
    return [replace(l, inputs=tuple(new if i == old else i for i in l.inputs)) for l in layers]


def _is_pool1d(layer: Layer) -> bool:
    p = layer.params
    return (layer.kind == "avgpool" and len(layer.shape) == 3 and layer.shape[1] == 1
            and p["kernel"][0] == 1 and p["stride"][0] == 1 and p["padding"][0] == 0)


def collapse_pool1d(graph: Graph) -> Graph:
    """torch decomposes AvgPool1d into unsqueeze -> avg_pool2d(1, k) -> squeeze; undo that."""
    by, cons = graph.by_name, graph.consumers()
    drop, rewire, layers = set(), {}, []
    for layer in graph.layers:
        if _is_pool1d(layer):
            before = by[layer.inputs[0]]
            after = [by[c] for c in cons[layer.name]]
            if before.kind == "reshape" and len(cons[before.name]) == 1 \
                    and all(a.kind == "reshape" and a.shape == (layer.shape[0], layer.shape[2])
                            for a in after):
                p = layer.params
                layers.append(replace(layer, inputs=before.inputs,
                                      shape=(layer.shape[0], layer.shape[2]),
                                      params=dict(kernel=p["kernel"][1:], stride=p["stride"][1:],
                                                  padding=p["padding"][1:])))
                drop.add(before.name)
                for a in after:
                    drop.add(a.name)
                    rewire[a.name] = layer.name
                continue
        layers.append(layer)
    for old, new in rewire.items():
        layers = _rewire(layers, old, new)
    return graph.replace([l for l in layers if l.name not in drop])


def fold_bn(graph: Graph) -> Graph:
    """BatchNorm into the preceding Linear/Conv (W' = s·W, b' = s·b + shift, s = γ/σ) when it is
    that layer's only consumer; otherwise the BatchNorm stays as a per-channel affine layer
    (exact either way)."""
    by, cons = graph.by_name, graph.consumers()
    layers = list(graph.layers)
    for bn in [l for l in graph.layers if l.kind == "bn"]:
        prev = by[bn.inputs[0]]
        if prev.kind not in WEIGHTED or len(cons[prev.name]) != 1:
            continue
        s, t = bn.params["scale"], bn.params["shift"]
        w = prev.params["weight"] * s.reshape((-1,) + (1,) * (prev.params["weight"].ndim - 1))
        folded = replace(prev.with_params(weight=w, bias=s * prev.params["bias"] + t),
                         name=bn.name, path=prev.path or bn.path, module=prev.module)
        layers = [folded if l.name == bn.name else l for l in layers if l.name != prev.name]
        layers = _rewire(layers, prev.name, bn.name)
    return graph.replace([_bn_as_weights(l) if l.kind == "bn" else l for l in layers])


def _bn_as_weights(bn: Layer) -> Layer:
    """A BatchNorm with nothing to fold into: a diagonal Linear or a depthwise 1x1 convolution."""
    s, t = bn.params["scale"], bn.params["shift"]
    c = len(s)
    if len(bn.shape) == 1:
        return replace(bn, kind="affine", params=dict(weight=np.diag(s), bias=t.copy()))
    nd = len(bn.shape) - 1
    return replace(bn, kind="conv", params=dict(
        weight=s.reshape((c, 1) + (1,) * nd).copy(), bias=t.copy(), stride=(1,) * nd,
        padding=(0,) * nd, dilation=(1,) * nd, groups=c))


def drop_trivial_reshapes(graph: Graph) -> Graph:
    """A reshape that keeps the shape (after other passes) is removed."""
    by = graph.by_name
    layers = list(graph.layers)
    for layer in graph.layers:
        if layer.kind == "reshape" and by[layer.inputs[0]].shape == layer.shape:
            layers = _rewire([l for l in layers if l.name != layer.name], layer.name,
                             layer.inputs[0])
    return graph.replace(layers)


def _no_bn(graph: Graph):
    return None if not any(l.kind == "bn" for l in graph.layers) else "a BatchNorm is left"


def _connected(graph: Graph):
    names = set()
    for l in graph.layers:
        missing = [i for i in l.inputs if i not in names]
        if missing:
            return f"layer {l.name} reads {missing[0]}, which comes later or not at all"
        names.add(l.name)
    return None if graph.layers[-1].kind == "output" else "the last layer is not the output"


PIPELINE = [
    Pass("collapse_pool1d", collapse_pool1d, ensures=_connected),
    Pass("fold_bn", fold_bn, ensures=_no_bn),
    Pass("drop_trivial_reshapes", drop_trivial_reshapes, ensures=_connected),
]


def run_passes(graph: Graph) -> Graph:
    return run_pipeline(graph, PIPELINE, pipeline="conversion", source=graph.source)
