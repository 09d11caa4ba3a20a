"""Neuron states: the mutable per-run `State` of one population, one class per record of
`nirconv.equations.neurons` (registered in `kernels.STATES`, built by `kernels.make_state`).

Each implements its record's docstring on batched tensors ``(B, *shape)``: float mode in the run's
float dtype, integer families in the run's carrier (float32 / int32 / int64 as the value bounds
allow; Loihi's products in int64; Float32LIF in float32, operation by operation, in the written
order). ``reset(batch)`` starts a run; ``step(x)`` takes the summed input; an ``ordered``
BitShiftLIF instead takes its inputs one edge at a time (`step_events`).
See docs/equations/torch_exactness.md.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import torch

from nirconv.equations.limits import is_unlimited
from nirconv.errors import Unsupported

from .integers import at_least
from .ordered import accumulate


class State:
    """Parameters (device tensors, built once per run) and the state of a neuron population."""

    spiking = False

    def __init__(self, op, setup):
        self.op = op
        self.setup = setup
        self.rec = op.neuron
        self.shape = tuple(op.out_shape)

    def p(self, value, dtype=None) -> torch.Tensor:
        """A parameter broadcast to the neuron's shape, on the device."""
        arr = np.broadcast_to(np.asarray(value), self.shape)
        return self.setup.tensor(arr, dtype)

    def zeros(self, batch, dtype=None):
        return torch.zeros((batch, *self.shape), dtype=dtype or self.setup.vdtype,
                           device=self.setup.device)

    def unsupported(self, msg, field):
        return Unsupported(msg, file=self.setup.source, node=self.op.name, field=field)

    def reset(self, batch: int) -> None:
        raise NotImplementedError

    def step(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class FloatState(State):
    """NeuronFloat (float mode), every switch: synapse, current_delay, reset_after_decay, reset,
    compare, max_spikes (multi-spike counts), v_min, non-spiking readouts."""

    def __init__(self, op, setup):
        super().__init__(op, setup)
        rec = self.rec
        self.spiking = rec.spiking
        self.alpha, self.beta = self.p(rec.alpha_mem), self.p(rec.beta_mem)
        self.bias = self.p(rec.bias)
        self.v_init, self.v_reset = self.p(rec.v_init), self.p(rec.v_reset)
        self.th = self.p(rec.v_threshold) if rec.spiking else None
        self.synapse = rec.alpha_syn is not None
        if self.synapse:
            self.alpha_syn = self.p(rec.alpha_syn)
            self.beta_syn = self.p(rec.beta_syn if rec.beta_syn is not None else 1.0)
        self.max_spikes = rec.max_spikes
        self.v_min = None if rec.v_min is None else self.p(rec.v_min)

    def reset(self, batch):
        self.v = self.v_init.expand(batch, *self.shape).clone()
        self.i = self.zeros(batch)
        self.s = self.zeros(batch)  # the previous step's spike count

    def count(self, v):
        """0 below threshold, else min(max(1, floor(v / v_threshold)), max_spikes)."""
        fires = (v >= self.th) if self.rec.compare == ">=" else (v > self.th)
        if self.max_spikes == 1:
            return fires.to(v.dtype)
        n = torch.clamp(torch.floor(v / self.th), min=1)
        if not is_unlimited(self.max_spikes):
            n = torch.clamp(n, max=float(self.max_spikes))
        return torch.where(fires, n, torch.zeros_like(v))

    def step(self, x):
        rec = self.rec
        x = x.reshape(x.shape[0], *self.shape)
        if self.synapse:
            i_new = self.alpha_syn * self.i + self.beta_syn * x
            u = self.i if rec.current_delay else i_new
            self.i = i_new
        else:
            u = x
        v_prev = self.v
        delayed = self.spiking and not rec.reset_after_decay
        if delayed and rec.reset == "zero":  # snnTorch's _base_zero: v_prev -> v_reset, then decay
            v_prev = torch.where(self.s > 0, self.v_reset, v_prev)
        v = self.alpha * v_prev + self.beta * u + self.bias
        if not self.spiking:
            self.v = self.floor(v)
            return self.v
        if delayed:  # snnTorch: the previous step's reset, undecayed, then the test
            if rec.reset == "subtract":
                v = v - self.th * self.s
            s = self.count(v)
        else:
            s = self.count(v)
            v = v - self.th * s if rec.reset == "subtract" else torch.where(s > 0, self.v_reset, v)
        self.v = self.floor(v)
        self.s = s
        return s

    def floor(self, v):
        return v if self.v_min is None else torch.maximum(v, self.v_min)


class SpeckState(State):
    spiking = True

    def __init__(self, op, setup):
        super().__init__(op, setup)
        rec = self.rec
        self.th, self.bias = self.p(rec.threshold), self.p(rec.bias)
        self.v_init = self.p(rec.v_init)
        if bool((self.th <= 0).any()):
            raise self.unsupported("Speck thresholds must be positive", "threshold")
        self.binary = rec.reset == "zero" or rec.max_spikes == 1
        # floor(v / th) in a float type with a p-bit significand is the integer floor division
        # when |v| < 2**p (see docs/equations/torch_exactness.md): float32 / float64
        reach = max(abs(int(rec.v_min)), abs(int(rec.v_max)))
        self.div_dtype = torch.float32 if reach < (1 << 24) else torch.float64
        self.float_div = reach < (1 << 53)
        self.th_float = self.th.to(self.div_dtype)
        self.has_bias = bool(np.any(np.asarray(rec.bias) != 0))

    def reset(self, batch):
        self.v = self.v_init.expand(batch, *self.shape).clone()  # owned: updated in place
        self.buf = torch.empty_like(self.v)

    def step(self, x):
        rec = self.rec
        x = x.reshape(x.shape[0], *self.shape)
        v = self.v  # never handed out (the output is the count): updated in place
        v.add_(x)
        if self.has_bias:
            v.add_(self.bias)
        v.clamp_(rec.v_min, rec.v_max)
        if self.binary:
            count = at_least(v, self.th)
        else:  # v >= th: floor(v / th) >= 1; below: <= 0, clamped to 0 (th > 0)
            if self.float_div:
                count = torch.div(v.to(self.div_dtype), self.th_float).floor_().to(v.dtype)
            else:
                count = torch.div(v, self.th, rounding_mode="floor")
            count.clamp_(0, None if is_unlimited(rec.max_spikes) else int(rec.max_spikes))
        if rec.reset == "subtract":
            v.sub_(torch.mul(count, self.th, out=self.buf))
        else:
            v.mul_(1 - count)
        return count


class BitShiftState(State):
    """BitShiftLIF (Xylo, generic): saturating state of ``state_bits`` bits, bit-shift decay."""

    def __init__(self, op, setup):
        super().__init__(op, setup)
        rec = self.rec
        self.lo, self.hi = -(1 << (rec.state_bits - 1)), (1 << (rec.state_bits - 1)) - 1
        # a count never exceeds what the state range holds: that stands for UNLIMITED here
        self.cap = ((self.hi - self.lo + 1) if is_unlimited(rec.max_spikes)
                    else int(rec.max_spikes))
        self.spiking = rec.threshold is not None
        self.th = self.p(rec.threshold) if self.spiking else None
        self.bias, self.v_init = self.p(rec.bias), self.p(rec.v_init)
        self.dash_mem = None if rec.dash_mem is None else self._dash(rec.dash_mem)
        self.dash_syn = None if rec.dash_syn is None else self._dash(rec.dash_syn)
        self.ordered = rec.accumulate == "ordered"
        self.stats: Counter = Counter()  # ordered: (sample, neuron) pairs per class, `accumulate`
        self.has_bias = bool(np.any(np.asarray(rec.bias) != 0))
        if self.spiking:
            self.positive = bool((self.th > 0).all())
            # floor(v / th) in float32 (float64) is the integer floor division when
            # |v| < 2**24 (2**53): the state is below 2**(state_bits - 1)
            self.div_dtype = torch.float32 if rec.state_bits <= 25 else torch.float64
            self.float_div = rec.state_bits <= 54
            self.th_float = self.th.to(self.div_dtype)

    def _dash(self, dash):
        """The shift amount, or on a float32 carrier the factor 2**-dash (exact)."""
        if self.setup.vdtype.is_floating_point:
            return self.p(np.ldexp(1.0, -np.asarray(dash, dtype=np.int64)))
        return self.p(dash)

    def sat(self, x):
        return torch.clamp(x, self.lo, self.hi)

    @staticmethod
    def decay(x, dash):
        """x >> dash, and sign(x) where that is 0 and x != 0. For x > 0 that is max(d, 1); for
        x < 0 the arithmetic shift never reaches 0 and d >= x: so max(d, min(x, 1)). On a
        float32 carrier (``dash`` is then 2**-dash) x >> dash is floor(x * 2**-dash), exact."""
        if x.is_floating_point():
            return torch.maximum(torch.floor(x * dash), torch.clamp(x, max=1))
        return torch.maximum(torch.bitwise_right_shift(x, dash), torch.clamp(x, max=1))

    def reset(self, batch):
        self.v = self.v_init.expand(batch, *self.shape).clone()
        self.isyn = self.zeros(batch)
        self.buf = torch.empty_like(self.v)

    def step(self, x):
        x = x.reshape(x.shape[0], *self.shape)
        return self.finish(self.sat(self.isyn + x if self.dash_syn is not None else x))

    def step_events(self, events):
        """``events``: per input edge in order, ("weight", kernel, its input) or ("direct", x)."""
        isyn = self.isyn if self.dash_syn is not None else torch.zeros_like(self.isyn)
        for kind, *payload in events:
            if kind == "weight":
                kernel, x = payload
                if kernel.shift < 0:
                    raise self.unsupported("ordered accumulation needs shift >= 0 "
                                           "(w_eff = w << shift)", "shift")
                isyn = accumulate(isyn, kernel, x, self.lo, self.hi, self.stats)
            else:
                isyn = self.sat(isyn + payload[0].reshape(isyn.shape))
        return self.finish(isyn)

    def finish(self, isyn):
        if self.dash_syn is not None:
            isyn = isyn - self.decay(isyn, self.dash_syn)
        self.isyn = isyn
        if self.spiking:
            return self.finish_spiking(isyn)
        leak = -self.decay(self.v, self.dash_mem) if self.dash_mem is not None else 0
        dv = self.sat(leak + isyn)
        if self.has_bias:
            dv = self.sat(dv + self.bias)
        self.v = self.sat(self.v + dv)  # a fresh tensor: the readout hands it out
        return self.v

    def finish_spiking(self, isyn):
        """`finish` of a spiking neuron, the same operations on the same integers, with the
        membrane updated in place (a spiking neuron hands out counts, never its ``v``) and
        ``leak + isyn`` formed as ``isyn - decay(v)``."""
        rec, v, buf = self.rec, self.v, self.buf
        if self.dash_mem is not None:
            dv = torch.sub(isyn, self.decay_into(v, self.dash_mem, buf), out=buf)
        else:
            dv = buf.copy_(isyn)
        dv.clamp_(self.lo, self.hi)
        if self.has_bias:
            dv.add_(self.bias).clamp_(self.lo, self.hi)
        v.add_(dv).clamp_(self.lo, self.hi)
        if rec.reset == "zero":
            if rec.max_spikes < 1:
                return torch.zeros_like(v)
            count = at_least(v, self.th)
            v.masked_fill_(count.bool(), 0)
            return count
        count = self.spike_count(v, self.cap)
        v.addcmul_(count, self.th, value=-1)  # v - count * th: exact integers, one pass
        return count

    @staticmethod
    def decay_into(x, dash, out):
        """`decay` written into ``out`` (two temporaries fewer)."""
        if x.is_floating_point():
            torch.mul(x, dash, out=out).floor_()
        else:
            torch.bitwise_right_shift(x, dash, out=out)
        return torch.maximum(out, torch.clamp(x, max=1), out=out)

    def spike_count(self, v, max_spikes):
        """The number of passes of ``while v >= th and n < max_spikes: n += 1; v -= th``."""
        if max_spikes <= 0:
            return torch.zeros_like(v)
        if self.positive and max_spikes == 1:
            return at_least(v, self.th)
        if self.positive:  # v < th gives floor(v / th) <= 0, clamped to 0
            if self.float_div:
                count = torch.floor(v.to(self.div_dtype) / self.th_float).to(v.dtype)
            else:
                count = torch.div(v, self.th, rounding_mode="floor")
            return count.clamp(0, max_spikes)
        fires = v >= self.th
        positive = self.th > 0
        safe_th = torch.where(positive, self.th, torch.ones_like(self.th))
        count = torch.where(positive, torch.div(v, safe_th, rounding_mode="floor"),
                            torch.full_like(v, max_spikes))
        return torch.where(fires, count.clamp(0, max_spikes), torch.zeros_like(v))


class LoihiState(State):
    """LoihiCubaLIF as lava's PyLifModelBitAcc. State and arithmetic in int64 whatever the run's
    carrier (``u * (ONE - (du + 1))`` reaches 2**35); outputs in the run's type. Decays are
    fractions of ``ONE`` (truncated toward zero by a shift of log2(ONE)), ``a_in << A_IN_SHIFT``,
    v clipped to ±STATE_MAX, u wrapped at ±(STATE_MAX + 1) as lava does."""

    def __init__(self, op, setup):
        super().__init__(op, setup)
        rec = self.rec
        self.spiking = rec.vth is not None
        self.one_bits = rec.ONE.bit_length() - 1
        self.a_in_factor = 1 << rec.A_IN_SHIFT
        self.v_max = rec.STATE_MAX
        i64 = torch.int64
        self.decay_u = self.p(rec.ONE - (np.asarray(rec.du, dtype=np.int64) + 1), i64)
        self.decay_v = self.p(rec.ONE - np.asarray(rec.dv, dtype=np.int64), i64)
        mant = np.broadcast_to(np.asarray(rec.bias_mant, dtype=np.int64), self.shape)
        exp = np.broadcast_to(np.asarray(rec.bias_exp, dtype=np.int64), self.shape)
        bias = np.where(exp >= 0, np.left_shift(mant, np.maximum(exp, 0)),
                        np.right_shift(mant, np.maximum(-exp, 0)))
        self.bias = self.p(bias, i64)
        self.vth = (self.p(np.asarray(rec.vth, dtype=np.int64) << rec.A_IN_SHIFT, i64)
                    if self.spiking else None)

    def reset(self, batch):
        self.u = self.zeros(batch, torch.int64)
        self.v = self.zeros(batch, torch.int64)

    def trunc(self, x):
        """sign(x) * (|x| >> log2(ONE)): truncation toward zero."""
        return torch.sign(x) * (torch.abs(x) >> self.one_bits)

    def wrap(self, x):
        """Lava's wrap of u: above STATE_MAX + 1 subtract 2 (STATE_MAX + 1), at or below
        -(STATE_MAX + 1) add it (`nirconv.equations.neurons.wrap_loihi24`)."""
        half = self.v_max + 1
        x = torch.where(x > half, x - 2 * half, x)
        return torch.where(x <= -half, x + 2 * half, x)

    def step(self, x):
        a_in = x.reshape(x.shape[0], *self.shape).to(torch.int64)
        u = self.wrap(self.trunc(self.u * self.decay_u) + a_in * self.a_in_factor)
        v = self.trunc(self.v * self.decay_v)
        v = torch.clamp(v + u + self.bias, -self.v_max, self.v_max)
        self.u = u
        if not self.spiking:
            self.v = v
            return v.to(self.setup.vdtype)
        fires = v > self.vth
        self.v = torch.where(fires, torch.zeros_like(v), v)
        return fires.to(self.setup.vdtype)


class Float32State(State):
    """Float32LIF (SpiNNaker2): float32 state, one rounding per written operation."""

    spiking = True

    def __init__(self, op, setup):
        super().__init__(op, setup)
        rec = self.rec
        f32 = torch.float32
        self.alpha, self.th = self.p(rec.alpha, f32), self.p(rec.threshold, f32)
        self.i_offset, self.v_reset = self.p(rec.i_offset, f32), self.p(rec.v_reset, f32)
        self.scale = torch.tensor(np.float32(rec.weight_scale), dtype=f32, device=setup.device)

    def reset(self, batch):
        self.v = self.zeros(batch, torch.float32)

    def step(self, x):
        a = self.scale * x.reshape(x.shape[0], *self.shape).to(torch.float32)
        v = self.alpha * self.v
        v = v + a
        v = v + self.i_offset
        fires = v >= self.th
        if self.rec.reset == "subtract":
            v = torch.where(fires, v - self.th, v)
        else:
            v = torch.where(fires, self.v_reset, v)
        self.v = v
        return fires.to(self.setup.vdtype)
