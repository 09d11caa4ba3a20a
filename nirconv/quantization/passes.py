"""The quantization passes: a float `Program` and a `Target` -> the integer `Program` of the
target's arithmetic family (docs/equations/targets.md, "Quantization"). Run by `quantize`:

    fold_scales -> switches -> decays -> input_encoding -> scales -> weights -> neurons -> stamp

Each pass takes and returns a `Quantizing` state (``state.py``) with a precondition and a
postcondition (``nirconv/passes.py``): a broken one is a bug in nirconv (`InternalError`, exit 3);
input the target cannot take is refused inside a pass (`Unsupported`/`BadInput` naming the node and
field). Family-specific arithmetic is the family's (``families/``); these passes are generic over
the target's data. The postconditions check the integer program itself: integral weights in
range, neuron records of the family (they validate themselves), the family's structural rules.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional

import numpy as np

from ..equations.program import AffineOp, ConvOp, NeuronOp, Program
from ..equations.records import Deployment, InputEncoding, NeuronScales, WeightScales
from ..equations.topology import Topology
from ..errors import InternalError, NirconvError, Unsupported
from ..passes import Pass, run_passes
from . import numbers as N
from .families import family_of, note
from .fold import fold_scales
from .state import InputRange, NeuronPlan, NeuronUnit, Quantizing, WeightUnit
from .structure import (consumer_neuron, fed_by_input, integer_ops, is_passthrough,
                        readout_neurons)

WEIGHT_OPS = (AffineOp, ConvOp)


# ------------------------------------------------------------------ fold_scales

def p_fold_scales(state: Quantizing) -> Quantizing:
    program = fold_scales(state.program)
    return dataclasses.replace(state, program=program, topology=Topology.of(program))


def is_float(state: Quantizing) -> Optional[str]:
    return None if state.program.mode == "float" else f"a {state.program.mode} program"


def folded(state: Quantizing) -> Optional[str]:
    if state.topology is None:
        return "no topology"
    return None if fold_scales(state.program) is state.program else "a foldable Scale op is left"


# ------------------------------------------------------------------ switches

def p_switches(state: Quantizing) -> Quantizing:
    """The float neurons' dialect switches that the chip's integer equations do not have: each a
    warning, never silently dropped."""
    name_t = state.target.name
    found = []
    for name in state.topology.of_kind("neuron"):
        r = state.topology.ops[name].neuron
        if r.current_delay:
            found.append(note(name, "current_delay", "the float neuron uses the previous step's "
                                                     f"current; {name_t} uses this step's"))
        if not r.reset_after_decay:
            found.append(note(name, "reset_after_decay", "the float neuron applies its reset one "
                                                         f"step late (snnTorch); {name_t} resets "
                                                         "at once"))
        if r.spiking and r.max_spikes != 1:
            found.append(note(name, "max_spikes", f"the float neuron emits up to {r.max_spikes} "
                                                  f"spikes per step; {name_t} follows its own "
                                                  "limit"))
        if r.v_min is not None:
            found.append(note(name, "v_min", f"the float lower bound of v is replaced by "
                                             f"{name_t}'s state range"))
    return dataclasses.replace(state, warnings=state.warn(*found))


# ------------------------------------------------------------------ decays

def p_decays(state: Quantizing) -> Quantizing:
    decays, found = {}, []
    for name in state.topology.of_kind("neuron"):
        decays[name], notes = state.family.decays(name, state.topology.ops[name].neuron,
                                                  state.target)
        found += notes
    return dataclasses.replace(state, decays=decays, warnings=state.warn(*found))


def every_neuron_has(field: str):
    def condition(state: Quantizing) -> Optional[str]:
        missing = [n for n in state.topology.of_kind("neuron") if n not in getattr(state, field)]
        return f"neurons without {field}: {missing[:5]}" if missing else None
    return condition


# ------------------------------------------------------------------ input_encoding

def p_input_encoding(state: Quantizing) -> Quantizing:
    """Static float inputs become events (rate) or integer currents; one event / integer unit is
    worth ``scale`` float input units. Spike inputs (integer calibration data, or none) keep
    scale 1: an event is a float spike. Without calibration data, the range the float program
    was quantized with before (a deployed file's float view) is used."""
    t, given = state.target, state.input_range
    top = given.max_abs if given.max_abs is not None else state.program.encoding.input_max
    events = given.events or top is None or not float(top) > 0
    kind = t["io.input_encoding"]
    if kind == "rate":
        n = int(t["io.max_input_events"])
        scale = 1.0 if events else float(top) / n
        encoding = InputEncoding(kind=kind, scale=scale, max_events=n)
    else:
        bits = int(t["io.input_bits"])
        scale = 1.0 if events else float(top) / ((1 << (bits - 1)) - 1)
        encoding = InputEncoding(kind=kind, scale=scale, bits=bits)
    encoding = dataclasses.replace(encoding, input_max=None if events else float(top))
    return dataclasses.replace(state, encoding=encoding)


def has_encoding(state: Quantizing) -> Optional[str]:
    return None if state.encoding is not None else "no input encoding"


# ------------------------------------------------------------------ scales

def neuron_gain(state: Quantizing, name: str) -> np.ndarray:
    """G of a neuron (see ``numbers.py``), divided by its float threshold when it spikes."""
    r = state.topology.ops[name].neuron
    c = state.family.synapse_gain(state.decays[name], r.alpha_syn is not None)
    gain = N.view(r.beta_mem, r.shape) * N.float_synapse_gain(r) * c
    if r.spiking:
        gain = gain / N.view(r.v_threshold, r.shape)
    return gain


def route(state: Quantizing, weight: str, neuron: str, gains: dict) -> WeightUnit:
    """Where ``weight`` goes: its one neuron, that neuron's gain per output row (it must be
    constant within each row: the gain is folded into the weights) and whether an Input feeds
    it. Shift and unit are the scales' to set."""
    topo = state.topology
    rows = topo.ops[weight].weight.shape[0]
    g_rows = N.row_factor(gains[neuron], topo.ops[neuron].neuron.shape, rows, neuron, "gain")
    return WeightUnit(neuron=neuron, gain_rows=g_rows, from_input=fed_by_input(topo, weight))


def effective_weight(state: Quantizing, weight: str, unit: WeightUnit) -> np.ndarray:
    """The float weight times the per-row gain of its neuron (times the input scale when an
    Input feeds it): the weight in normalized membrane units per integer input."""
    w = np.asarray(state.topology.ops[weight].weight, dtype=np.float64)
    w = w * N.per_row(unit.gain_rows, w)
    if unit.from_input:
        w = w * float(state.encoding.scale)
    return w


def p_scales(state: Quantizing) -> Quantizing:
    t, topo = state.target, state.topology
    timesteps = float(state.program.timesteps or N.DEFAULT_TIMESTEPS)
    gains = {name: N.uniform(neuron_gain(state, name)) for name in topo.of_kind("neuron")}
    neuron_units, weight_units = {}, {}
    for neuron in topo.of_kind("neuron"):
        weights = topo.incoming_weights(neuron)
        if not weights:
            raise Unsupported("a neuron layer must receive its input through a weight layer",
                              node=neuron, field="edges")
        neurons = {w: consumer_neuron(topo, w) for w in weights}
        routes = {w: route(state, w, neurons[w], gains) for w in weights}
        eff = {w: effective_weight(state, w, routes[w]) for w in weights}
        r = topo.ops[neuron].neuron
        if t["weights.arithmetic"] == "float32":
            unit, units = float32_scales(state, eff)
        else:
            unit, units = integer_scales(state, r, eff, N.threshold_cap(t, r.spiking, timesteps))
        neuron_units[neuron] = dataclasses.replace(unit, gain=gains[neuron])
        weight_units.update({w: dataclasses.replace(routes[w], **units[w]) for w in weights})
    return dataclasses.replace(state, neuron_units=neuron_units, weight_units=weight_units)


def float32_scales(state: Quantizing, eff: dict) -> tuple:
    """One float32 factor for the layer: the largest |weight| maps to the largest integer."""
    peak = max(float(np.max(np.abs(w))) if w.size else 0.0 for w in eff.values())
    wmax = min(N.weight_max(state.target, w) for w in eff.values())
    s = float(np.float32(peak / wmax if peak > 0 else 1.0))
    return (NeuronUnit(gain=None, state_unit=1.0, weight_scale=s),
            {w: dict(shift=0, unit_rows=s) for w in eff})


def integer_scales(state: Quantizing, r, eff: dict, cap: float) -> tuple:
    """The state unit u of a neuron layer (per layer, or per channel) and each incoming weight
    op's shift: the largest weight row uses the integer range (with the largest shift) and the
    threshold stays below ``cap`` integer units."""
    t = state.target
    g = state.family.weight_gain(t)
    kmin, kmax = t["weights.shift_min"], t["weights.shift_max"]
    rows = {w: np.abs(N.row_view(e)).max(axis=1) for w, e in eff.items()}
    wmax = {w: N.weight_max(t, e) for w, e in eff.items()}
    need = [rows[w] / (wmax[w] * g * 2.0 ** kmax) for w in eff]
    if t["weights.scale"] == "per_channel":
        u = np.maximum(np.max(np.stack(need), axis=0), 1.0 / cap)
        first = next(iter(eff.values()))
        u_neuron = np.repeat(u, int(np.prod(r.shape)) // first.shape[0]).reshape(r.shape)
    else:
        u = max(max(float(n.max()) for n in need), 1.0 / cap)
        u_neuron = u
    units = {}
    for w, e in eff.items():
        ratio = float((rows[w] / u).max()) / (wmax[w] * g)
        k = min(max(math.ceil(math.log2(ratio)) if ratio > 0 else kmin, kmin), kmax)
        units[w] = dict(shift=k, unit_rows=N.uniform(
            np.broadcast_to(u, (e.shape[0],)) * (2.0 ** k) * g))
    return NeuronUnit(gain=None, state_unit=N.uniform(u_neuron)), units


def scaled(state: Quantizing) -> Optional[str]:
    topo = state.topology
    missing = [n for n in topo.of_kind("neuron") if n not in state.neuron_units]
    missing += [w for n in topo.of_kind("neuron") for w in topo.incoming_weights(n)
                if w not in state.weight_units]
    return f"no scales for {missing[:5]}" if missing else None


# ------------------------------------------------------------------ weights

def p_weights(state: Quantizing) -> Quantizing:
    topo = state.topology
    weights, found = {}, []
    for name in topo.of_kind("weight"):
        try:
            if is_passthrough(topo, name):
                weights[name] = passthrough_weights(state, name)
            else:
                weights[name], notes = integer_weights(state, name)
                found += notes
        except NirconvError as e:  # the scales records name their field
            raise e.at(node=name) from None
    return dataclasses.replace(state, weights=weights, warnings=state.warn(*found))


def integer_weights(state: Quantizing, name: str) -> tuple:
    t, topo = state.target, state.topology
    op = topo.ops[name]
    unit = state.weight_units.get(name)
    if unit is None:  # not an input of a neuron op: consumer_neuron says why
        consumer_neuron(topo, name)
        raise InternalError("a weight op that feeds one neuron op has no scales", node=name)
    e = effective_weight(state, name, unit)
    q = N.per_row(np.broadcast_to(unit.unit_rows, (e.shape[0],)), e)
    lo, hi, mode = N.weight_range(t, e)
    w_int = 2.0 * np.rint(e / (2.0 * q)) if mode == "mixed" else np.rint(e / q)
    clipped = int(((w_int < lo) | (w_int > hi)).sum())
    notes = [note(name, "weight_saturation", f"{clipped} weights clipped to [{lo}, {hi}]")] \
        if clipped else []
    w_int = w_int.clip(lo, hi)
    q_rows = q.reshape(-1)
    scale_rows = q_rows / unit.gain_rows
    if unit.from_input:
        scale_rows = scale_rows / float(state.encoding.scale)
    bias = None
    if op.bias is not None:
        bias, bias_notes = integer_bias(state, name, unit.gain_rows, q_rows)
        notes += bias_notes
    scales = WeightScales(weight_scale=N.uniform(scale_rows), unit_rows=unit.unit_rows,
                          sign_mode=mode, weight_bits=int(t["weights.bits"]))
    return dataclasses.replace(op, weight=N.as_file_integers(w_int), bias=bias, shift=unit.shift,
                               scales=scales), notes


def integer_bias(state: Quantizing, name: str, g_rows, q_rows) -> tuple:
    """The weight op's bias where the target adds it there (``neurons.bias = "weight"``), in
    integer state units; zeros where it goes to the neuron or is dropped (a warning)."""
    t = state.target
    op = state.topology.ops[name]
    b = np.broadcast_to(np.asarray(op.bias, dtype=np.float64), q_rows.shape)
    route = t["neurons.bias"]
    if route == "weight" and (b != 0).any():
        hi = (1 << (t["state.bits"] - 1)) - 1
        return N.as_file_integers(np.clip(np.rint(b * g_rows / q_rows), -hi - 1, hi)), []
    notes = []
    if route == "dropped" and (b != 0).any():
        notes.append(note(name, "bias_dropped", f"{t.name} has no bias on weight layers; the bias "
                                                "is dropped"))
    return np.zeros(q_rows.shape, dtype=np.int64), notes


def passthrough_weights(state: Quantizing, name: str):
    op = state.topology.ops[name]
    w = np.asarray(op.weight, dtype=np.float64)
    lo, hi, mode = N.weight_range(state.target, w)
    has_bias = op.bias is not None and (op.bias != 0).any()
    if not (np.mod(w, 1) == 0).all() or w.min() < lo or w.max() > hi or has_bias:
        raise Unsupported("a weight layer feeding another weight layer must hold integer weights "
                          "without bias (e.g. sum pooling); fold it into the next layer",
                          node=name, field="weight")
    bias = None if op.bias is None else np.zeros(np.shape(op.bias), dtype=np.int64)
    scales = WeightScales(weight_scale=1.0, unit_rows=1.0, sign_mode=mode,
                          weight_bits=int(state.target["weights.bits"]))
    return dataclasses.replace(op, weight=N.as_file_integers(w), bias=bias, shift=0,
                               scales=scales)


def weights_in_range(state: Quantizing) -> Optional[str]:
    bits = int(state.target["weights.bits"])
    for name in state.topology.of_kind("weight"):
        op = state.weights.get(name)
        if op is None:
            return f"weight op {name} was not quantized"
        w = op.weight
        if w.dtype != np.int64 or (op.bias is not None and op.bias.dtype != np.int64):
            return f"weights of {name} are not integers"
        lo, hi = -(1 << bits), (1 << bits) - 1
        if w.size and (w.min() < lo or w.max() > hi):
            return f"weights of {name} exceed {bits} bits"
    return None


# ------------------------------------------------------------------ neurons

def p_neurons(state: Quantizing) -> Quantizing:
    topo = state.topology
    readouts = readout_neurons(topo)
    neurons, found = {}, []
    for name in topo.of_kind("neuron"):
        plan, notes = neuron_plan(state, name, name in readouts)
        try:
            record, family_notes = state.family.neuron(plan, state.target)
        except NirconvError as e:
            raise e.at(node=name) from None
        unit = state.neuron_units[name]
        neurons[name] = dataclasses.replace(
            topo.ops[name], neuron=record,
            scales=NeuronScales(gain=unit.gain, state_unit=unit.state_unit,
                                scale=N.uniform(plan.unit * plan.theta)))
        found += notes + family_notes
    return dataclasses.replace(state, neurons=neurons, warnings=state.warn(*found))


def neuron_plan(state: Quantizing, name: str, is_readout: bool) -> tuple:
    """The `NeuronPlan` of a neuron op (normalized float values, deployed reset, spike limit) and
    the notes of the generic rules (bias moved, reset substituted, v_reset ignored)."""
    t = state.target
    r = state.topology.ops[name].neuron
    shape = r.shape
    theta = N.view(r.v_threshold, shape) if r.spiking else np.ones(shape)
    moved, notes = moved_bias(state, name)
    bias = N.view(r.bias, shape)
    if moved is not None:
        bias = bias + moved * N.view(r.beta_mem, shape) * N.float_synapse_gain(r)
    reset = None
    if r.spiking:
        reset, reset_notes = deployed_reset(t, name, r)
        notes += reset_notes
        if reset == "zero" and (np.asarray(r.v_reset) != 0).any():
            notes.append(note(name, "v_reset", "reset goes to 0 on this target, not v_reset"))
    unit = state.neuron_units[name]
    max_spikes = t["neurons.max_spikes_output" if is_readout else "neurons.max_spikes_hidden"]
    return NeuronPlan(name=name, float_neuron=r, decays=state.decays[name],
                      unit=N.full(unit.state_unit, shape), theta=theta, bias=bias / theta,
                      v_init=N.view(r.v_init, shape) / theta, reset=reset,
                      max_spikes=max_spikes, weight_scale=unit.weight_scale), notes


def moved_bias(state: Quantizing, neuron: str) -> tuple:
    """Where the target adds a layer's bias at the neuron (``neurons.bias = "neuron"``): the sum
    of the incoming weight ops' float biases in the neuron's shape (None elsewhere), and a note
    per weight op when the neuron has a synapse (equal in steady state only)."""
    if state.target["neurons.bias"] != "neuron":
        return None, []
    topo = state.topology
    r = topo.ops[neuron].neuron
    total = np.zeros(r.shape)
    notes = []
    for w in topo.incoming_weights(neuron):
        b = topo.ops[w].bias
        if b is None or not (b != 0).any():
            continue
        b = np.asarray(b, dtype=np.float64)
        total = total + np.repeat(b, int(np.prod(r.shape)) // b.size).reshape(r.shape)
        if r.alpha_syn is not None:
            notes.append(note(w, "bias_moved", "bias moved from the synaptic input to the neuron "
                                               "(equal in steady state)"))
    return total, notes


def deployed_reset(target, name: str, r) -> tuple:
    """The float neuron's reset where the target has it, else the target's substitute (a note),
    else Unsupported."""
    if r.reset in target["neurons.reset_modes"]:
        return r.reset, []
    sub = target["neurons.reset_substitute"].get(r.reset)
    if sub is None:
        raise Unsupported(f"reset {r.reset!r} is not supported by {target.name}", node=name,
                          field="metadata.reset")
    return sub, [note(name, "reset_substituted", f"reset {r.reset!r} becomes {sub!r} on "
                                                 f"{target.name}")]


def neurons_of_family(state: Quantizing) -> Optional[str]:
    record = state.family.record
    for name in state.topology.of_kind("neuron"):
        op = state.neurons.get(name)
        if op is None or not isinstance(op.neuron, record):
            return f"neuron {name} has no {record.__name__} record"
    return None


# ------------------------------------------------------------------ stamp

def p_stamp(state: Quantizing) -> Quantizing:
    """The integer program: integer weight and neuron ops in the integer order with the integer
    edge delays, the family's structural rules, the encoding and the `Deployment`."""
    t, f = state.target, state.program
    ops = integer_ops(state.topology, {**state.weights, **state.neurons})
    program = Program(ops=ops, inputs=f.inputs, outputs=f.outputs, mode="int", family=t.family,
                      dt=f.dt, source=f.source, encoding=state.encoding,
                      deployment=Deployment(target=t.name, family=t.family,
                                            weight_bits=int(t["weights.bits"]),
                                            state_bits=int(t["state.bits"]),
                                            warnings=state.warnings),
                      timesteps=f.timesteps, provenance=dict(f.provenance))
    return dataclasses.replace(state, result=state.family.structure(program))


def deployable(state: Quantizing) -> Optional[str]:
    p = state.result
    if p is None or p.mode != "int" or p.family != state.target.family:
        return "no integer program of the target's family"
    if [op.name for op in p.ops if isinstance(op, WEIGHT_OPS) and op.scales is None] or \
            [op.name for op in p.ops if isinstance(op, NeuronOp) and op.scales is None]:
        return "an integer op without its scales"
    return state.family.structure_holds(p)


PASSES = [
    Pass("fold_scales", p_fold_scales, requires=is_float, ensures=folded),
    Pass("switches", p_switches),
    Pass("decays", p_decays, ensures=every_neuron_has("decays")),
    Pass("input_encoding", p_input_encoding, ensures=has_encoding),
    Pass("scales", p_scales, requires=has_encoding, ensures=scaled),
    Pass("weights", p_weights, ensures=weights_in_range),
    Pass("neurons", p_neurons, ensures=neurons_of_family),
    Pass("stamp", p_stamp, ensures=deployable),
]


def quantize(float_program: Program, target, input_range: InputRange | None = None) -> Program:
    """The integer program of ``float_program`` for ``target`` (a `Target`), with its
    `Deployment` and the warnings of what the target changed; no fit check. ``input_range``
    (`InputRange`) comes from calibration data (None: none). The input is not modified."""
    state = Quantizing(program=float_program, target=target, family=family_of(target),
                       input_range=input_range or InputRange())
    try:
        state = run_passes(state, PASSES, pipeline="quantization", source=float_program.source)
    except NirconvError as e:
        raise e.at(file=float_program.source) from None
    return state.result
