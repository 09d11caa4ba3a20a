"""Speck / DYNAP-CNN: integrate-and-fire neurons with an integer state (`SpeckIAF`).

No decay: a leaky float neuron is refused. A membrane readout is refused (Speck neurons spike).
Threshold, bias and initial membrane are integers in ``state.bits`` (docs/equations/targets.md).
"""
from __future__ import annotations

from ...equations.neurons import SpeckIAF
from ...errors import Unsupported
from ..numbers import spike_limit, state_integers
from .base import Family, leaky


class Speck(Family):
    name = "speck"
    record = SpeckIAF

    def decays(self, name, neuron, target):
        if leaky(neuron):
            raise Unsupported("Speck neurons have no leak (IAF only)", node=name, field="tau")
        return None, []

    def neuron(self, plan, target):
        if not plan.spiking:
            raise Unsupported("Speck neurons spike (no membrane readout)", node=plan.name,
                              field="type")
        threshold, bias, v_init = state_integers(plan, target)
        bits = target["state.bits"]
        return SpeckIAF(shape=plan.float_neuron.shape, threshold=threshold, bias=bias,
                        v_init=v_init, v_min=-(1 << (bits - 1)), v_max=(1 << (bits - 1)) - 1,
                        reset=plan.reset, max_spikes=spike_limit(plan.max_spikes)), []


FAMILY = Speck()
