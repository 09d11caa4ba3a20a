"""Bit-shift decays (Xylo and generic, `BitShiftLIF`): ``x -= x >> dash`` per step.

``dash = round(log2(tau/dt)) = round(log2(1/(1 - alpha)))``, clipped to ``1 .. 2**decay_bits - 1``:
a neuron without leak (alpha >= 1) gets the slowest decay, and ``dash = 0`` (which would clear
the state every step, and which xylosim mishandles at -32768) is never emitted
(docs/equations/targets.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ...equations.neurons import BitShiftLIF
from ..numbers import full, spike_limit

FASTEST = 1  # the fastest decay a quantizer emits (x -= x >> 1)


@dataclass(frozen=True, eq=False)
class BitShiftDecays:
    dash_mem: Optional[np.ndarray]  # int64 per neuron, None: no leak term
    dash_syn: Optional[np.ndarray]  # int64 per neuron, None: no synaptic state


def slowest(bits: int) -> int:
    return (1 << bits) - 1


def dash(alpha, bits: int) -> np.ndarray:
    """The bit-shift decay closest to ``alpha`` (see the module docstring)."""
    leak = 1.0 - np.asarray(alpha, dtype=np.float64)
    with np.errstate(divide="ignore"):
        d = np.where(leak > 0, np.rint(np.log2(1.0 / np.where(leak > 0, leak, 1.0))),
                     slowest(bits))
    return np.clip(d, FASTEST, slowest(bits)).astype(np.int64)


def decay_alpha(d: np.ndarray) -> np.ndarray:
    """The per-step decay factor of a bit-shift decay, 1 - 2**-dash."""
    return 1.0 - np.exp2(-np.asarray(d, dtype=np.float64))


def synapse_gain(decays: BitShiftDecays):
    """C of a bit-shift synapse, which decays the step's input too: (1 - a) / a."""
    if decays.dash_syn is None:
        return 1.0
    a = decay_alpha(decays.dash_syn)
    return (1.0 - a) / a


def record(plan, target, integers: tuple, *, accumulate: str, input_event_cap) -> BitShiftLIF:
    """The `BitShiftLIF` of ``plan`` from its (threshold, bias, v_init) in integer state units."""
    threshold, bias, v_init = integers
    shape = plan.float_neuron.shape
    d = plan.decays
    return BitShiftLIF(shape=shape, threshold=threshold, bias=bias, v_init=v_init,
                       dash_mem=None if d.dash_mem is None else full(d.dash_mem, shape, np.int64),
                       dash_syn=None if d.dash_syn is None else full(d.dash_syn, shape, np.int64),
                       state_bits=int(target["state.bits"]),
                       max_spikes=spike_limit(plan.max_spikes), accumulate=accumulate,
                       reset=plan.reset or "subtract", input_event_cap=input_event_cap)
