"""One kernel per Program op type (registry `KERNELS`), all on flat (B, n) arrays.

A kernel is built once per run (`make_kernel(op, setup)`) and stepped once per time step,
``step(x, t)``, with the summed input arriving on its edges. Weight ops (Affine, Conv) and pooling
propagate events over precomputed fan-out lists (`connections.py`); only an analog, dense input
(e.g. the constant current a converted ANN's first layer receives) takes the dense path. A neuron
op's kernel holds the mutable `State` of its population (`make_state`, ``int_neurons.py`` and
``float_neurons.py``). See docs/equations/event.md.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np

from nirconv.equations.limits import UNLIMITED
from nirconv.equations.neurons import (BitShiftLIF, Float32LIF, LoihiCubaLIF, NeuronFloat,
                                       SpeckIAF)
from nirconv.equations.program import (AffineOp, ConvOp, DelayOp, FlattenOp, InputOp, NeuronOp,
                                       Op, OutputOp, PoolOp, Program, ScaleOp, ThresholdOp)
from nirconv.errors import BadInput, Unsupported

from . import connections as C
from .float_neurons import FloatState
from .int_neurons import BitShiftState, Float32State, LoihiState, SpeckState

DENSE_ABOVE = 0.25  # analog inputs denser than this take the dense path (spikes never do)
STENCIL_PATH = True  # conv/pooling events over the per-tap stencil (False: the fan-out lists)


@dataclass
class Setup:
    """The settings of one run, and what the engine found out about the Program's values."""

    program: Program
    batch: int
    integer: bool
    counted: dict = field(default_factory=dict)  # op name -> its output is spike counts
    binary: dict = field(default_factory=dict)  # op name -> its output is 0/1
    # weight/pool op name -> the caps (events per input element per step, UNLIMITED: none) of
    # the streams its "ordered" (Xylo) consumers read, one stream per cap
    stream_caps: dict = field(default_factory=dict)

    @property
    def source(self) -> str:
        return self.program.source

    @property
    def dtype(self):
        return np.int64 if self.integer else np.float64

    def counted_input(self, op: Op) -> bool:
        """The values arriving at ``op`` are spike counts (all its sources spiking)."""
        return bool(op.inputs) and all(self.counted.get(e.src, False) for e in op.inputs)

    def binary_input(self, op: Op) -> bool:
        """The values arriving at ``op`` are 0/1 (one binary source)."""
        return len(op.inputs) == 1 and self.binary.get(op.inputs[0].src, False)


def _size(shape) -> int:
    return int(np.prod(shape)) if shape else 1


class Kernel:
    spiking = False  # contributes to spikes_per_node
    synops = 0

    def __init__(self, op: Op, setup: Setup):
        self.op = op
        self.setup = setup
        self.n_out = _size(op.out_shape)

    def step(self, x, t: int):
        raise NotImplementedError


class InputKernel(Kernel):
    """The input itself (the engine passes the step's slice)."""

    def step(self, x, t):
        return x


class PassKernel(Kernel):
    """Flatten, Output and inner pass-throughs: the flat layout is already row-major."""

    def step(self, x, t):
        return x


class ScaleKernel(Kernel):
    def __init__(self, op: ScaleOp, setup):
        super().__init__(op, setup)
        scale = np.broadcast_to(np.asarray(op.scale, dtype=np.float64), op.in_shape).reshape(-1)
        if setup.integer:
            if not np.all(scale == np.rint(scale)):
                raise Unsupported("integer mode needs an integer Scale", file=setup.source,
                                  node=op.name, field="scale")
            scale = scale.astype(np.int64)
        self.scale = scale

    def step(self, x, t):
        return x * self.scale


class ThresholdKernel(Kernel):
    spiking = True

    def __init__(self, op: ThresholdOp, setup):
        super().__init__(op, setup)
        self.threshold = np.broadcast_to(np.asarray(op.threshold, dtype=np.float64),
                                         op.in_shape).reshape(-1)
        self.greater_equal = op.compare == ">="

    def step(self, x, t):
        s = x >= self.threshold if self.greater_equal else x > self.threshold
        return s.astype(self.setup.dtype)


