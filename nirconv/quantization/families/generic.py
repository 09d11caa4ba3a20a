"""generic: bit-shift leaky neurons that accumulate their input as a sum (`BitShiftLIF`,
``accumulate="sum"``), no input event cap. A neuron without leak keeps no leak term and one
without synapse no synaptic state (docs/equations/targets.md)."""
from __future__ import annotations

from ...equations.limits import UNLIMITED
from ...equations.neurons import BitShiftLIF
from ..numbers import state_integers
from .base import Family, leaky
from .bitshift import BitShiftDecays, dash, record, synapse_gain


class Generic(Family):
    name = "generic"
    record = BitShiftLIF

    def decays(self, name, neuron, target):
        bits = target["neurons.decay_bits"]
        return BitShiftDecays(
            dash_mem=dash(neuron.alpha_mem, bits) if leaky(neuron) else None,
            dash_syn=None if neuron.alpha_syn is None else dash(neuron.alpha_syn, bits)), []

    def synapse_gain(self, decays, has_synapse):
        return synapse_gain(decays)

    def neuron(self, plan, target):
        return record(plan, target, state_integers(plan, target), accumulate="sum",
                      input_event_cap=UNLIMITED), []


FAMILY = Generic()
