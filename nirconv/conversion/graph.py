"""The conversion graph: the captured ANN as a small DAG of layers, one frozen record per layer.

A `Layer` is one operation on per-sample tensors (batch and time axes excluded from ``shape``).
Kinds and their ``params``:

=========  ==========================================================================
input      (none)
affine     weight (out, in), bias (out,)                       y = W x + b
conv       weight (C_out, C_in/groups, *k), bias, stride, padding, dilation, groups
bn         scale (C,), shift (C,)                              y = scale[c] x + shift[c]
avgpool    kernel, stride, padding (count_include_pad)          nd = len(kernel)
reshape    (none; ``shape`` is the new per-sample shape)
relu       (none)                                               y = max(x, 0)
sum        (none)                                               y = Σ inputs
cat        (none; along the channel axis)
output     (none)
=========  ==========================================================================

``path`` is the torch module path the layer came from (for messages); ``module`` its type name.
Graphs are immutable: passes return new graphs (`Graph.replace`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

KINDS = ("input", "affine", "conv", "bn", "avgpool", "reshape", "relu", "sum", "cat", "output")
WEIGHTED = ("affine", "conv")


@dataclass(frozen=True, eq=False)
class Layer:
    name: str
    kind: str
    inputs: tuple[str, ...]
    shape: tuple[int, ...]
    params: dict[str, Any] = field(default_factory=dict)
    path: str = ""
    module: str = ""

    def where(self) -> str:
        """How messages name this layer: module path and type when known."""
        if self.path:
            return f"{self.path} ({self.module})" if self.module else self.path
        return self.name

    def with_params(self, **params) -> "Layer":
        return replace(self, params={**self.params, **params})


@dataclass(frozen=True, eq=False)
class Graph:
    layers: tuple[Layer, ...]  # topological order; first is the input, one output
    source: str = "<memory>"

    def __post_init__(self):
        names = [l.name for l in self.layers]
        if len(set(names)) != len(names):
            raise ValueError("duplicate layer names")  # internal invariant, not user input

    @property
    def by_name(self) -> dict[str, Layer]:
        return {l.name: l for l in self.layers}

    def consumers(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {l.name: [] for l in self.layers}
        for layer in self.layers:
            for src in layer.inputs:
                out[src].append(layer.name)
        return out

    @property
    def input(self) -> Layer:
        return self.layers[0]

    @property
    def output(self) -> Layer:
        return self.layers[-1]

    def replace(self, layers) -> "Graph":
        return Graph(tuple(layers), self.source)


def channels_scale(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Broadcast a per-channel vector (C,) or a scalar to a per-sample shape (C, ...)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 0 or values.size == 1:
        return np.full(shape, float(values.reshape(-1)[0]))
    return np.broadcast_to(values.reshape((-1,) + (1,) * (len(shape) - 1)), shape).copy()
