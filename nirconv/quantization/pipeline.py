"""The quantization passes (plain ``graph -> graph`` functions with pre/postconditions) that turn a
float NIR graph into the deployable integer graph of a target. Run by `quantize`.

    flatten -> resolve_float -> decays -> input_encoding -> scales -> weights -> neurons -> stamp

Every intermediate result lives in node/graph metadata (documented in nirconv/nir_io/metadata.py),
so the deployed file carries every scale and the float values it came from.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace
from functools import partial
from typing import Optional

import nir
import numpy as np

from ..errors import BadInput, Unsupported
from .._version import __version__
from ..equations.limits import UNLIMITED
from ..targets import INF, Target
from . import families as F
from .graph import (SPIKING_TYPES, flat_graph, fold_scales, kind, replace_node, topology,
                    working_copy)
from ..passes import Pass, run_passes

FLOAT_KEYS = ("float_alpha_mem", "float_beta_mem", "float_v_bias", "float_alpha_syn",
              "float_beta_syn", "float_v_init", "float_v_reset")


@dataclass(frozen=True)
class QuantEnv:
    target: Target
    dt: Optional[float] = None
    dialect: str = "auto"
    input_max: Optional[float] = None
    input_min: Optional[float] = None
    input_events: bool = False  # calibration inputs are integer event counts (spike inputs)
    source: str = "<memory>"


# ------------------------------------------------------------------ helpers

def _warn(graph: nir.NIRGraph, node: str, rule: str, message: str) -> None:
    warnings = list(graph.metadata.get("warnings", []))
    text = f"{node}: {rule}: {message}"
    if text not in warnings:
        warnings.append(text)
    graph.metadata["warnings"] = warnings


def _with_meta(graph, name, **updates):
    node = copy.copy(graph.nodes[name])
    node.metadata = dict(node.metadata or {}, **updates)
    return replace_node(graph, name, node)


def _arr(meta, key, shape, default=None):
    value = meta.get(key, default)
    if value is None:
        return None
    return np.broadcast_to(np.asarray(value, dtype=np.float64), shape).copy()


def float_record(node) -> dict:
    """The float neuron (as resolved by its dialect) from the node's ``float_*`` metadata."""
    m = node.metadata
    shape = tuple(int(s) for s in np.atleast_1d(m["float_shape"]))
    rec = {"shape": shape, "model": m.get("float_model", type(node).__name__),
           "reset": m.get("float_reset", "zero"), "compare": m.get("float_compare", ">")}
    rec["alpha_mem"] = _arr(m, "float_alpha_mem", shape)
    rec["beta_mem"] = _arr(m, "float_beta_mem", shape)
    rec["bias"] = _arr(m, "float_v_bias", shape, 0.0)
    rec["alpha_syn"] = _arr(m, "float_alpha_syn", shape)
    rec["beta_syn"] = _arr(m, "float_beta_syn", shape)
    rec["v_init"] = _arr(m, "float_v_init", shape, 0.0)
    rec["v_reset"] = _arr(m, "float_v_reset", shape, 0.0)
    rec["threshold"] = _arr(m, "threshold", shape) if isinstance(node, SPIKING_TYPES) else None
    return rec


def _decays(node, shape) -> dict:
    m = node.metadata
    return {k: np.broadcast_to(np.asarray(m[k]), shape).copy()
            for k in ("dash_mem", "dash_syn", "du", "dv", "alpha") if k in m}


def _rows(values: np.ndarray, n_rows: int, source, node, what) -> np.ndarray:
    """Per-row factor of a neuron-shaped array (must be constant within each output channel)."""
    flat = np.asarray(values, dtype=np.float64).reshape(n_rows, -1)
    if not np.allclose(flat, flat[:, :1], rtol=1e-9, atol=0):
        raise Unsupported(f"the {what} of the neuron layer varies within an output channel; it "
                          "cannot be folded into the weights of this layer", file=source,
                          node=node, field=what)
    return flat[:, 0]


def _row_view(w: np.ndarray) -> np.ndarray:
    return np.asarray(w, dtype=np.float64).reshape(w.shape[0], -1)


