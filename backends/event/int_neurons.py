"""Integer mode: the four chip families of nirconv/equations/neurons.py, exact.

`SpeckIAF`, `BitShiftLIF` (Xylo / generic, "sum" and "ordered" accumulation) and `LoihiCubaLIF` in
int64 numpy; `Float32LIF` (SpiNNaker2) in numpy float32 with every operation rounded in the order
the docstring writes it. State is kept per (sample, neuron) as (B, n) arrays. Each class implements
its record's docstring on its own; the torch backend has its own implementation.
"""
from __future__ import annotations

import numpy as np

from nirconv.equations.limits import is_unlimited
from nirconv.equations.neurons import (BitShiftLIF, Float32LIF, LoihiCubaLIF, SpeckIAF,
                                       wrap_loihi24)

from .float_neurons import flat_param


def _int(value, shape):
    return flat_param(value, shape, dtype=np.int64)


class SpeckState:
    spiking = True

    def __init__(self, rec: SpeckIAF, batch: int):
        self.rec = rec
        self.threshold, self.bias = _int(rec.threshold, rec.shape), _int(rec.bias, rec.shape)
        self.v = np.tile(_int(rec.v_init, rec.shape), (batch, 1))

    def step(self, a: np.ndarray) -> np.ndarray:
        rec = self.rec
        v = np.clip(self.v + a + self.bias, rec.v_min, rec.v_max)
        above = v >= self.threshold
        if rec.reset == "subtract":
            n = np.where(above, v // self.threshold, 0)
            if not is_unlimited(rec.max_spikes):
                n = np.minimum(n, int(rec.max_spikes))
            v = v - n * self.threshold
        else:
            n = above.astype(np.int64)
            v = np.where(above, 0, v)
        self.v = v
        return n


def bitshift_decay(x: np.ndarray, dash: np.ndarray) -> np.ndarray:
    """x >> dash (arithmetic); where that is 0 and x != 0: sign(x)."""
    d = np.right_shift(x, dash)
    return np.where((d == 0) & (x != 0), np.sign(x), d)


class BitShiftState:
    """Xylo (accumulate "ordered") and generic (accumulate "sum") bit-shift LIF."""

    spiking = True

    def __init__(self, rec: BitShiftLIF, batch: int):
        self.rec = rec
        self.hi = (1 << (rec.state_bits - 1)) - 1
        self.lo = -(1 << (rec.state_bits - 1))
        self.spiking = rec.threshold is not None
        shape = rec.shape
        self.threshold = _int(rec.threshold, shape) if self.spiking else None
        self.bias = _int(rec.bias, shape)
        self.dash_mem = None if rec.dash_mem is None else _int(rec.dash_mem, shape)
        self.dash_syn = None if rec.dash_syn is None else _int(rec.dash_syn, shape)
        self.v = np.tile(_int(rec.v_init, shape), (batch, 1))
        self.isyn = np.zeros_like(self.v)
        self.ordered = rec.accumulate == "ordered"
        # a count never exceeds what the state range holds: that stands for UNLIMITED here
        self.cap = np.int64(self.hi - self.lo + 1 if is_unlimited(rec.max_spikes)
                            else rec.max_spikes)

    def sat(self, x):
        return np.clip(x, self.lo, self.hi)

    def _base(self) -> np.ndarray:
        return self.isyn if self.dash_syn is not None else np.zeros_like(self.v)

    def step(self, x: np.ndarray) -> np.ndarray:
        """Accumulation "sum": isyn = satB(isyn + Σ w_eff·s), then the rest of the step."""
        return self._finish(self.sat(self._base() + x))

    def step_ordered(self, streams) -> np.ndarray:
        """Accumulation "ordered": ``streams`` is a list of (flat targets, values) in delivery
        order; every value is added on its own with saturation."""
        base = self._base()
        if streams:
            targets = np.concatenate([s[0] for s in streams])
            values = np.concatenate([s[1] for s in streams]).astype(np.int64)
            base = saturating_accumulate(base, targets, values, self.lo, self.hi)
        return self._finish(base)

    def _finish(self, isyn: np.ndarray) -> np.ndarray:
        if self.dash_syn is not None:
            isyn = isyn - bitshift_decay(isyn, self.dash_syn)
            self.isyn = isyn
        leak = 0 if self.dash_mem is None else -bitshift_decay(self.v, self.dash_mem)
        dv = self.sat(leak + isyn)
        dv = self.sat(dv + self.bias)
        v = self.sat(self.v + dv)
        if not self.spiking:
            self.v = v
            return v
        th = self.threshold
        above = v >= th
        if self.rec.reset == "zero":
            n = above.astype(np.int64)
            v = np.where(above, 0, v)
        else:
            cap = self.cap
            count = np.where(th > 0, v // np.where(th > 0, th, 1), cap)
            n = np.where(above, np.minimum(count, cap), 0)
            v = v - n * th
        self.v = v
        return n


def saturating_accumulate(base: np.ndarray, targets: np.ndarray, values: np.ndarray, lo: int,
                          hi: int) -> np.ndarray:
    """``acc[t] = clip(acc[t] + value, lo, hi)`` for each (t, value) in order, exactly.

    Targets whose running sum cannot leave [lo, hi] (bounded by their positive and negative parts)
    take the plain sum; the others are replayed event by event, vectorized across targets."""
    flat = base.reshape(-1).copy()
    pos = np.zeros_like(flat)
    neg = np.zeros_like(flat)
    np.add.at(pos, targets, np.maximum(values, 0))
    np.add.at(neg, targets, np.minimum(values, 0))
    safe = (flat + pos <= hi) & (flat + neg >= lo)
    flat = np.where(safe, flat + pos + neg, flat)
    replay = ~safe[targets]
    if replay.any():
        _replay(flat, targets[replay], values[replay], lo, hi)
    return flat.reshape(base.shape)


def _replay(acc: np.ndarray, targets: np.ndarray, values: np.ndarray, lo: int, hi: int) -> None:
    order = np.argsort(targets, kind="stable")
    t_sorted = targets[order]
    first = np.r_[True, t_sorted[1:] != t_sorted[:-1]]
    starts = np.flatnonzero(first)
    counts = np.diff(np.r_[starts, t_sorted.size])
    rank = np.arange(t_sorted.size) - np.repeat(starts, counts)
    by_rank = np.argsort(rank, kind="stable")
    bounds = np.searchsorted(rank[by_rank], np.arange(int(counts.max()) + 1))
    for k in range(int(counts.max())):
        sel = order[by_rank[bounds[k]:bounds[k + 1]]]  # k-th event of every target, one each
        t = targets[sel]
        acc[t] = np.clip(acc[t] + values[sel], lo, hi)


def _trunc_shift(x: np.ndarray, bits: int) -> np.ndarray:
    """sign(x) * (|x| >> bits): truncation toward zero."""
    return np.sign(x) * (np.abs(x) >> bits)


class LoihiState:
    """`LoihiCubaLIF`: decays are fractions of ``ONE`` (a right shift by log2(ONE) truncates them
    toward zero), ``a_in << A_IN_SHIFT``, v clipped to ±STATE_MAX."""

    def __init__(self, rec: LoihiCubaLIF, batch: int):
        shape = rec.shape
        self.one, self.one_bits = rec.ONE, rec.ONE.bit_length() - 1
        self.a_in_shift, self.v_max = rec.A_IN_SHIFT, rec.STATE_MAX
        self.du, self.dv = _int(rec.du, shape), _int(rec.dv, shape)
        self.spiking = rec.vth is not None
        self.vth_shifted = (_int(rec.vth, shape) << self.a_in_shift) if self.spiking else None
        mant, exp = _int(rec.bias_mant, shape), _int(rec.bias_exp, shape)
        # a negative exponent is a right shift (floor), as lava's scale_bias
        self.bias = np.where(exp >= 0, mant << np.maximum(exp, 0), mant >> np.maximum(-exp, 0))
        n = int(np.prod(shape))
        self.u = np.zeros((batch, n), dtype=np.int64)
        self.v = np.zeros((batch, n), dtype=np.int64)

    def step(self, a_in: np.ndarray) -> np.ndarray:
        x = _trunc_shift(self.u * (self.one - (self.du + 1)), self.one_bits)
        self.u = wrap_loihi24(x + (a_in << self.a_in_shift))
        y = _trunc_shift(self.v * (self.one - self.dv), self.one_bits)
        v = np.clip(y + self.u + self.bias, -self.v_max, self.v_max)
        if not self.spiking:
            self.v = v
            return v
        s = v > self.vth_shifted
        self.v = np.where(s, 0, v)
        return s.astype(np.int64)


class Float32State:
    spiking = True

    def __init__(self, rec: Float32LIF, batch: int):
        self.rec = rec
        f = lambda v: flat_param(v, rec.shape, dtype=np.float32)  # noqa: E731
        self.alpha, self.threshold = f(rec.alpha), f(rec.threshold)
        self.i_offset, self.v_reset = f(rec.i_offset), f(rec.v_reset)
        self.weight_scale = np.float32(rec.weight_scale)
        self.v = np.zeros((batch, self.alpha.size), dtype=np.float32)

    def step(self, total: np.ndarray) -> np.ndarray:
        a = self.weight_scale * np.asarray(total).astype(np.float32)
        v = self.alpha * self.v
        v = v + a
        v = v + self.i_offset
        s = v >= self.threshold
        if self.rec.reset == "subtract":
            v = np.where(s, v - self.threshold, v)
        else:
            v = np.where(s, self.v_reset, v)
        self.v = v.astype(np.float32)
        return s.astype(np.int64)
