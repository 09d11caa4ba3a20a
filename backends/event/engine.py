"""The event-driven run loop: a Program, an input (T, B, *shape) -> SimResult.

Ops run in the Program's topological order once per step. Each op's output is kept, flat (B, n), in
a ring buffer as long as its longest outgoing edge delay needs (a recurrent edge with delay d reads
the value of d steps earlier; zeros before the start). Several edges into one op are summed, except
into a neuron that accumulates "ordered" (Xylo), which receives each edge's events one by one, in
the order of its inputs.
"""
from __future__ import annotations

import time

import numpy as np

from nirconv.equations.limits import UNLIMITED, is_unlimited
from nirconv.equations.neurons import Float32LIF, LoihiCubaLIF, NeuronFloat
from nirconv.equations.program import (AffineOp, ConvOp, DelayOp, FlattenOp, InputOp, OutputOp,
                                       PoolOp, Program)
from nirconv.equations.result import SimResult
from nirconv.equations.roles import op_is_spiking
from nirconv.errors import BadInput

from .kernels import NeuronKernel, Setup, make_kernel

STREAMING_INPUTS = ("rate", "spikes")  # integer input encodings whose values are event counts


class _Ring:
    """The last ``length`` per-step values of one op (outputs, or Xylo event streams)."""

    def __init__(self, length: int):
        self.length = length
        self.items = [None] * length

    def put(self, t: int, value) -> None:
        self.items[t % self.length] = value

    def get(self, t: int):
        return self.items[t % self.length] if t >= 0 else None


def _flat_inputs(program: Program, x) -> dict:
    """The checked input per Input op (`Program.check_input`), flat (T, B, n)."""
    return {name: a.reshape(a.shape[0], a.shape[1], -1)
            for name, a in program.check_inputs(x).items()}


class Plan:
    """Kernels, ring buffers and the edge structure for one run."""

    def __init__(self, program: Program, batch: int):
        self.program = program
        ops = {op.name: op for op in program.ops}
        max_delay = {name: 0 for name in ops}
        for op in program.ops:
            for e in op.inputs:
                if e.src not in ops:
                    raise BadInput("edge from a node that is not in the program",
                                   file=program.source, node=op.name, field="inputs")
                max_delay[e.src] = max(max_delay[e.src], int(e.delay))
        self.from_input = reads_input(program)
        setup = make_setup(program, batch, self.from_input)
        self.setup = setup
        self.kernels = {op.name: make_kernel(op, setup) for op in program.ops}
        self.rings = {name: _Ring(max_delay[name] + 1) for name in ops}
        self.streams = {name: _Ring(max_delay[name] + 1) for name in setup.stream_caps}
        self.batch = batch
        self.dtype = setup.dtype


def make_setup(program: Program, batch: int, from_input: dict) -> Setup:
    """The run's `Setup`: value kinds per op, and the delivery caps of the weight ops that feed
    an "ordered" (Xylo) neuron."""
    counted, binary = value_kinds(program)
    ops = {op.name: op for op in program.ops}
    stream_caps: dict = {}
    for op in program.ops:
        if not _is_ordered_neuron(op):
            continue
        for e in op.inputs:
            feeder = ops[e.src]
            if not isinstance(feeder, (AffineOp, ConvOp, PoolOp)):
                continue
            cap = delivery_cap(op, reads_input_channel(feeder, from_input))
            stream_caps.setdefault(e.src, set()).add(cap)
    return Setup(program=program, batch=batch, integer=program.mode == "int", counted=counted,
                 binary=binary, stream_caps=stream_caps)


def reads_input_channel(op, from_input: dict) -> bool:
    """Every value arriving at ``op`` comes straight from an Input (through Flatten)."""
    return bool(op.inputs) and all(from_input[e.src] for e in op.inputs)


def delivery_cap(neuron_op, reads_input_channel: bool):
    """Events per input element and step an ordered neuron takes from a source: its record's
    ``input_event_cap`` for an input channel (a value straight from the Input), else UNLIMITED."""
    return neuron_op.neuron.input_event_cap if reads_input_channel else UNLIMITED


PASS_THROUGH = (FlattenOp, OutputOp, DelayOp)


def _spike_output(op) -> tuple[bool, bool]:
    """(spike counts?, 0/1?) of an op's own output, from its type alone."""
    if not op_is_spiking(op):
        return False, False
    rec = getattr(op, "neuron", None)
    if rec is None:  # a Threshold
        return True, True
    if isinstance(rec, NeuronFloat):
        return True, rec.max_spikes == 1
    return True, isinstance(rec, (LoihiCubaLIF, Float32LIF))  # Speck, BitShiftLIF: counts


def value_kinds(program: Program) -> tuple[dict, dict]:
    """Which ops output spike counts, and which 0/1 values (for SynOps and the unit-weight
    shortcut). Spiking ops by type; Flatten, Output, Delay and SumPool pass their inputs' kind on
    (a fixed point, so cycles through them resolve); the Input of an integer graph whose
    ``input_encoding`` is "rate" or "spikes" carries counts; everything else is analog."""
    streaming = program.mode == "int" and program.encoding.kind in STREAMING_INPUTS
    counted, binary = {}, {}
    passing = []
    for op in program.ops:
        if isinstance(op, InputOp):
            counted[op.name], binary[op.name] = streaming, False
        elif isinstance(op, PASS_THROUGH) or (isinstance(op, PoolOp) and op.mode == "sum"):
            counted[op.name] = binary[op.name] = True  # refined below
            passing.append(op)
        else:
            counted[op.name], binary[op.name] = _spike_output(op)
    changed = True
    while changed:
        changed = False
        for op in passing:
            srcs = [e.src for e in op.inputs]
            c = bool(srcs) and all(counted[s] for s in srcs)
            b = (len(srcs) == 1 and binary[srcs[0]] and not isinstance(op, PoolOp))
            if (c, b) != (counted[op.name], binary[op.name]):
                counted[op.name], binary[op.name], changed = c, b, True
    return counted, binary


