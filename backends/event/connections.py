"""Connections as per-input fan-out lists (CSR), and event propagation over them.

Every weight op (Affine, Conv1d/Conv2d) and every pooling op is turned once, before the first step,
into a `FanOut`: for each presynaptic (flat input) index ``i`` the list of its synapses
``indices[indptr[i]:indptr[i+1]]`` (flat output indices, ascending) with their weights ``data``.
A step then touches only the synapses of the inputs that are non-zero (`gather`), so its cost is
proportional to the events that arrive times their fan-out. Structural zeros (a zero weight in a
dense matrix or kernel) stay in the lists: the fan-out, and so the SynOps count, is the network's
wiring, not the values of its weights.

Convolutions and pooling also get a `Stencil` (the same connection, stored once per kernel tap
instead of once per input element): the batched event path adds each event's weights for all output
channels of its group as one contiguous row, in scipy's compiled loop (`rows_times_table`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from nirconv.equations.program import AffineOp, ConvOp, PoolOp

try:  # scipy's compiled loop behind `coo_array @ dense` (the public route is the fallback)
    from scipy.sparse._sparsetools import coo_matmat_dense as _coo_matmat_dense
except ImportError:  # pragma: no cover - depends on the scipy version
    _coo_matmat_dense = None

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
    data = transposed(w, dtype).reshape(-1)  # row i: the fan-out of input i
    return FanOut(n_in, n_out, indptr, None, data)


def transposed(w: np.ndarray, dtype, rows: int = 64) -> np.ndarray:
    """``w.T`` as a C-contiguous array of ``dtype``, copied a block of rows at a time (several
    times faster than one strided copy of a large matrix: the blocks stay in cache)."""
    out = np.empty((w.shape[1], w.shape[0]), dtype=dtype)
    for first in range(0, w.shape[0], rows):
        out[:, first:first + rows] = w[first:first + rows].T
    return out


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


@dataclass(frozen=True, eq=False)
class Stencil:
    """A convolution or pooling as its kernel taps, for the batched event path.

    Input element ``(ci, p)`` (channel, flat spatial position) reaches, through its j-th valid tap,
    output position ``reach[p, j]`` of every output channel of its group
    ``g = ci // c_in_group``, with the weights ``table[tap_cols[p, j] + ci]`` (one per output
    channel of the group, contiguous; ``tap_cols = k * c_in`` for kernel tap ``k``). Rows of
    positions with fewer valid taps than the widest are padded with ``reach = hw_out``, an extra
    output position whose sums are dropped. The synapses are exactly those of the op's `FanOut`."""

    c_in: int
    c_in_group: int
    hw_in: int
    hw_out: int
    groups: int
    per_group: int  # output channels per group
    reach: np.ndarray  # (hw_in, max valid taps) int64, hw_out = padding
    tap_cols: np.ndarray  # (hw_in, max valid taps) int64
    table: np.ndarray  # (K * c_in, per_group), float64 or int64

    @property
    def n_in(self) -> int:
        return self.c_in * self.hw_in

    @property
    def n_out(self) -> int:
        return self.groups * self.per_group * self.hw_out


def _reach(taps: np.ndarray, hw_in: int, c_in: int) -> tuple[np.ndarray, np.ndarray]:
    """Invert ``taps`` (output position, tap) -> input position into, per input position, its
    valid (output position, tap row offset ``k * c_in``) pairs, taps ascending, padded."""
    hw_out, n_taps = taps.shape
    q, k = np.nonzero(taps >= 0)
    p = taps[q, k]
    order = np.lexsort((k, p))  # by input position, then tap (one output per tap and position)
    p, q, k = p[order], q[order], k[order]
    counts = np.bincount(p, minlength=hw_in)
    width = int(counts.max(initial=0))
    slot = np.arange(p.size) - np.repeat(np.cumsum(counts) - counts, counts)
    reach = np.full((hw_in, width), hw_out, dtype=np.int64)
    tap_cols = np.zeros((hw_in, width), dtype=np.int64)
    reach[p, slot] = q
    tap_cols[p, slot] = k * c_in
    return reach, tap_cols


def conv_stencil(op: ConvOp, dtype) -> Stencil:
    w = np.asarray(op.weight)
    c_out, c_in_g = w.shape[:2]
    taps, hw_in, hw_out = _windows(op.in_shape, op.out_shape, w.shape[2:], op.stride,
                                   op.padding, op.dilation)
    groups, n_taps = int(op.groups), taps.shape[1]
    per_group = c_out // groups
    # table[k, g, ci_local, j] = w[g * per_group + j, ci_local, k]; (g, ci_local) is the channel ci
    table = w.reshape(groups, per_group, c_in_g, n_taps).transpose(3, 0, 2, 1)
    table = np.ascontiguousarray(table.reshape(n_taps * groups * c_in_g, per_group), dtype=dtype)
    return Stencil(groups * c_in_g, c_in_g, hw_in, hw_out, groups, per_group,
                   *_reach(taps, hw_in, groups * c_in_g), table)


