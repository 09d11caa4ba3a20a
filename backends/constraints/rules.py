"""Fit rules that hold for every target, driven by the target's data. Each rule is a function
``(net, target) -> list[Violation]``, registered in `RULES`; every violation is reported
(docs/equations/targets.md). Types are the NIR type names of the ops (`net.type_name`), roles
those of ``nirconv/equations/roles.py``."""
from __future__ import annotations


import numpy as np

from nirconv.equations.limits import UNLIMITED
from nirconv.equations.program import ConvOp, PoolOp
from nirconv.equations.roles import SPIKING_NEURONS, SYNAPTIC

from .net import Net, fan_in, fan_out_per_element
from .report import Violation



def layer_types(net: Net, t) -> list:
    allowed = t["layers.supported"]
    out = []
    for name in net.topo.order:
        if net.kind(name) in ("input", "output", "neuron"):
            continue
        tn = net.type_name(name)
        if tn not in allowed:
            out.append(Violation(name, "layer_type", tn, allowed,
                                 f"{tn} layers are not supported by {t.name}"))
    return out


def neuron_models(net: Net, t) -> list:
    out = []
    for name in net.names("neuron"):
        tn = net.type_name(name)
        if tn not in t["neurons.models"]:
            out.append(Violation(name, "neuron_model", tn, t["neurons.models"],
                                 f"{t.name} runs {', '.join(t['neurons.models'])} neurons"))
        elif tn not in SPIKING_NEURONS and not t["neurons.membrane_readout"]:
            out.append(Violation(name, "membrane_readout", tn, "spiking neurons only",
                                 f"{t.name} reads spikes; export with readout='spikes'"))
    return out


def reset_modes(net: Net, t) -> list:
    out = []
    for name in net.names("neuron"):
        rec = net.ops[name].neuron
        if not rec.spiking:
            continue
        if rec.reset not in t["neurons.reset_modes"] and \
                rec.reset not in t["neurons.reset_substitute"]:
            out.append(Violation(name, "reset_mode", rec.reset, t["neurons.reset_modes"],
                                 f"{t.name} resets by {', '.join(t['neurons.reset_modes'])}"))
    return out


def recurrence(net: Net, t) -> list:
    if t["layers.recurrent"] or not net.topo.back:
        return []
    return [Violation(dst, "recurrent", f"edge {src} -> {dst}", "no recurrence",
                      f"{t.name} needs a feed-forward network")
            for src, dst in sorted(net.topo.back)]


def weight_chains(net: Net, t) -> list:
    if t["layers.weight_chains"]:
        return []
    out = []
    for w in net.names("weight"):
        for c in net.topo.consumers(w):
            if net.kind(c) == "weight":
                out.append(Violation(c, "weight_chain", f"{w} -> {c}", "a neuron layer between",
                                     "two weight layers in a row"))
    return out


def neuron_layers(net: Net, t) -> list:
    n = len(net.names("neuron"))
    need = t["layers.min_neuron_layers"]
    if n < need:
        return [Violation("(network)", "neuron_layers", n, need,
                          f"{t.name} needs at least {need} neuron layers")]
    return []


def conv_shapes(net: Net, t) -> list:
    out = []
    for w in net.names("weight"):
        op = net.ops[w]
        if not isinstance(op, ConvOp):
            continue
        k = tuple(op.weight.shape[2:])
        if max(k) > t["layers.kernel_max"]:
            out.append(Violation(w, "kernel_size", list(k), t["layers.kernel_max"]))
        if t["layers.square_kernel"] and len(set(k)) > 1:
            out.append(Violation(w, "square_kernel", list(k), "square"))
        if t["layers.strides"] and any(s not in t["layers.strides"] for s in op.stride):
            out.append(Violation(w, "stride", list(op.stride), t["layers.strides"]))
        if max(op.padding) > t["layers.padding_max"]:
            out.append(Violation(w, "padding", list(op.padding), t["layers.padding_max"]))
        if max(op.dilation) > t["layers.dilation_max"]:
            out.append(Violation(w, "dilation", list(op.dilation), t["layers.dilation_max"]))
    for name in net.topo.order:
        op = net.ops.get(name)
        if isinstance(op, PoolOp):
            if t["layers.pool_sizes"] and any(k not in t["layers.pool_sizes"] for k in op.kernel):
                out.append(Violation(name, "pool_size", list(op.kernel), t["layers.pool_sizes"]))
            if tuple(op.stride) != tuple(op.kernel):
                out.append(Violation(name, "pool_stride", list(op.stride), "stride = kernel"))
    return out


