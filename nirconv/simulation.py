"""`nirconv.simulate`: NIR graph (or file) + input -> per-step output, on either backend.

Loads and lowers the graph (`nirconv.lowering`), encodes a static input (`equations.encoding`),
checks the input's shape, and hands the Program to ``nirconv.backends.event`` or
``nirconv.backends.torch`` (imported lazily). Both return a `SimResult`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from .equations.encoding import encode_static
from .equations.program import Program
from .equations.result import SimResult
from .errors import BadInput, Unsupported
from .lowering import lower

BACKENDS = ("event", "torch")


def to_program(graph, *, mode="auto", dialect="auto", dt=None, reset=None) -> Program:
    """A Program from a path, a NIRGraph or a Program (returned as is)."""
    if isinstance(graph, Program):
        return graph
    source = "<memory>"
    if isinstance(graph, (str, Path)):
        from .nir_io import load
        source = str(graph)
        graph = load(graph, dialect=dialect)
    if dialect == "auto":
        dialect = str((graph.metadata or {}).get("dialect", "auto"))
    return lower(graph, mode=mode, dialect=dialect, dt=dt, reset=reset, source=source)


def prepare_input(program: Program, x, timesteps: Optional[int]) -> np.ndarray:
    """(T, B, *shape) array for the program: static inputs are encoded, shapes checked."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    shape = tuple(program.input_shape)
    integer = program.mode == "int"
    if x.shape[1:] == shape and x.ndim == len(shape) + 1:  # static (B, *shape)
        if timesteps is None:
            raise BadInput(f"a static input {x.shape} needs timesteps", field="timesteps")
        x = encode_static(x, int(timesteps), program.metadata, integer)
    elif x.ndim == len(shape) + 2 and x.shape[2:] == shape:
        if timesteps is not None and int(timesteps) != x.shape[0]:
            raise BadInput(f"input has {x.shape[0]} steps, timesteps says {timesteps}",
                           field="timesteps")
    else:
        raise BadInput(f"input of shape {x.shape} does not match the graph's input "
                       f"{shape}: expected (B, {', '.join(map(str, shape))}) or "
                       f"(T, B, {', '.join(map(str, shape))})", field="input")
    if not np.all(np.isfinite(x)):
        raise BadInput("input contains NaN or infinite values", field="input")
    if integer:
        if not np.all(np.equal(np.mod(x, 1), 0)):
            raise BadInput("integer mode needs integer inputs (spike counts or integer "
                           "currents)", field="input")
        x = x.astype(np.int64)
    return x


def run_program(program: Program, x: np.ndarray, *, backend="event", device="cpu", dtype=None,
                record=(), progress=False) -> SimResult:
    if backend == "event":
        if device not in ("cpu", None):
            raise Unsupported("the event backend runs on the CPU only", field="device")
        from .backends.event import run
        return run(program, x, record=record, dtype=dtype, progress=progress)
    if backend == "torch":
        from .backends.torch import run
        return run(program, x, record=record, device=device or "cpu", dtype=dtype,
                   progress=progress)
    raise BadInput(f"unknown backend {backend!r}; choose event or torch", field="backend")


def default_float_dtype(result: SimResult, program: Program, dtype) -> SimResult:
    """Float mode returns float32 unless a dtype was asked for (contract: float64 for the
    reference on request); the event backend computes in float64 either way."""
    if program.mode != "float" or dtype is not None:
        return result
    cast = lambda a: a.astype(np.float32) if isinstance(a, np.ndarray) else a.float()  # noqa: E731
    result.outputs = {k: cast(v) for k, v in result.outputs.items()}
    result.recorded = {k: cast(v) for k, v in result.recorded.items()}
    return result


def simulate(graph, x, timesteps=None, backend="event", device="cpu", mode="auto", dtype=None,
             dialect="auto", dt=None, reset=None, record=(), full=False, progress=False):
    """Simulate; returns the output as a torch tensor ``(T, B, n)`` (``full=True``: SimResult)."""
    import torch

    program = to_program(graph, mode=mode, dialect=dialect, dt=dt, reset=reset)
    xs = prepare_input(program, x, timesteps)
    result = run_program(program, xs, backend=backend, device=device, dtype=dtype, record=record,
                         progress=progress)
    result = default_float_dtype(result, program, dtype)
    if full:
        return result
    out = result.output
    return out if isinstance(out, torch.Tensor) else torch.from_numpy(np.asarray(out))
