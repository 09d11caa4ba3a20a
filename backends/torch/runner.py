"""The time loop of the torch backend: all samples at once, one pass over the ops per step.

Every op's output is kept in a ring buffer as long as its longest outgoing edge delay needs it
(``Edge.delay = d`` reads step ``t - d``; zeros before the start), so recurrent edges and edge
delays cost one indexed read. Weight ops that feed an ``ordered`` BitShiftLIF also keep their
*input* history: that neuron receives their events one by one (`neurons.BitShiftState`).
See docs/equations/torch_exactness.md.
"""
from __future__ import annotations

import time
from typing import Iterable

import numpy as np
import torch

from nirconv.equations.limits import is_unlimited
from nirconv.equations.program import FlattenOp, InputOp, Program
from nirconv.equations.result import SimResult
from nirconv.errors import BadInput, Unsupported

from .exactness import exact_numerics, float32_safe, input_bound, int32_safe, value_bounds
from .kernels import InputKernel, Kernel, NeuronKernel, Setup, WeightKernel, make_kernel
from .synops import SynopCounter

FLOAT_DTYPES = {"float32": torch.float32, "float64": torch.float64, "double": torch.float64,
                "float": torch.float32}


def resolve_device(device) -> torch.device:
    try:
        dev = torch.device(device or "cpu")
    except (RuntimeError, TypeError) as e:
        raise BadInput(f"unknown device {device!r} ({e})", field="device") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise Unsupported("device 'cuda' was asked for but torch sees no CUDA GPU",
                          field="device")
    if dev.type not in ("cpu", "cuda"):
        raise Unsupported(f"device {dev.type!r}: the torch backend runs on cpu or cuda",
                          field="device")
    return dev


def resolve_dtype(dtype) -> torch.dtype:
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype) and dtype in (torch.float32, torch.float64):
        return dtype
    name = getattr(dtype, "__name__", None) or str(dtype)
    name = name.replace("torch.", "").replace("numpy.", "")
    if name in FLOAT_DTYPES:
        return FLOAT_DTYPES[name]
    raise BadInput(f"dtype {dtype!r}: the torch backend computes float mode in float32 or "
                   "float64", field="dtype")


class Plan:
    """The compiled program: kernels, ring buffer lengths, the ordered neurons' event sources."""

    def __init__(self, program: Program, setup: Setup):
        self.program = program
        self.setup = setup
        self.kernels: dict[str, Kernel] = {op.name: make_kernel(op, setup) for op in program.ops}
        self.ordered = {name for name, k in self.kernels.items()
                        if isinstance(k, NeuronKernel) and k.ordered}
        # an input channel delivers at most the ordered neuron's input_event_cap events per step
        self.input_channel = {op.name: _reads_input(program, op) for op in program.ops}
        self.out_len = {op.name: 1 for op in program.ops}
        self.in_len: dict[str, int] = {}
        self.read_directly: set[str] = set()  # ops whose output some consumer sums
        for op in program.ops:
            for e in op.inputs:
                if e.src not in self.kernels:
                    raise BadInput(f"edge from unknown op {e.src!r}", file=program.source,
                                   node=op.name, field="inputs")
                if op.name in self.ordered and isinstance(self.kernels[e.src], WeightKernel):
                    self.in_len[e.src] = max(self.in_len.get(e.src, 1), e.delay + 1)
                else:
                    self.out_len[e.src] = max(self.out_len[e.src], e.delay + 1)
                    self.read_directly.add(e.src)


def _reads_input(program: Program, op) -> bool:
    """Whether every value arriving at ``op`` comes straight from an Input (through reshapes;
    walked with an explicit stack)."""
    stack, seen = [op], set()
    while stack:
        current = stack.pop()
        if not current.inputs:
            return False
        for e in current.inputs:
            src = program.op(e.src)
            if isinstance(src, InputOp):
                continue
            if not isinstance(src, FlattenOp):
                return False
            if src.name not in seen:
                seen.add(src.name)
                stack.append(src)
    return True