def _broadcast_rows(r: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.asarray(r, dtype=np.float64).reshape((w.shape[0],) + (1,) * (w.ndim - 1))


def is_passthrough(topo, wname) -> bool:
    """A weight layer that feeds only other weight layers (e.g. 1-D sum pooling written as a
    depthwise Conv1d of ones): kept as is when its weights are integers, no neuron to fold into."""
    found = topo.consumers(wname)
    return bool(found) and all(kind(topo.nodes[c]) == "weight" for c in found)


def fed_by_input(topo, wname) -> bool:
    """Whether the Input reaches ``wname`` directly or through pass-through weight layers."""
    stack, seen = [wname], {wname}
    while stack:
        for p in topo.producers(stack.pop()):
            k = kind(topo.nodes[p])
            if k == "input":
                return True
            if k == "weight" and p not in seen and is_passthrough(topo, p):
                seen.add(p)
                stack.append(p)
    return False


def effective_weight(graph, topo, wname, env) -> np.ndarray:
    """Float weight x row gain of its neuron (x input scale when the input feeds it)."""
    node = graph.nodes[wname]
    w = np.asarray(node.metadata["float_weight"], dtype=np.float64)
    neuron = topo.consumer_neuron(wname, env.source)
    g = np.asarray(graph.nodes[neuron].metadata["gain"], dtype=np.float64)
    shape = tuple(np.atleast_1d(graph.nodes[neuron].metadata["float_shape"]))
    g_rows = _rows(np.broadcast_to(g, shape), w.shape[0], env.source, neuron, "gain")
    w = w * _broadcast_rows(g_rows, w)
    if fed_by_input(topo, wname):
        w = w * float(graph.metadata["input_scale"])
    return w


def weight_range(target: Target, w: np.ndarray) -> tuple[int, int, str]:
    """(lo, hi, sign mode) of the integer weights for this matrix."""
    bits = target["weights.bits"]
    if target["weights.encoding"] == "loihi_sign_mode":
        hi = (1 << bits) - 1
        if np.all(w >= 0):
            return 0, hi, "excitatory"
        if np.all(w <= 0):
            return -hi, 0, "inhibitory"
        return -(1 << bits), (1 << bits) - 2, "mixed"
    if not target["weights.signed"]:
        return 0, (1 << bits) - 1, "unsigned"
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1, "signed"


def _wmax(target, w) -> float:
    lo, hi, mode = weight_range(target, w)
    return float(min(abs(lo) if lo else hi, hi if hi else abs(lo)) if mode == "signed"
                 else max(abs(lo), abs(hi)))


def _gain_g(target) -> int:
    return 64 if target.family == "loihi2" else 1  # lava: u += a_in << 6


def _outputs_of(topo) -> set:
    return {p for o in topo.of_kind("output") for p in topo.producers(o)}


# ------------------------------------------------------------------ passes

def p_flatten(graph, env):
    return flat_graph(graph, env.source)


def no_subgraphs(graph):
    bad = [k for k, v in graph.nodes.items() if isinstance(v, nir.NIRGraph)]
    return f"nested subgraphs left: {bad}" if bad else None


def p_resolve_float(graph, env):
    from ..reading import lower

    from ..reading import dialects

    meta = dict(graph.metadata or {})
    used = dialects.detect(meta, graph) if env.dialect == "auto" else env.dialect
    program = lower(graph, mode="float", dialect=used, dt=env.dt, source=env.source)
    out = nir.NIRGraph(nodes=dict(graph.nodes), edges=list(graph.edges),
                       metadata=dict(meta, dialect=used), type_check=False)
    if program.dt is not None:
        out.metadata["dt"] = float(program.dt)
    for op in program.ops:
        node = out.nodes.get(op.name)
        if node is None:
            continue
        if kind(node) == "neuron":
            r = op.neuron
            meta = dict(float_shape=list(r.shape), float_model=type(node).__name__,
                        float_alpha_mem=F.uniform(r.alpha_mem), float_beta_mem=F.uniform(r.beta_mem),
                        float_v_bias=F.uniform(r.bias), float_v_init=F.uniform(r.v_init),
                        float_v_reset=F.uniform(r.v_reset), float_reset=r.reset,
                        float_compare=r.compare)
            if r.alpha_syn is not None:
                meta.update(float_alpha_syn=F.uniform(r.alpha_syn),
                            float_beta_syn=F.uniform(r.beta_syn))
            if r.v_threshold is not None:
                meta["threshold"] = F.uniform(r.v_threshold)
            out = _with_meta(out, op.name, **meta)
            _warn_float_switches(out, op.name, r, env.target)
        elif kind(node) == "weight":
            meta = {"float_weight": np.asarray(op.weight, dtype=np.float64)}
            if getattr(op, "bias", None) is not None and np.any(op.bias != 0):
                meta["float_bias"] = np.asarray(op.bias, dtype=np.float64)
            out = _with_meta(out, op.name, **meta)
    return out


def _warn_float_switches(graph, name, r, target) -> None:
    """The dialect's switches that the chip's integer equations do not have (never silently)."""
    if getattr(r, "current_delay", False):
        _warn(graph, name, "current_delay", "the float neuron uses the previous step's current; "
                                            f"{target.name} uses this step's")
    if not getattr(r, "reset_after_decay", True):
        _warn(graph, name, "reset_after_decay", "the float neuron applies its reset one step "
                                                f"late (snnTorch); {target.name} resets at once")
    max_spikes = getattr(r, "max_spikes", 1)
    if r.v_threshold is not None and max_spikes != 1:
        _warn(graph, name, "max_spikes", f"the float neuron emits up to {max_spikes} spikes per "
                                         f"step; {target.name} follows its own limit")
    if getattr(r, "v_min", None) is not None:
        _warn(graph, name, "v_min", f"the float lower bound of v is replaced by {target.name}'s "
                                    "state range")


def float_resolved(graph):
    missing = [k for k, v in graph.nodes.items()
               if kind(v) == "neuron" and "float_alpha_mem" not in v.metadata]
    return f"neurons without resolved float parameters: {missing}" if missing else None


def p_decays(graph, env):
    t = env.target
    for name, node in list(graph.nodes.items()):
        if kind(node) != "neuron":
            continue
        rec = float_record(node)
        if t.family == "speck" and np.any(rec["alpha_mem"] < 1.0):
            raise Unsupported("Speck neurons have no leak (IAF only)", file=env.source,
                              node=name, field="tau")
        if t.family == "spinnaker2" and rec["alpha_syn"] is not None:
            _warn(graph, name, "no_integer_simulation", "exported for lif_curr_exp, but nirconv's "
                  "SpiNNaker2 equations (Float32LIF) have no synaptic current: integer-mode "
                  "simulation refuses this node")
        dec, warns = F.decays(t.family, rec, t)
        for rule, msg in warns:
            _warn(graph, name, rule, msg)
        graph = _with_meta(graph, name, **{k: F.uniform(v) for k, v in dec.items()})
    return graph


def p_input_encoding(graph, env):
    """Static float inputs become events (rate) or integer currents; one event / integer unit is
    worth ``input_scale`` float input units. Spike inputs (integer calibration data, or none) keep
    ``input_scale = 1``: an event is a float spike."""
    t = env.target
    meta = dict(graph.metadata or {})
    encoding = t["io.input_encoding"]
    meta["input_encoding"] = encoding
    top = env.input_max if env.input_max is not None else meta.get("input_max")
    if top is None:
        _warn(graph, "input", "input_range", "no calibration data: inputs are taken as spike "
                                             "events / integer currents (input_scale 1)")
    events = env.input_events or top is None or not float(top) > 0
    if encoding == "rate":
        n = int(t["io.max_input_events"])
        meta["max_events"] = n
        meta["input_scale"] = 1.0 if events else float(top) / n
        if env.input_min is not None and env.input_min < 0:
            _warn(graph, "input", "negative_input", "the rate code presents negative inputs as 0")
    else:
        bits = int(t["io.input_bits"])
        meta["input_bits"] = bits
        meta["input_scale"] = 1.0 if events else float(top) / ((1 << (bits - 1)) - 1)
    if events:
        meta.pop("input_max", None)  # spike inputs: no analog range to remember
    else:
        meta["input_max"] = float(top)
    graph.metadata = meta
    return graph


def _threshold_cap(target, spiking: bool, timesteps: float) -> float:
    cap = float(1 << (target["state.bits"] - 1 - target["state.headroom_bits"]))
    return cap if spiking else cap / max(1.0, timesteps / 4.0)


def p_scales(graph, env):
    t = env.target
    topo = topology(graph, env.source)
    timesteps = float(graph.metadata.get("timesteps", 32))
    for neuron in topo.of_kind("neuron"):
        graph = _set_gain(graph, neuron, env)
    topo = topology(graph, env.source)
    for neuron in topo.of_kind("neuron"):
        weights = topo.incoming_weights(neuron)
        if not weights:
            raise Unsupported("a neuron layer must receive its input through a weight layer",
                              file=env.source, node=neuron, field="edges")
        for w in weights:
            topo.consumer_neuron(w, env.source)
        eff = {w: effective_weight(graph, topo, w, env) for w in weights}
        spiking = isinstance(graph.nodes[neuron], SPIKING_TYPES)
        if t["weights.arithmetic"] == "float32":
            graph = _float32_scales(graph, neuron, eff, env)
        else:
            graph = _integer_scales(graph, neuron, eff, env,
                                    _threshold_cap(t, spiking, timesteps))
    return graph


def _set_gain(graph, neuron, env):
    node = graph.nodes[neuron]
    rec = float_record(node)
    dec = _decays(node, rec["shape"])
    gain = F.input_gain(env.target.family, rec, dec)
    if rec["threshold"] is not None:
        if np.any(rec["threshold"] <= 0):
            raise BadInput("threshold must be positive", file=env.source, node=neuron,
                           field="v_threshold")
        gain = gain / rec["threshold"]
    return _with_meta(graph, neuron, gain=F.uniform(gain))


def _float32_scales(graph, neuron, eff, env):
    peak = max(float(np.max(np.abs(w))) if w.size else 0.0 for w in eff.values())
    wmax = min(_wmax(env.target, w) for w in eff.values())
    s = peak / wmax if peak > 0 else 1.0
    graph = _with_meta(graph, neuron, state_unit=1.0, weight_scale=float(np.float32(s)))
    for w in eff:
        graph = _with_meta(graph, w, shift=0, unit_rows=float(np.float32(s)))
    return graph


def _integer_scales(graph, neuron, eff, env, cap):
    t = env.target
    g = _gain_g(t)
    kmin, kmax = t["weights.shift_min"], t["weights.shift_max"]
    per_channel = t["weights.scale"] == "per_channel"
    rows = {w: np.max(np.abs(_row_view(e)), axis=1) for w, e in eff.items()}
    need = [rows[w] / (_wmax(t, e) * g * 2.0 ** kmax) for w, e in eff.items()]
    if per_channel:
        u = np.maximum(np.max(np.stack(need), axis=0), 1.0 / cap)
    else:
        u = max(max(float(np.max(n)) for n in need), 1.0 / cap)
    shape = tuple(np.atleast_1d(graph.nodes[neuron].metadata["float_shape"]))
    first = next(iter(eff.values()))
    u_neuron = (np.repeat(u, int(np.prod(shape)) // first.shape[0]).reshape(shape)
                if per_channel else u)
    graph = _with_meta(graph, neuron, state_unit=F.uniform(u_neuron))
    for w, e in eff.items():
        ratio = float(np.max(rows[w] / u)) / (_wmax(t, e) * g)
        k = int(np.clip(math.ceil(math.log2(ratio)) if ratio > 0 else kmin, kmin, kmax))
        unit_rows = np.broadcast_to(u, (e.shape[0],)) * (2.0 ** k) * g
        graph = _with_meta(graph, w, shift=k, unit_rows=F.uniform(unit_rows))
    return graph


def p_weights(graph, env):
    t = env.target
    topo = topology(graph, env.source)
    for wname in topo.of_kind("weight"):
        node = graph.nodes[wname]
        if is_passthrough(topo, wname):
            graph = _passthrough_weights(graph, wname, env)
            continue
        e = effective_weight(graph, topo, wname, env)
        q = _broadcast_rows(np.broadcast_to(node.metadata["unit_rows"], (e.shape[0],)), e)
        lo, hi, mode = weight_range(t, e)
        if mode == "mixed":
            w_int = 2.0 * np.rint(e / (2.0 * q))
        else:
            w_int = np.rint(e / q)
        clipped = int(np.sum((w_int < lo) | (w_int > hi)))
        w_int = np.clip(w_int, lo, hi)
        if clipped:
            _warn(graph, wname, "weight_saturation", f"{clipped} weights clipped to [{lo}, {hi}]")
        new = copy.copy(node)
        new.weight = w_int.astype(np.float32)
        neuron = topo.consumer_neuron(wname, env.source)
        gain = np.broadcast_to(graph.nodes[neuron].metadata["gain"],
                               tuple(np.atleast_1d(graph.nodes[neuron].metadata["float_shape"])))
        g_rows = _rows(gain, e.shape[0], env.source, neuron, "gain")
        scale_rows = q.reshape(-1) / g_rows
        if fed_by_input(topo, wname):
            scale_rows = scale_rows / float(graph.metadata["input_scale"])
        meta = dict(node.metadata, weight_bits=int(t["weights.bits"]), sign_mode=mode,
                    weight_scale=F.uniform(scale_rows))
        if hasattr(node, "bias") and node.bias is not None:
            new.bias = _quantize_bias(graph, wname, node, g_rows, q.reshape(-1), t)
        new.metadata = meta
        graph = replace_node(graph, wname, new)
    return graph


def _passthrough_weights(graph, wname, env):
    node = graph.nodes[wname]
    w = np.asarray(node.metadata["float_weight"], dtype=np.float64)
    b = node.metadata.get("float_bias")
    lo, hi, mode = weight_range(env.target, w)
    if not np.all(np.equal(np.mod(w, 1), 0)) or w.min() < lo or w.max() > hi or b is not None:
        raise Unsupported("a weight layer feeding another weight layer must hold integer weights "
                          "without bias (e.g. sum pooling); fold it into the next layer",
                          file=env.source, node=wname, field="weight")
    new = copy.copy(node)
    new.weight = w.astype(np.float32)
    if getattr(node, "bias", None) is not None:
        new.bias = np.zeros(np.shape(node.bias), dtype=np.float32)
    new.metadata = dict(node.metadata, shift=0, weight_scale=1.0, unit_rows=1.0, sign_mode=mode,
                        weight_bits=int(env.target["weights.bits"]))
    return replace_node(graph, wname, new)


def _quantize_bias(graph, wname, node, g_rows, q_rows, t):
    b = np.asarray(node.metadata.get("float_bias", 0.0), dtype=np.float64)
    b = np.broadcast_to(b, q_rows.shape)
    route = t["neurons.bias"]
    if route == "weight" and np.any(b != 0):
        hi = (1 << (t["state.bits"] - 1)) - 1
        return np.clip(np.rint(b * g_rows / q_rows), -hi - 1, hi).astype(np.float32)
    if route == "dropped" and np.any(b != 0):
        _warn(graph, wname, "bias_dropped", f"{t.name} has no bias on weight layers; the bias is "
                                            "dropped")
    return np.zeros(q_rows.shape, dtype=np.float32)


def weights_integer(graph, target: Target):
    for name, node in graph.nodes.items():
        if kind(node) == "weight":
            w = np.asarray(node.weight)
            if not np.all(np.equal(np.mod(w, 1), 0)):
                return f"weights of {name} are not integers"
            lo, hi, _ = weight_range(target, np.asarray(node.metadata["float_weight"]))
            if w.size and (w.min() < min(lo, -(1 << target["weights.bits"])) or w.max() > hi):
                return f"weights of {name} exceed {target['weights.bits']} bits"
    return None


def p_neurons(graph, env):
    topo = topology(graph, env.source)
    outputs = _outputs_of(topo)
    for neuron in topo.of_kind("neuron"):
        graph = _quantize_neuron(graph, topo, neuron, neuron in outputs, env)
    return graph


def _moved_bias(graph, topo, neuron, target, shape):
    if target["neurons.bias"] != "neuron":
        return None
    total = np.zeros(shape)
    for w in topo.incoming_weights(neuron):
        b = graph.nodes[w].metadata.get("float_bias")
        if b is None:
            continue
        b = np.asarray(b, dtype=np.float64)
        total = total + np.repeat(b, int(np.prod(shape)) // b.size).reshape(shape)
        if graph.nodes[neuron].metadata.get("float_alpha_syn") is not None:
            _warn(graph, w, "bias_moved", "bias moved from the synaptic input to the neuron "
                                          "(equal in steady state)")
    return total


def _reset(graph, neuron, rec, target, env):
    reset = rec["reset"]
    if reset in target["neurons.reset_modes"]:
        return reset
    sub = target["neurons.reset_substitute"].get(reset)
    if sub is None:
        raise Unsupported(f"reset {reset!r} is not supported by {target.name}", file=env.source,
                          node=neuron, field="metadata.reset")
    _warn(graph, neuron, "reset_substituted", f"reset {reset!r} becomes {sub!r} on {target.name}")
    return sub


def _quantize_neuron(graph, topo, neuron, is_output, env):
    t = env.target
    node = graph.nodes[neuron]
    rec = float_record(node)
    shape = rec["shape"]
    theta = rec["threshold"] if rec["threshold"] is not None else np.ones(shape)
    u = np.broadcast_to(np.asarray(node.metadata["state_unit"], dtype=np.float64), shape)
    bias_v = F.neuron_bias_per_step(rec, _moved_bias(graph, topo, neuron, t, shape)) / theta
    v_init = rec["v_init"] / theta
    spiking = rec["threshold"] is not None
    meta = {"scale": F.uniform(u * theta)}
    if "scale" in node.metadata and "float_scale" not in node.metadata:
        meta["float_scale"] = node.metadata["scale"]  # the conversion's λ, kept for the audit
    if spiking:
        meta["reset"] = _reset(graph, neuron, rec, t, env)
        if meta["reset"] == "zero" and np.any(rec["v_reset"] != 0):
            _warn(graph, neuron, "v_reset", "reset goes to 0 on this target, not v_reset")
    max_sp = t["neurons.max_spikes_output" if is_output else "neurons.max_spikes_hidden"]
    fam = t.family
    state_hi = (1 << (t["state.bits"] - 1)) - 1
    if fam in ("speck", "xylo", "generic"):
        if spiking:
            meta["threshold_int"] = F.uniform(F.threshold_int(1.0 / u, rec["compare"],
                                                              t["neurons.compare"]))
        meta["bias_int"] = F.uniform(np.clip(np.rint(bias_v / u), -state_hi - 1, state_hi)
                                     .astype(np.int64))
        v0 = np.clip(np.rint(v_init / u), -state_hi - 1, state_hi).astype(np.int64)
        if fam == "xylo" and np.any(v0 != 0):
            _warn(graph, neuron, "v_init_dropped", "Xylo neurons start at 0 (v_init dropped)")
            v0 = np.zeros_like(v0)
        meta["v_init_int"] = F.uniform(v0)
        meta["max_spikes"] = float(UNLIMITED) if max_sp == INF else int(max_sp)
        meta["state_bits"] = int(t["state.bits"])
    elif fam == "loihi2":
        if spiking:
            th = F.threshold_int(1.0 / u, rec["compare"], ">")
            meta["vth"] = F.uniform(np.clip(np.rint(th / 64.0), 0,
                                            (1 << t["state.threshold_bits"]) - 1).astype(np.int64))
        # bias_exp = 6: lava-dl's netx fixes bias_exp = 6 (hdf5.py get_neuron_params), and the
        # same integers must go into every format; 64 v-units is also the threshold's step (vth << 6)
        bias_units = np.rint(bias_v / u)
        mant, exp = F.split_bias(bias_units, t["state.bias_bits"], min_exp=6, max_exp=6)
        if np.any(np.abs(bias_units - (mant << exp)) > (1 << (exp - 1))):
            _warn(graph, neuron, "bias_saturation", "bias clipped to the 13-bit mantissa << 6")
        meta["bias_mant"], meta["bias_exp"] = F.uniform(mant), int(exp)
        if np.any(v_init != 0):
            _warn(graph, neuron, "v_init_dropped", "Loihi 2 LIF starts at v = 0 (v_init dropped)")
    elif fam == "spinnaker2":
        if not spiking:
            raise Unsupported("SpiNNaker2 neurons spike (no membrane readout)", file=env.source,
                              node=neuron, field="type")
        th = np.float32(1.0) if rec["compare"] == ">=" else np.nextafter(np.float32(1.0),
                                                                         np.float32(2.0))
        meta["threshold_f32"] = float(th)
        meta["i_offset"] = F.uniform(bias_v.astype(np.float32))
        meta["v_reset_f32"] = F.uniform((rec["v_reset"] / theta).astype(np.float32))
        if np.any(v_init != 0):
            _warn(graph, neuron, "v_init_dropped", "SpiNNaker2 LIF starts at v = 0 (v_init "
                                                   "dropped)")
    return _with_meta(graph, neuron, **meta)


def p_stamp(graph, env):
    t = env.target
    graph.metadata = dict(graph.metadata, target=t.name, arithmetic=t.family,
                          weight_bits=int(t["weights.bits"]), state_bits=int(t["state.bits"]),
                          nirconv_version=__version__)
    graph.metadata.setdefault("warnings", [])
    return graph


def lowers_in_integer_mode(graph, env):
    from ..reading import lower

    if env.target.family == "spinnaker2" and any(
            isinstance(n, nir.CubaLIF) for n in graph.nodes.values()):
        return None  # documented gap (Float32LIF has no synaptic current), warned in `decays`
    try:
        lower(graph, mode="int", source=env.source)
    except (Unsupported, BadInput) as e:
        return e.one_line()
    return None


def passes(env: QuantEnv) -> list[Pass]:
    t = env.target
    return [
        Pass("flatten", partial(p_flatten, env=env), ensures=no_subgraphs),
        Pass("fold_scales", partial(fold_scales, source=env.source)),
        Pass("resolve_float", partial(p_resolve_float, env=env), ensures=float_resolved),
        Pass("decays", partial(p_decays, env=env), requires=float_resolved),
        Pass("input_encoding", partial(p_input_encoding, env=env),
             ensures=lambda g: None if "input_scale" in g.metadata else "input_scale missing"),
        Pass("scales", partial(p_scales, env=env)),
        Pass("weights", partial(p_weights, env=env), ensures=partial(weights_integer, target=t)),
        Pass("neurons", partial(p_neurons, env=env)),
        Pass("stamp", partial(p_stamp, env=env), ensures=partial(lowers_in_integer_mode, env=env)),
    ]


def quantize(graph: nir.NIRGraph, env: QuantEnv) -> nir.NIRGraph:
    """The deployable integer graph for ``env.target`` (the input graph is not mutated: each pass
    edits its own `working_copy`)."""
    own = [replace(p, run=lambda g, run=p.run: run(working_copy(g))) for p in passes(env)]
    return run_passes(graph, own, pipeline="quantization", source=env.source)


QUANT_KEYS = ("gain", "state_unit", "unit_rows", "shift", "weight_scale", "weight_bits",
              "sign_mode", "scale", "threshold_int", "bias_int", "v_init_int", "max_spikes",
              "state_bits", "dash_mem", "dash_syn", "du", "dv", "alpha", "vth", "bias_mant",
              "bias_exp", "threshold_f32", "i_offset", "v_reset_f32")


def _restored(value, shape, name, key, reshape=False) -> np.ndarray:
    """A float array kept in a deployed graph's metadata, in the shape of the field it restores."""
    arr = np.asarray(value, dtype=np.float64)
    try:
        return arr.reshape(shape) if reshape else np.broadcast_to(arr, shape).copy()
    except ValueError:
        raise BadInput(f"has {arr.size} values of shape {arr.shape}, the node's field has shape "
                       f"{tuple(shape)}", node=name, field=f"metadata.{key}") from None


def to_float_graph(dep: nir.NIRGraph) -> nir.NIRGraph:
    """The float graph a deployed graph was quantized from (float weights/biases restored from
    ``float_weight``/``float_bias``, reset from ``float_reset``; quantization keys removed)."""
    nodes = {}
    for name, node in dep.nodes.items():
        n = copy.copy(node)
        m = dict(node.metadata or {})
        if kind(node) == "weight" and "float_weight" in m:
            n.weight = _restored(m["float_weight"], np.shape(node.weight), name, "float_weight",
                                 reshape=True)
            if getattr(node, "bias", None) is not None:
                n.bias = _restored(m.get("float_bias", 0.0), np.shape(node.bias), name,
                                   "float_bias")
        if "float_reset" in m:
            m["reset"] = m["float_reset"]
        if "float_scale" in m:
            m["scale"] = m.pop("float_scale")
        elif kind(node) == "neuron":
            m.pop("scale", None)
        for k in QUANT_KEYS + FLOAT_KEYS + ("float_weight", "float_bias", "float_shape",
                                            "float_model", "float_reset", "float_compare"):
            m.pop(k, None)
        n.metadata = m
        nodes[name] = n
    meta = {k: v for k, v in (dep.metadata or {}).items()
            if k not in ("target", "arithmetic", "weight_bits", "state_bits", "warnings",
                         "input_encoding", "input_scale", "input_bits", "max_events", "fits")}
    meta["input_encoding"] = "current"
    return nir.NIRGraph(nodes=nodes, edges=list(dep.edges), metadata=meta, type_check=False)
