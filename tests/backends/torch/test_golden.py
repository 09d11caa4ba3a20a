"""Hand-computed trajectories of every neuron record (the working is in each comment)."""
from __future__ import annotations

from nirconv.equations.limits import UNLIMITED
import numpy as np
import pytest
import torch

from nirconv.backends.torch import run
from nirconv.equations.neurons import (BitShiftLIF, Float32LIF, LoihiCubaLIF, NeuronFloat,
                                       SpeckIAF)


def drive(program, values, dtype=None):
    """One sample, one input channel per neuron: x (T,) -> output (T,)."""
    x = np.asarray(values).reshape(len(values), 1, -1)
    if program.mode == "int":
        x = x.astype(np.int64)
    out = run(program, x, dtype=dtype).output
    return out[:, 0, 0].tolist()


def speck(**kw):
    args = dict(shape=(1,), threshold=np.array([10]), bias=np.array([0]), v_init=np.array([0]),
                v_min=-60, v_max=90)
    args.update(kw)
    return SpeckIAF(**args)


@pytest.mark.parametrize("kw,expected", [
    # v: 25 -> 2 spikes, 5 | 8 -> 0 | 108 -> clip 90 -> 9 spikes, 0 | -70 -> clip -60
    (dict(reset="subtract"), [2, 0, 9, 0]),
    # 90 -> min(9, 3) = 3 spikes, 60 | 60 - 70 = -10
    (dict(reset="subtract", max_spikes=3), [2, 0, 3, 0]),
    (dict(reset="zero"), [1, 0, 1, 0]),
])
def test_speck(make_program, kw, expected):
    assert drive(make_program(speck(**kw), family="speck"), [25, 3, 100, -70]) == expected


def bitshift(**kw):
    args = dict(shape=(1,), threshold=np.array([10]), bias=np.array([0]), v_init=np.array([0]),
                dash_mem=np.array([1]), dash_syn=np.array([1]), state_bits=16, max_spikes=3)
    args.update(kw)
    return BitShiftLIF(**args)


def test_bitshift_spikes(make_program):
    # isyn: 8-4=4 | 44-22=22 | 22-11=11 | 11-5=6 | 6-3=3 | 3-1=2
    # v:    4 | 4-2+22=24 -> 2 spikes, 4 | 4-2+11=13 -> 1, 3 | 3-1+6=8 | 8-4+3=7 | 7-3+2=6
    assert drive(make_program(bitshift()), [8, 40, 0, 0, 0, 0]) == [0, 2, 1, 0, 0, 0]


def test_bitshift_membrane_readout_and_sign_rule(make_program):
    assert drive(make_program(bitshift(threshold=None)), [8, 40, 0, 0, 0, 0]) == \
        [4, 24, 23, 18, 12, 8]
    # decay(1, 3) = 1 >> 3 = 0 -> sign(1) = 1: v = 1 leaks to 0, not stays at 1
    rec = bitshift(threshold=None, dash_mem=np.array([3]), dash_syn=None, v_init=np.array([1]))
    assert drive(make_program(rec), [0, 0]) == [0, 0]
    # negative: -1 >> 3 = -1 (arithmetic shift): v = -1 leaks to 0
    rec = bitshift(threshold=None, dash_mem=np.array([3]), dash_syn=None, v_init=np.array([-1]))
    assert drive(make_program(rec), [0]) == [0]


def test_bitshift_saturates_every_stage(make_program):
    # 8 bits: isyn = sat(200) = 127, - 63 = 64 | sat(64 + 200) = 127 -> 64 ...
    # v: 64 | 64 - 32 + 64 = 96 | 96 - 48 + 64 = 112
    rec = bitshift(threshold=None, state_bits=8)
    assert drive(make_program(rec), [200, 200, 200]) == [64, 96, 112]


@pytest.mark.parametrize("accumulate,expected", [("ordered", -73), ("sum", 0)])
def test_xylo_order_of_events(make_program, accumulate, expected):
    # two presynaptic channels, 2 events each, weights +100 and -100, 8-bit state:
    # ordered: 100, 127, 27, -73; sum: 200 - 200 = 0
    rec = bitshift(threshold=None, state_bits=8, dash_mem=None, dash_syn=None,
                   accumulate=accumulate)
    program = make_program(rec, n_in=2, weight=[[100, -100]], family="xylo")
    x = np.array([[[2, 2]]])
    assert run(program, x).output[0, 0, 0] == expected


def test_xylo_caps_input_channel_events_at_15(make_program):
    for cap, want in ((15, 45), (UNLIMITED, 60), (4, 12)):  # the figure is the record's
        rec = bitshift(threshold=None, state_bits=16, dash_mem=None, dash_syn=None,
                       accumulate="ordered", input_event_cap=cap)
        program = make_program(rec, n_in=1, weight=[[3]], family="xylo")
        assert run(program, np.array([[[20]]])).output[0, 0, 0] == want, cap


def loihi(**kw):
    args = dict(shape=(1,), du=np.array([0]), dv=np.array([0]), vth=np.array([1]),
                bias_mant=np.array([0]), bias_exp=np.array([0]))
    args.update(kw)
    return LoihiCubaLIF(**args)


