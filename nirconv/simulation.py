"""`nirconv.simulate`: NIR graph (or file) + input -> per-step output, on either backend.

Checks the options (`nirconv.arguments`), reads the graph (`nirconv.reading.to_program`), checks
and encodes the input (`Program.check_input`: shape, values, the memory the run needs,
docs/memory.md) and hands the Program to ``nirconv.backends.event`` or ``nirconv.backends.torch``
(imported lazily). Both return a `SimResult`.
"""
from __future__ import annotations

import numpy as np

from . import arguments
from .equations.program import Program
from .equations.result import SimResult
from .errors import BadInput, Unsupported
from .reading import to_program

BACKENDS = ("event", "torch")
MODES = ("auto", "float", "int")
RESETS = ("zero", "subtract")
FLOAT_DTYPES = ("float32", "float64")


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
    xs = program.check_input(x, timesteps, record=record)
    result = run_program(program, xs, backend=backend, device=device, dtype=dtype, record=record,
                         progress=progress)
    result = default_float_dtype(result, program, dtype)
    if full:
        return result
    out = result.output
    return out if isinstance(out, torch.Tensor) else torch.from_numpy(np.asarray(out))
