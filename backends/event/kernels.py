"""One kernel per Program op type (registry `KERNELS`), all on flat (B, n) arrays.

A kernel is built once per run (`make_kernel`) and stepped once per time step with the summed input
arriving on its edges. Connections (Affine, Conv, pooling) propagate events over precomputed fan-out
lists (`connections.py`); only an analog, dense input (e.g. the constant current a converted ANN's
first layer receives) takes the dense path.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Optional

import numpy as np

from nirconv.equations.neurons import (BitShiftLIF, Float32LIF, LoihiCubaLIF, NeuronFloat,
                                       SpeckIAF)
from nirconv.equations.program import (AffineOp, ConvOp, DelayOp, FlattenOp, InputOp, NeuronOp,
                                       Op, OutputOp, PoolOp, ScaleOp, ThresholdOp)
from nirconv.errors import BadInput, Unsupported

from . import connections as C
from .float_neurons import FloatNeuronState
from .int_neurons import BitShiftState, Float32State, LoihiState, SpeckState

DENSE_ABOVE = 0.25  # analog inputs denser than this take the dense path (spikes never do)
SPGEMM_ABOVE = 20_000  # synapses per step above which events propagate as a scipy product


@dataclass
class Ctx:
    """What a kernel needs to know about its surroundings."""

    batch: int
    integer: bool
    counted_input: bool  # the arriving values are spike counts (all sources spiking)
    binary_input: bool  # the arriving values are 0/1 (one binary source)
    keep_stream: bool  # a consumer accumulates this op's events one by one (Xylo "ordered")
    stream_cap: Optional[int] = None  # events per input element per step in that stream (Xylo)
    source: str = "<memory>"

    @property
    def dtype(self):
        return np.int64 if self.integer else np.float64


def _size(shape) -> int:
    return int(np.prod(shape)) if shape else 1


class Kernel:
    spiking = False  # contributes to spikes_per_node
    synops = 0

    def __init__(self, op: Op, ctx: Ctx):
        self.op = op
        self.ctx = ctx
        self.n_out = _size(op.out_shape)

    def step(self, t: int, x):
        raise NotImplementedError


class InputKernel(Kernel):
    """The input itself (the engine passes the step's slice)."""

    def step(self, t, x):  # the engine passes the input slice itself
        return x


class PassKernel(Kernel):
    """Flatten, Output and inner pass-throughs: the flat layout is already row-major."""

    def step(self, t, x):
        return x


class ScaleKernel(Kernel):
    def __init__(self, op: ScaleOp, ctx):
        super().__init__(op, ctx)
        scale = np.broadcast_to(np.asarray(op.scale, dtype=np.float64), op.in_shape).reshape(-1)
        if ctx.integer:
            if not np.all(scale == np.rint(scale)):
                raise Unsupported("integer mode needs an integer Scale", file=ctx.source,
                                  node=op.name, field="scale")
            scale = scale.astype(np.int64)
        self.scale = scale

    def step(self, t, x):
        return x * self.scale


class ThresholdKernel(Kernel):
    spiking = True

    def __init__(self, op: ThresholdOp, ctx):
        super().__init__(op, ctx)
        self.threshold = np.broadcast_to(np.asarray(op.threshold, dtype=np.float64),
                                         op.in_shape).reshape(-1)
        self.greater_equal = op.compare == ">="

    def step(self, t, x):
        s = x >= self.threshold if self.greater_equal else x > self.threshold
        return s.astype(self.ctx.dtype)


class DelayKernel(Kernel):
    """y_t = x_{t - steps} per element, from a ring buffer of the last max(steps)+1 inputs."""

    def __init__(self, op: DelayOp, ctx):
        super().__init__(op, ctx)
        self.steps = np.broadcast_to(np.asarray(op.steps, dtype=np.int64), op.in_shape).reshape(-1)
        self.length = int(self.steps.max(initial=0)) + 1
        self.ring = np.zeros((self.length, ctx.batch, self.n_out), dtype=ctx.dtype)
        self.cols = np.arange(self.n_out)

    def step(self, t, x):
        self.ring[t % self.length] = x
        src = t - self.steps
        out = self.ring[src % self.length, :, self.cols].T
        return np.where(src >= 0, out, 0).astype(self.ctx.dtype)


class ConnectionKernel(Kernel):
    """Affine, Conv1d/Conv2d, SumPool/AvgPool: events over a precomputed fan-out list."""

    def __init__(self, op, ctx):
        super().__init__(op, ctx)
        self.is_synapse = isinstance(op, (AffineOp, ConvOp))
        self.fan = self._fan_out(op, ctx)
        self.fan_out = self.fan.fan_out
        self.shift = int(getattr(op, "shift", 0))
        self.bias = self._bias(op, ctx)
        self.weight_t = (self.fan.data.reshape(self.fan.n_in, self.fan.n_out)
                         if self.fan.full_rows else None)  # (n_in, n_out) view
        self.row_bound = self._row_bound()
        self.stream = None
        self._matrices: dict = {}
        self.mean_fan_out = self.fan.data.size / max(self.fan.n_in, 1)
        if ctx.keep_stream and self.shift < 0:
            raise Unsupported("ordered accumulation needs a non-negative weight shift",
                              file=ctx.source, node=op.name, field="metadata.shift")

    def _fan_out(self, op, ctx):
        if ctx.integer:
            weight = getattr(op, "weight", None)
            if weight is not None and not np.all(np.asarray(weight) == np.rint(weight)):
                raise BadInput("integer mode needs integer weights", file=ctx.source,
                               node=op.name, field="weight")
            if isinstance(op, PoolOp) and op.mode == "avg":
                raise Unsupported("average pooling has no integer form: write it as SumPool2d "
                                  "and fold 1/k² into the next weights", file=ctx.source,
                                  node=op.name, field="type")
        return cached_fan_out(op, ctx.dtype)

    def _bias(self, op, ctx):
        bias = getattr(op, "bias", None)
        if bias is None:
            return None
        bias = np.asarray(bias, dtype=np.float64)
        if ctx.integer and not np.all(bias == np.rint(bias)):
            raise BadInput("integer mode needs an integer bias", file=ctx.source, node=op.name,
                           field="bias")
        per_channel = self.n_out // bias.size
        return np.repeat(bias, per_channel).astype(ctx.dtype)

    def _row_bound(self) -> float:
        """Largest |Σ w·x| per unit of input magnitude (for the exact-in-float64 check)."""
        if not self.ctx.integer or self.fan.data.size == 0:
            return 0.0
        return float(self.fan.column_sums_abs().max())

    def step(self, t, x):
        nz, values = C.events(x)
        dense = (not self.ctx.counted_input and not self.ctx.keep_stream
                 and nz.size > DENSE_ABOVE * x.size)
        out = self._dense(x, nz) if dense else self._sparse(x, nz, values)
        if self.bias is not None:
            out = out + self.bias
        return self._apply_shift(out)

    def _apply_shift(self, out):
        if self.shift == 0:
            return out
        if self.ctx.integer:
            return out << self.shift if self.shift > 0 else out >> -self.shift
        return out * (2.0 ** self.shift)

    def _sparse(self, x, nz, values):
        if self.weight_t is not None and not self.ctx.keep_stream:
            return self._sparse_rows(x, nz, values)
        if not self.ctx.keep_stream and nz.size * self.mean_fan_out > SPGEMM_ABOVE:
            return self._sparse_product(nz, values)
        targets, contrib, lens = C.gather(self.fan, nz, values, unit_values=self.ctx.binary_input)
        if self.is_synapse:
            self.synops += int(np.dot(lens, values)) if self.ctx.counted_input else int(lens.sum())
        size = self.ctx.batch * self.n_out
        bound = float(np.abs(values).sum()) * self.fan.max_abs_weight if self.ctx.integer else 0
        out = C.scatter_sum(targets, contrib, size, self.ctx.integer, bound)
        if self.ctx.keep_stream:
            cap = self.ctx.stream_cap
            if cap is not None and values.size and values.max() > cap:
                targets, contrib, _ = C.gather(self.fan, nz, np.minimum(values, cap))
            self.stream = self._stream(targets, contrib)
        return out.reshape(self.ctx.batch, self.n_out)

    def _sparse_product(self, nz, values):
        """Many events: the same propagation as a sparse (events) x sparse (fan-out) product in
        scipy's compiled loop; cost ∝ Σ fan-out of the events."""
        from scipy.sparse import csr_matrix

        fan, batch = self.fan, self.ctx.batch
        b, i = np.divmod(nz, fan.n_in)
        if self.is_synapse:
            lens = self.fan_out[i]
            self.synops += int(np.dot(lens, values)) if self.ctx.counted_input else int(lens.sum())
        indptr = np.zeros(batch + 1, dtype=np.int64)
        np.cumsum(np.bincount(b, minlength=batch), out=indptr[1:])
        events = csr_matrix((values.astype(fan.data.dtype), i, indptr), shape=(batch, fan.n_in))
        return (events @ self._sparse_matrix(fan.data.dtype)).toarray()

    def _sparse_rows(self, x, nz, values):
        """Affine: every input event adds its whole weight column (its fan-out, contiguous in
        ``fan.data``), summed per sample; cost ∝ events × fan-out."""
        n_in, n_out = self.fan.n_in, self.fan.n_out
        out = np.zeros((self.ctx.batch, n_out), dtype=self.ctx.dtype)
        if self.is_synapse:
            self.synops += (int(values.sum()) if self.ctx.counted_input else nz.size) * n_out
        if nz.size == 0:
            return out
        b, i = np.divmod(nz, n_in)
        bounds = np.searchsorted(b, np.arange(self.ctx.batch + 1))
        for sample in np.flatnonzero(bounds[1:] > bounds[:-1]):
            lo, hi = bounds[sample], bounds[sample + 1]
            rows = self.weight_t[i[lo:hi]]  # the fan-outs of this sample's events
            if not self.ctx.binary_input:
                rows = rows * values[lo:hi, None]
            out[sample] = rows.sum(axis=0)  # int64 rows: exact
        return out

    def _stream(self, targets, contrib):
        """This step's deliveries in order (presynaptic ascending, then the bias), shifted."""
        contrib = contrib.astype(np.int64) << self.shift
        if self.bias is None:
            return targets, contrib
        bias_targets = np.arange(self.ctx.batch * self.n_out, dtype=np.int64)
        bias_values = np.tile(self.bias, self.ctx.batch).astype(np.int64) << self.shift
        return np.r_[targets, bias_targets], np.r_[contrib, bias_values]

    def _dense(self, x, nz):
        if self.is_synapse:
            self.synops += int(self.fan_out[nz % self.fan.n_in].sum())
        if self.ctx.integer:
            bound = float(np.abs(x).max()) * self.row_bound
            if bound >= C.EXACT_FLOAT_INT:
                return self._dense_product(x)
            return np.rint(self._dense_product(x.astype(np.float64))).astype(np.int64)
        return self._dense_product(x)

    def _dense_product(self, x):
        """x @ W for an analog, dense input: float64 (BLAS, or scipy for conv/pooling lists);
        an int64 ``x`` (integers too large to be exact in float64) is multiplied in int64."""
        fan = self.fan
        if x.dtype != np.float64:
            if fan.full_rows:
                return x @ self.weight_t
            return self._sparse_matrix(np.int64).T.dot(x.T).T
        if fan.full_rows:
            return x @ self.weight_t.astype(np.float64, copy=False)
        return self._sparse_matrix(np.float64).T.dot(x.T).T

    def _sparse_matrix(self, dtype):
        """The fan-out lists as a scipy CSR matrix (n_in, n_out), built once per dtype."""
        from scipy.sparse import csr_matrix

        key = np.dtype(dtype).str
        if key not in self._matrices:
            fan = self.fan
            self._matrices[key] = csr_matrix((fan.data.astype(dtype), fan.indices, fan.indptr),
                                             shape=(fan.n_in, fan.n_out))
        return self._matrices[key]


_FAN_OUTS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def cached_fan_out(op, dtype) -> C.FanOut:
    """The op's fan-out lists, built once per (op, dtype) and kept as long as the op lives, so
    that simulating the same Program again (batches of an audit, repeated runs) skips the setup."""
    per_op = _FAN_OUTS.setdefault(op, {})
    key = np.dtype(dtype).str
    if key not in per_op:
        build = {AffineOp: C.affine_fan_out, ConvOp: C.conv_fan_out}.get(type(op),
                                                                          C.pool_fan_out)
        per_op[key] = build(op, dtype)
    return per_op[key]


class NeuronKernel(Kernel):
    def __init__(self, op: NeuronOp, ctx):
        super().__init__(op, ctx)
        rec = op.neuron
        state_class = NEURON_STATES.get(type(rec))
        if state_class is None:
            raise Unsupported(f"neuron record {type(rec).__name__} has no event implementation",
                              file=ctx.source, node=op.name, field="neuron")
        if ctx.integer == isinstance(rec, NeuronFloat):
            raise BadInput(f"{type(rec).__name__} in a {'integer' if ctx.integer else 'float'} "
                           "program", file=ctx.source, node=op.name, field="neuron")
        self.state = state_class(rec, ctx.batch)
        self.spiking = bool(self.state.spiking)
        self.ordered = isinstance(rec, BitShiftLIF) and rec.accumulate == "ordered"

    def step(self, t, x):
        return self.state.step(x)

    def step_ordered(self, t, streams):
        return self.state.step_ordered(streams)


NEURON_STATES = {
    NeuronFloat: FloatNeuronState,
    SpeckIAF: SpeckState,
    BitShiftLIF: BitShiftState,
    LoihiCubaLIF: LoihiState,
    Float32LIF: Float32State,
}

KERNELS = {
    InputOp: InputKernel,
    OutputOp: PassKernel,
    FlattenOp: PassKernel,
    ScaleOp: ScaleKernel,
    ThresholdOp: ThresholdKernel,
    DelayOp: DelayKernel,
    AffineOp: ConnectionKernel,
    ConvOp: ConnectionKernel,
    PoolOp: ConnectionKernel,
    NeuronOp: NeuronKernel,
}


def make_kernel(op: Op, ctx: Ctx) -> Kernel:
    kernel_class = KERNELS.get(type(op))
    if kernel_class is None:
        raise Unsupported(f"op {type(op).__name__} has no event implementation", file=ctx.source,
                          node=op.name, field="type")
    return kernel_class(op, ctx)