def test_loihi_spikes_on_greater_than(make_program):
    # u = 3 << 6 = 192, v = 192 > 64 -> spike, v = 0 | u = (192*4095) >> 12 = 191 -> spike
    # | u = 191*4095 >> 12 = 190, v = 190 -> spike
    assert drive(make_program(loihi(), family="loihi2"), [3, 0, 0]) == [1, 1, 1]
    # exactly at threshold: u = 1 << 6 = 64, not > 64
    assert drive(make_program(loihi(), family="loihi2"), [1]) == [0]


def test_loihi_truncates_toward_zero(make_program):
    # u = -192, v = -192 | x = -192*4095 = -786240 -> -(786240 >> 12) = -191 (floor: -192)
    # v = (-192*4096 >> 12) + (-191) = -383
    rec = loihi(vth=None)
    assert drive(make_program(rec, family="loihi2"), [-3, 0]) == [-192, -383]


def test_loihi_wraps_u_at_24_bits(make_program):
    # a = 2**17 - 1: u = 8388544 | u = 8386496 + 8388544 = 16775040 > 2**23 -> -2176
    # v = 8388544 | 8388544 + (-2176) = 8386368
    rec = loihi(vth=None)
    a = (1 << 17) - 1
    assert drive(make_program(rec, family="loihi2"), [a, a]) == [8388544, 8386368]


def test_loihi_bias_exponent(make_program):
    # bias = 3 << 2 = 12 per step, vth 0 -> threshold 0: v = 12 > 0 -> spike every step
    rec = loihi(bias_mant=np.array([3]), bias_exp=np.array([2]), vth=None, dv=np.array([4095]))
    # v = (v*1 >> 12) + 12: 12 | 0 + 12 = 12
    assert drive(make_program(rec, family="loihi2"), [0, 0]) == [12, 12]


def test_float32_lif_rounds_each_operation(make_program):
    f = np.float32
    rec = Float32LIF(shape=(1,), alpha=np.array([f(0.9)]), threshold=np.array([f(1.0)]),
                     i_offset=np.array([f(0.01)]), v_reset=np.array([f(0.0)]),
                     weight_scale=float(f(0.1)), reset="subtract")
    xs = [3, 1, 4, 1, 5, 9, 2, 6]
    v, want = f(0), []
    for x in xs:  # the docstring, in float32, one rounding per line
        a = f(f(0.1) * f(x))
        v = f(f(0.9) * v)
        v = f(v + a)
        v = f(v + f(0.01))
        s = v >= f(1.0)
        v = f(v - f(1.0)) if s else v
        want.append(int(s))
    assert drive(make_program(rec, family="spinnaker2"), xs) == want
    assert sum(want) > 0


def float_lif(**kw):
    one = np.array([1.0])
    args = dict(shape=(1,), alpha_mem=np.array([0.5]), beta_mem=one, bias=np.array([0.0]),
                v_threshold=one, v_reset=np.array([0.0]), v_init=np.array([0.0]))
    args.update(kw)
    return NeuronFloat(**args)


@pytest.mark.parametrize("kw,expected", [
    # v: 0.6 | 0.9 | 1.05 -> spike, 0.05 | 0.025 + 2.5 = 2.525 -> spike, 1.525
    (dict(), [0, 0, 1, 1]),
    # multi-spike: 2.525 -> floor = 2 spikes
    (dict(max_spikes=UNLIMITED), [0, 0, 1, 2]),
    # snnTorch: 1.05 fires, reset next step: 0.525 + 2.5 - 1 = 2.025 -> fires
    (dict(reset_after_decay=False), [0, 0, 1, 1]),
    # reset to v_reset = 0: 1.05 -> 0 | 2.5
    (dict(reset="zero"), [0, 0, 1, 1]),
])
def test_float_lif(make_program, kw, expected):
    program = make_program(float_lif(**kw), mode="float")
    assert drive(program, [0.6, 0.6, 0.6, 2.5], dtype=torch.float64) == expected


def test_float_compare_and_v_min(make_program):
    # a tie at the threshold fires with >= only
    assert drive(make_program(float_lif(compare=">="), mode="float"), [1.0]) == [1]
    assert drive(make_program(float_lif(compare=">"), mode="float"), [1.0]) == [0]
    rec = float_lif(v_threshold=None, v_min=np.array([-1.0]))
    assert drive(make_program(rec, mode="float"), [-5.0, 0.25], dtype=torch.float64) == \
        [-1.0, -0.25]


def test_float_synapse_and_current_delay(make_program):
    syn = dict(alpha_syn=np.array([0.5]), beta_syn=np.array([1.0]), v_threshold=None)
    # i: 1, 0.5 ; v = 0.5 v + i: 1, 1.0
    assert drive(make_program(float_lif(**syn), mode="float"), [1, 0], torch.float64) == [1, 1]
    # current_delay: v uses i_{t-1}: 0, 1 -> v: 0, 1
    assert drive(make_program(float_lif(current_delay=True, **syn), mode="float"), [1, 0],
                 torch.float64) == [0, 1]
