"""One kernel per Program op type (registry `KERNELS`), all on flat (B, n) arrays.

A kernel is built once per run (`make_kernel`) and stepped once per time step with the summed input
arriving on its edges. Connections (Affine, Conv, pooling) propagate events over precomputed fan-out
lists (`connections.py`); only an analog, dense input (e.g. the constant current a converted ANN's
first layer receives) takes the dense path.
"""
from __future__ import annotations

from dataclasses import dataclass

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


@dataclass
class Ctx:
    """What a kernel needs to know about its surroundings."""

    batch: int
    integer: bool
    counted_input: bool  # the arriving values are spike counts (all sources spiking)
    binary_input: bool  # the arriving values are 0/1 (one binary source)
    keep_stream: bool  # a consumer accumulates this op's events one by one (Xylo "ordered")
    source: str = "<memory>"

    @property
    def dtype(self):
        return np.int64 if self.integer else np.float64


def _size(shape) -> int:
    return int(np.prod(shape)) if shape else 1


class Kernel:
    spiking = False  # contributes to spikes_per_node
    counted = False  # output values are spike counts
    binary = False  # output values are 0 or 1
    synops = 0

    def __init__(self, op: Op, ctx: Ctx):
        self.op = op
        self.ctx = ctx
        self.n_out = _size(op.out_shape)

    def step(self, t: int, x):
        raise NotImplementedError


class InputKernel(Kernel):
    """The input itself; spike counts when the graph's input encoding says so."""

    def __init__(self, op, ctx):
        super().__init__(op, ctx)
        self.counted = ctx.counted_input

    def step(self, t, x):  # the engine passes the input slice itself
        return x


class PassKernel(Kernel):
    """Flatten, Output and inner pass-throughs: the flat layout is already row-major."""

    def __init__(self, op, ctx):
        super().__init__(op, ctx)
        self.counted = ctx.counted_input
        self.binary = ctx.binary_input

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
    counted = True
    binary = True

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
        self.counted = ctx.counted_input
        self.binary = ctx.binary_input
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
        self.dense_weight = (np.asarray(op.weight).astype(ctx.dtype)
                             if isinstance(op, AffineOp) else None)
        self.counted = isinstance(op, PoolOp) and op.mode == "sum" and ctx.counted_input
        self.row_bound = self._row_bound()
        self.stream = None
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
        if isinstance(op, AffineOp):
            return C.affine_fan_out(op, ctx.dtype)
        if isinstance(op, ConvOp):
            return C.conv_fan_out(op, ctx.dtype)
        return C.pool_fan_out(op, ctx.dtype)

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
        per_out = np.bincount(self.fan.indices, weights=np.abs(self.fan.data).astype(np.float64),
                              minlength=self.fan.n_out)
        return float(per_out.max())

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
        targets, contrib, lens = C.gather(self.fan, nz, values, unit_values=self.ctx.binary_input)
        if self.is_synapse:
            self.synops += int(np.dot(lens, values)) if self.ctx.counted_input else int(lens.sum())
        size = self.ctx.batch * self.n_out
        bound = float(np.abs(values).sum()) * self.fan.max_abs_weight if self.ctx.integer else 0
        out = C.scatter_sum(targets, contrib, size, self.ctx.integer, bound)
        if self.ctx.keep_stream:
            self.stream = self._stream(targets, contrib)
        return out.reshape(self.ctx.batch, self.n_out)

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
        if self.dense_weight is not None:
            w = self.dense_weight if x.dtype == self.dense_weight.dtype else \
                self.dense_weight.astype(x.dtype)
            return x @ w.T
        from scipy.sparse import csr_matrix
        fan = self.fan
        m = csr_matrix((fan.data.astype(x.dtype), fan.indices, fan.indptr),
                       shape=(fan.n_in, fan.n_out))
        return np.asarray((m.T @ x.T).T)


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
        self.spiking = self.counted = bool(self.state.spiking)
        self.binary = self.spiking and not isinstance(rec, (SpeckIAF, BitShiftLIF))
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