def pool_stencil(op: PoolOp, dtype) -> Stencil:
    c = op.in_shape[0]
    taps, hw_in, hw_out = _windows(op.in_shape, op.out_shape, op.kernel, op.stride, op.padding,
                                   (1,) * len(op.kernel))
    weight = 1.0 if op.mode == "sum" else 1.0 / float(np.prod(op.kernel))
    table = np.full((taps.shape[1] * c, 1), weight).astype(dtype)
    return Stencil(c, 1, hw_in, hw_out, c, 1, *_reach(taps, hw_in, c), table)


# ---------------------------------------------------------------- propagation

def events(x: np.ndarray, work: Optional["Workspace"] = None):
    """Non-zero entries of a (B, n) array: flat positions (ascending) and values."""
    flat = x.reshape(-1)
    mask = None if work is None else work.get("nonzero", flat.shape, bool)
    # (a boolean scan is several times faster than nonzero on the values themselves)
    nz = np.flatnonzero(np.not_equal(flat, 0, out=mask))
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


class Workspace:
    """Scratch arrays reused from step to step (never returned, never kept across a call): a new
    large temporary per step costs the page faults of fresh memory every step."""

    def __init__(self):
        self._buffers: dict = {}

    def get(self, name: str, shape, dtype) -> np.ndarray:
        size = int(np.prod(shape))
        buf = self._buffers.get(name)
        if buf is None or buf.size < size or buf.dtype != np.dtype(dtype):
            buf = np.empty(max(size, 0 if buf is None else 2 * buf.size), dtype=dtype)
            self._buffers[name] = buf
        return buf[:size].reshape(shape)


def rows_times_table(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, table: np.ndarray,
                     out: np.ndarray) -> np.ndarray:
    """``out[rows[e]] += values[e] * table[cols[e]]`` for every entry ``e`` in the given order: a
    sparse (entries) x dense (table) product in scipy's compiled loop, into the C-contiguous
    ``out`` (n_rows, table.shape[1]). Each sum is accumulated in entry order (float64 as a loop
    would; int64 exact). ``values`` and ``out`` have ``table``'s dtype; indices are int64."""
    if rows.size == 0:
        return out
    if _coo_matmat_dense is not None:
        _coo_matmat_dense(rows.size, table.shape[1], rows, cols, values, table.reshape(-1), out)
        return out
    from scipy.sparse import coo_array  # pragma: no cover - older/newer scipy

    out += coo_array((values, (rows, cols)), shape=(out.shape[0], table.shape[0])) @ table
    return out


def stencil_sum(st: Stencil, nz: np.ndarray, values: np.ndarray, batch: int,
                bias: Optional[np.ndarray] = None, work: Optional[Workspace] = None) -> np.ndarray:
    """The summed output ``(batch, n_out)`` (plus ``bias``, (n_out,), if given) of the input
    events ``(nz, values)`` (positions in a (batch, n_in) array) over a `Stencil`: each event adds,
    for each of its valid taps, its group's weight row to the channel-last output row
    ``((b * (hw_out + 1) + q) * groups + g)``; the result is laid back to (channel, position). Per
    output, events arrive in ascending ``nz`` order, taps ascending within an event. Work ∝ Σ
    fan-out of the events. The returned array is new; ``work`` holds the temporaries."""
    work = Workspace() if work is None else work
    b, rem = np.divmod(nz, st.n_in)
    ci, p = np.divmod(rem, st.hw_in)
    shape = (nz.size, st.reach.shape[1])
    rows = np.take(st.reach, p, axis=0, out=work.get("rows", shape, np.int64), mode="clip")
    rows += (b * (st.hw_out + 1))[:, None]
    if st.groups > 1:
        rows *= st.groups
        rows += (ci // st.c_in_group)[:, None]
    cols = np.take(st.tap_cols, p, axis=0, out=work.get("cols", shape, np.int64), mode="clip")
    cols += ci[:, None]
    vals = work.get("vals", shape, st.table.dtype)
    np.copyto(vals, values[:, None], casting="unsafe")  # (values are whole numbers in int mode)
    channels = st.groups * st.per_group
    sums = work.get("sums", (batch * (st.hw_out + 1) * st.groups, st.per_group), st.table.dtype)
    sums.fill(0)
    rows_times_table(rows.reshape(-1), cols.reshape(-1), vals.reshape(-1), st.table, sums)
    sums = sums.reshape(batch, st.hw_out + 1, channels)[:, :st.hw_out].transpose(0, 2, 1)
    out = np.empty((batch, channels, st.hw_out), dtype=st.table.dtype)
    if bias is None:
        np.copyto(out, sums)
    else:
        np.add(sums, bias.reshape(channels, st.hw_out), out=out)
    return out.reshape(batch, -1)
