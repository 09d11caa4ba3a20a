"""What a simulator runs on: an input array checked against a Program, a static one encoded.

    xs = program.check_input(x, timesteps)     # (T, B, *input_shape), see `simulator_input`

The input is either per step, ``(T, B, *shape)``, or static, ``(B, *shape)`` with ``timesteps``
given; a static input is presented for ``T`` steps as the Program's `InputEncoding` says:

* float programs: the value itself on every step (constant current);
* ``"current"``: ``round_half_even(x / scale)`` clipped to ``bits`` signed (16 when not stated),
  every step;
* ``"rate"``: a deterministic rate code for spike-input chips: with ``r = clip(x / scale, 0,
  max_events)`` events per step (``max_events`` 1 when not stated), step t carries
  ``floor((t + 1) * r) - floor(t * r)`` events;
* ``"spikes"``: the input must already be ``(T, B, ...)`` integer events.

Checked, in this order, each a one-line `BadInput` naming the field (``input`` or ``timesteps``):
a numeric array (bool, int or float; a torch tensor is moved to the CPU), one of the two shapes,
samples and steps present, finite values, whole numbers for a per-step input of an integer
program, and the memory the run needs (`equations.memory`, docs/memory.md). What comes back is
what both simulators take: int64 for an integer program, the input's own dtype for a float one.
"""
from __future__ import annotations

import numbers
from typing import Iterable, Optional

import numpy as np

from ..errors import BadInput
from .memory import require_program
from .records import InputEncoding

NUMERIC_KINDS = "biuf"  # bool, signed and unsigned integers, floats
DEFAULT_BITS = 16  # a "current" encoding that does not state its width
DEFAULT_MAX_EVENTS = 1  # a "rate" encoding that does not state its cap


def encode_static(x: np.ndarray, timesteps: int, encoding: InputEncoding,
                  integer: bool) -> np.ndarray:
    """A static input ``(B, *shape)`` as ``(T, B, *shape)`` (see the module docstring)."""
    x = np.asarray(x)
    if not integer:
        return np.broadcast_to(x, (timesteps, *x.shape)).copy()
    if encoding.kind == "current":
        bits = encoding.bits or DEFAULT_BITS
        q = np.clip(np.rint(x / encoding.scale), -(1 << (bits - 1)),
                    (1 << (bits - 1)) - 1).astype(np.int64)
        return np.broadcast_to(q, (timesteps, *x.shape)).copy()
    if encoding.kind == "rate":
        r = np.clip(x / encoding.scale, 0.0, float(encoding.max_events or DEFAULT_MAX_EVENTS))
        t = np.arange(timesteps + 1).reshape(-1, *([1] * x.ndim))
        cum = np.floor(t * r[None] + 1e-9).astype(np.int64)
        return np.diff(cum, axis=0)
    raise BadInput(f"input_encoding {encoding.kind!r} needs a (T, B, ...) input, not a static one",
                   field="metadata.input_encoding")


def simulator_input(program, x, timesteps: Optional[int] = None,
                    record: Iterable[str] = ()) -> np.ndarray:
    """``x`` checked against ``program`` and, when static, encoded: ``(T, B, *input_shape)``
    (`Program.check_input`; ``record``: the ops whose outputs the run keeps, for the memory
    estimate)."""
    x = _numeric(x)
    timesteps = _steps(timesteps)
    shape = tuple(program.input_shape)
    integer = program.mode == "int"
    static = x.ndim == len(shape) + 1 and x.shape[1:] == shape
    if static:
        if timesteps is None:
            raise BadInput(f"a static input {x.shape} needs timesteps", field="timesteps")
        steps, batch = timesteps, x.shape[0]
    elif x.ndim == len(shape) + 2 and x.shape[2:] == shape:
        if timesteps is not None and timesteps != x.shape[0]:
            raise BadInput(f"input has {x.shape[0]} steps, timesteps says {timesteps}",
                           field="timesteps")
        steps, batch = x.shape[:2]
    else:
        dims = ", ".join(map(str, shape))
        raise BadInput(f"input of shape {x.shape} does not match the graph's input {shape}: "
                       f"expected (B, {dims}) or (T, B, {dims})", field="input")
    _check_values(x, steps, batch, integer and not static)
    require_program(program, steps, batch, record)
    if static:
        x = encode_static(x, steps, program.encoding, integer)
    return x.astype(np.int64, copy=False) if integer else x


def _numeric(x) -> np.ndarray:
    """``x`` as a numeric numpy array (a torch tensor moved to the CPU), else BadInput."""
    if x is None or isinstance(x, (str, bytes, dict)):
        raise BadInput(f"must be a numeric array, is {_describe(x)}", field="input")
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x)
    except Exception as e:  # ragged lists and objects numpy refuses
        raise BadInput(f"is not an array ({type(e).__name__})", field="input") from None
    if arr.dtype.kind not in NUMERIC_KINDS:
        raise BadInput(f"must be numeric (bool, int or float), has dtype {arr.dtype}",
                       field="input")
    if arr.ndim < 1:
        raise BadInput(f"needs at least 1 axes, has shape {arr.shape}", field="input")
    return arr


def _steps(timesteps) -> Optional[int]:
    if timesteps is None:
        return None
    if isinstance(timesteps, (bool, np.bool_)) or not isinstance(timesteps, numbers.Integral) \
            or int(timesteps) < 1:
        raise BadInput(f"must be a positive integer, is {_describe(timesteps)}",
                       field="timesteps")
    return int(timesteps)


def _describe(value) -> str:
    if isinstance(value, (int, float, str, bool, type(None))) or isinstance(value, np.generic):
        text = repr(value)
        return text if len(text) <= 40 else text[:37] + "..."
    return f"a {type(value).__name__}"


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
