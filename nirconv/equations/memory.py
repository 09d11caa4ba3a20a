"""How much memory a simulation needs, checked before anything is materialized (docs/memory.md).

    require(program_bytes(program, timesteps, batch, record))   # BadInput with both figures

Every simulation goes through here first: `Program.check_input` (the facade's and the
CLI's `simulate`, the audit's float and deployed runs, either backend, float or integer) and the
converted network's forward (`SpikingNetwork`, ``snn(x, timesteps=T)``, and the calibration).
The estimate counts values of ``itemsize`` bytes (8: float64/int64, what the simulators compute in):

* input:   T x B x input size, twice (the encoded array and the simulator's own copy);
* outputs: T x B x (every Output op + every recorded op), twice (the result and its cast);
* state:   B x (sum over ops of the op's size x (`STATE_ARRAYS` + its ring buffer for edge delays
  and Delay ops)).

What is available: the environment variable ``NIRCONV_MEMORY_LIMIT`` (bytes) when set, else
MemAvailable from /proc/meminfo, else ``SC_PAGE_SIZE x SC_AVPHYS_PAGES``; with no figure at all the
check is skipped. Nothing here imports a simulator.
"""
from __future__ import annotations

import os
from typing import Iterable, Optional

import numpy as np

from ..errors import BadInput

LIMIT_ENV = "NIRCONV_MEMORY_LIMIT"
ITEMSIZE = 8
STATE_ARRAYS = 4  # membrane, synaptic current, spikes and a temporary, per neuron and sample
HINT = "lower timesteps or the batch"


def available_bytes() -> Optional[int]:
    """Bytes this process may still allocate: ``NIRCONV_MEMORY_LIMIT``, MemAvailable, or None."""
    limit = os.environ.get(LIMIT_ENV)
    if limit is not None and limit.strip():
        try:
            value = int(float(limit))
        except (ValueError, OverflowError):
            value = -1
        if value < 0:
            raise BadInput(f"must be a number of bytes >= 0, is {limit!r}", field=LIMIT_ENV)
        return value
    return _meminfo_available() or _sysconf_available()


def _meminfo_available() -> Optional[int]:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # the kernel writes kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def _sysconf_available() -> Optional[int]:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_AVPHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def sequence_bytes(timesteps: int, batch: int, per_step: int, state: int = 0,
                   itemsize: int = ITEMSIZE) -> int:
    """``itemsize x (T x B x per_step + B x state)``: values kept for every step, and per sample."""
    return int(itemsize) * (int(timesteps) * int(batch) * int(per_step) + int(batch) * int(state))


def program_bytes(program, timesteps: int, batch: int, record: Iterable[str] = ()) -> int:
    """The estimate above for a `Program` run for ``timesteps`` steps on ``batch`` samples."""
    sizes = {op.name: _size(op.out_shape) for op in program.ops}
    kept = set(program.outputs) | set(record or ())
    per_step = 2 * _size(program.input_shape) + 2 * sum(sizes.get(n, 0) for n in kept)
    rings = _ring_lengths(program)
    state = sum(size * (STATE_ARRAYS + rings[name]) for name, size in sizes.items())
    return sequence_bytes(timesteps, batch, per_step, state)


def _ring_lengths(program) -> dict:
    """Per op, how many past steps of its output the simulators keep (edge delays, Delay ops)."""
    rings = {op.name: 1 for op in program.ops}
    for op in program.ops:
        for edge in op.inputs:
            if edge.src in rings:
                rings[edge.src] = max(rings[edge.src], int(edge.delay) + 1)
        steps = getattr(op, "steps", None)
        if steps is not None:
            rings[op.name] = max(rings[op.name], int(np.max(steps, initial=0)) + 1)
    return rings


def _size(shape) -> int:
    return int(np.prod(tuple(shape), dtype=np.float64)) if shape is not None else 0


def require(need: int, field: str = "timesteps", hint: str = HINT) -> None:
    """Raise BadInput naming ``field`` with both figures when ``need`` bytes are not available."""
    have = available_bytes()
    if have is None or need <= have:
        return
    raise BadInput(f"this simulation needs about {human_bytes(need)}, {human_bytes(have)} are "
                   f"available ({hint})", field=field)


def require_program(program, timesteps: int, batch: int, record: Iterable[str] = (),
                    field: str = "timesteps") -> None:
    require(program_bytes(program, timesteps, batch, record), field=field)


def human_bytes(n: float) -> str:
    """1000-based units with one decimal: ``80.0 GB``."""
    n = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
