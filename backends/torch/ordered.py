"""Per-event saturating accumulation (Xylo's ``accumulate="ordered"``), batched and exact.

The synaptic state takes the events of one weight op one at a time, each saturated:
``s = clip(s + c_j, lo, hi)`` for j ascending (see docs/equations/torch_exactness.md). Every such
map has the form ``g(s) = min(max(s + a, l), h)``, and that form is closed under composition::

    g2(g1(s)) = min(max(s + (a1 + a2), max(l1 + a2, l2)), min(max(h1 + a2, l2), h2))

(max distributes over min). So the result of a whole event sequence is one map, found by a
pairwise tree reduction in log2(J) vectorised steps instead of a Python loop over J events.

`accumulate` does one weight op for every (sample, neuron) pair at once, in three classes:

* **safe**: with ``P`` = the sum of the positive contributions and ``N`` = the sum of the negative
  ones (one exact product with the stacked positive and negative weights), no partial sum can
  leave ``[lo, hi]`` when ``s + P <= hi`` and ``s + N >= lo``: the result is ``s + P + N``;
* **one-signed**: ``P == 0`` or ``N == 0``: the running sum moves one way, saturates at most once
  and stays there: ``clip(s + P + N, lo, hi)``;
* **mixed** (the fallback that is always exact): only the pair's own synapses — the non-zero
  weights of its fan-in (`FanIn`, cached per op), not the whole input — in presynaptic order,
  each saturated: in-place rounds over all mixed pairs at once (round r adds every pair's r-th
  event and clips; 2 operations per event), or for few pairs the clamp tree (`compose_clamps`,
  log depth).

The first test is global: when ``max(s) + max(P) <= hi`` and ``min(s) + min(N) >= lo`` every pair
is safe, at the cost of four reductions.

Then the weight op's bias, as one more event.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from nirconv.equations.program import AffineOp

from .integers import shift_int

PAIR_CHUNK_ELEMENTS = 1 << 19  # mixed pairs: events per chunk (temporaries stay in cache)


def compose_clamps(a: torch.Tensor, lo: int, hi: int):
    """Compose ``clip(s + a[..., j], lo, hi)`` over j (last axis) -> (A, L, H), each (...,)."""
    a = a.to(torch.int64)
    width = a.shape[-1]
    if width & (width - 1):  # pad to a power of two with the identity map (a = 0)
        pad = (1 << width.bit_length()) - width
        a = torch.cat([a, a.new_zeros(a.shape[:-1] + (pad,))], -1)
    if a.shape[-1] == 1:
        return a[..., 0], torch.full_like(a[..., 0], lo), torch.full_like(a[..., 0], hi)
    a1, a2 = a[..., 0::2], a[..., 1::2]  # the first level: l1 = l2 = lo, h1 = h2 = hi
    l = torch.clamp(a2 + lo, min=lo)
    h = torch.clamp(a2 + hi, lo, hi)
    a = a1 + a2
    while a.shape[-1] > 1:
        a1, a2 = a[..., 0::2], a[..., 1::2]
        l1, l2 = l[..., 0::2], l[..., 1::2]
        h1, h2 = h[..., 0::2], h[..., 1::2]
        l = torch.maximum(l1 + a2, l2)
        h = torch.minimum(torch.maximum(h1 + a2, l2), h2)
        a = a1 + a2
    return a[..., 0], l[..., 0], h[..., 0]


def apply_clamps(s: torch.Tensor, a, l, h) -> torch.Tensor:
    return torch.minimum(torch.maximum(s + a, l), h)


def ordered_sum(s: torch.Tensor, contributions: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    """``s`` (P,) after the events ``contributions`` (P, J), in order, each saturated."""
    if contributions.shape[-1] == 0:
        return s
    a, l, h = compose_clamps(contributions, lo, hi)
    return apply_clamps(s, a, l, h)


# ------------------------------------------------------------------------------ fan-in lists

@dataclass(frozen=True, eq=False)
class FanIn:
    """CSR of a weight op by flat output: row k lists the flat input indices ``cols`` (ascending:
    the delivery order) and weights ``vals`` of its non-zero synapses."""

    indptr: np.ndarray  # (n_out + 1,) int64
    cols: np.ndarray  # (nnz,) int64
    vals: np.ndarray  # (nnz,) int64


_FAN_INS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def fan_in(op) -> FanIn:
    """The op's `FanIn`, built once per op (a Program is usually run many times)."""
    if op not in _FAN_INS:
        rows, cols, vals = (_affine_synapses if isinstance(op, AffineOp) else _conv_synapses)(op)
        keep = vals != 0
        rows, cols, vals = rows[keep], cols[keep], vals[keep]
        n_out = int(np.prod(op.out_shape))
        indptr = np.zeros(n_out + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_out), out=indptr[1:])
        _FAN_INS[op] = FanIn(indptr, cols.astype(np.int64), vals.astype(np.int64))
    return _FAN_INS[op]


