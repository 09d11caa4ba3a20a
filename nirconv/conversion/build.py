"""From the ANN graph and the normalization `Result` to the unit-threshold SNN graph.

Every tensor carries a scale array ``s`` (per-sample shape): ANN value ≈ s × SNN signal (a spike
rate or a current). The input has s = 1. A weighted layer with input scale s_in and chosen output
scale s_out becomes Ŵ = W·s_in/s_out, b̂ = (b + δ)/s_out (δ the bias correction). An IF layer has
threshold 1, so its input scale must be its λ (θ in ANN units); a weighted layer picks the scale its
consumer needs, and where a scale still differs (a residual branch, a ReLU after a pool) a `scale`
layer (NIR ``Scale``) converts it. Average pooling becomes a sum pool (scale s/k^d, so the 1/k^d is
folded into the next weights). A residual add stays a ``sum`` layer (NIR: edges into one node).

SNN layer kinds: input, affine, conv, sumpool, reshape, scale, sum, cat, if, integrator, output.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import Unsupported
from .graph import WEIGHTED, Graph, Layer, channels_scale
from .normalization import Result


def _channel_values(scale: np.ndarray) -> np.ndarray:
    """(C, ...) scale array -> (C,), when constant over the positions of a channel."""
    rows = scale.reshape(scale.shape[0], -1) if scale.ndim > 1 else scale.reshape(-1, 1)
    return rows[:, 0].copy() if np.allclose(rows, rows[:, :1], rtol=1e-12, atol=0) else None


class _Builder:
    def __init__(self, graph: Graph, norm: Result, readout: str):
        self.graph, self.norm, self.readout = graph, norm, readout
        self.by, self.cons = graph.by_name, graph.consumers()
        self.scale: dict[str, np.ndarray] = {}
        self.layers: list[Layer] = []
        self.names = {l.name for l in graph.layers}

    # -- what scale does a tensor need to have, seen from its consumers
    def wanted(self, name: str):
        cons = self.cons[name]
        if len(cons) != 1:
            return None
        c = self.by[cons[0]]
        if c.kind == "relu":
            return channels_scale(self.norm.threshold[c.name], c.shape)
        if c.kind == "sum":
            return self.wanted(c.name)
        if c.kind == "output":
            return np.full(c.shape, self.norm.readout_scale)
        return None

    def emit(self, layer: Layer, scale: np.ndarray) -> str:
        self.layers.append(layer)
        self.scale[layer.name] = scale
        return layer.name

    def fresh(self, base: str) -> str:
        name, i = base, 1
        while name in self.names:
            name, i = f"{base}_{i}", i + 1
        self.names.add(name)
        return name

    def convert_to(self, src: str, target: np.ndarray, shape) -> str:
        """``src`` as a signal of scale ``target``: itself, or through a `scale` layer."""
        have = self.scale[src]
        if np.allclose(have, target, rtol=1e-12, atol=0):
            return src
        name = self.fresh(f"{src}_rescale")
        return self.emit(Layer(name, "scale", (src,), tuple(shape),
                               dict(scale=(have / target).astype(np.float64))), target)

    # -- one method per ANN layer kind
    def build(self) -> list[Layer]:
        for layer in self.graph.layers:
            getattr(self, f"_{layer.kind}")(layer)
        return self.layers

    def _input(self, layer):
        self.emit(layer, np.ones(layer.shape))

    def _weights(self, layer, s_in):
        target = self.wanted(layer.name)
        if target is None:
            c_in = _channel_values(s_in)
            target = np.ones(layer.shape) * (float(np.max(c_in)) if c_in is not None else 1.0)
        s_out = _channel_values(target)
        if s_out is None:
            raise Unsupported("needs a per-channel scale", node=layer.where(), field="scale")
        w, b = layer.params["weight"], layer.params["bias"]
        b = b + self.norm.bias_shift.get(layer.name, 0.0)
        if layer.kind == "affine":
            w = w * s_in.reshape(1, -1) / s_out.reshape(-1, 1)
        else:
            w = w * _conv_in_scale(layer, s_in, w) / s_out.reshape((-1,) + (1,) * (w.ndim - 1))
        return layer.with_params(weight=w, bias=b / s_out), target

    def _affine(self, layer):
        self.emit(*self._weights(layer, self.scale[layer.inputs[0]]))

    _conv = _affine

    def _avgpool(self, layer):
        c_in = _channel_values(self.scale[layer.inputs[0]])
        k = float(np.prod(layer.params["kernel"]))
        self.emit(replace(layer, kind="sumpool"), channels_scale(c_in / k, layer.shape))

    def _reshape(self, layer):
        self.emit(layer, self.scale[layer.inputs[0]].reshape(layer.shape))

    def _cat(self, layer):
        self.emit(layer, np.concatenate([self.scale[i] for i in layer.inputs], axis=0))

    def _sum(self, layer):
        target = self.wanted(layer.name)
        if target is None:
            target = self.scale[layer.inputs[0]]
        inputs = tuple(self.convert_to(i, target, layer.shape) for i in layer.inputs)
        self.emit(replace(layer, inputs=inputs), target)

    def _relu(self, layer):
        lam = channels_scale(self.norm.threshold[layer.name], layer.shape)
        src = self.convert_to(layer.inputs[0], lam, layer.shape)
        self.emit(_if_layer(layer.name, src, layer, lam, self.norm.v_init[layer.name]), lam)

    def _output(self, layer):
        lam = np.full(layer.shape, self.norm.readout_scale)
        src = self.convert_to(layer.inputs[0], lam, layer.shape)
        if self.readout == "spikes":
            theta = channels_scale(self.norm.threshold["output"], layer.shape)
            src = self.convert_to(src, theta, layer.shape)
            name = self.fresh("readout")
            src = self.emit(_if_layer(name, src, layer, theta, self.norm.v_init["output"]), theta)
        else:
            name = self.fresh("readout")
            src = self.emit(Layer(name, "integrator", (src,), layer.shape,
                                  dict(scale=lam.copy())), lam)
        self.emit(replace(layer, inputs=(src,)), self.scale[src])


def _if_layer(name, src, layer, lam, v_init_fraction) -> Layer:
    shape = layer.shape
    return Layer(name, "if", (src,), shape,
                 dict(threshold=np.ones(shape), v_init=channels_scale(v_init_fraction, shape),
                      scale=lam.copy()), layer.path, layer.module or "ReLU")


def _conv_in_scale(layer, s_in, w) -> np.ndarray:
    """Per-weight input-channel scale of a (grouped) convolution, shaped like ``w``."""
    c_in = _channel_values(s_in)
    if c_in is None:
        raise Unsupported("input scale differs across positions of a channel",
                          node=layer.where(), field="scale")
    groups = layer.params["groups"]
    c_out, per_group = w.shape[0], w.shape[1]
    idx = (np.arange(c_out)[:, None] // (c_out // groups)) * per_group + np.arange(per_group)
    return c_in[idx].reshape(c_out, per_group, *([1] * (w.ndim - 2)))


def build_snn(graph: Graph, norm: Result, readout: str) -> Graph:
    if any(l.kind == "relu" and l.name not in norm.threshold for l in graph.layers):
        raise ValueError("normalization result misses a ReLU")  # internal invariant
    return graph.replace(_Builder(graph, norm, readout).build())
