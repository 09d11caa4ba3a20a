"""Helpers the peer dialects share: parameters as arrays of the node's shape, checks that name
the node and field, the reset switch. (nirconv's own dialect keeps its helpers to itself.)"""
from __future__ import annotations

import numpy as np

from ...errors import BadInput, Unsupported
from ..ops import array

RESETS = ("subtract", "zero")


def param(node, ctx, field, shape, default=None) -> np.ndarray:
    """``node.field`` as a float64 array broadcast to ``shape`` (``default`` when absent/None)."""
    if getattr(node, field, None) is None:
        if default is None:
            raise BadInput("missing", file=ctx.source, node=ctx.name, field=field)
        return np.full(shape, float(default))
    value = array(ctx, node, field)
    try:
        return np.broadcast_to(value, shape).astype(np.float64).copy()
    except ValueError:
        raise BadInput(f"has shape {value.shape}, the node has shape {shape}", file=ctx.source,
                       node=ctx.name, field=field) from None


def positive(values, ctx, field) -> np.ndarray:
    if np.any(values <= 0):
        raise BadInput("must be positive", file=ctx.source, node=ctx.name, field=field)
    return values


def require(node, ctx, field, shape, expected: float, dialect: str, why: str) -> None:
    """Refuse a field whose value the tool's reader does not use (rather than drop it)."""
    if getattr(node, field, None) is None:
        return
    values = param(node, ctx, field, shape)
    if not np.allclose(values, expected):
        raise Unsupported(f"the {dialect} dialect reads {field} = {expected:g} only ({why}); "
                          f"found {float(np.mean(values)):g} on average: read this file with "
                          "--dialect nirconv", file=ctx.source, node=ctx.name, field=field)


def reset_mode(reset_override, default: str, ctx) -> str:
    reset = reset_override or default
    if reset not in RESETS:
        raise BadInput(f"reset must be 'subtract' or 'zero', is {reset!r}", file=ctx.source,
                       node=ctx.name, field="reset")
    return reset


def need_dt(dt, ctx, dialect: str):
    if dt is None:
        raise BadInput(f"leaky neurons need dt: none in the graph metadata, and {dialect} files do "
                       "not state it; pass --dt (seconds)", file=ctx.source, node=ctx.name,
                       field="dt")
    return float(dt)


def v_init(node, shape) -> np.ndarray:
    value = (node.metadata or {}).get("v_init", 0.0)
    return np.broadcast_to(np.asarray(value, dtype=np.float64), shape).copy()
