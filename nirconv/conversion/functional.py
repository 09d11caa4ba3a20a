"""The per-layer computations, written once for the ANN graph, the calibration and the SNN.

Stateless layers act on a batch ``(N, *shape)`` (N may be time x batch: a feed-forward graph
without delays can be evaluated layer by layer over all steps). The one stateful layer is the
integrate-and-fire neuron of the nirconv dialect (`if_neuron`), run step by step.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def tensor(value, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(value, dtype=like.dtype, device=like.device)


def _channel(v: torch.Tensor, ndim: int) -> torch.Tensor:
    return v.reshape((-1,) + (1,) * (ndim - 2))


def apply(layer, xs: list[torch.Tensor], p: dict) -> torch.Tensor:
    """Output of a stateless ``layer`` for its inputs ``xs``; ``p`` its parameters as tensors."""
    kind = layer.kind
    x = xs[0] if xs else None
    if kind in ("input", "output", "integrator"):
        return x
    if kind == "affine":
        return F.linear(x.reshape(x.shape[0], -1), p["weight"], p["bias"])
    if kind == "conv":
        conv = F.conv1d if p["weight"].dim() == 3 else F.conv2d
        return conv(x, p["weight"], p["bias"], stride=layer.params["stride"],
                    padding=layer.params["padding"], dilation=layer.params["dilation"],
                    groups=layer.params["groups"])
    if kind in ("avgpool", "sumpool"):
        return _pool(layer, x, summed=kind == "sumpool")
    if kind == "reshape":
        return x.reshape((x.shape[0],) + tuple(layer.shape))
    if kind == "relu":
        return torch.clamp_min(x, 0.0)
    if kind == "sum":
        out = xs[0]
        for other in xs[1:]:
            out = out + other
        return out
    if kind == "cat":
        return torch.cat(xs, dim=1)
    if kind == "scale":
        return x * p["scale"]
    if kind == "bn":
        return x * _channel(p["scale"], x.dim()) + _channel(p["shift"], x.dim())
    raise ValueError(f"no stateless computation for layer kind {kind!r}")  # internal


def _pool(layer, x, summed: bool) -> torch.Tensor:
    k, s, pad = layer.params["kernel"], layer.params["stride"], layer.params["padding"]
    one_d = len(k) == 1
    if one_d:
        x, k, s, pad = x.unsqueeze(2), (1, k[0]), (1, s[0]), (0, pad[0])
    y = F.avg_pool2d(x, k, s, pad, count_include_pad=True,
                     divisor_override=1 if summed else None)
    return y.squeeze(2) if one_d else y


def if_neuron(x: torch.Tensor, threshold: torch.Tensor, v_init: torch.Tensor) -> torch.Tensor:
    """Integrate-and-fire, nirconv dialect (``NeuronFloat`` with alpha=1, beta=r=1, bias 0)::

        v_0 = v_init;  v_t = v_{t-1} + x_t;  s_t = [v_t >= threshold];  v_t -= threshold * s_t

    ``x`` is ``(T, B, *shape)``; returns the 0/1 spikes ``(T, B, *shape)``.
    """
    v = v_init.expand_as(x[0]).clone()
    out = torch.empty_like(x)
    for t in range(x.shape[0]):
        v = v + x[t]
        s = (v >= threshold).to(x.dtype)
        v = v - threshold * s
        out[t] = s
    return out


def over_time(layer, seqs: list[torch.Tensor], p: dict) -> torch.Tensor:
    """A stateless layer applied to ``(T, B, *shape)`` sequences (time folded into the batch)."""
    T, B = seqs[0].shape[:2]
    flat = [s.reshape((T * B,) + tuple(s.shape[2:])) for s in seqs]
    y = apply(layer, flat, p)
    return y.reshape((T, B) + tuple(y.shape[1:]))
