"""Program ops -> NIR nodes, one builder per op type (`BUILDERS`), for float and integer programs.

Float neurons (`NeuronFloat`) are written in nirconv's dialect, the inverse of
``reading/dialects/nirconv_dialect.py``: IF/I integrate ``r·x`` per step; LIF/LI/CubaLI/CubaLIF are
forward Euler with ``dt`` (``tau = dt / (1 - alpha)``, ``r = beta / (1 - alpha)``, ``v_leak = bias /
(1 - alpha)``; synapse ``tau_syn = dt / (1 - alpha_syn)``, ``w_in = beta_syn / (1 - alpha_syn)``).
What NIR fields cannot say is node metadata: ``reset``, ``compare``, ``v_init``, ``threshold``, and
the dialect switches ``current_delay``, ``reset_after_decay``, ``max_spikes``, ``v_min`` when they
differ from nirconv's defaults (docs/equations/dialects.md).
"""
from __future__ import annotations

from typing import Callable

import nir
import numpy as np

from ..equations.limits import UNLIMITED
from ..equations.neurons import NeuronFloat
from ..equations.program import (AffineOp, ConvOp, DelayOp, FlattenOp, InputOp, NeuronOp, Op,
                                 OutputOp, PoolOp, Program, ScaleOp, ThresholdOp)
from ..errors import Unsupported


def compact(value):
    """A scalar when every element is equal (files stay small), else the float64 array."""
    a = np.asarray(value)
    if a.size and np.all(a == a.reshape(-1)[0]):
        v = a.reshape(-1)[0]
        return v.item() if hasattr(v, "item") else v
    return a


def channel_compact(value, shape) -> object:
    """One value per channel (first axis) when constant within each channel, else as `compact`.
    A vector of one value per channel (``(C,)`` for a ``(C, ...)`` neuron) is per channel."""
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 1 and len(shape) > 1 and a.size == shape[0]:
        a = a.reshape((a.size,) + (1,) * (len(shape) - 1))
    a = np.broadcast_to(a, shape)
    if a.ndim > 1:
        rows = a.reshape(a.shape[0], -1)
        if np.all(rows == rows[:, :1]):
            return compact(rows[:, 0])
    return compact(a)


def _full(value, shape) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=np.float64), shape).copy()


def info_metadata(op: Op) -> dict:
    """Node metadata an op's OpInfo holds (module path, pooling flag, pass-through keys)."""
    meta = dict(op.info.extra)
    if op.info.module:
        meta["module"] = op.info.module
    if op.info.pooling:
        meta["pooling"] = "sum"
    return meta


# ---------------------------------------------------------------- structure and weights

def _input(op: InputOp, program: Program):
    return nir.Input(input_type={"input": np.array(op.out_shape)})


def _output(op: OutputOp, program: Program):
    return nir.Output(output_type={"output": np.array(op.out_shape)})


def affine_node(op: AffineOp, program: Program, weight=None, bias=None):
    weight = np.asarray(op.weight if weight is None else weight)
    bias = op.bias if bias is None else bias
    if op.info.nir_type == "Linear" and (bias is None or not np.any(np.asarray(bias) != 0)):
        return nir.Linear(weight=weight.copy())
    b = np.zeros(weight.shape[0]) if bias is None else np.asarray(bias)
    return nir.Affine(weight=weight.copy(), bias=np.broadcast_to(b, (weight.shape[0],)).copy())


def conv_node(op: ConvOp, program: Program, weight=None, bias=None):
    weight = np.asarray(op.weight if weight is None else weight)
    bias = op.bias if bias is None else bias
    b = np.zeros(weight.shape[0]) if bias is None else np.broadcast_to(
        np.asarray(bias), (weight.shape[0],)).copy()
    if weight.ndim == 3:
        return nir.Conv1d(input_shape=int(op.in_shape[1]), weight=weight.copy(),
                          stride=int(op.stride[0]), padding=int(op.padding[0]),
                          dilation=int(op.dilation[0]), groups=int(op.groups), bias=b)
    return nir.Conv2d(input_shape=tuple(int(s) for s in op.in_shape[1:]), weight=weight.copy(),
                      stride=tuple(op.stride), padding=tuple(op.padding),
                      dilation=tuple(op.dilation), groups=int(op.groups), bias=b)


def _pool(op: PoolOp, program: Program):
    cls = nir.SumPool2d if op.mode == "sum" else nir.AvgPool2d
    return cls(kernel_size=np.array(op.kernel), stride=np.array(op.stride),
               padding=np.array(op.padding))


def _flatten(op: FlattenOp, program: Program):
    """A reshape; written with negative dims so that it means the same with and without a batch
    axis (nir's batch-free type check, norse/Sinabs' torch Flatten on batched tensors)."""
    shape = tuple(op.in_shape)
    if tuple(op.out_shape) == shape:  # a pass-through (an inner subgraph's Input/Output)
        return nir.Flatten(input_type={"input": np.array(shape)}, start_dim=-1, end_dim=-1)
    if len(op.out_shape) != 1:
        start = _flatten_range(shape, tuple(op.out_shape))
        if start is None:
            raise Unsupported(f"a reshape from {shape} to {tuple(op.out_shape)} has no NIR node "
                              "(only flattening)", node=op.name, field="shape")
        first, last = start
        return nir.Flatten(input_type={"input": np.array(shape)}, start_dim=first - len(shape),
                           end_dim=last - len(shape))
    return nir.Flatten(input_type={"input": np.array(shape)}, start_dim=-len(shape), end_dim=-1)


