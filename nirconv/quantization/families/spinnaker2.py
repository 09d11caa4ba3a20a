"""SpiNNaker2: float32 LIF neurons on ARM cores, integer weights times one float32 scale
(`Float32LIF`), docs/equations/targets.md.

Decays are float32 factors; the threshold is 1 in normalized units (the next float32 above 1 for a
float neuron that fires on ``>``); the bias becomes ``i_offset``. SpiNNaker2 neurons spike (no
membrane readout) and start at 0 (``v_init`` dropped, a warning). A float neuron with a synaptic
current is exported for ``lif_curr_exp`` with a warning: nirconv's `Float32LIF` has no synapse, so
integer-mode simulation of the file refuses it. Structure: every weighted sum stays exact in
float32 (|Σ w·s| < 2**24).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...equations.neurons import Float32LIF
from ...errors import Unsupported
from ..numbers import full
from .base import Family, note



@dataclass(frozen=True, eq=False)
class Float32Decays:
    alpha: np.ndarray  # float32 per neuron


class SpiNNaker2(Family):
    name = "spinnaker2"
    record = Float32LIF

    def decays(self, name, neuron, target):
        notes = []
        if neuron.alpha_syn is not None:
            notes.append(note(name, "no_integer_simulation", "exported for lif_curr_exp, but "
                              "nirconv's SpiNNaker2 equations (Float32LIF) have no synaptic "
                              "current: integer-mode simulation refuses this node"))
        return Float32Decays(alpha=full(neuron.alpha_mem, neuron.shape).astype(np.float32)), notes

    def neuron(self, plan, target):
        if not plan.spiking:
            raise Unsupported("SpiNNaker2 neurons spike (no membrane readout)", node=plan.name,
                              field="type")
        r = plan.float_neuron
        shape = r.shape
        one = np.float32(1.0)
        threshold = one if r.compare == ">=" else np.nextafter(one, np.float32(2.0))
        notes = []
        if (plan.v_init != 0).any():
            notes.append(note(plan.name, "v_init_dropped", "SpiNNaker2 LIF starts at v = 0 "
                                                           "(v_init dropped)"))
        return Float32LIF(shape=shape, alpha=full(plan.decays.alpha, shape, np.float32),
                          threshold=np.full(shape, threshold, dtype=np.float32),
                          i_offset=plan.bias.astype(np.float32),
                          v_reset=(full(r.v_reset, shape) / plan.theta).astype(np.float32),
                          weight_scale=float(np.float32(plan.weight_scale)),
                          reset=plan.reset), notes


FAMILY = SpiNNaker2()
