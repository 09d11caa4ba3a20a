"""How a static float input ``(B, *shape)`` becomes ``(T, B, *shape)`` per-step input.

Float graphs: the value itself on every step (constant current).
Integer graphs, by the graph metadata ``input_encoding``:

* ``"current"``: ``round_half_even(x / input_scale)`` clipped to ``input_bits`` signed, every step.
* ``"rate"``: a deterministic rate code for spike-input chips: with ``r = clip(x / input_scale, 0,
  max_events)`` events per step, step t carries ``floor((t + 1) * r) - floor(t * r)`` events.
* ``"spikes"``: the input must already be ``(T, B, ...)`` integer events.
"""
from __future__ import annotations

import numpy as np

from ..errors import BadInput


def encode_static(x: np.ndarray, timesteps: int, metadata: dict, integer: bool) -> np.ndarray:
    x = np.asarray(x)
    if not integer:
        return np.broadcast_to(x, (timesteps, *x.shape)).copy()
    kind = str(metadata.get("input_encoding", "current"))
    scale = float(metadata.get("input_scale", 1.0))
    if kind == "current":
        bits = int(metadata.get("input_bits", 16))
        q = np.clip(np.rint(x / scale), -(1 << (bits - 1)), (1 << (bits - 1)) - 1).astype(np.int64)
        return np.broadcast_to(q, (timesteps, *x.shape)).copy()
    if kind == "rate":
        max_events = float(metadata.get("max_events", 1))
        r = np.clip(x / scale, 0.0, max_events)
        t = np.arange(timesteps + 1).reshape(-1, *([1] * x.ndim))
        cum = np.floor(t * r[None] + 1e-9).astype(np.int64)
        return np.diff(cum, axis=0)
    raise BadInput(f"input_encoding {kind!r} needs a (T, B, ...) input, not a static one",
                   field="metadata.input_encoding")
