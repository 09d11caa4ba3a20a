"""Per-family number formats: decays in the chip's encoding, the integer input gain, and the
integer neuron parameters written into node metadata (read back by nirconv/reading/integer.py).

Conventions (docs/equations/targets.md): a float neuron, resolved by its dialect into
``alpha_mem, beta_mem, bias, alpha_syn, beta_syn, v_threshold`` (`NeuronFloat`), is first
normalized so that its threshold is 1 (non-spiking readouts: gain 1); ``G = beta_mem * F * C / θ``
maps the float input of the neuron to the per-step integer input in normalized membrane units,
where ``F = beta_syn / (1 - alpha_syn)`` (1 without synapse) is the float synapse's total gain and
``C`` corrects for the integer synapse's own gain (``(1 - α_q)/α_q`` for a bit-shift synapse that
decays the step's input too, ``1 - α_u`` for Loihi's current, 1 without synapse). A state unit
``u`` (normalized float per integer LSB) is then chosen per layer (or channel).
"""
from __future__ import annotations

import numpy as np

LOIHI_ONE = 4096  # 12-bit decay fractions


def uniform(a):
    """A scalar when every element is equal (keeps files small), else the array."""
    a = np.asarray(a)
    if a.size and np.all(a == a.ravel()[0]):
        v = a.ravel()[0]
        return v.item() if hasattr(v, "item") else v
    return a


def bitshift_dash(alpha: np.ndarray, bits: int) -> np.ndarray:
    """dash = round(log2(tau/dt)) = round(log2(1/(1 - alpha))), clipped to 1 .. 2**bits - 1.
    A neuron without leak (alpha >= 1) gets the slowest decay."""
    hi = (1 << bits) - 1
    leak = 1.0 - np.asarray(alpha, dtype=np.float64)
    with np.errstate(divide="ignore"):
        dash = np.where(leak > 0, np.rint(np.log2(1.0 / np.where(leak > 0, leak, 1.0))), hi)
    return np.clip(dash, 1, hi).astype(np.int64)


def bitshift_alpha(dash: np.ndarray) -> np.ndarray:
    return 1.0 - np.exp2(-np.asarray(dash, dtype=np.float64))


def loihi_dv(alpha_mem: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(LOIHI_ONE * (1.0 - alpha_mem)), 0, LOIHI_ONE - 1).astype(np.int64)


def loihi_du(alpha_syn) -> np.ndarray:
    """du such that u decays by (4096 - (du + 1))/4096; without synapse du = 4095 (u = this step's
    input only)."""
    if alpha_syn is None:
        return None
    return np.clip(np.rint(LOIHI_ONE * (1.0 - alpha_syn)) - 1, 0, LOIHI_ONE - 1).astype(np.int64)


def float_synapse_gain(rec) -> np.ndarray:
    """F: the float synapse's total gain beta_syn / (1 - alpha_syn); 1 without synapse."""
    if rec["alpha_syn"] is None:
        return np.ones_like(rec["alpha_mem"])
    leak = 1.0 - rec["alpha_syn"]
    return np.where(leak > 0, rec["beta_syn"] / np.where(leak > 0, leak, 1.0), rec["beta_syn"])


def decays(family: str, rec: dict, target) -> tuple[dict, list]:
    """Decay parameters in the family's encoding + warnings (rule, message)."""
    bits = target["neurons.decay_bits"]
    warnings = []
    has_syn = rec["alpha_syn"] is not None
    leaky = bool(np.any(rec["alpha_mem"] < 1.0))
    if family in ("xylo", "generic"):
        out = {}
        if leaky or family == "xylo":
            out["dash_mem"] = bitshift_dash(rec["alpha_mem"], bits)
            if not leaky:
                warnings.append(("no_leak", f"no leak: modelled by the slowest bit-shift decay "
                                            f"(dash_mem {(1 << bits) - 1})"))
        if has_syn:
            out["dash_syn"] = bitshift_dash(rec["alpha_syn"], bits)
        elif family == "xylo":
            out["dash_syn"] = np.ones(rec["alpha_mem"].shape, dtype=np.int64)
            warnings.append(("no_synapse", "no synaptic current: Xylo always has one; modelled "
                                           "with the fastest decay (dash_syn 1)"))
        return out, warnings
    if family == "loihi2":
        out = {"dv": loihi_dv(rec["alpha_mem"])}
        out["du"] = loihi_du(rec["alpha_syn"]) if has_syn else np.full(
            rec["alpha_mem"].shape, LOIHI_ONE - 1, dtype=np.int64)
        return out, warnings
    if family == "spinnaker2":
        return {"alpha": rec["alpha_mem"].astype(np.float32)}, warnings
    return {}, warnings  # speck: IF only, no decay


def integer_synapse_gain(family: str, dec: dict, has_syn: bool) -> np.ndarray:
    """C: 1 / (steady-state gain of the integer synapse) relative to one input per step."""
    if family in ("xylo", "generic") and "dash_syn" in dec:
        a = bitshift_alpha(dec["dash_syn"])
        return (1.0 - a) / a
    if family == "loihi2" and has_syn:
        return (dec["du"] + 1) / LOIHI_ONE
    return 1.0


def input_gain(family: str, rec: dict, dec: dict) -> np.ndarray:
    """G before threshold normalization (see the module docstring)."""
    c = integer_synapse_gain(family, dec, rec["alpha_syn"] is not None)
    return rec["beta_mem"] * float_synapse_gain(rec) * c


def neuron_bias_per_step(rec: dict, moved_bias) -> np.ndarray:
    """Normalized-unit bias per step (before threshold normalization): the dialect's own bias plus
    a weight layer's bias moved onto the neuron (its steady-state effect on v)."""
    b = np.asarray(rec["bias"], dtype=np.float64)
    if moved_bias is not None:
        b = b + moved_bias * rec["beta_mem"] * float_synapse_gain(rec)
    return b


def threshold_int(theta_v: np.ndarray, float_compare: str, chip_compare: str) -> np.ndarray:
    """Integer threshold for state threshold ``theta_v`` (in integer v units, float)."""
    near = np.abs(theta_v - np.rint(theta_v)) < 1e-9
    if chip_compare == ">=":
        if float_compare == ">=":
            return np.maximum(1, np.rint(theta_v)).astype(np.int64)
        return np.where(near, np.rint(theta_v) + 1, np.floor(theta_v) + 1).astype(np.int64)
    # chip compares ">": v > th
    if float_compare == ">":
        return np.maximum(0, np.rint(theta_v)).astype(np.int64)
    return np.maximum(0, np.rint(theta_v - 1)).astype(np.int64)


def split_bias(bias_int: np.ndarray, mant_bits: int, max_exp: int = 7, min_exp: int = 0) -> tuple:
    """Loihi: bias = bias_mant << bias_exp with |mant| < 2**(mant_bits-1); one exponent per layer,
    at least ``min_exp``."""
    hi = (1 << (mant_bits - 1)) - 1
    peak = float(np.max(np.abs(bias_int))) if np.size(bias_int) else 0.0
    exp = min_exp
    while peak > hi * (1 << exp) and exp < max_exp:
        exp += 1
    mant = np.clip(np.rint(np.asarray(bias_int) / (1 << exp)), -hi - 1, hi).astype(np.int64)
    return mant, exp
