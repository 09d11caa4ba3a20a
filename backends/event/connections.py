"""Connections as per-input fan-out lists (CSR), and event propagation over them.

Every weight op (Affine, Conv1d/Conv2d) and every pooling op is turned once, before the first step,
into a `FanOut`: for each presynaptic (flat input) index ``i`` the list of its synapses
``indices[indptr[i]:indptr[i+1]]`` (flat output indices, ascending) with their weights ``data``.
A step then touches only the synapses of the inputs that are non-zero (`gather`), so its cost is
proportional to the events that arrive times their fan-out. Structural zeros (a zero weight in a
dense matrix or kernel) stay in the lists: the fan-out, and so the SynOps count, is the network's
wiring, not the values of its weights.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from nirconv.equations.program import AffineOp, ConvOp, PoolOp

EXACT_FLOAT_INT = float(2 ** 52)  # integer sums below this are exact in float64


@dataclass(frozen=True, eq=False)
class FanOut:
    """CSR of a connection, rows = presynaptic (flat input) index, columns = flat output index."""

    n_in: int
    n_out: int
    indptr: np.ndarray  # (n_in + 1,) int64
    indices: Optional[np.ndarray]  # (nnz,) int64; None: every row is 0..n_out-1 (Affine)
    data: np.ndarray  # (nnz,) float64 or int64

    @property
    def full_rows(self) -> bool:
        """Every input reaches every output (a dense matrix): row i is ``data[i*n_out:...]``."""
        return self.indices is None

    def column_sums_abs(self) -> np.ndarray:
        """Σ |w| over the synapses into each output (bounds a weighted sum)."""
        if self.full_rows:
            return np.abs(self.data.reshape(self.n_in, self.n_out)).sum(axis=0, dtype=np.float64)
        return np.bincount(self.indices, weights=np.abs(self.data).astype(np.float64),
                           minlength=self.n_out)

    @property
    def fan_out(self) -> np.ndarray:
        return np.diff(self.indptr)

    @property
    def max_abs_weight(self) -> float:
        return float(np.max(np.abs(self.data))) if self.data.size else 0.0


def from_coo(n_in: int, n_out: int, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray,
             dtype) -> FanOut:
    # callers list synapses with ascending columns within each row: a stable sort by row keeps it
    order = np.argsort(rows, kind="stable")
    rows, cols, vals = rows[order], cols[order], vals[order]
    indptr = np.zeros(n_in + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_in), out=indptr[1:])
    return FanOut(n_in, n_out, indptr, cols.astype(np.int64), vals.astype(dtype))


def affine_fan_out(op: AffineOp, dtype) -> FanOut:
    w = np.asarray(op.weight)
    n_out, n_in = w.shape
    indptr = np.arange(n_in + 1, dtype=np.int64) * n_out
    data = np.ascontiguousarray(w.T, dtype=dtype).reshape(-1)  # row i: the fan-out of input i
    return FanOut(n_in, n_out, indptr, None, data)


def _as_2d(shape, kernel, stride, padding, dilation):
    """Conv1d as a Conv2d with height 1."""
    if len(kernel) == 1:
        return ((shape[0], 1, shape[1]), (1, kernel[0]), (1, stride[0]), (0, padding[0]),
                (1, dilation[0]))
    return tuple(shape), tuple(kernel), tuple(stride), tuple(padding), tuple(dilation)


def _windows(in_shape, out_shape, kernel, stride, padding, dilation):
    """For every (output position, kernel tap): flat input spatial index, or -1 when padded.

    Returns ``(taps, hw_in, hw_out)`` with ``taps`` shaped (Ho*Wo, kh*kw)."""
    (_, h, w), (kh, kw), (sy, sx), (py, px), (dy, dx) = _as_2d(in_shape, kernel, stride,
                                                               padding, dilation)
    ho, wo = (1, out_shape[1]) if len(out_shape) == 2 else (out_shape[1], out_shape[2])
    oy, ox = np.meshgrid(np.arange(ho), np.arange(wo), indexing="ij")
    ky, kx = np.meshgrid(np.arange(kh), np.arange(kw), indexing="ij")
    iy = oy.reshape(-1, 1) * sy - py + ky.reshape(1, -1) * dy
    ix = ox.reshape(-1, 1) * sx - px + kx.reshape(1, -1) * dx
    valid = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
    return np.where(valid, iy * w + ix, -1), h * w, ho * wo


def conv_fan_out(op: ConvOp, dtype) -> FanOut:
    w = np.asarray(op.weight)
    c_out, c_in_g = w.shape[:2]
    c_in = op.in_shape[0]
    taps, hw_in, hw_out = _windows(op.in_shape, op.out_shape, w.shape[2:], op.stride,
                                   op.padding, op.dilation)
    per_group = c_out // op.groups
    co = np.arange(c_out).reshape(-1, 1, 1, 1)
    cil = np.arange(c_in_g).reshape(1, -1, 1, 1)
    ci = (co // per_group) * c_in_g + cil
    tap = taps.reshape(1, 1, hw_out, -1)
    kidx = np.arange(taps.shape[1]).reshape(1, 1, 1, -1)
    full = (c_out, c_in_g, hw_out, taps.shape[1])
    valid = np.broadcast_to(tap >= 0, full)
    rows = np.broadcast_to(ci * hw_in + tap, full)[valid]
    cols = np.broadcast_to(co * hw_out + np.arange(hw_out).reshape(1, 1, -1, 1), full)[valid]
    vals = np.broadcast_to(w.reshape(c_out, c_in_g, -1)[co, cil, kidx], full)[valid]
    return from_coo(c_in * hw_in, int(np.prod(op.out_shape)), rows, cols, vals, dtype)


def pool_fan_out(op: PoolOp, dtype) -> FanOut:
    c = op.in_shape[0]
    taps, hw_in, hw_out = _windows(op.in_shape, op.out_shape, op.kernel, op.stride, op.padding,
                                   (1,) * len(op.kernel))
    ch = np.arange(c).reshape(-1, 1, 1)
    full = (c, *taps.shape)
    valid = np.broadcast_to(taps[None] >= 0, full)
    rows = np.broadcast_to(ch * hw_in + taps[None], full)[valid]
    cols = np.broadcast_to(ch * hw_out + np.arange(hw_out).reshape(1, -1, 1), full)[valid]
    weight = 1.0 if op.mode == "sum" else 1.0 / float(np.prod(op.kernel))
    vals = np.full(rows.shape, weight)
    return from_coo(c * hw_in, c * hw_out, rows, cols, vals, dtype)


# ---------------------------------------------------------------- propagation

def events(x: np.ndarray):
    """Non-zero entries of a (B, n) array: flat positions (ascending) and values."""
    flat = x.reshape(-1)
    nz = np.flatnonzero(flat)
    return nz, flat[nz]


def gather(fan: FanOut, nz: np.ndarray, values: np.ndarray, unit_values: bool = False):
    """The synaptic events of the input events ``(nz, values)`` (positions in a (B, n_in) array).

    Returns ``(targets, contributions, delivered)``: flat positions in the (B, n_out) output, the
    value each synapse adds (weight × value), in presynaptic order (ascending ``nz``), and the number
    of synapses touched (``Σ fan-out``)."""
    b, i = np.divmod(nz, fan.n_in)
    starts = fan.indptr[i]
    lens = fan.indptr[i + 1] - starts
    total = int(lens.sum())
    if total == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, np.zeros(0, dtype=fan.data.dtype), lens
    ends = np.cumsum(lens)
    offsets = np.arange(total, dtype=np.int64) + np.repeat(starts - (ends - lens), lens)
    columns = offsets % fan.n_out if fan.full_rows else fan.indices[offsets]
    targets = np.repeat(b * fan.n_out, lens) + columns
    contrib = fan.data[offsets]
    if not unit_values:
        contrib = contrib * np.repeat(values, lens)
    return targets, contrib, lens


def scatter_sum(targets: np.ndarray, contrib: np.ndarray, size: int, integer: bool,
                bound: float) -> np.ndarray:
    """Σ of ``contrib`` per target. Integers: exact (float64 only while ``bound`` < 2**52)."""
    if not integer:  # (bincount of no targets returns int64 even with weights)
        return np.bincount(targets, weights=contrib, minlength=size).astype(np.float64,
                                                                             copy=False)
    if bound < EXACT_FLOAT_INT:
        return np.rint(np.bincount(targets, weights=contrib, minlength=size)).astype(np.int64)
    out = np.zeros(size, dtype=np.int64)
    np.add.at(out, targets, contrib)
    return out
