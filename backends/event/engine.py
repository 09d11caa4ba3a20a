"""The event-driven run loop: a Program, an input (T, B, *shape) -> SimResult.

Ops run in the Program's topological order once per step. Each op's output is kept, flat (B, n), in
a ring buffer as long as its longest outgoing edge delay needs (a recurrent edge with delay d reads
the value of d steps earlier; zeros before the start). Several edges into one op are summed, except
into a neuron that accumulates "ordered" (Xylo), which receives each edge's events one by one, in
the order of its inputs.
"""
from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from nirconv.equations.neurons import BitShiftLIF, Float32LIF, LoihiCubaLIF, NeuronFloat
from nirconv.equations.program import (DelayOp, FlattenOp, InputOp, NeuronOp, OutputOp, PoolOp,
                                       Program, ThresholdOp)
from nirconv.equations.result import SimResult
from nirconv.errors import BadInput

from .kernels import ConnectionKernel, Ctx, NeuronKernel, make_kernel

STREAMING_INPUTS = ("rate", "spikes")  # integer input encodings whose values are event counts
XYLO_INPUT_EVENTS = 15  # BitShiftLIF docstring: an input channel's count above 15 counts as 15


class _Ring:
    """The last ``length`` per-step values of one op (outputs, or Xylo event streams)."""

    def __init__(self, length: int):
        self.length = length
        self.items = [None] * length

    def put(self, t: int, value) -> None:
        self.items[t % self.length] = value

    def get(self, t: int):
        return self.items[t % self.length] if t >= 0 else None


def _inputs_by_name(program: Program, x) -> dict:
    if isinstance(x, Mapping):
        missing = [n for n in program.inputs if n not in x]
        if missing:
            raise BadInput(f"no input array for {', '.join(missing)}", file=program.source,
                           field="input")
        return {n: np.asarray(x[n]) for n in program.inputs}
    if len(program.inputs) != 1:
        raise BadInput(f"the graph has {len(program.inputs)} inputs; pass a dict of arrays",
                       file=program.source, field="input")
    return {program.inputs[0]: np.asarray(x)}


def _check_input(program: Program, name: str, x: np.ndarray, steps_batch) -> np.ndarray:
    shape = tuple(program.op(name).out_shape)
    if x.ndim != len(shape) + 2 or tuple(x.shape[2:]) != shape:
        raise BadInput(f"input of shape {x.shape} does not match (T, B, "
                       f"{', '.join(map(str, shape))})", file=program.source, node=name,
                       field="input")
    if steps_batch is not None and tuple(x.shape[:2]) != steps_batch:
        raise BadInput("inputs disagree on (T, B)", file=program.source, node=name, field="input")
    if program.mode == "int":
        if not np.issubdtype(x.dtype, np.integer):
            if not np.all(np.isfinite(x)) or not np.all(x == np.rint(x)):
                raise BadInput("integer mode needs integer inputs", file=program.source,
                               node=name, field="input")
        return x.astype(np.int64).reshape(x.shape[0], x.shape[1], -1)
    if not np.all(np.isfinite(x)):
        raise BadInput("input contains NaN or infinite values", file=program.source, node=name,
                       field="input")
    return x.astype(np.float64).reshape(x.shape[0], x.shape[1], -1)