class DelayKernel(Kernel):
    """y_t = x_{t - steps} per element, from a ring buffer of the last max(steps)+1 inputs."""

    def __init__(self, op: DelayOp, setup):
        super().__init__(op, setup)
        self.steps = np.broadcast_to(np.asarray(op.steps, dtype=np.int64), op.in_shape).reshape(-1)
        self.length = int(self.steps.max(initial=0)) + 1
        self.ring = np.zeros((self.length, setup.batch, self.n_out), dtype=setup.dtype)
        self.cols = np.arange(self.n_out)

    def step(self, x, t):
        self.ring[t % self.length] = x
        src = t - self.steps
        out = self.ring[src % self.length, :, self.cols].T
        return np.where(src >= 0, out, 0).astype(self.setup.dtype)


class WeightKernel(Kernel):
    """Affine, Conv1d/Conv2d (and, as `PoolKernel`, pooling): events over a precomputed fan-out
    list."""

    is_synapse = True  # counted in SynOps (pooling is routing, not synapses)

    def __init__(self, op, setup):
        super().__init__(op, setup)
        self.counted_input = setup.counted_input(op)
        self.binary_input = setup.binary_input(op)
        self.stream_caps = tuple(setup.stream_caps.get(op.name, ()))
        self.keep_stream = bool(self.stream_caps)
        self.fan = self._fan_out(op, setup)
        self.fan_out = self.fan.fan_out
        self.stencil = (None if self.keep_stream or self.fan.full_rows
                        else cached_connection(op, setup.dtype, "stencil"))
        self.shift = int(getattr(op, "shift", 0))
        self.bias = self._bias(op, setup)
        self.weight_t = (self.fan.data.reshape(self.fan.n_in, self.fan.n_out)
                         if self.fan.full_rows else None)  # (n_in, n_out) view
        self.row_bound = self._row_bound()
        self.streams = {}  # cap -> this step's deliveries (ordered consumers only)
        self._matrices: dict = {}
        self.work = C.Workspace()
        if self.keep_stream and self.shift < 0:
            raise Unsupported("ordered accumulation needs a non-negative weight shift",
                              file=setup.source, node=op.name, field="metadata.shift")

    def _fan_out(self, op, setup):
        if setup.integer:
            weight = getattr(op, "weight", None)
            if weight is not None and not np.all(np.asarray(weight) == np.rint(weight)):
                raise BadInput("integer mode needs integer weights", file=setup.source,
                               node=op.name, field="weight")
            if isinstance(op, PoolOp) and op.mode == "avg":
                raise Unsupported("average pooling has no integer form: write it as SumPool2d "
                                  "and fold 1/k² into the next weights", file=setup.source,
                                  node=op.name, field="type")
        return cached_connection(op, setup.dtype, "fan_out")

    def _bias(self, op, setup):
        bias = getattr(op, "bias", None)
        if bias is None:
            return None
        bias = np.asarray(bias, dtype=np.float64)
        if setup.integer and not np.all(bias == np.rint(bias)):
            raise BadInput("integer mode needs an integer bias", file=setup.source, node=op.name,
                           field="bias")
        per_channel = self.n_out // bias.size
        return np.repeat(bias, per_channel).astype(setup.dtype)

    def _row_bound(self) -> float:
        """Largest |Σ w·x| per unit of input magnitude (for the exact-in-float64 check)."""
        if not self.setup.integer or self.fan.data.size == 0:
            return 0.0
        return float(self.fan.column_sums_abs().max())

    def step(self, x, t):
        nz, values = C.events(x, self.work)
        dense = (not self.counted_input and not self.keep_stream
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
        if self.setup.integer:
            return out << self.shift if self.shift > 0 else out >> -self.shift
        return out * (2.0 ** self.shift)

    def _count_synops(self, nz, values):
        if not self.is_synapse:
            return
        if self.fan.full_rows:  # every input reaches all n_out outputs
            events = int(values.sum()) if self.counted_input else nz.size
            self.synops += events * self.fan.n_out
            return
        lens = self.fan_out[nz % self.fan.n_in]
        self.synops += int(np.dot(lens, values)) if self.counted_input else int(lens.sum())

    def _sparse(self, x, nz, values):
        self._count_synops(nz, values)
        if self.keep_stream:
            return self._sparse_lists(nz, values)
        if self.weight_t is not None:
            return self._sparse_rows(nz, values)
        if self.stencil is not None and STENCIL_PATH:
            return C.stencil_sum(self.stencil, nz, values, self.setup.batch, self.bias, self.work)
        return self._sparse_lists(nz, values)

    def _sparse_lists(self, nz, values):
        """Events over the fan-out lists: gather each event's list, scatter-add (`bincount`); with
        a consumer that accumulates "ordered" (Xylo) the gathered deliveries are its stream."""
        targets, contrib, _ = C.gather(self.fan, nz, values, unit_values=self.binary_input)
        size = self.setup.batch * self.n_out
        bound = float(np.abs(values).sum()) * self.fan.max_abs_weight if self.setup.integer else 0
        out = C.scatter_sum(targets, contrib, size, self.setup.integer, bound)
        if self.keep_stream:
            self.streams = {cap: self._capped_stream(targets, contrib, nz, values, cap)
                            for cap in self.stream_caps}
        return self._add_bias(out.reshape(self.setup.batch, self.n_out))

    def _sparse_rows(self, nz, values):
        """Affine: every input event adds its whole weight column (its fan-out, contiguous in
        ``fan.data``) to its sample's output, all samples' events in one compiled loop (a sparse
        (samples x inputs) x dense product). The events run by input index, so the samples that
        share an input read its weights once from memory; per output they still add in ascending
        input order. Cost ∝ events × fan-out."""
        b, i = np.divmod(nz, self.fan.n_in)
        if self.setup.batch > 1:
            by_input = np.argsort(i, kind="stable")
            b, i, values = b[by_input], i[by_input], values[by_input]
        values = values.astype(self.weight_t.dtype, copy=False)
        out = np.zeros((self.setup.batch, self.fan.n_out), dtype=self.weight_t.dtype)
        return self._add_bias(C.rows_times_table(b, i, values, self.weight_t, out))

    def _capped_stream(self, targets, contrib, nz, values, cap):
        """The stream of a consumer that takes at most ``cap`` events per input element."""
        if values.size and values.max() > cap:  # (never with cap = UNLIMITED)
            targets, contrib, _ = C.gather(self.fan, nz, np.minimum(values, cap))
        return self._stream(targets, contrib)

    def _stream(self, targets, contrib):
        """This step's deliveries in order (presynaptic ascending, then the bias), shifted."""
        contrib = contrib.astype(np.int64) << self.shift
        if self.bias is None:
            return targets, contrib
        bias_targets = np.arange(self.setup.batch * self.n_out, dtype=np.int64)
        bias_values = np.tile(self.bias, self.setup.batch).astype(np.int64) << self.shift
        return np.r_[targets, bias_targets], np.r_[contrib, bias_values]

    def _dense(self, x, nz):
        if self.is_synapse:
            self.synops += int(self.fan_out[nz % self.fan.n_in].sum())
        return self._add_bias(self._dense_sums(x))

    def _dense_sums(self, x):
        if self.setup.integer:
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


class PoolKernel(WeightKernel):
    """SumPool/AvgPool: the same event propagation, weights 1 (or 1/k²)."""

    is_synapse = False


class NeuronKernel(Kernel):
    """A neuron population: its `State`, stepped with the summed input (or, for an "ordered"
    BitShiftLIF, with each edge's deliveries in order: `step_ordered`)."""

    def __init__(self, op: NeuronOp, setup):
        super().__init__(op, setup)
        self.state = make_state(op, setup)
        self.spiking = bool(self.state.spiking)
        rec = op.neuron
        self.ordered = isinstance(rec, BitShiftLIF) and rec.accumulate == "ordered"
        self.input_event_cap = rec.input_event_cap if self.ordered else UNLIMITED

    def step(self, x, t):
        return self.state.step(x)

    def step_ordered(self, streams, t):
        return self.state.step_ordered(streams)


STATES = {
    NeuronFloat: FloatState,
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
    AffineOp: WeightKernel,
    ConvOp: WeightKernel,
    PoolOp: PoolKernel,
    NeuronOp: NeuronKernel,
}


def make_kernel(op: Op, setup: Setup) -> Kernel:
    kernel_class = KERNELS.get(type(op))
    if kernel_class is None:
        raise Unsupported(f"op {type(op).__name__} has no event implementation",
                          file=setup.source, node=op.name, field="type")
    return kernel_class(op, setup)


def make_state(op: NeuronOp, setup: Setup):
    """The per-run `State` of a neuron op's population (one per record type, `STATES`)."""
    rec = op.neuron
    state_class = STATES.get(type(rec))
    if state_class is None:
        raise Unsupported(f"neuron record {type(rec).__name__} has no event implementation",
                          file=setup.source, node=op.name, field="neuron")
    if setup.integer == isinstance(rec, NeuronFloat):
        raise BadInput(f"{type(rec).__name__} in a {'integer' if setup.integer else 'float'} "
                       "program", file=setup.source, node=op.name, field="neuron")
    return state_class(rec, setup.batch)