def _affine_synapses(op):
    w = np.asarray(op.weight, dtype=np.int64)
    rows, cols = np.nonzero(w)  # row-major: rows ascending, columns ascending within a row
    return rows, cols, w[rows, cols]


def _conv_synapses(op):
    """Per flat output (c_out, position): the flat input index of every kernel tap, in unfold
    order (channel, kh, kw), which is ascending flat input order; padded taps are dropped."""
    w = np.asarray(op.weight, dtype=np.int64)
    c_out, c_in_g = w.shape[:2]
    one_d = len(op.stride) == 1
    in_shape = (op.in_shape[0], 1, op.in_shape[1]) if one_d else tuple(op.in_shape)
    pair = (lambda v: (1, *v)) if one_d else tuple
    index = torch.arange(1, int(np.prod(in_shape)) + 1, dtype=torch.float64).reshape(1, *in_shape)
    taps = F.unfold(index, kernel_size=pair(w.shape[2:]), dilation=pair(op.dilation),
                    padding=(0, *op.padding) if one_d else tuple(op.padding),
                    stride=pair(op.stride))[0].numpy().astype(np.int64) - 1  # -1: padding
    per_group = c_in_g * int(np.prod(w.shape[2:]))
    positions = taps.shape[1]
    group = np.arange(c_out) // (c_out // op.groups)
    # (c_out, positions, per_group): input index and weight of each synapse of each output
    idx = taps.reshape(op.groups, per_group, positions)[group].transpose(0, 2, 1)
    wts = np.broadcast_to(w.reshape(c_out, 1, per_group), idx.shape)
    valid = idx >= 0
    rows = np.broadcast_to(np.arange(c_out * positions).reshape(c_out, positions, 1), idx.shape)
    return rows[valid], idx[valid], wts[valid]


# ------------------------------------------------------------------------------ accumulation

ROUNDS_FROM = 2048  # mixed pairs: event rounds from this many pairs on, else the clamp tree


def accumulate(isyn: torch.Tensor, kernel, x: torch.Tensor, lo: int, hi: int,
               stats=None) -> torch.Tensor:
    """``isyn`` (B, *shape) after the events of weight op ``kernel`` with input ``x`` (the
    module docstring). ``stats`` (a Counter) counts the (sample, neuron) pairs of each class."""
    pos, neg = (part.reshape(isyn.shape) for part in kernel.signed_parts(x))
    highest, lowest = isyn + pos, isyn + neg  # what the running sum can reach, each pair
    out = highest + neg
    unsafe = None
    if float(highest.max()) > hi or float(lowest.min()) < lo:  # else every pair is safe
        unsafe = ((highest > hi) | (lowest < lo)).reshape(-1).nonzero().squeeze(1)
        out = _unsafe_pairs(out, unsafe, isyn, pos, neg, kernel, x, lo, hi, stats)
    if stats is not None:
        stats["safe"] += isyn.numel() - (0 if unsafe is None else unsafe.numel())
    if kernel.bias is not None:  # the weight op's bias: one more event after its inputs
        bias = shift_int(kernel.bias, kernel.shift)
        bias = bias.reshape(bias.shape[0], *([1] * (len(kernel.op.out_shape) - 1)))
        out = torch.clamp(out + bias.expand(*kernel.op.out_shape).reshape(isyn.shape[1:]), lo, hi)
    return out


