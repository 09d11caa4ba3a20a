"""Xylo (XyloAudio 2): bit-shift leaky neurons that take their input events one by one
(`BitShiftLIF`, ``accumulate="ordered"``, xylosim's delivery order), docs/equations/targets.md.

What the chip forces on a float network, each a warning: a neuron without leak gets the slowest
decay, one without synapse the fastest synaptic decay (Xylo always has one), and every neuron
starts at 0 (``v_init`` dropped). An input channel delivers at most ``io.max_input_events`` events
per step. Structure: hidden spikes reach recurrent and readout weights one step later, and a
neuron receives its input weights' events before its recurrent ones.
"""
from __future__ import annotations

import dataclasses
import numpy as np

from ...equations.neurons import BitShiftLIF
from ...equations.program import AffineOp, ConvOp, Edge, NeuronOp, Program
from ..numbers import state_integers
from .base import Family, leaky, note
from .bitshift import FASTEST, BitShiftDecays, dash, record, slowest, synapse_gain

WEIGHT_OPS = (AffineOp, ConvOp)


class Xylo(Family):
    name = "xylo"
    record = BitShiftLIF

    def decays(self, name, neuron, target):
        bits = target["neurons.decay_bits"]
        notes = []
        if not leaky(neuron):
            notes.append(note(name, "no_leak", f"no leak: modelled by the slowest bit-shift decay "
                                               f"(dash_mem {slowest(bits)})"))
        if neuron.alpha_syn is not None:
            dash_syn = dash(neuron.alpha_syn, bits)
        else:
            dash_syn = np.full(np.shape(neuron.alpha_mem), FASTEST, dtype=np.int64)
            notes.append(note(name, "no_synapse", "no synaptic current: Xylo always has one; "
                                                  f"modelled with the fastest decay (dash_syn "
                                                  f"{FASTEST})"))
        return BitShiftDecays(dash_mem=dash(neuron.alpha_mem, bits), dash_syn=dash_syn), notes

    def synapse_gain(self, decays, has_synapse):
        return synapse_gain(decays)

    def neuron(self, plan, target):
        threshold, bias, v_init = state_integers(plan, target)
        notes = []
        if (v_init != 0).any():
            notes.append(note(plan.name, "v_init_dropped", "Xylo neurons start at 0 (v_init "
                                                           "dropped)"))
            v_init = np.zeros_like(v_init)
        return record(plan, target, (threshold, bias, v_init), accumulate="ordered",
                      input_event_cap=int(target["io.max_input_events"])), notes

    def structure(self, program: Program) -> Program:
        ops = _delayed_hidden_spikes(program.ops)
        return dataclasses.replace(program, ops=_input_weights_first(ops))


def _neurons(ops) -> set:
    return {o.name for o in ops if isinstance(o, NeuronOp)}


def _delayed_hidden_spikes(ops) -> tuple:
    """Hidden spikes reach recurrent and readout weights one step later (xylosim ``evolve``): an
    edge neuron -> weight op gets delay 1, unless a path back is delayed already (a recurrent
    weight op whose edge into the neuron has the delay keeps its single step)."""
    neurons = _neurons(ops)
    delays_out: dict = {}
    for o in ops:
        for e in o.inputs:
            delays_out.setdefault(e.src, []).append(e.delay)
    out = []
    for op in ops:
        if isinstance(op, WEIGHT_OPS):
            delayed_after = any(d >= 1 for d in delays_out.get(op.name, []))
            op = dataclasses.replace(op, inputs=tuple(
                Edge(e.src, 1) if e.src in neurons and e.delay == 0 and not delayed_after else e
                for e in op.inputs))
        out.append(op)
    return tuple(out)


def _input_weights_first(ops) -> tuple:
    """A neuron's inputs ordered as xylosim delivers them: the weight ops that do not read a
    neuron (input weights) first, then the others (recurrent), each group in its own order."""
    neurons = _neurons(ops)
    by_name = {o.name: o for o in ops}

    def rank(e):
        reads_neuron = any(x.src in neurons for x in getattr(by_name[e.src], "inputs", ()))
        return 1 if reads_neuron else 0

    return tuple(dataclasses.replace(op, inputs=tuple(sorted(op.inputs, key=rank)))
                 if isinstance(op, NeuronOp) else op for op in ops)


FAMILY = Xylo()
