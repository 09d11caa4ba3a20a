"""Per-event saturating accumulation (Xylo's ``accumulate="ordered"``), batched and exact.

The synaptic state takes the events of one weight op one at a time, each saturated:
``s = clip(s + c_j, lo, hi)`` for j ascending. Every such map has the form
``g(s) = min(max(s + a, l), h)``, and that form is closed under composition::

    g2(g1(s)) = min(max(s + (a1 + a2), max(l1 + a2, l2)), min(max(h1 + a2, l2), h2))

(max distributes over min). So the result of a whole event sequence is one map, found by a
pairwise tree reduction in log2(J) vectorised steps instead of a Python loop over J events.

Fast path (`accumulate_weight_op`): with ``P`` = the sum of the positive contributions and ``N`` =
the sum of the negative ones (two exact matmuls), no partial sum can leave ``[lo, hi]`` when
``s + P <= hi`` and ``s + N >= lo``; then the result is ``s + P + N``. Only the (sample, neuron)
pairs that fail that test take the ordered path.
"""
from __future__ import annotations

import torch

PAIR_CHUNK_ELEMENTS = 1 << 22  # exact path: contributions materialised per chunk


def compose_clamps(a: torch.Tensor, lo: int, hi: int):
    """Compose ``clip(s + a[..., j], lo, hi)`` over j (last axis) -> (A, L, H), each (...,)."""
    a = a.to(torch.int64)
    l = torch.full_like(a, lo)
    h = torch.full_like(a, hi)
    while a.shape[-1] > 1:
        if a.shape[-1] % 2:  # pad with the identity map (states always lie in [lo, hi])
            pad = a.shape[:-1] + (1,)
            a = torch.cat([a, a.new_zeros(pad)], -1)
            l = torch.cat([l, l.new_full(pad, lo)], -1)
            h = torch.cat([h, h.new_full(pad, hi)], -1)
        a1, a2 = a[..., 0::2], a[..., 1::2]
        l1, l2 = l[..., 0::2], l[..., 1::2]
        h1, h2 = h[..., 0::2], h[..., 1::2]
        a = a1 + a2
        l = torch.maximum(l1 + a2, l2)
        h = torch.minimum(torch.maximum(h1 + a2, l2), h2)
    return a[..., 0], l[..., 0], h[..., 0]


def apply_clamps(s: torch.Tensor, a, l, h) -> torch.Tensor:
    return torch.minimum(torch.maximum(s + a, l), h)


def ordered_sum(s: torch.Tensor, contributions: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    """``s`` (P,) after the events ``contributions`` (P, J), in order, each saturated."""
    if contributions.shape[-1] == 0:
        return s
    a, l, h = compose_clamps(contributions, lo, hi)
    return apply_clamps(s, a, l, h)