def run(program: Program, x, record: Iterable[str] = (), device="cpu", dtype=None,
        progress: bool = False) -> SimResult:
    """Simulate ``program`` on ``x`` ``(T, B, *program.input_shape)``; see the package docstring."""
    start = time.perf_counter()
    dev = resolve_device(device)
    integer = program.mode == "int"
    fdtype = resolve_dtype(None if integer else dtype)
    x = _check_input(program, x)
    record = tuple(record or ())
    names = {op.name for op in program.ops}
    unknown = [r for r in record if r not in names]
    if unknown:
        raise BadInput(f"cannot record {unknown}: no such op in the program",
                       file=program.source, field="record")
    with exact_numerics(integer), torch.inference_mode():
        bounds = ins = None
        if integer:
            bounds = value_bounds(program, float(x.min(initial=0)), float(x.max(initial=0)))
            ins = {op.name: input_bound(program, bounds, op) for op in program.ops}
        setup = Setup(program, dev, integer, fdtype, bounds, ins,
                      int32=integer and int32_safe(program, bounds),
                      float32=integer and float32_safe(program, bounds))
        plan = Plan(program, setup)
        outputs, recorded, spikes, synops = _loop(plan, x, record, progress)
    out_np = {k: _numpy(v, integer) for k, v in outputs.items()}
    rec_np = {k: _numpy(v, integer) for k, v in recorded.items()}
    return SimResult(outputs=out_np, recorded=rec_np,
                     spikes_per_node={k: int(round(float(v))) for k, v in spikes.items()},
                     synops=int(synops), seconds=time.perf_counter() - start, backend="torch",
                     device=str(dev))


def _numpy(trace: torch.Tensor, integer: bool) -> np.ndarray:
    """Integer results are int64 arrays whatever type carried them."""
    if integer:
        trace = trace.to(torch.int64)
    return trace.cpu().numpy()


def _check_input(program: Program, x) -> np.ndarray:
    """The one input (`Program.check_input`): int64 in integer mode, else float64."""
    if len(program.inputs) != 1:
        raise Unsupported(f"{len(program.inputs)} Input nodes; the torch backend takes one",
                          file=program.source, field="inputs")
    return program.check_inputs(x)[program.inputs[0]]


class History:
    """Ring buffers of op outputs (and of the inputs of weight ops that ordered neurons read as
    events): ``read(src, delay, t)`` is the value of step ``t - delay``, zeros before the start."""

    def __init__(self, plan: Plan, batch: int):
        setup, program = plan.setup, plan.program
        self.rings = {n: [None] * length for n, length in plan.out_len.items()}
        self.in_rings = {n: [None] * length for n, length in plan.in_len.items()}
        new = lambda shape: torch.zeros((batch, *shape), dtype=setup.vdtype,  # noqa: E731
                                        device=setup.device)
        self.zeros = {op.name: new(op.out_shape) for op in program.ops}
        self.in_zeros = {n: new(program.op(n).in_shape) for n in plan.in_len}

    def read(self, src: str, delay: int, t: int, inputs: bool = False) -> torch.Tensor:
        rings, empty = (self.in_rings, self.in_zeros) if inputs else (self.rings, self.zeros)
        if t - delay < 0:
            return empty[src]
        ring = rings[src]
        return ring[(t - delay) % len(ring)]

    def store(self, name: str, t: int, value: torch.Tensor, inputs: bool = False) -> None:
        ring = (self.in_rings if inputs else self.rings)[name]
        ring[t % len(ring)] = value


