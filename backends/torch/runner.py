"""The time loop of the torch backend: all samples at once, one pass over the ops per step.

Every op's output is kept in a ring buffer as long as its longest outgoing edge delay needs it
(``Edge.delay = d`` reads step ``t - d``; zeros before the start), so recurrent edges and edge
delays cost one indexed read. Weight ops that feed an ``ordered`` BitShiftLIF also keep their
*input* history: that neuron receives their events one by one (`neurons.BitShiftKernel`).
"""
from __future__ import annotations

import time
from typing import Iterable

import numpy as np
import torch

from nirconv.backends.torch.exactness import exact_numerics, input_bound, value_bounds
from nirconv.backends.torch.kernels import KERNELS, Env, InputKernel, Kernel, WeightKernel
from nirconv.backends.torch.neurons import BitShiftKernel, neuron_kernel
from nirconv.backends.torch.synops import SynopCounter
from nirconv.equations.program import FlattenOp, InputOp, NeuronOp, Program
from nirconv.equations.result import SimResult
from nirconv.errors import BadInput, Unsupported

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

    def __init__(self, program: Program, env: Env):
        self.program = program
        self.env = env
        self.kernels: dict[str, Kernel] = {}
        for op in program.ops:
            if isinstance(op, NeuronOp):
                self.kernels[op.name] = neuron_kernel(op, env)
            else:
                cls = KERNELS.get(type(op))
                if cls is None:
                    raise Unsupported(f"op {type(op).__name__} is not supported by the torch "
                                      "backend", file=program.source, node=op.name, field="type")
                self.kernels[op.name] = cls(op, env)
        self.ordered = {name for name, k in self.kernels.items()
                        if isinstance(k, BitShiftKernel) and k.ordered}
        # Xylo: an input channel delivers at most MAX_INPUT_EVENTS events per step
        self.input_channel = {op.name: _reads_input(program, op) for op in program.ops}
        self.out_len = {op.name: 1 for op in program.ops}
        self.in_len: dict[str, int] = {}
        for op in program.ops:
            for e in op.inputs:
                if e.src not in self.kernels:
                    raise BadInput(f"edge from unknown op {e.src!r}", file=program.source,
                                   node=op.name, field="inputs")
                if op.name in self.ordered and isinstance(self.kernels[e.src], WeightKernel):
                    self.in_len[e.src] = max(self.in_len.get(e.src, 1), e.delay + 1)
                else:
                    self.out_len[e.src] = max(self.out_len[e.src], e.delay + 1)


def _reads_input(program: Program, op) -> bool:
    """Whether every value arriving at ``op`` comes straight from an Input (through reshapes)."""
    if not op.inputs:
        return False
    for e in op.inputs:
        src = program.op(e.src)
        if isinstance(src, InputOp):
            continue
        if not (isinstance(src, FlattenOp) and _reads_input(program, src)):
            return False
    return True


def run(program: Program, x, record: Iterable[str] = (), device="cpu", dtype=None,
        progress: bool = False) -> SimResult:
    """Simulate ``program`` on ``x`` ``(T, B, *program.input_shape)``; see the package docstring."""
    start = time.perf_counter()
    dev = resolve_device(device)
    integer = program.mode == "int"
    fdtype = resolve_dtype(None if integer else dtype)
    x = _check_input(program, x, integer)
    record = tuple(record or ())
    names = {op.name for op in program.ops}
    unknown = [r for r in record if r not in names]
    if unknown:
        raise BadInput(f"cannot record {unknown}: no such op in the program",
                       file=program.source, field="record")
    with exact_numerics():
        bounds = ins = None
        if integer:
            bounds = value_bounds(program, float(x.min(initial=0)), float(x.max(initial=0)))
            ins = {op.name: input_bound(program, bounds, op) for op in program.ops}
        env = Env(program, dev, integer, fdtype, bounds, ins)
        plan = Plan(program, env)
        outputs, recorded, spikes, synops = _loop(plan, x, record, progress)
    out_np = {k: v.cpu().numpy() for k, v in outputs.items()}
    rec_np = {k: v.cpu().numpy() for k, v in recorded.items()}
    return SimResult(outputs=out_np, recorded=rec_np,
                     spikes_per_node={k: int(round(float(v))) for k, v in spikes.items()},
                     synops=int(synops), seconds=time.perf_counter() - start, backend="torch",
                     device=str(dev))


