"""`nirconv.simulate`: NIR graph (or file) + input -> per-step output, on either backend.

Checks the options (`nirconv.arguments`), loads and lowers the graph (`nirconv.reading`), checks
the input (numeric, finite, samples and steps present, the shape) and the memory the run needs
(`equations.memory`, docs/memory.md), encodes a static input (`equations.encoding`) and hands the
Program to ``nirconv.backends.event`` or ``nirconv.backends.torch`` (imported lazily). Both return
a `SimResult`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from . import arguments
from .equations.encoding import encode_static
from .equations.memory import require_program
from .equations.program import Program
from .equations.result import SimResult
from .errors import BadInput, Unsupported
from .reading import lower

BACKENDS = ("event", "torch")
MODES = ("auto", "float", "int")
RESETS = ("zero", "subtract")
FLOAT_DTYPES = ("float32", "float64")


def to_program(graph, *, mode="auto", dialect="auto", dt=None, reset=None) -> Program:
    """A Program from a path, a NIRGraph or a Program (returned as is)."""
    if isinstance(graph, Program):
        return graph
    graph = arguments.nir_graph(graph, "graph")
    dt = arguments.optional_positive_float(dt, "dt")
    source = "<memory>"
    if isinstance(graph, Path):
        from .nir_io import load
        source = str(graph)
        graph = load(graph, dialect=dialect)
    if dialect == "auto":
        dialect = str((graph.metadata or {}).get("dialect", "auto"))
    return lower(graph, mode=mode, dialect=dialect, dt=dt, reset=reset, source=source)


def prepare_input(program: Program, x, timesteps: Optional[int], record=()) -> np.ndarray:
    """(T, B, *shape) array for the program: shapes and values checked, the memory the run needs
    checked against what is available (`equations.memory`), then static inputs encoded."""
    x = arguments.numeric_array(x, "input", nonempty_axis0=False, finite=False)
    timesteps = arguments.optional_positive_int(timesteps, "timesteps")
    shape = tuple(program.input_shape)
    integer = program.mode == "int"
    static = x.ndim == len(shape) + 1 and x.shape[1:] == shape
    if static:  # (B, *shape)
        if timesteps is None:
            raise BadInput(f"a static input {x.shape} needs timesteps", field="timesteps")
        steps, batch = timesteps, x.shape[0]
    elif x.ndim == len(shape) + 2 and x.shape[2:] == shape:
        if timesteps is not None and timesteps != x.shape[0]:
            raise BadInput(f"input has {x.shape[0]} steps, timesteps says {timesteps}",
                           field="timesteps")
        steps, batch = x.shape[:2]
    else:
        raise BadInput(f"input of shape {x.shape} does not match the graph's input "
                       f"{shape}: expected (B, {', '.join(map(str, shape))}) or "
                       f"(T, B, {', '.join(map(str, shape))})", field="input")
    _check_values(x, steps, batch, integer and not static)
    require_program(program, steps, batch, record)
    if static:
        x = encode_static(x, steps, program.metadata, integer)
    return x.astype(np.int64, copy=False) if integer else x


def _check_values(x: np.ndarray, steps: int, batch: int, integer_steps: bool) -> None:
    """Samples and steps present, values finite; ``integer_steps``: a per-step input of an integer
    program must hold integers (a static one is encoded from floats)."""
    if batch == 0:
        raise BadInput(f"input of shape {x.shape} has no samples (batch 0)", field="input")
    if steps == 0:
        raise BadInput(f"input of shape {x.shape} has no steps (T = 0)", field="input")
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        raise BadInput("input contains NaN or infinite values", field="input")
    if integer_steps and x.dtype.kind == "f" and not np.all(np.equal(np.mod(x, 1), 0)):
        raise BadInput("integer mode needs integer inputs (spike counts or integer "
                       "currents)", field="input")


def run_program(program: Program, x: np.ndarray, *, backend="event", device="cpu", dtype=None,
                record=(), progress=False) -> SimResult:
    if backend == "event":
        if device is not None and str(device) != "cpu":
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


def check_options(backend, device, mode, dtype, dialect, dt, reset, record):
    """The simulation options, checked before any work: (dtype, dt, reset, record) as used."""
    import torch

    from .reading import dialects

    arguments.choice(backend, BACKENDS, "backend")
    arguments.choice(mode, MODES, "mode")
    if not (device is None or isinstance(device, (str, torch.device))):
        raise BadInput(f"must be 'cpu' or 'cuda', is a {type(device).__name__}", field="device")
    if arguments.choice(dialect, ("auto",) + dialects.NAMES, "dialect") != "auto":
        dialects.get(dialect)  # Unsupported when the peer's module is not installed
    auto = reset is None or (isinstance(reset, str) and reset == "auto")
    reset = None if auto else arguments.choice(reset, RESETS, "reset")
    if isinstance(record, str) or not all(isinstance(r, str) for r in _iterable(record)):
        raise BadInput("must be a list of node names", field="record")
    return (float_dtype(dtype), arguments.optional_positive_float(dt, "dt"), reset,
            tuple(record or ()))


def _iterable(value):
    try:
        return list(value or ())
    except TypeError:
        raise BadInput("must be a list of node names", field="record") from None


def float_dtype(dtype):
    """``dtype`` when it names float32 or float64 (torch, numpy or a string), else BadInput."""
    if dtype is None:
        return None
    name = getattr(dtype, "__name__", None) or str(dtype)
    if name.replace("torch.", "").replace("numpy.", "") not in FLOAT_DTYPES:
        raise BadInput(f"must be float32 or float64, is {arguments.describe(dtype)}",
                       field="dtype")
    return dtype


def simulate(graph, x, timesteps=None, backend="event", device="cpu", mode="auto", dtype=None,
             dialect="auto", dt=None, reset=None, record=(), full=False, progress=False):
    """Simulate; returns the output as a torch tensor ``(T, B, n)`` (``full=True``: SimResult)."""
    import torch

    dtype, dt, reset, record = check_options(backend, device, mode, dtype, dialect, dt, reset,
                                             record)
    program = to_program(graph, mode=mode, dialect=dialect, dt=dt, reset=reset)
    xs = prepare_input(program, x, timesteps, record)
    result = run_program(program, xs, backend=backend, device=device, dtype=dtype, record=record,
                         progress=progress)
    result = default_float_dtype(result, program, dtype)
    if full:
        return result
    out = result.output
    return out if isinstance(out, torch.Tensor) else torch.from_numpy(np.asarray(out))
