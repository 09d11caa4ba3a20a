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
STENCIL_PATH = True  # conv/pooling events over the per-tap stencil (False: the fan-out lists)


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
        self.stencil = (None if ctx.keep_stream or self.fan.full_rows
                        else cached_connection(op, ctx.dtype, "stencil"))
        self.shift = int(getattr(op, "shift", 0))
        self.bias = self._bias(op, ctx)
        self.weight_t = (self.fan.data.reshape(self.fan.n_in, self.fan.n_out)
                         if self.fan.full_rows else None)  # (n_in, n_out) view
        self.row_bound = self._row_bound()
        self.stream = None
        self._matrices: dict = {}
        self.work = C.Workspace()
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
        return cached_connection(op, ctx.dtype, "fan_out")

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
        nz, values = C.events(x, self.work)
        dense = (not self.ctx.counted_input and not self.ctx.keep_stream
                 and nz.size > DENSE_ABOVE * x.size)
        out = self._dense(x, nz) if dense else self._sparse(x, nz, values)
        return self._apply_shift(out)

    def _add_bias(self, out):
        """The connection's sums plus its bias (``out`` is this step's own new array)."""
        if self.bias is not None:
            out += self.bias
        return out

    def _apply_shift(self, out):
        if self.shift == 0:
            return out
        if self.ctx.integer:
            return out << self.shift if self.shift > 0 else out >> -self.shift
        return out * (2.0 ** self.shift)

    def _count_synops(self, nz, values):
        if not self.is_synapse:
            return
        if self.fan.full_rows:  # every input reaches all n_out outputs
            events = int(values.sum()) if self.ctx.counted_input else nz.size
            self.synops += events * self.fan.n_out
            return
        lens = self.fan_out[nz % self.fan.n_in]
        self.synops += int(np.dot(lens, values)) if self.ctx.counted_input else int(lens.sum())

    def _sparse(self, x, nz, values):
        self._count_synops(nz, values)
        if self.ctx.keep_stream:
            return self._sparse_lists(nz, values)
        if self.weight_t is not None:
            return self._sparse_rows(nz, values)
        if self.stencil is not None and STENCIL_PATH:
            return C.stencil_sum(self.stencil, nz, values, self.ctx.batch, self.bias, self.work)
        return self._sparse_lists(nz, values)

    def _sparse_lists(self, nz, values):
        """Events over the fan-out lists: gather each event's list, scatter-add (`bincount`); with
        a consumer that accumulates "ordered" (Xylo) the gathered deliveries are its stream."""
        targets, contrib, _ = C.gather(self.fan, nz, values, unit_values=self.ctx.binary_input)
        size = self.ctx.batch * self.n_out
        bound = float(np.abs(values).sum()) * self.fan.max_abs_weight if self.ctx.integer else 0
        out = C.scatter_sum(targets, contrib, size, self.ctx.integer, bound)
        if self.ctx.keep_stream:
            cap = self.ctx.stream_cap
            if cap is not None and values.size and values.max() > cap:
                targets, contrib, _ = C.gather(self.fan, nz, np.minimum(values, cap))
            self.stream = self._stream(targets, contrib)
        return self._add_bias(out.reshape(self.ctx.batch, self.n_out))

    def _sparse_rows(self, nz, values):
        """Affine: every input event adds its whole weight column (its fan-out, contiguous in
        ``fan.data``) to its sample's output, all samples' events in one compiled loop (a sparse
        (samples x inputs) x dense product). The events run by input index, so the samples that
        share an input read its weights once from memory; per output they still add in ascending
        input order. Cost ∝ events × fan-out."""
        b, i = np.divmod(nz, self.fan.n_in)
        if self.ctx.batch > 1:
            by_input = np.argsort(i, kind="stable")
            b, i, values = b[by_input], i[by_input], values[by_input]
        values = values.astype(self.weight_t.dtype, copy=False)
        out = np.zeros((self.ctx.batch, self.fan.n_out), dtype=self.weight_t.dtype)
        return self._add_bias(C.rows_times_table(b, i, values, self.weight_t, out))

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
        return self._add_bias(self._dense_sums(x))

    def _dense_sums(self, x):
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


def cached_connection(op, dtype, form: str):
    """The op's fan-out lists (``form`` "fan_out") or stencil ("stencil", conv and pooling), built
    once per (op, dtype, form) and kept as long as the op lives, so that simulating the same
    Program again (batches of an audit, repeated runs) skips the setup."""
    per_op = _FAN_OUTS.setdefault(op, {})
    key = (np.dtype(dtype).str, form)
    if key not in per_op:
        per_op[key] = BUILDERS[form][type(op)](op, dtype)
    return per_op[key]


BUILDERS = {
    "fan_out": {AffineOp: C.affine_fan_out, ConvOp: C.conv_fan_out, PoolOp: C.pool_fan_out},
    "stencil": {ConvOp: C.conv_stencil, PoolOp: C.pool_stencil},
}


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
