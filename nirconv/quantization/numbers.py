"""Number formats every target shares (docs/equations/targets.md, "Quantization"): the integer
range of a weight matrix, the integer threshold, the float synapse's gain, per-row factors.

A float neuron is first normalized so that its threshold is 1 (non-spiking readouts: gain 1);
``G = beta_mem * F * C / θ`` maps its float input to the per-step integer input in normalized
membrane units, where ``F = beta_syn / (1 - alpha_syn)`` (1 without synapse) is the float synapse's
total gain (`float_synapse_gain`) and ``C`` corrects for the integer synapse's own gain (the
family's ``synapse_gain``). A state unit ``u`` (normalized float per integer LSB) is then chosen
per layer (or channel) from the weights' range and the target's threshold cap.
"""
from __future__ import annotations

import numpy as np

from ..equations.limits import UNLIMITED
from ..equations.neurons import NeuronFloat
from ..errors import Unsupported

DEFAULT_TIMESTEPS = 32  # the step count a readout's state range is sized for, when unknown


def uniform(a):
    """A scalar when every element is equal (records and files stay small), else the array."""
    if isinstance(a, (int, float)):
        return a
    a = np.asarray(a)
    if a.size and (a == a.flat[0]).all():
        v = a.ravel()[0]
        return v.item() if hasattr(v, "item") else v
    return a


def full(value, shape, dtype=np.float64) -> np.ndarray:
    """``value`` broadcast to ``shape`` as a new array."""
    a = np.asarray(value, dtype=dtype)
    if a.shape == tuple(shape):
        return a.copy()
    if a.ndim == 0:
        return np.full(tuple(shape), a, dtype=dtype)
    return np.broadcast_to(a, tuple(shape)).copy()


def view(value, shape, dtype=np.float64) -> np.ndarray:
    """``value`` in ``shape`` for reading (no copy when it already has that shape)."""
    a = np.asarray(value, dtype=dtype)
    return a if a.shape == tuple(shape) else np.broadcast_to(a, tuple(shape))


def weight_range(target, w: np.ndarray) -> tuple[int, int, str]:
    """(lo, hi, sign mode) of the integer weights of matrix ``w`` on ``target``."""
    bits = target["weights.bits"]
    if target["weights.encoding"] == "loihi_sign_mode":
        hi = (1 << bits) - 1
        if (w >= 0).all():
            return 0, hi, "excitatory"
        if (w <= 0).all():
            return -hi, 0, "inhibitory"
        return -(1 << bits), (1 << bits) - 2, "mixed"
    if not target["weights.signed"]:
        return 0, (1 << bits) - 1, "unsigned"
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1, "signed"


def weight_max(target, w: np.ndarray) -> float:
    """The largest |integer weight| the scales aim for (signed: the smaller side)."""
    lo, hi, mode = weight_range(target, w)
    return float(min(abs(lo) if lo else hi, hi if hi else abs(lo)) if mode == "signed"
                 else max(abs(lo), abs(hi)))


def threshold_cap(target, spiking: bool, timesteps: float) -> float:
    """The largest integer threshold (state units per threshold) the state range allows, keeping
    ``state.headroom_bits``; a readout that integrates over the run gets less."""
    cap = float(1 << (target["state.bits"] - 1 - target["state.headroom_bits"]))
    return cap if spiking else cap / max(1.0, timesteps / 4.0)


def threshold_int(theta_v: np.ndarray, float_compare: str, chip_compare: str) -> np.ndarray:
    """Integer threshold for state threshold ``theta_v`` (in integer v units, float): the chip's
    comparison gives the same verdict as the float one on integer states."""
    near = np.abs(theta_v - np.rint(theta_v)) < 1e-9
    if chip_compare == ">=":
        if float_compare == ">=":
            return np.maximum(1, np.rint(theta_v)).astype(np.int64)
        return np.where(near, np.rint(theta_v) + 1, np.floor(theta_v) + 1).astype(np.int64)
    # chip compares ">": v > th
    if float_compare == ">":
        return np.maximum(0, np.rint(theta_v)).astype(np.int64)
    return np.maximum(0, np.rint(theta_v - 1)).astype(np.int64)


def float_synapse_gain(r: NeuronFloat) -> np.ndarray:
    """F: the float synapse's total gain beta_syn / (1 - alpha_syn); 1 without synapse."""
    if r.alpha_syn is None:
        return np.ones(r.shape)
    alpha_syn, beta_syn = view(r.alpha_syn, r.shape), view(r.beta_syn, r.shape)
    leak = 1.0 - alpha_syn
    return np.where(leak > 0, beta_syn / np.where(leak > 0, leak, 1.0), beta_syn)


def row_factor(values, shape, n_rows: int, node: str, what: str) -> np.ndarray:
    """Per-row factor of a neuron-shaped array (``values`` broadcast to ``shape``), which must
    be constant (to 1e-9 relative) within each output channel."""
    if np.ndim(values) == 0:
        return np.full(n_rows, float(values))
    flat = np.broadcast_to(np.asarray(values, dtype=np.float64), shape).reshape(n_rows, -1)
    first = flat[:, :1]
    if not (np.abs(flat - first) <= 1e-9 * np.abs(first)).all():
        raise Unsupported(f"the {what} of the neuron layer varies within an output channel; it "
                          "cannot be folded into the weights of this layer", node=node, field=what)
    return flat[:, 0].copy()


def row_view(w: np.ndarray) -> np.ndarray:
    return np.asarray(w, dtype=np.float64).reshape(w.shape[0], -1)


def per_row(r: np.ndarray, w: np.ndarray) -> np.ndarray:
    """A per-row vector shaped to multiply ``w`` row by row."""
    return np.asarray(r, dtype=np.float64).reshape((w.shape[0],) + (1,) * (w.ndim - 1))


def as_file_integers(values: np.ndarray) -> np.ndarray:
    """Integer values as a deployed file holds them (float32 arrays of whole numbers, read back as
    int64): what the in-memory program holds too, so that it equals what a reader gets."""
    return np.asarray(values, dtype=np.float32).astype(np.int64)


def state_integers(plan, target) -> tuple:
    """(threshold or None, bias, v_init) in integer state units for a family whose state is an
    integer in ``state.bits`` (speck, xylo, generic): the threshold from the state unit, the bias
    and the initial membrane rounded and saturated."""
    hi = (1 << (target["state.bits"] - 1)) - 1
    threshold = None
    if plan.spiking:
        threshold = threshold_int(1.0 / plan.unit, plan.float_neuron.compare,
                                  target["neurons.compare"])
    bias = np.rint(plan.bias / plan.unit).clip(-hi - 1, hi).astype(np.int64)
    v_init = np.rint(plan.v_init / plan.unit).clip(-hi - 1, hi).astype(np.int64)
    return threshold, bias, v_init


def spike_limit(max_spikes):
    """A target's spike limit as a record holds it: a whole number or UNLIMITED."""
    return UNLIMITED if max_spikes == UNLIMITED else int(max_spikes)