def _unsafe_pairs(out, unsafe, isyn, pos, neg, kernel, x, lo, hi, stats):
    """``out`` with the unsafe pairs (flat indices) resolved: the one-signed ones clipped, the
    mixed ones replaced by their exact ordered sums."""
    flat_out = out.reshape(-1).clone()
    one_signed = (pos.reshape(-1)[unsafe] == 0) | (neg.reshape(-1)[unsafe] == 0)
    clipped = unsafe[one_signed]
    flat_out[clipped] = flat_out[clipped].clamp(lo, hi)
    mixed = unsafe[~one_signed]
    if mixed.numel():
        per_sample = out[0].numel()
        flat_out[mixed] = _exact_pairs(isyn.reshape(-1)[mixed], mixed // per_sample,
                                       mixed % per_sample, kernel, x, lo, hi).to(out.dtype)
    if stats is not None:
        stats["one-signed"] += clipped.numel()
        stats["mixed"] += mixed.numel()
    return flat_out.reshape(out.shape)


class _Tables:
    """A weight op's `FanIn` as padded device tables (n_out, R): row k holds output k's synapses
    (input index, weight) in delivery order; shorter rows point at an extra zero input (index
    n_in) with weight 0."""

    def __init__(self, op, device):
        fan = fan_in(op)
        n_out, n_in = len(fan.indptr) - 1, int(np.prod(op.in_shape))
        lens = np.diff(fan.indptr)
        width = int(lens.max(initial=0))
        cols = np.full((n_out, width), n_in, dtype=np.int64)
        vals = np.zeros((n_out, width), dtype=np.int64)
        rank = np.arange(fan.cols.size) - np.repeat(fan.indptr[:-1], lens)
        owner = np.repeat(np.arange(n_out), lens)
        cols[owner, rank], vals[owner, rank] = fan.cols, fan.vals
        self.n_in, self.width = n_in, width
        self.cols = torch.as_tensor(cols, device=device)
        self.vals = torch.as_tensor(vals, device=device)
        self.max_abs = int(np.abs(fan.vals).max(initial=0))
        self._vals_as: dict = {}

    def vals_as(self, dtype) -> torch.Tensor:
        if dtype not in self._vals_as:
            self._vals_as[dtype] = self.vals.to(dtype)
        return self._vals_as[dtype]


def _tables(kernel) -> _Tables:
    """The op's padded fan-in tables, kept on the kernel for the run."""
    if getattr(kernel, "_tables", None) is None:
        kernel._tables = _Tables(kernel.op, kernel.setup.device)
    return kernel._tables


def _exact_pairs(start, b, k, kernel, x, lo, hi):
    """The exact ordered sums of the pairs (b, k) (flat neuron index k), from ``start``."""
    tables = _tables(kernel)
    x = x.reshape(x.shape[0], -1)
    # events of at most max|x| * max|w| * 2**shift, added to states within [lo, hi]
    reach = (float(x.abs().max()) * tables.max_abs * 2.0 ** kernel.shift
             + max(abs(lo), abs(hi)))
    dtype = torch.int32 if reach < 2.0 ** 30 else torch.int64
    padded = torch.zeros((x.shape[0], tables.n_in + 1), dtype=dtype, device=x.device)
    padded[:, :tables.n_in] = x
    start = start.to(dtype)
    chunk = max(1, PAIR_CHUNK_ELEMENTS // max(tables.width, 1))
    parts = []
    for first in range(0, b.numel(), chunk):
        sel = slice(first, first + chunk)
        events = _events(tables, padded, b[sel], k[sel], kernel.shift)
        parts.append(_ordered(start[sel], events, lo, hi))
    return torch.cat(parts) if len(parts) > 1 else parts[0]


def _events(tables: _Tables, padded, b, k, shift):
    """(pairs, R): the r-th synaptic event of each pair (b, k) (0 where there is none), in the
    dtype of ``padded`` (the input with an extra zero column)."""
    index = tables.cols.index_select(0, k)
    index += (b * padded.shape[1])[:, None]
    events = padded.reshape(-1).take(index)
    events *= tables.vals_as(padded.dtype).index_select(0, k)
    return events.mul_(1 << shift) if shift else events


def _ordered(start, events, lo, hi):
    """``start`` (P,) after the events (P, R) in order, each saturated: with many pairs, R
    in-place rounds over all of them (2 operations per event, on the transposed events), else
    the clamp tree (log depth, more operations per event)."""
    if events.shape[0] >= ROUNDS_FROM:
        s = start.clone()
        for column in events.T.contiguous():
            s.add_(column).clamp_(lo, hi)
        return s
    return ordered_sum(start.to(torch.int64), events, lo, hi)
