"""Mappers: assign the network's layers/neurons to the target's cores under per-core limits.
One function per ``chip.mapper`` value, registered in `MAPPERS`; each returns
``(violations, resources)`` and reports every violation it finds."""
from __future__ import annotations

import math

import numpy as np

from nirconv.equations.limits import UNLIMITED
from nirconv.equations.program import ConvOp

from .net import Net, stored_weights, synapses
from .report import Violation



def _clog2(x: int) -> int:
    return max(0, (int(x) - 1).bit_length())


def _totals(net: Net) -> dict:
    return {"neurons": sum(net.size(n) for n in net.names("neuron")),
            "synapses": sum(synapses(net.ops[w]) for w in net.names("weight")),
            "weights": sum(stored_weights(net.ops[w]) for w in net.names("weight"))}


# ------------------------------------------------------------------ Speck: one layer per core

def speck_layer_memory(net: Net, wname: str) -> dict:
    """Kernel, neuron and bias memory of one layer (sinabs DynapcnnLayer.memory_summary):
    kernel = c * 2^(ceil(log2(h*w)) + ceil(log2 f)), neuron = f * 2^(ceil(log2 H) + ceil(log2 W))."""
    op = net.ops[wname]
    f = int(op.weight.shape[0])
    if isinstance(op, ConvOp):
        c = int(op.in_shape[0])
        hw = int(np.prod(op.weight.shape[2:]))
        out_hw = tuple(op.out_shape[1:]) + (1,) * (3 - len(op.out_shape))
    else:  # Linear as a conv whose kernel covers the input map
        spatial = net.spatial_input(wname)
        if spatial is not None and len(spatial) == 3:
            c, hw = int(spatial[0]), int(spatial[1] * spatial[2])
        else:
            c, hw = int(op.in_shape[0]), 1
        out_hw = (1, 1)
    kernel = c * (1 << (_clog2(hw) + _clog2(f)))
    neuron = f * (1 << (_clog2(out_hw[0]) + _clog2(out_hw[1])))
    has_bias = op.bias is not None and bool(np.any(op.bias != 0))
    return {"kernel": kernel, "neuron": neuron, "bias": f if has_bias else 0}


def _matching(eligible: dict, n_cores: int) -> dict:
    """Maximum bipartite matching layer -> core (Kuhn's augmenting paths, searched with an explicit
    stack: any number of layers and cores)."""
    core_of: dict = {}
    layer_at: dict = {}
    for layer in eligible:
        _augment(layer, eligible, core_of, layer_at)
    return core_of


def _augment(start, eligible: dict, core_of: dict, layer_at: dict) -> bool:
    """Find a path from layer ``start`` to a free core through occupied cores (depth first, cores
    in the order listed) and shift every layer on it one core along."""
    seen: set = set()
    stack = [(start, iter(eligible[start]))]
    path: list = []  # (layer, core) chosen on each level but the top: len(path) == len(stack) - 1
    while stack:
        layer, cores = stack[-1]
        core = next((c for c in cores if c not in seen), None)
        if core is None:
            stack.pop()
            if path:
                path.pop()
            continue
        seen.add(core)
        path.append((layer, core))
        if core not in layer_at:
            for lay, c in path:
                layer_at[c] = lay
                core_of[lay] = c
            return True
        stack.append((layer_at[core], iter(eligible[layer_at[core]])))
    return False


def layer_per_core(net: Net, t):
    kmem, nmem = t.per_core("cores.kernel_memory_words"), t.per_core("cores.neuron_memory_words")
    bmem = t.per_core("cores.bias_memory_words")
    n_cores = len(kmem)
    layers = net.names("weight")
    mem = {w: speck_layer_memory(net, w) for w in layers}
    violations = []
    eligible = {}
    for w in layers:
        m = mem[w]
        eligible[w] = [c for c in range(n_cores)
                       if m["kernel"] <= kmem[c] and m["neuron"] <= nmem[c] and m["bias"] <= bmem[c]]
        if not eligible[w]:
            for key, table, rule in (("kernel", kmem, "kernel_memory"),
                                     ("neuron", nmem, "neuron_memory"), ("bias", bmem, "bias_memory")):
                if m[key] > max(table):
                    violations.append(Violation(w, rule, m[key], max(table),
                                                f"{key} memory of this layer exceeds every core"))
            if not any(v.node == w for v in violations):
                violations.append(Violation(w, "core_memory", m, "no core has room for both"))
    core_of = _matching(eligible, n_cores)
    if len(layers) > n_cores * t["cores.layers_per_core"]:
        violations.append(Violation("(network)", "cores", len(layers), n_cores,
                                    "one layer per core"))
    for w in layers:
        if eligible[w] and w not in core_of:
            violations.append(Violation(w, "core_assignment", "unassigned", n_cores,
                                        "no free core with enough memory"))
    violations += _destinations(net, t)
    layer_at = {c: w for w, c in core_of.items()}
    per_core = [{"core": c, "layer": layer_at.get(c),
                 "kernel_memory": mem[layer_at[c]]["kernel"] if c in layer_at else 0,
                 "kernel_memory_available": kmem[c],
                 "neuron_memory": mem[layer_at[c]]["neuron"] if c in layer_at else 0,
                 "neuron_memory_available": nmem[c]} for c in range(n_cores)]
    resources = {"cores_used": len(core_of), "cores_available": n_cores, **_totals(net),
                 "mapping": {w: core_of.get(w) for w in layers}, "per_core": per_core,
                 "layer_memory": mem}
    return violations, resources