def reads_input(program: Program) -> dict:
    """Ops whose values come straight from an Input (through Flatten): Xylo's input channels."""
    out = {}
    for op in program.ops:
        if isinstance(op, InputOp):
            out[op.name] = True
        else:
            out[op.name] = (isinstance(op, FlattenOp) and bool(op.inputs)
                            and all(out.get(e.src, False) for e in op.inputs))
    return out


def _is_ordered_neuron(op) -> bool:
    rec = getattr(op, "neuron", None)
    return getattr(rec, "accumulate", None) == "ordered"


def _summed_input(plan: Plan, op, t: int):
    total = None
    for e in op.inputs:
        value = plan.rings[e.src].get(t - e.delay)
        if value is not None:
            total = value if total is None else total + value
    return total if total is not None else _zeros_like_input(plan, op)


def _zeros_like_input(plan: Plan, op):
    n_in = int(np.prod(op.in_shape)) if op.in_shape else 1
    return np.zeros((plan.batch, n_in), dtype=plan.dtype)


def _ordered_streams(plan: Plan, op, t: int) -> list:
    """Each edge's deliveries at step t, in the neuron's input order."""
    streams = []
    for e in op.inputs:
        if e.src in plan.streams:
            delivered = plan.streams[e.src].get(t - e.delay)
            cap = delivery_cap(op, reads_input_channel(plan.kernels[e.src].op, plan.from_input))
            stream = None if delivered is None else delivered[cap]
        else:  # a non-weight source: each non-zero value is one delivery
            value = plan.rings[e.src].get(t - e.delay)
            stream = None
            if value is not None:
                cap = delivery_cap(op, plan.from_input[e.src])
                if not is_unlimited(cap):
                    value = np.minimum(value, cap)
                flat = value.reshape(-1)
                nz = np.flatnonzero(flat)
                stream = (nz, flat[nz])
        if stream is not None:
            streams.append(stream)
    return streams


def _progress(enabled: bool, total: int):
    if not enabled:
        return None
    from rich.progress import Progress
    bar = Progress(transient=True)
    bar.start()
    bar.add_task("simulating (event)", total=total)
    return bar


def run(program: Program, x, record=(), dtype=None, progress=False) -> SimResult:
    """Simulate ``program`` on ``x`` ``(T, B, *input_shape)`` (or a dict per input op)."""
    start = time.perf_counter()
    arrays = _flat_inputs(program, x)
    steps, batch = next(iter(arrays.values())).shape[:2]
    names = {op.name for op in program.ops}
    unknown = [r for r in record if r not in names]
    if unknown:
        raise BadInput(f"cannot record unknown node(s) {', '.join(unknown)}", file=program.source,
                       field="record")
    plan = Plan(program, batch)
    keep = set(program.outputs) | set(record)
    traces = {name: None for name in keep}
    spikes = {name: 0 for name, k in plan.kernels.items() if k.spiking}
    bar = _progress(progress, steps)
    try:
        for t in range(steps):
            _step(plan, arrays, t, traces, spikes, steps)
            if bar is not None:
                bar.advance(bar.task_ids[0])
    finally:
        if bar is not None:
            bar.stop()
    return _result(program, plan, traces, spikes, batch, dtype, time.perf_counter() - start)


def _step(plan: Plan, arrays: dict, t: int, traces: dict, spikes: dict, steps: int) -> None:
    for op in plan.program.ops:
        kernel = plan.kernels[op.name]
        if isinstance(op, InputOp):
            out = arrays[op.name][t]
        elif isinstance(kernel, NeuronKernel) and kernel.ordered:
            out = kernel.step_ordered(_ordered_streams(plan, op, t), t)
        else:
            out = kernel.step(_summed_input(plan, op, t), t)
        plan.rings[op.name].put(t, out)
        if op.name in plan.streams:
            plan.streams[op.name].put(t, kernel.streams)
        if op.name in spikes:
            spikes[op.name] += int(out.sum())
        if op.name in traces:
            if traces[op.name] is None:
                traces[op.name] = np.zeros((steps, *out.shape), dtype=out.dtype)
            traces[op.name][t] = out


def _result(program, plan, traces, spikes, batch, dtype, seconds) -> SimResult:
    def shaped(name):
        op = program.op(name)
        arr = traces[name].reshape(traces[name].shape[0], batch, *op.out_shape)
        return _cast(arr, dtype, program.mode)

    synops = sum(k.synops for k in plan.kernels.values())
    outputs = {name: shaped(name) for name in program.outputs}
    recorded = {name: shaped(name) for name in traces if name in plan.kernels}
    return SimResult(outputs=outputs, recorded=recorded, spikes_per_node=spikes,
                     synops=int(synops), seconds=seconds, backend="event", device="cpu")


def _cast(arr: np.ndarray, dtype, mode: str) -> np.ndarray:
    """Float mode computes in float64; ``dtype`` (numpy or torch) only casts the result."""
    if dtype is None or mode == "int":
        return arr
    if hasattr(dtype, "is_floating_point"):  # a torch dtype, without importing torch
        dtype = str(dtype).replace("torch.", "")
    return arr.astype(np.dtype(dtype))