class Loop:
    """One run: every op once per step, in the program's order, for the whole batch."""

    def __init__(self, plan: Plan, x: np.ndarray, record):
        setup, program = plan.setup, plan.program
        self.plan, self.setup, self.program = plan, setup, program
        self.steps, self.batch = x.shape[0], x.shape[1]
        # converted to the carrier step by step (one huge converted copy costs more)
        data = torch.as_tensor(x, device=setup.device)
        for k in plan.kernels.values():
            k.reset(self.batch)
            if isinstance(k, InputKernel):
                k.bind(data)
        self.history = History(plan, self.batch)
        self.keep = set(program.outputs) | set(record)
        # weight ops read only as events by ordered neurons need no output of their own
        self.skip = {n for n in plan.in_len if n not in plan.read_directly and n not in self.keep}
        # integer results are int64 whatever carried them: converted as each step is stored
        self.trace = {n: torch.empty((self.steps, self.batch, *program.op(n).out_shape),
                                     dtype=torch.int64 if setup.integer else setup.vdtype,
                                     device=setup.device) for n in self.keep}
        self.spikes = {n: torch.zeros((), dtype=torch.float64, device=setup.device)
                       for n, k in plan.kernels.items() if k.spiking}
        # a step's spike total in the carrier's own type when that is exact (no float64 copy)
        self.native_sum = {n: _native_sum_exact(setup, self.batch, program.op(n))
                           for n in self.spikes}
        self.synops = SynopCounter(program, setup, self.batch)

    def run(self, progress: bool):
        for t in _steps(self.steps, progress):
            for op in self.program.ops:
                y = self.step_op(op, t)
                if y is not None:
                    self.keep_output(op, t, y.reshape(self.batch, *op.out_shape))
        return ({n: self.trace[n] for n in self.program.outputs}, self.trace, self.spikes,
                self.synops.total())

    def step_op(self, op, t: int):
        kernel = self.plan.kernels[op.name]
        if op.name in self.plan.ordered:
            return kernel.step_events(self.events(op, kernel, t), t)
        if isinstance(kernel, InputKernel):
            return kernel.step(None, t)
        x = self.summed_input(op, t)
        if op.name in self.plan.in_len:
            self.history.store(op.name, t, x, inputs=True)
        self.synops.add(op.name, x)
        return None if op.name in self.skip else kernel.step(x, t)

    def summed_input(self, op, t: int) -> torch.Tensor:
        x = None
        for e in op.inputs:
            v = self.history.read(e.src, e.delay, t).reshape(self.batch, *op.in_shape)
            x = v if x is None else x + v
        if x is None:
            x = torch.zeros((self.batch, *op.in_shape), dtype=self.setup.vdtype,
                            device=self.setup.device)
        return x

    def events(self, op, kernel, t: int) -> list:
        """An ordered neuron's inputs, edge by edge: ("weight", kernel, its input) or
        ("direct", value); an input channel delivers at most the neuron record's
        ``input_event_cap`` events per step (UNLIMITED: no cap)."""
        events = []
        for e in op.inputs:
            src = self.plan.kernels[e.src]
            weight = isinstance(src, WeightKernel)
            value = self.history.read(e.src, e.delay, t, inputs=weight)
            channel = isinstance(src.op, InputOp) or self.plan.input_channel[e.src]
            if channel and not is_unlimited(kernel.input_event_cap):
                value = value.clamp(max=kernel.input_event_cap)
            events.append(("weight", src, value) if weight else ("direct", value))
        return events

    def keep_output(self, op, t: int, y: torch.Tensor) -> None:
        self.history.store(op.name, t, y)
        if op.name in self.keep:
            self.trace[op.name][t] = y
        if op.name in self.spikes:
            if self.native_sum[op.name]:
                self.spikes[op.name] += y.sum()
            else:
                self.spikes[op.name] += y.sum(dtype=torch.float64)


def _native_sum_exact(setup: Setup, batch: int, op) -> bool:
    """Whether one step's sum of ``op``'s output over the batch is exact in the carrier's type:
    always for integer types (torch sums them in int64), for an integer float32 carrier when the
    largest possible sum is below 2**24."""
    if not setup.integer:
        return False
    if not setup.vdtype.is_floating_point:
        return True
    lo, hi = setup.bounds[op.name]
    return batch * int(np.prod(op.out_shape)) * max(-lo, hi) < float(1 << 24)


def _loop(plan: Plan, x: np.ndarray, record, progress):
    """(outputs, recorded, spike totals, synops) of one run."""
    loop = Loop(plan, x, record)
    outputs, traces, spikes, synops = loop.run(progress)
    return outputs, {n: traces[n] for n in record}, spikes, synops


def _steps(steps: int, progress: bool):
    if not progress:
        return range(steps)
    from rich.progress import track
    return track(range(steps), description="torch backend", transient=True)
