"""Neuron records: the per-step update of every neuron model nirconv simulates.

Each record holds *resolved* per-step parameters (dialect and ``dt`` already applied), broadcast to
the node's shape as numpy arrays. The equations in each docstring are the specification; the two
simulators implement them independently. ``x_t`` is the sum of the node's inputs at step ``t``.

Float mode: one record, `NeuronFloat`, covers I, LI, IF, LIF, CubaLI and CubaLIF in every dialect.
Integer mode: one record per chip family (`SpeckIAF`, `BitShiftLIF`, `LoihiCubaLIF`, `Float32LIF`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional, Union

import numpy as np

from ..errors import BadInput
from .limits import UNLIMITED, is_unlimited

Reset = Literal["subtract", "zero"]
Compare = Literal[">=", ">"]
Count = Union[int, float]  # a whole number, or UNLIMITED (math.inf)
RESETS = ("subtract", "zero")
COMPARES = (">=", ">")


# ---------------------------------------------------------------- validation helpers
# A record validates itself (style: never `assert`, never rewrite the caller's fields); the error
# names the field, and the reader adds the file and node (`NirconvError.at`).

def _shaped(rec, name: str, *, integer: bool = False, required: bool = True,
            dtype=None) -> None:
    value = getattr(rec, name)
    if value is None:
        if required:
            raise BadInput("missing", field=name)
        return
    a = np.asarray(value)
    if a.dtype.kind == "c":
        raise BadInput("complex values are not supported", field=name)
    if a.dtype.kind not in "biuf":
        raise BadInput(f"must be numeric, has dtype {a.dtype}", field=name)
    if a.shape != tuple(rec.shape) and a.size != 1:  # the common cases need no broadcast
        try:
            np.broadcast_to(a, rec.shape)
        except ValueError:
            raise BadInput(f"has shape {a.shape}, the neuron has shape {tuple(rec.shape)}",
                           field=name) from None
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        raise BadInput("contains NaN or infinite values", field=name)
    if integer and a.dtype.kind == "f" and not np.all(a == np.rint(a)):
        raise BadInput("must hold integers", field=name)
    if dtype is not None and a.dtype != dtype:
        raise BadInput(f"must be {np.dtype(dtype).name}, is {a.dtype}", field=name)


def _in_range(rec, name: str, lo, hi) -> None:
    value = getattr(rec, name)
    if value is None:
        return
    a = np.asarray(value)
    if a.size and (a.min() < lo or a.max() > hi):
        raise BadInput(f"must lie in [{lo}, {hi}], found [{a.min()}, {a.max()}]", field=name)


def _choice(value, options, name: str) -> None:
    if value not in options:
        raise BadInput(f"must be one of {', '.join(map(repr, options))}, is {value!r}",
                       field=name)


def _count(value, name: str, *, minimum: int = 1) -> None:
    """A spike/event count limit: a whole number >= minimum, or UNLIMITED."""
    if is_unlimited(value) and value is not None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise BadInput(f"must be a whole number >= {minimum} or unlimited (inf), is {value!r}",
                       field=name)


def _shape(rec) -> None:
    shape = rec.shape
    if not isinstance(shape, tuple) or not all(isinstance(s, (int, np.integer)) and s >= 0
                                               for s in shape):
        raise BadInput(f"must be a tuple of sizes, is {shape!r}", field="shape")


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
    ``v_t = max(v_t, v_min)``. Default None: no lower bound. ``max_spikes`` is a whole number or
    ``UNLIMITED`` (no cap). ``v_threshold`` must be positive.
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
    max_spikes: Count = 1  # >1 or UNLIMITED: multi-spike count output (Sinabs, Rockpool)
    v_min: Optional[np.ndarray] = None  # lower bound of v after the reset (Sinabs' min_v_mem)

    def __post_init__(self):
        _shape(self)
        for name in ("alpha_mem", "beta_mem", "bias", "v_reset", "v_init"):
            _shaped(self, name)
        for name in ("v_threshold", "alpha_syn", "beta_syn", "v_min"):
            _shaped(self, name, required=False)
        if (self.alpha_syn is None) != (self.beta_syn is None):
            raise BadInput("alpha_syn and beta_syn come together", field="alpha_syn")
        if self.v_threshold is not None and np.any(np.asarray(self.v_threshold) <= 0):
            raise BadInput("threshold must be positive", field="v_threshold")
        _choice(self.reset, RESETS, "reset")
        _choice(self.compare, COMPARES, "compare")
        _count(self.max_spikes, "max_spikes")

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
                          MultiSpike; capped at max_spikes unless UNLIMITED); v -= n*threshold
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
    max_spikes: Count = UNLIMITED

    spiking = True

    def __post_init__(self):
        _shape(self)
        for name in ("threshold", "bias", "v_init"):
            _shaped(self, name, integer=True)
        if np.any(np.asarray(self.threshold) <= 0):
            raise BadInput("must be positive", field="threshold")
        if not self.v_min < 0 < self.v_max:
            raise BadInput(f"state range [{self.v_min}, {self.v_max}] must contain 0",
                           field="state_bits")
        _in_range(self, "bias", self.v_min, self.v_max)
        _in_range(self, "v_init", self.v_min, self.v_max)
        _choice(self.reset, RESETS, "reset")
        _count(self.max_spikes, "max_spikes")


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
           An input channel's event count above ``input_event_cap`` in one step is delivered as
           ``input_event_cap`` events (Xylo: 15, xylosim MAX_NUM_INP_SPIKES; generic: UNLIMITED);
           neuron spike counts are already <= max_spikes (Xylo: 31).
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
    max_spikes: Count = 1
    accumulate: Literal["ordered", "sum"] = "sum"
    reset: Reset = "subtract"
    input_event_cap: Count = UNLIMITED  # events per input channel per step (Xylo: 15)

    DASH_MAX = 15  # 4-bit bit-shift decays (the widest the equations allow)

    @property
    def spiking(self) -> bool:
        return self.threshold is not None

    def __post_init__(self):
        _shape(self)
        if isinstance(self.state_bits, bool) or not isinstance(self.state_bits, (int, np.integer)) \
                or not 2 <= self.state_bits <= 62:
            raise BadInput(f"must be an integer in 2..62, is {self.state_bits!r}",
                           field="state_bits")
        hi = (1 << (self.state_bits - 1)) - 1
        for name in ("bias", "v_init"):
            _shaped(self, name, integer=True)
            _in_range(self, name, -hi - 1, hi)
        _shaped(self, "threshold", integer=True, required=False)
        if self.threshold is not None:
            _in_range(self, "threshold", 1, hi)
        for name in ("dash_mem", "dash_syn"):
            _shaped(self, name, integer=True, required=False)
            _in_range(self, name, 0, self.DASH_MAX)
        _choice(self.accumulate, ("ordered", "sum"), "accumulate")
        _choice(self.reset, RESETS, "reset")
        _count(self.max_spikes, "max_spikes")
        _count(self.input_event_cap, "input_event_cap")


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

    ONE = 4096  # decays are 12-bit fractions of 4096
    A_IN_SHIFT = 6  # u += a_in << 6; the threshold is compared as vth << 6
    VTH_BITS = 17  # vth is unsigned 17-bit
    STATE_MAX = (1 << 23) - 1  # v saturates to +-(2**23 - 1); u wraps at 24 bits

    reset = "zero"
    compare = ">"

    @property
    def spiking(self) -> bool:
        return self.vth is not None

    def __post_init__(self):
        _shape(self)
        for name in ("du", "dv", "bias_mant", "bias_exp"):
            _shaped(self, name, integer=True)
        _in_range(self, "du", 0, self.ONE - 1)
        _in_range(self, "dv", 0, self.ONE - 1)
        _shaped(self, "vth", integer=True, required=False)
        _in_range(self, "vth", 0, (1 << self.VTH_BITS) - 1)
        _in_range(self, "bias_exp", -16, 16)


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

    spiking = True
    compare = ">="

    def __post_init__(self):
        _shape(self)
        for name in ("alpha", "threshold", "i_offset", "v_reset"):
            _shaped(self, name)
        if np.any(np.asarray(self.threshold) <= 0):
            raise BadInput("must be positive", field="threshold")
        if not (np.isfinite(self.weight_scale) and self.weight_scale > 0):
            raise BadInput(f"must be positive and finite, is {self.weight_scale!r}",
                           field="weight_scale")
        _choice(self.reset, RESETS, "reset")


INTEGER_FAMILIES = {
    "speck": SpeckIAF,
    "xylo": BitShiftLIF,
    "generic": BitShiftLIF,
    "loihi2": LoihiCubaLIF,
    "spinnaker2": Float32LIF,
}