def _destinations(net: Net, t):
    limit = t["cores.destinations_per_core"]
    if limit == UNLIMITED:
        return []
    out = []
    for n in net.names("neuron"):
        targets = [c for c in net.topo.consumers(n) if net.kind(c) == "weight"]
        if len(targets) > limit:
            out.append(Violation(n, "destinations", len(targets), limit,
                                 "a core sends to at most this many cores"))
    return out


# ------------------------------------------------------------------ packed: Loihi 2, SpiNNaker2

def _population_memory(net: Net, t, neuron: str) -> tuple[float, float]:
    """(bytes shared by a core's slice, bytes per neuron) under the target's memory model."""
    bps, bpn = t["cores.bytes_per_synapse"], t["cores.bytes_per_neuron"]
    shared, per_neuron = 0.0, bpn
    for w in net.topo.incoming_weights(neuron):
        op = net.ops[w]
        if isinstance(op, ConvOp) and t["cores.conv_weights_shared"]:
            shared += stored_weights(op) * bps
        else:
            rows = np.count_nonzero(np.asarray(op.weight).reshape(op.weight.shape[0], -1), axis=1)
            per_neuron += float(np.max(rows)) * bps if rows.size else 0.0
    return shared, per_neuron


def packed(net: Net, t):
    npc = min(t.per_core("cores.neurons_per_core"))
    mem = min(t.per_core("cores.memory_bytes_per_core"))
    count = t["cores.count"]
    violations, mapping, used = [], {}, 0
    for n in net.names("neuron"):
        size = net.size(n)
        shared, per = _population_memory(net, t, n)
        fit = npc if mem == UNLIMITED else min(npc, math.floor((mem - shared) / per) if per else npc)
        if fit < 1:
            violations.append(Violation(n, "memory_per_core", int(math.ceil(shared + per)),
                                        mem, "one neuron with its synapses exceeds the "
                                                     "memory of a core (memory model)"))
            continue
        cores = math.ceil(size / fit)
        mapping[n] = {"cores": cores, "neurons_per_core": int(min(fit, size)),
                      "bytes_per_core": int(math.ceil(shared + per * min(fit, size)))}
        used += cores
    if used > count:
        violations.append(Violation("(network)", "cores", used, count,
                                    "more cores needed than the chip has"))
    resources = {"cores_used": used, "cores_available": count, **_totals(net),
                 "neurons_per_core_available": npc,
                 "memory_bytes_per_core_available": mem, "mapping": mapping}
    return violations, resources


# ------------------------------------------------------------------ Xylo: hidden + output populations

def populations(net: Net, t):
    violations = []
    outputs = net.outputs()
    for o in net.names("output"):
        for p in net.topo.preds[o]:
            if net.kind(p) != "neuron":
                violations.append(Violation(o, "graph_rule", f"{p} -> {o}", "outputs come from "
                                            "neurons", "outputs come straight from neurons"))
    for n in net.names("neuron"):
        for p in net.topo.preds[n]:
            if net.kind(p) not in ("weight",):
                violations.append(Violation(n, "graph_rule", f"{p} -> {n}", "neurons receive "
                                            "from weights", "neurons receive only from weights"))
    for i in net.names("input"):
        for s in net.topo.consumers(i):
            if net.kind(s) != "weight":
                violations.append(Violation(i, "graph_rule", f"{i} -> {s}", "first module is a "
                                            "weight", "the first module must be a weight"))
    for n in outputs:
        if net.topo.on_cycle(n):
            violations.append(Violation(n, "graph_rule", "recurrent output", "output neurons "
                                        "are not recurrent", "output neurons are not recurrent"))
    n_in = int(np.prod(net.input_shape))
    if n_in > t["io.input_channels_max"]:
        violations.append(Violation(net.names("input")[0], "inputs", n_in,
                                    t["io.input_channels_max"], "input channels"))
    hidden = sum(net.size(n) for n in net.names("neuron") if n not in outputs)
    readout = sum(net.size(n) for n in outputs)
    resources = {"cores_used": 1, "cores_available": t["cores.count"], **_totals(net),
                 "hidden_neurons": hidden, "hidden_neurons_available": t["neurons.hidden_max"],
                 "output_neurons": readout,
                 "output_neurons_available": t["neurons.output_max"],
                 "inputs": n_in, "inputs_available": t["io.input_channels_max"],
                 "recurrent_weights": sum(stored_weights(net.ops[w]) for w in net.recurrent_weights()),
                 "recurrent_weights_available": t["layers.recurrent_weights_max"]}
    return violations, resources


def unlimited(net: Net, t):
    return [], {"cores_used": 0, "cores_available": UNLIMITED, **_totals(net)}


MAPPERS = {"layer_per_core": layer_per_core, "packed": packed, "populations": populations,
           "unlimited": unlimited}
