"""Loihi 2: CUBA LIF neurons bit-accurate as lava's (`LoihiCubaLIF`), docs/equations/targets.md.

Decays are 12-bit fractions of ``LoihiCubaLIF.ONE``; the weighted sum enters the current as
``a_in << A_IN_SHIFT`` and the threshold is compared as ``vth << A_IN_SHIFT``; every neuron bias is
``bias_mant << state.bias_exp`` with a ``state.bias_bits`` mantissa. Loihi 2 neurons start at 0
(``v_init`` dropped, a warning) and reset to 0. Structure: lava's Dense delivers one step later
(every edge weight op -> neuron has delay 1), and a weight op feeding a neuron has no bias
(``nirconv/equations/structure.py``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...equations.neurons import LoihiCubaLIF
from ..numbers import full, threshold_int
from .base import Family, note

ONE = LoihiCubaLIF.ONE


@dataclass(frozen=True, eq=False)
class LoihiDecays:
    du: np.ndarray  # current: u decays by (ONE - (du + 1)) / ONE
    dv: np.ndarray  # membrane: v decays by (ONE - dv) / ONE


def membrane_decay(alpha_mem) -> np.ndarray:
    return np.clip(np.rint(ONE * (1.0 - alpha_mem)), 0, ONE - 1).astype(np.int64)


def current_decay(alpha_syn) -> np.ndarray:
    """du such that u decays by (ONE - (du + 1)) / ONE."""
    return np.clip(np.rint(ONE * (1.0 - alpha_syn)) - 1, 0, ONE - 1).astype(np.int64)


class Loihi2(Family):
    name = "loihi2"
    record = LoihiCubaLIF

    def decays(self, name, neuron, target):
        alpha_mem = full(neuron.alpha_mem, neuron.shape)
        if neuron.alpha_syn is None:  # u is this step's input only
            du = np.full(alpha_mem.shape, ONE - 1, dtype=np.int64)
        else:
            du = current_decay(full(neuron.alpha_syn, neuron.shape))
        return LoihiDecays(du=du, dv=membrane_decay(alpha_mem)), []

    def synapse_gain(self, decays, has_synapse):
        return (decays.du + 1) / ONE if has_synapse else 1.0

    def weight_gain(self, target) -> int:
        return 1 << LoihiCubaLIF.A_IN_SHIFT

    def neuron(self, plan, target):
        step = 1 << LoihiCubaLIF.A_IN_SHIFT  # the threshold's step: v > vth << A_IN_SHIFT
        vth = None
        if plan.spiking:
            th = threshold_int(1.0 / plan.unit, plan.float_neuron.compare, LoihiCubaLIF.compare)
            vth = np.clip(np.rint(th / float(step)), 0,
                          (1 << target["state.threshold_bits"]) - 1).astype(np.int64)
        bias_units = np.rint(plan.bias / plan.unit)
        exp, bits = int(target["state.bias_exp"]), int(target["state.bias_bits"])
        hi = (1 << (bits - 1)) - 1
        mant = np.clip(np.rint(bias_units / (1 << exp)), -hi - 1, hi).astype(np.int64)
        notes = []
        if (np.abs(bias_units - (mant << exp)) > (1 << exp) / 2).any():
            notes.append(note(plan.name, "bias_saturation", f"bias clipped to the {bits}-bit "
                                                            f"mantissa << {exp}"))
        if (plan.v_init != 0).any():
            notes.append(note(plan.name, "v_init_dropped", "Loihi 2 LIF starts at v = 0 (v_init "
                                                           "dropped)"))
        shape = plan.float_neuron.shape
        d = plan.decays
        return LoihiCubaLIF(shape=shape, du=full(d.du, shape, np.int64),
                            dv=full(d.dv, shape, np.int64), vth=vth, bias_mant=mant,
                            bias_exp=np.full(shape, exp, dtype=np.int64)), notes


FAMILY = Loihi2()