def _flatten_range(shape, out):
    """(start, end) axes of ``shape`` that a Flatten merges to give ``out``, or None."""
    for start in range(len(shape)):
        for end in range(start, len(shape)):
            merged = shape[:start] + (int(np.prod(shape[start:end + 1])),) + shape[end + 1:]
            if merged == out:
                return start, end
    return None


def _scale(op: ScaleOp, program: Program):
    return nir.Scale(scale=compact(op.scale) if np.all(op.scale == op.scale.reshape(-1)[0])
                     else np.asarray(op.scale, dtype=np.float64).copy())


def _delay(op: DelayOp, program: Program):
    if program.dt is None:
        raise Unsupported("a Delay is written in seconds and needs the program's dt",
                          node=op.name, field="dt")
    return nir.Delay(delay=np.asarray(op.steps, dtype=np.float64) * float(program.dt))


def _threshold(op: ThresholdOp, program: Program):
    node = nir.Threshold(threshold=np.asarray(op.threshold, dtype=np.float64).copy())
    node.metadata = {"compare": op.compare}
    return node


# ---------------------------------------------------------------- float neurons

def _leak(alpha, name, rec_name, what):
    k = 1.0 - np.asarray(alpha, dtype=np.float64)
    if np.any(k <= 0):
        raise Unsupported(f"a {what} decay of 1 or more per step has no forward-Euler time "
                          "constant; write this neuron as IF/I", node=rec_name, field=name)
    return k


def float_neuron_node(op: NeuronOp, dt):
    """The NIR node of a float neuron, nirconv dialect (see the module docstring)."""
    r: NeuronFloat = op.neuron
    shape = tuple(r.shape)
    model = op.info.nir_type or r.model
    spiking = r.spiking
    if model in ("I", "IF"):
        if np.any(np.asarray(r.alpha_mem) != 1) or np.any(np.asarray(r.bias) != 0):
            model = "LIF" if spiking else "LI"
    if model in ("I", "IF"):
        rr = _full(r.beta_mem, shape)
        node = nir.IF(r=rr, v_threshold=_full(r.v_threshold, shape),
                      v_reset=_full(r.v_reset, shape)) if spiking else nir.I(r=rr)
    else:
        if dt is None:
            raise Unsupported("a leaky neuron is written with tau in seconds and needs dt",
                              node=op.name, field="dt")
        k = _leak(r.alpha_mem, "tau", op.name, "membrane")
        tau, rr, v_leak = _full(dt / k, shape), _full(r.beta_mem / k, shape), \
            _full(r.bias / k, shape)
        if r.alpha_syn is not None:
            ks = _leak(r.alpha_syn, "tau_syn", op.name, "synaptic")
            syn = dict(tau_syn=_full(dt / ks, shape), w_in=_full(r.beta_syn / ks, shape))
            node = (nir.CubaLIF(tau_mem=tau, r=rr, v_leak=v_leak,
                                v_threshold=_full(r.v_threshold, shape),
                                v_reset=_full(r.v_reset, shape), **syn) if spiking else
                    nir.CubaLI(tau_mem=tau, r=rr, v_leak=v_leak, **syn))
        elif spiking:
            node = nir.LIF(tau=tau, r=rr, v_leak=v_leak, v_threshold=_full(r.v_threshold, shape),
                           v_reset=_full(r.v_reset, shape))
        else:
            node = nir.LI(tau=tau, r=rr, v_leak=v_leak)
    node.metadata = float_neuron_metadata(op)
    return node


def float_neuron_metadata(op: NeuronOp) -> dict:
    """reset, compare, v_init, threshold, the conversion's λ, and the switches that differ from
    nirconv's defaults."""
    r: NeuronFloat = op.neuron
    meta = info_metadata(op)
    meta["v_init"] = compact(r.v_init)
    if r.spiking:
        meta.update(reset=r.reset, compare=r.compare, threshold=compact(r.v_threshold))
    if op.info.act_scale is not None:
        meta["scale"] = channel_compact(op.info.act_scale, r.shape)
    meta.update(float_switches(r, prefix=""))
    return meta


def float_switches(r: NeuronFloat, prefix: str) -> dict:
    """The dialect switches of a float record that differ from the nirconv dialect's defaults."""
    out = {}
    if r.current_delay:
        out[prefix + "current_delay"] = True
    if not r.reset_after_decay:
        out[prefix + "reset_after_decay"] = False
    if r.spiking and r.max_spikes != 1:
        out[prefix + "max_spikes"] = float(UNLIMITED) if r.max_spikes == UNLIMITED \
            else int(r.max_spikes)
    if r.v_min is not None:
        out[prefix + "v_min"] = compact(r.v_min)
    return out


BUILDERS: dict[type, Callable] = {
    InputOp: _input,
    OutputOp: _output,
    AffineOp: affine_node,
    ConvOp: conv_node,
    PoolOp: _pool,
    FlattenOp: _flatten,
    ScaleOp: _scale,
    DelayOp: _delay,
    ThresholdOp: _threshold,
}


def structure_node(op: Op, program: Program):
    """The NIR node of any op that is not a neuron (metadata from its OpInfo)."""
    build = BUILDERS.get(type(op))
    if build is None:
        raise Unsupported(f"op {type(op).__name__} has no NIR writer", node=op.name, field="type")
    node = build(op, program)
    meta = dict(node.metadata or {})
    meta.update(info_metadata(op))
    node.metadata = meta
    return node