def _check_input(program: Program, x, integer: bool) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    shape = tuple(program.input_shape)
    if x.ndim != len(shape) + 2 or tuple(x.shape[2:]) != shape:
        raise BadInput(f"input of shape {x.shape} does not match (T, B, {shape})",
                       file=program.source, field="input")
    if len(program.inputs) != 1:
        raise Unsupported(f"{len(program.inputs)} Input nodes; the torch backend takes one",
                          file=program.source, field="inputs")
    if integer:
        if x.dtype.kind == "f":
            if not np.all(np.isfinite(x)) or not np.all(np.mod(x, 1) == 0):
                raise BadInput("integer mode needs integer inputs", file=program.source,
                               field="input")
        elif x.dtype.kind not in "iub":
            raise BadInput(f"input dtype {x.dtype} is not numeric", field="input")
        return x.astype(np.int64, copy=False)
    if x.dtype.kind not in "fiub":
        raise BadInput(f"input dtype {x.dtype} is not numeric", field="input")
    return x.astype(np.float64, copy=False)


def _loop(plan: Plan, x: np.ndarray, record, progress):
    env, program = plan.env, plan.program
    steps, batch = x.shape[0], x.shape[1]
    data = torch.as_tensor(x, device=env.device).to(env.vdtype)
    for k in plan.kernels.values():
        k.reset(batch)
        if isinstance(k, InputKernel):
            k.bind(data)
    ring = {n: [None] * length for n, length in plan.out_len.items()}
    in_ring = {n: [None] * length for n, length in plan.in_len.items()}
    zeros = {op.name: torch.zeros((batch, *op.out_shape), dtype=env.vdtype, device=env.device)
             for op in program.ops}
    in_zeros = {n: torch.zeros((batch, *program.op(n).in_shape), dtype=env.vdtype,
                               device=env.device) for n in plan.in_len}
    keep = set(program.outputs) | set(record)
    trace = {n: torch.empty((steps, batch, *program.op(n).out_shape), dtype=env.vdtype,
                            device=env.device) for n in keep}
    spiking = [n for n, k in plan.kernels.items() if k.spiking]
    spikes = {n: torch.zeros((), dtype=torch.float64, device=env.device) for n in spiking}
    synops = SynopCounter(program, env)

    def read(src, delay, t, rings, empty):
        return empty[src] if t - delay < 0 else rings[src][(t - delay) % len(rings[src])]

    for t in _steps(steps, progress):
        for op in program.ops:
            kernel = plan.kernels[op.name]
            if op.name in plan.ordered:
                events = []
                for e in op.inputs:
                    src = plan.kernels[e.src]
                    if isinstance(src, WeightKernel):
                        value = read(e.src, e.delay, t, in_ring, in_zeros)
                        channel = plan.input_channel[e.src]
                    else:
                        value = read(e.src, e.delay, t, ring, zeros)
                        channel = isinstance(src.op, InputOp) or plan.input_channel[e.src]
                    if channel:
                        value = value.clamp(max=kernel.MAX_INPUT_EVENTS)
                    events.append(("weight", src, value) if isinstance(src, WeightKernel)
                                  else ("direct", value))
                y = kernel.step_events(events, t)
            else:
                xin = None
                for e in op.inputs:
                    v = read(e.src, e.delay, t, ring, zeros).reshape(batch, *op.in_shape)
                    xin = v if xin is None else xin + v
                if xin is None:
                    xin = torch.zeros((batch, *op.in_shape), dtype=env.vdtype, device=env.device)
                if op.name in plan.in_len:
                    in_ring[op.name][t % plan.in_len[op.name]] = xin
                synops.add(op.name, xin)
                y = kernel.step(xin, t)
            y = y.reshape(batch, *op.out_shape)
            ring[op.name][t % plan.out_len[op.name]] = y
            if op.name in keep:
                trace[op.name][t] = y
            if op.name in spikes:
                spikes[op.name] += y.sum(dtype=torch.float64)
    outputs = {n: trace[n] for n in program.outputs}
    recorded = {n: trace[n] for n in record}
    return outputs, recorded, spikes, synops.total()


def _steps(steps: int, progress: bool):
    if not progress:
        return range(steps)
    from rich.progress import track
    return track(range(steps), description="torch backend", transient=True)
