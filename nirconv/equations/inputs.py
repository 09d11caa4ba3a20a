"""The simulator input contract, checked once for both backends (`Program.check_inputs`).

A simulator takes, per Input op, an array ``(T, B, *op.out_shape)`` (one array when the Program has
one Input, else a dict keyed by Input name); all inputs share ``(T, B)``. Float programs take finite
numbers (computed in float64 by the event backend, in the run's float dtype by the torch backend);
integer programs take whole numbers (int64). Anything else is a one-line `BadInput` naming the
file, the Input node and the field ``input`` (docs/equations/event.md, "Output").
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from nirconv.errors import BadInput


def _as_array(x) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _by_name(program, x) -> dict:
    if isinstance(x, Mapping):
        missing = [n for n in program.inputs if n not in x]
        if missing:
            raise BadInput(f"no input array for {', '.join(missing)}", file=program.source,
                           field="input")
        return {n: _as_array(x[n]) for n in program.inputs}
    if len(program.inputs) != 1:
        raise BadInput(f"the graph has {len(program.inputs)} inputs; pass a dict of arrays",
                       file=program.source, field="input")
    return {program.inputs[0]: _as_array(x)}


def _checked(program, name: str, x: np.ndarray) -> np.ndarray:
    where = dict(file=program.source, node=name, field="input")
    shape = tuple(program.op(name).out_shape)
    if x.ndim != len(shape) + 2 or tuple(x.shape[2:]) != shape:
        raise BadInput(f"input of shape {x.shape} does not match (T, B, "
                       f"{', '.join(map(str, shape))})", **where)
    if x.dtype.kind not in "fiub":
        raise BadInput(f"input dtype {x.dtype} is not numeric", **where)
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        raise BadInput("input contains NaN or infinite values", **where)
    if program.mode == "int":
        if x.dtype.kind == "f" and not np.all(x == np.rint(x)):
            raise BadInput("integer mode needs integer inputs", **where)
        return x.astype(np.int64, copy=False)
    return x.astype(np.float64, copy=False)


def check_inputs(program, x) -> dict[str, np.ndarray]:
    """Per Input op name, its checked input ``(T, B, *shape)``: int64 (integer programs) or
    float64 (float programs). ``x`` is an array (or tensor), or a dict of them per Input."""
    arrays = {name: _checked(program, name, a) for name, a in _by_name(program, x).items()}
    steps_batch = {tuple(a.shape[:2]) for a in arrays.values()}
    if len(steps_batch) > 1:
        raise BadInput("inputs disagree on (T, B)", file=program.source, field="input")
    return arrays