class _Plan:
    """Kernels, ring buffers and the edge structure for one run."""

    def __init__(self, program: Program, batch: int):
        self.program = program
        integer = program.mode == "int"
        ops = {op.name: op for op in program.ops}
        ordered_feeders = set()
        max_delay = {name: 0 for name in ops}
        for op in program.ops:
            for e in op.inputs:
                if e.src not in ops:
                    raise BadInput("edge from a node that is not in the program",
                                   file=program.source, node=op.name, field="inputs")
                max_delay[e.src] = max(max_delay[e.src], int(e.delay))
        for op in program.ops:
            if _is_ordered_neuron(op):
                ordered_feeders.update(e.src for e in op.inputs)
        counted, binary = value_kinds(program)
        self.from_input = reads_input(program)
        self.kernels: dict = {}
        for op in program.ops:
            srcs = [e.src for e in op.inputs]
            ordered_feeder = op.name in ordered_feeders
            ctx = Ctx(batch=batch, integer=integer,
                      counted_input=bool(srcs) and all(counted[s] for s in srcs),
                      binary_input=len(srcs) == 1 and binary[srcs[0]],
                      keep_stream=ordered_feeder, source=program.source,
                      stream_cap=(XYLO_INPUT_EVENTS if ordered_feeder and srcs
                                  and all(self.from_input[s] for s in srcs) else None))
            self.kernels[op.name] = make_kernel(op, ctx)
        self.ordered_feeders = ordered_feeders
        self.rings = {name: _Ring(max_delay[name] + 1) for name in ops}
        self.streams = {name: _Ring(max_delay[name] + 1) for name in ordered_feeders}
        self.batch = batch
        self.dtype = np.int64 if integer else np.float64


PASS_THROUGH = (FlattenOp, OutputOp, DelayOp)


def _spike_output(op) -> tuple[bool, bool]:
    """(spike counts?, 0/1?) of an op's own output, from its type alone."""
    if isinstance(op, ThresholdOp):
        return True, True
    if isinstance(op, NeuronOp):
        rec = op.neuron
        if isinstance(rec, NeuronFloat):
            return rec.spiking, rec.spiking and rec.max_spikes == 1
        if isinstance(rec, (LoihiCubaLIF, BitShiftLIF)):
            spiking = (rec.vth if isinstance(rec, LoihiCubaLIF) else rec.threshold) is not None
            return spiking, spiking and isinstance(rec, LoihiCubaLIF)
        return True, isinstance(rec, Float32LIF)  # SpeckIAF: multi-spike counts
    return False, False


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


def _summed_input(plan: _Plan, op, t: int):
    total = None
    for e in op.inputs:
        value = plan.rings[e.src].get(t - e.delay)
        if value is not None:
            total = value if total is None else total + value
    return total if total is not None else _zeros_like_input(plan, op)


def _zeros_like_input(plan: _Plan, op):
    n_in = int(np.prod(op.in_shape)) if op.in_shape else 1
    return np.zeros((plan.batch, n_in), dtype=plan.dtype)


def _ordered_streams(plan: _Plan, op, t: int) -> list:
    """Each edge's deliveries at step t, in the neuron's input order."""
    streams = []
    for e in op.inputs:
        if e.src in plan.streams and isinstance(plan.kernels[e.src], ConnectionKernel):
            stream = plan.streams[e.src].get(t - e.delay)
        else:  # a non-weight source: each non-zero value is one delivery
            value = plan.rings[e.src].get(t - e.delay)
            stream = None
            if value is not None:
                if plan.from_input[e.src]:  # Xylo: an input channel delivers at most 15 events
                    value = np.minimum(value, XYLO_INPUT_EVENTS)
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
    arrays = _inputs_by_name(program, x)
    steps_batch = None
    for name in list(arrays):
        arrays[name] = _check_input(program, name, arrays[name], steps_batch)
        steps_batch = tuple(arrays[name].shape[:2])
    steps, batch = steps_batch
    names = {op.name for op in program.ops}
    unknown = [r for r in record if r not in names]
    if unknown:
        raise BadInput(f"cannot record unknown node(s) {', '.join(unknown)}", file=program.source,
                       field="record")
    plan = _Plan(program, batch)
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


def _step(plan: _Plan, arrays: dict, t: int, traces: dict, spikes: dict, steps: int) -> None:
    for op in plan.program.ops:
        kernel = plan.kernels[op.name]
        if isinstance(op, InputOp):
            out = arrays[op.name][t]
        elif isinstance(kernel, NeuronKernel) and kernel.ordered:
            out = kernel.step_ordered(t, _ordered_streams(plan, op, t))
        else:
            out = kernel.step(t, _summed_input(plan, op, t))
        plan.rings[op.name].put(t, out)
        if op.name in plan.streams:
            plan.streams[op.name].put(t, kernel.stream)
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
