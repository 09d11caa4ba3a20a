"""Xylo (XyloAudio 2): bit-shift leaky neurons that take their input events one by one
(`BitShiftLIF`, ``accumulate="ordered"``, xylosim's delivery order), docs/equations/targets.md.

What the chip forces on a float network, each a warning: a neuron without leak gets the slowest
decay, one without synapse the fastest synaptic decay (Xylo always has one), and every neuron
starts at 0 (``v_init`` dropped). An input channel delivers at most ``io.max_input_events`` events
per step. Structure: hidden spikes reach recurrent and readout weights one step later, and a
neuron receives its input weights' events before its recurrent ones.
"""
from __future__ import annotations

import numpy as np

from ...equations.neurons import BitShiftLIF
from ..numbers import state_integers
from .base import Family, leaky, note
from .bitshift import FASTEST, BitShiftDecays, dash, record, slowest, synapse_gain



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


FAMILY = Xylo()
