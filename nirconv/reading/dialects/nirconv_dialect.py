"""The nirconv dialect: how nirconv writes and reads NIR (forward Euler, reset from metadata).

Per step, with x_t the summed input (see NeuronFloat for the update order)::

    I       : v_t = v_{t-1} + r x_t                                   (dt-free, as norse's IAF)
    IF      : v_t = v_{t-1} + r x_t;  spike, reset                   (dt-free)
    LI/LIF  : v_t = v_{t-1} + dt/tau (v_leak - v_{t-1} + r x_t)      (forward Euler)
    CubaLI/CubaLIF:
              i_t = i_{t-1} + dt/tau_syn (-i_{t-1} + w_in x_t)
              v_t = v_{t-1} + dt/tau_mem (v_leak - v_{t-1} + r i_t)

Node metadata read: ``reset`` ("subtract" | "zero", default "zero" as NIR states), ``compare``
(">=" | ">", default ">" as NIR states), ``v_init`` (initial membrane, default 0). Leaky models need
``dt``; IF and I do not. The switches of `NeuronFloat` that other tools' conventions need, when a
graph of ours carries such a neuron (written by ``nirconv/writing``): ``current_delay`` (bool,
default false), ``reset_after_decay`` (bool, default true), ``max_spikes`` (whole number or inf,
default 1), ``v_min`` (lower bound of v, default none).
"""
from __future__ import annotations

import nir
import numpy as np

from ...equations.limits import as_limit
from ...equations.neurons import NeuronFloat
from ...errors import BadInput, NirconvError
from ._common import param

_SPIKING = (nir.IF, nir.LIF, nir.CubaLIF)


def _meta_array(node_or_meta, key, shape, default, ctx=None):
    meta = node_or_meta if isinstance(node_or_meta, dict) else (node_or_meta.metadata or {})
    value = meta.get(key, default)
    try:
        return np.broadcast_to(np.asarray(value, dtype=np.float64), shape).copy()
    except (TypeError, ValueError):
        raise BadInput(f"must be a number or an array of shape {tuple(shape)}",
                       file=None if ctx is None else ctx.source,
                       node=None if ctx is None else ctx.name, field=f"metadata.{key}") from None


def _needs_dt(ctx, dt):
    if dt is None:
        raise BadInput("leaky neurons need dt: none in the graph metadata; pass --dt (seconds) or "
                       "a dialect that fixes it", file=ctx.source, node=ctx.name, field="dt")
    return dt


def _flag(meta, key, default: bool, ctx) -> bool:
    value = meta.get(key, default)
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer))
                                               and value in (0, 1)):
        return bool(value)
    raise BadInput(f"must be true or false, is {value!r}", file=ctx.source, node=ctx.name,
                   field=f"metadata.{key}")


def _switches(meta, shape, ctx) -> dict:
    """The NeuronFloat switches a graph of ours may carry (see the module docstring)."""
    out = {}
    if "current_delay" in meta:
        out["current_delay"] = _flag(meta, "current_delay", False, ctx)
    if "reset_after_decay" in meta:
        out["reset_after_decay"] = _flag(meta, "reset_after_decay", True, ctx)
    if "max_spikes" in meta:
        try:
            out["max_spikes"] = as_limit(np.asarray(meta["max_spikes"]).ravel()[0].item())
        except (ValueError, IndexError):
            raise BadInput(f"must be a whole number or inf, is {meta['max_spikes']!r}",
                           file=ctx.source, node=ctx.name, field="metadata.max_spikes") from None
    if "v_min" in meta:
        out["v_min"] = _meta_array({"v_min": meta["v_min"]}, "v_min", shape, 0.0, ctx)
    return out


def build_record(ctx, **fields) -> NeuronFloat:
    """A NeuronFloat; its own validation errors name this file and node."""
    try:
        return NeuronFloat(**fields)
    except NirconvError as e:
        raise e.at(file=ctx.source, node=ctx.name) from None


class NirconvDialect:
    name = "nirconv"
    default_dt = None

    def neuron(self, node, ctx, shape, dt, reset_override=None) -> NeuronFloat:
        meta = node.metadata or {}
        ones = np.ones(shape)
        zeros = np.zeros(shape)
        kw = {}
        if isinstance(node, (nir.I, nir.IF)):
            alpha, beta, bias = ones, param(node, ctx, "r", shape), zeros
        elif isinstance(node, (nir.LI, nir.LIF)):
            k = _needs_dt(ctx, dt) / param(node, ctx, "tau", shape)
            alpha, beta = 1.0 - k, k * param(node, ctx, "r", shape)
            bias = k * param(node, ctx, "v_leak", shape)
        else:  # CubaLI, CubaLIF
            k_syn = _needs_dt(ctx, dt) / param(node, ctx, "tau_syn", shape)
            k = dt / param(node, ctx, "tau_mem", shape)
            kw = dict(alpha_syn=1.0 - k_syn, beta_syn=k_syn * param(node, ctx, "w_in", shape, 1.0))
            alpha, beta = 1.0 - k, k * param(node, ctx, "r", shape)
            bias = k * param(node, ctx, "v_leak", shape)
        spiking = isinstance(node, _SPIKING)
        reset = reset_override or str(meta.get("reset", "zero"))
        if reset not in ("subtract", "zero"):
            raise BadInput(f"reset must be 'subtract' or 'zero', is {reset!r}", file=ctx.source,
                           node=ctx.name, field="metadata.reset")
        compare = str(meta.get("compare", ">"))
        if compare not in (">", ">="):
            raise BadInput(f"compare must be '>' or '>=', is {compare!r}", file=ctx.source,
                           node=ctx.name, field="metadata.compare")
        kw.update(_switches(meta, shape, ctx))
        return build_record(ctx,
            shape=tuple(shape), alpha_mem=alpha, beta_mem=beta, bias=bias,
            v_threshold=param(node, ctx, "v_threshold", shape) if spiking else None,
            v_reset=param(node, ctx, "v_reset", shape, 0.0) if spiking else zeros,
            v_init=_meta_array(node, "v_init", shape, 0.0), reset=reset, compare=compare,
            model=type(node).__name__, **kw)


DIALECT = NirconvDialect()