def channels(net: Net, t) -> list:
    out = []
    for w in net.names("weight"):
        op = net.ops[w]
        c_out = op.weight.shape[0]
        if c_out > t["layers.channels_max"]:
            out.append(Violation(w, "channels", int(c_out), t["layers.channels_max"]))
        if isinstance(op, ConvOp) and len(op.out_shape) == 3 and \
                max(op.out_shape[1:]) > t["layers.feature_map_out_max"]:
            out.append(Violation(w, "feature_map", list(op.out_shape[1:]),
                                 t["layers.feature_map_out_max"]))
    return out


def io_limits(net: Net, t) -> list:
    out = []
    shape = net.input_shape
    name = net.names("input")[0] if net.names("input") else "input"
    if shape and shape[0] > t["io.input_channels_max"]:
        out.append(Violation(name, "input_channels", int(shape[0]), t["io.input_channels_max"]))
    if len(shape) > 1 and max(shape[1:]) > t["io.input_size_max"]:
        out.append(Violation(name, "input_size", list(shape[1:]), t["io.input_size_max"]))
    n_out = sum(int(np.prod(net.ops[o].out_shape)) for o in net.names("output"))
    if n_out > t["io.outputs_max"]:
        out.append(Violation(net.names("output")[0], "outputs", n_out, t["io.outputs_max"]))
    return out


def fan_limits(net: Net, t) -> list:
    out = []
    if t["weights.fan_in_max"] != UNLIMITED:
        for w in net.names("weight"):
            f = fan_in(net.ops[w])
            if f > t["weights.fan_in_max"]:
                out.append(Violation(w, "fan_in", f, t["weights.fan_in_max"]))
    if t["weights.fan_out_max"] != UNLIMITED:
        for n in net.names("neuron"):
            # each source neuron's own total over all the weight ops it feeds
            vectors = [fan_out_per_element(net.ops[w]) for w in net.topo.consumers(n)
                       if net.kind(w) == "weight"]
            vectors = [v for v in vectors if v.size == net.size(n)]
            total = int(np.max(np.sum(vectors, axis=0))) if vectors else 0
            if total > t["weights.fan_out_max"]:
                out.append(Violation(n, "fan_out", total, t["weights.fan_out_max"]))
    return out


def recurrent_weights(net: Net, t) -> list:
    limit = t["layers.recurrent_weights_max"]
    if limit == UNLIMITED:
        return []
    count = sum(int(np.count_nonzero(net.ops[w].weight)) for w in net.recurrent_weights())
    if count > limit:
        return [Violation(net.recurrent_weights()[0], "recurrent_weights", count, limit)]
    return []


def population_sizes(net: Net, t) -> list:
    out = []
    outputs = net.outputs()
    hidden = sum(net.size(n) for n in net.names("neuron") if n not in outputs)
    readout = sum(net.size(n) for n in net.names("neuron") if n in outputs)
    if hidden > t["neurons.hidden_max"]:
        out.append(Violation("(network)", "hidden_neurons", hidden, t["neurons.hidden_max"]))
    if readout > t["neurons.output_max"]:
        out.append(Violation("(network)", "output_neurons", readout, t["neurons.output_max"]))
    syn_limit = t["neurons.synapses_per_neuron"]
    for n in net.names("neuron"):
        if net.type_name(n) in SYNAPTIC and 1 > syn_limit:
            out.append(Violation(n, "synapses_per_neuron", 1, syn_limit))
    return out


RULES = [layer_types, neuron_models, reset_modes, recurrence, weight_chains, neuron_layers,
         conv_shapes, channels, io_limits, fan_limits, recurrent_weights, population_sizes]

# Violations that make quantization impossible (the checker then skips it).
BLOCKING = {"layer_type", "neuron_model", "membrane_readout", "reset_mode", "weight_chain",
            "graph_rule"}
