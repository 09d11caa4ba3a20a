"""Neuron records: the per-step update of every neuron model nirconv simulates.

Each record holds *resolved* per-step parameters (dialect and ``dt`` already applied), broadcast to
the node's shape as numpy arrays. The equations in each docstring are the specification; the two
simulators implement them independently. ``x_t`` is the sum of the node's inputs at step ``t``.

Float mode: one record, `NeuronFloat`, covers I, LI, IF, LIF, CubaLI and CubaLIF in every dialect.
Integer mode: one record per chip family (`SpeckIAF`, `BitShiftLIF`, `LoihiCubaLIF`, `Float32LIF`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

import numpy as np

Reset = Literal["subtract", "zero"]
Compare = Literal[">=", ">"]


@dataclass(frozen=True, eq=False)
class NeuronFloat:
    """Canonical float neuron (float64 reference, float32 default in the torch backend).

    Per step t (nirconv order; ``i`` only when ``alpha_syn`` is not None)::

        i_t = alpha_syn * i_{t-1} + beta_syn * x_t
        u_t = i_{t-1} if current_delay else i_t          (u_t = x_t without synapse)
        v_t = alpha_mem * v_{t-1} + beta_mem * u_t + bias
        if spiking:
            s_t = [v_t >= v_threshold]   (compare ">=")  or  [v_t > v_threshold]  (">")
            v_t = v_t - v_threshold * s_t            (reset "subtract")
                  v_reset  where s_t                 (reset "zero", i.e. to v_reset)
            output s_t (0/1)
        else:
            output v_t                               (I, LI, CubaLI: the membrane)

    ``reset_after_decay=False`` is snnTorch's convention: the reset of step t-1 is applied at step t
    *without* decay (``v_t = alpha_mem*v_{t-1} + beta_mem*u_t + bias - v_threshold*s_{t-1}``) and
    the spike is tested on that value. Initial state: ``v_0 = v_init``, ``i_0 = 0``.

    ``max_spikes`` (Sinabs' MultiSpike, Rockpool's multi-spike LIF): with the default 1 the output is
    the 0/1 spike above. Otherwise the output is a spike *count*::

        n_t = 0                                       if not [v_t compare v_threshold]
        n_t = min(max(1, floor(v_t / v_threshold)), max_spikes)   otherwise (None: no cap)
        reset "subtract": v_t = v_t - v_threshold * n_t;  "zero": v_reset where n_t > 0
        (reset_after_decay False: the pending reset subtracts v_threshold * n_{t-1})

    ``v_min`` (Sinabs' ``min_v_mem``): when not None, after the spike and reset of step t,
    ``v_t = max(v_t, v_min)``. Default None: no lower bound.
    """

    shape: tuple[int, ...]
    alpha_mem: np.ndarray
    beta_mem: np.ndarray
    bias: np.ndarray
    v_threshold: Optional[np.ndarray]  # None: non-spiking (I, LI, CubaLI)
    v_reset: np.ndarray
    v_init: np.ndarray
    alpha_syn: Optional[np.ndarray] = None  # None: no synaptic current
    beta_syn: Optional[np.ndarray] = None
    reset: Reset = "subtract"
    compare: Compare = ">="
    current_delay: bool = False  # v uses the previous step's current (norse's LIFCell)
    reset_after_decay: bool = True  # False: snnTorch's delayed, undecayed reset
    model: str = "LIF"  # the NIR type it came from, for messages and reports
    max_spikes: Optional[int] = 1  # >1 or None: multi-spike count output (Sinabs, Rockpool)
    v_min: Optional[np.ndarray] = None  # lower bound of v after the reset (Sinabs' min_v_mem)

    @property
    def spiking(self) -> bool:
        return self.v_threshold is not None


def sat(x, bits: int):
    """Saturate integers to the signed range of ``bits`` bits (numpy or python ints)."""
    hi = (1 << (bits - 1)) - 1
    lo = -(1 << (bits - 1))
    return np.clip(x, lo, hi)


def wrap_loihi24(x):
    """Lava's 24-bit 'wrap' of u (not two's complement): u > 2**23 -> u - 2**24; u <= -2**23 -> u + 2**24.

    The result lies in (-2**23, 2**23]. Applied once (inputs are bounded so one fold suffices).
    """
    x = np.asarray(x, dtype=np.int64)
    x = np.where(x > (1 << 23), x - (1 << 24), x)
    return np.where(x <= -(1 << 23), x + (1 << 24), x)


@dataclass(frozen=True, eq=False)
class SpeckIAF:
    """Speck / DYNAP-CNN integrate-and-fire, integer (our stepped reference of an event-driven chip).

    Per step, with ``a_t = Σ w·s`` computed exactly (int64, no intermediate saturation)::

        v = clip(v + a_t + bias, v_min, v_max)
        reset "subtract": n = v // threshold if v >= threshold else 0   (multi-spike, as Sinabs'
                          MultiSpike; capped at max_spikes when that is not None); v -= n*threshold
        reset "zero":     n = 1 if v >= threshold else 0; v = 0 where n
        output n (integer spike count)

    Initial v = v_init. threshold > 0.
    """

    shape: tuple[int, ...]
    threshold: np.ndarray  # int64
    bias: np.ndarray  # int64
    v_init: np.ndarray  # int64
    v_min: int = -32768
    v_max: int = 32767
    reset: Reset = "subtract"
    max_spikes: Optional[int] = None


@dataclass(frozen=True, eq=False)
class BitShiftLIF:
    """Bit-shift leaky neuron with saturating state: Xylo (xylosim) and `generic`.

    ``decay(x, dash) = x >> dash`` (arithmetic shift); if that is 0 and x != 0: sign(x). A ``dash``
    of None means "no such state / no leak". ``satB`` saturates to ``state_bits`` signed.

    Per step::

        1. synaptic input, in delivery order (the neuron's inputs in ``NeuronOp.inputs`` order,
           within one weight op presynaptic index ascending, each event on its own):
              accumulate "ordered": for each event: isyn = satB(isyn + w_eff)    (Xylo)
              accumulate "sum":     isyn = satB(isyn + Σ w_eff·s)                 (generic)
           without synaptic state (dash_syn None) the same accumulation goes into a fresh isyn = 0.
           Xylo: an input channel's event count above 15 in one step is delivered as 15 events
           (xylosim MAX_NUM_INP_SPIKES); neuron spike counts are already <= max_spikes <= 31.
        2. if dash_syn is not None: isyn = isyn - decay(isyn, dash_syn)     (decays this step's input too)
        3. dv = satB(-decay(v, dash_mem) + isyn)       (-decay term is 0 when dash_mem is None)
           dv = satB(dv + bias)
           v  = satB(v + dv)
        4. if threshold is not None:
              n = 0; while v >= threshold and n < max_spikes: n += 1; v -= threshold
              (reset "zero": n = min(1, [v >= threshold]); v = 0 where n)
              output n
           else: output v (membrane readout)

    ``w_eff = weight << shift`` of the weight op (shift >= 0 here). Initial v = v_init, isyn = 0.

    Checked against xylosim 0.1.3 (``XyloIAFNeuron.cpp`` ``evolve``/``decay``/``safe_add``,
    ``XyloLayer.cpp`` ``deliver_spikes``; see docs/equations/vendors.md). Xylo hidden neurons have a
    second synaptic current (``dash_syn_2``), added in step 3 as ``satB(-decay(v) + isyn1 + isyn2)``
    (the two currents summed without saturation); a NIR CubaLIF uses synapse 1 only. Xylo has no
    ``v_init`` (it starts at 0) and always has a synapse (dash_syn None is not exportable to Xylo).
    Known xylosim quirk not reproduced: with ``dash_mem = 0`` and ``v = -32768`` its int16 negation
    wraps (``-decay(v) = -32768``), so quantizers should not emit ``dash_mem = 0``.
    """

    shape: tuple[int, ...]
    threshold: Optional[np.ndarray]  # int64, None: non-spiking readout
    bias: np.ndarray
    v_init: np.ndarray
    dash_mem: Optional[np.ndarray]  # int64 0..15 or None
    dash_syn: Optional[np.ndarray]  # int64 0..15 or None
    state_bits: int = 16
    max_spikes: int = 1
    accumulate: Literal["ordered", "sum"] = "sum"
    reset: Reset = "subtract"


@dataclass(frozen=True, eq=False)
class LoihiCubaLIF:
    """Loihi 2 CUBA LIF, bit-accurate as lava's ``PyLifModelBitAcc`` (+ ``Dense`` for the input).

    ``a_in`` is the weight op's output *of the previous step* (Dense delays by one step; the lowering
    gives every weight op that feeds a LoihiCubaLIF ``delay=1``) with the op's shift applied to the
    sum: ``a_in = floor((Σ w·s) * 2**shift)``. Per step::

        x = u * (4096 - (du + 1));  x = sign(x) * (|x| >> 12)        # truncation toward zero
        u = wrap_loihi24(x + (a_in << 6))
        y = v * (4096 - dv);        y = sign(y) * (|y| >> 12)
        v = clip(y + u + (bias_mant << bias_exp), -(2**23 - 1), 2**23 - 1)
        if vth is not None: s = v > (vth << 6); v = 0 where s; output s
        else: output v

    (du, dv in 0..4095; vth unsigned 17-bit; a negative bias_exp is a right shift, floor, as lava's
    ``scale_bias``.) Initial u = v = 0. Weights must already be legal for the matrix's sign mode
    (lava's Dense clips and LSB-truncates others: ``weightutils.clip_weights``/``truncate_weights``);
    a Dense with ``num_message_bits = 0`` counts any nonzero input as 1 (graded inputs need > 0).
    Checked against lava-nc 0.10.0 ``proc/lif/models.py`` and ``proc/dense/models.py``.
    """

    shape: tuple[int, ...]
    du: np.ndarray
    dv: np.ndarray
    vth: Optional[np.ndarray]
    bias_mant: np.ndarray
    bias_exp: np.ndarray


@dataclass(frozen=True, eq=False)
class Float32LIF:
    """SpiNNaker2 LIF: float32 state on an ARM core, integer weights times one float32 scale.

    Every operation rounds to float32 in this order (no fused multiply-add)::

        a = float32(weight_scale * float32(Σ w·s))      # Σ exact: |Σ| < 2**24 asserted by the lowering
        v = float32(alpha * v)
        v = float32(v + a)
        v = float32(v + i_offset)
        s = v >= threshold
        v = float32(v - threshold) where s   (reset "subtract")  |  v_reset where s  ("zero")
        output s
    """

    shape: tuple[int, ...]
    alpha: np.ndarray  # float32, exp(-dt/tau); 1.0 for IF
    threshold: np.ndarray  # float32
    i_offset: np.ndarray  # float32
    v_reset: np.ndarray  # float32
    weight_scale: float = 1.0
    reset: Reset = "subtract"


INTEGER_FAMILIES = {
    "speck": SpeckIAF,
    "xylo": BitShiftLIF,
    "generic": BitShiftLIF,
    "loihi2": LoihiCubaLIF,
    "spinnaker2": Float32LIF,
}
