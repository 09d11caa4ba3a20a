"""Golden trajectories (by hand, or from the vendor's own tests) of the integer families."""
from __future__ import annotations

import numpy as np
import pytest

from nirconv.backends.event import run
from nirconv.equations.limits import UNLIMITED
from nirconv.equations.neurons import BitShiftLIF, Float32LIF, LoihiCubaLIF, SpeckIAF

I = lambda v: np.array([v], dtype=np.int64)  # noqa: E731


# ---------------------------------------------------------------- Speck

def speck(**kw):
    base = dict(shape=(1,), threshold=I(3), bias=I(1), v_init=I(0))
    base.update(kw)
    return SpeckIAF(**base)


def test_speck_multi_spike_subtract_and_lower_clip(trajectory):
    # v: 6 -> 2 spikes, 0; 1; 12 -> 4 spikes, 0; 0-40000+1 clipped to -32768; -32767
    assert trajectory(speck(), [5, 0, 10, -40000, 0], "int") == [2, 0, 4, 0, 0]


def test_speck_max_spikes(trajectory):
    # t3: v = 12 -> 3 spikes (cap), v = 3; t4: 3 + 0 + 1 = 4 -> 1 spike
    assert trajectory(speck(max_spikes=3), [5, 0, 10, 0], "int") == [2, 0, 3, 1]


def test_speck_reset_zero_one_spike(trajectory):
    assert trajectory(speck(reset="zero"), [5, 0, 10, 1], "int") == [1, 0, 1, 0]


def test_speck_upper_clip(trajectory):
    # v = clip(40001) = 32767 -> 10922 spikes, v = 1; then 1 + 1 = 2
    assert trajectory(speck(), [40000, 0], "int") == [10922, 0]


# ---------------------------------------------------------------- Xylo / generic bit-shift

def bitshift(**kw):
    base = dict(shape=(1,), threshold=None, bias=I(0), v_init=I(0), dash_mem=I(2),
                dash_syn=I(1))
    base.update(kw)
    return BitShiftLIF(**base)


def test_bitshift_membrane_decays(trajectory):
    # t1: isyn 64 -> 32, dv 32, v 32; t2: isyn 16, dv -8+16, v 40;
    # t3: isyn 8, dv -10+8, v 38; t4: isyn 4, dv -9+4, v 33
    assert trajectory(bitshift(), [64, 0, 0, 0], "int") == [32, 40, 38, 33]


def test_bitshift_decay_is_at_least_one_and_keeps_sign(trajectory):
    # no leak on v; isyn: -3 -> -3 - (-2) = -1 (v -1); -1 - (-1) = 0 (v -1); 1 - 1 = 0
    r = bitshift(dash_mem=None)
    assert trajectory(r, [-3, 0, 1], "int") == [-1, -1, -1]


def test_bitshift_bias_and_no_synaptic_state(trajectory):
    # fresh isyn each step: v = 5+2, then 7 - (7>>2=1) + 0 + 2 = 8, then 8 - 2 + 3 + 2 = 11
    r = bitshift(dash_syn=None, bias=I(2))
    assert trajectory(r, [5, 0, 3], "int") == [7, 8, 11]


def test_bitshift_multi_spike_and_cap(trajectory):
    # v 35 -> 3 spikes, 5; 5 -> 0; 405 -> 40 spikes capped at 31, v 95; 95 -> 9 spikes, v 5
    r = bitshift(threshold=I(10), dash_mem=None, dash_syn=None, max_spikes=31)
    assert trajectory(r, [35, 0, 400, 0], "int") == [3, 0, 31, 9]


def test_bitshift_reset_zero(trajectory):
    r = bitshift(threshold=I(10), dash_mem=None, dash_syn=None, max_spikes=31, reset="zero")
    assert trajectory(r, [35, 4, 7], "int") == [1, 0, 1]


def test_bitshift_state_saturates(trajectory):
    # isyn = sat16(40000) = 32767; dv = 32767; v = 32767; next: isyn 0, v stays
    r = bitshift(dash_mem=None, dash_syn=None)
    assert trajectory(r, [40000, 0, -70000], "int") == [32767, 32767, -1]


@pytest.mark.parametrize("weights,ordered,expected", [
    ([30000, 30000, -30000], 32767 - 30000, 30000),   # saturates after the second event
    ([-30000, 30000, 30000], 30000, 30000),           # presynaptic order decides
])
def test_xylo_ordered_accumulation_saturates_event_by_event(weights, ordered, expected,
                                                           make_program):
    x = np.ones((1, 1, 3), dtype=np.int64)
    for mode, want in (("ordered", ordered), ("sum", expected)):
        r = bitshift(dash_mem=None, dash_syn=None, accumulate=mode)
        out = run(make_program(r, "int", weight=np.array([weights])), x).output
        assert out[0, 0, 0] == want, mode


def test_xylo_ordered_multiple_events_on_one_synapse_equal_one_saturated_add(make_program):
    # 3 events on a +20000 synapse: sat(sat(sat(20000)+20000)+20000) = 32767, then -10000
    r = bitshift(dash_mem=None, dash_syn=None, accumulate="ordered")
    x = np.array([[[3, 1]]], dtype=np.int64)
    out = run(make_program(r, "int", weight=np.array([[20000, -10000]])), x).output
    assert out[0, 0, 0] == 32767 - 10000


# ---------------------------------------------------------------- Loihi 2

def loihi(vth=None, **kw):
    base = dict(shape=(1,), du=I(0), dv=I(2048), vth=None if vth is None else I(vth),
                bias_mant=I(0), bias_exp=I(0))
    base.update(kw)
    return LoihiCubaLIF(**base)


def test_loihi_matches_lava_bitacc_pm_impulse_dv(trajectory):
    # lava tests/lava/proc/lif/test_models.py::test_bitacc_pm_impulse_dv
    xs = [128] + [0] * 7
    assert trajectory(loihi(), xs, "int") == [8192, 12286, 14331, 15351, 15859, 16111, 16235,
                                              16295]


def test_loihi_fires_on_greater_and_resets_v_only(trajectory):
    # vth 200 -> 12800. u: 8192, 8190, 8188, 8186, 8184, 8182;
    # v: 8192, 12286, 14331 spike -> 0, 8186, 4093 + 8184 = 12277, 6138 + 8182 = 14320 spike
    assert trajectory(loihi(vth=200), [128] + [0] * 5, "int") == [0, 0, 1, 0, 0, 1]
    # exactly at vth << 6 = 8192: no spike (">")
    assert trajectory(loihi(vth=128, dv=I(4095)), [128, 0], "int") == [0, 0]


def test_loihi_wraps_u_truncates_toward_zero_and_clips_v(trajectory):
    # u = 131073 << 6 = 2**23 + 64 -> wraps to -8388544 = v
    # next: x = -(8388544*4095 >> 12) = -8386496; y = -4194272; v = clip(-12580768) = -(2**23-1)
    assert trajectory(loihi(), [131073, 0], "int") == [-8388544, -(2 ** 23 - 1)]


def test_loihi_bias_is_mantissa_shifted_by_exponent(trajectory):
    # v = 0 + 0 + (3 << 2) = 12; then 6 + 12 = 18; then 9 + 12 = 21
    r = loihi(bias_mant=I(3), bias_exp=I(2))
    assert trajectory(r, [0, 0, 0], "int") == [12, 18, 21]


# ---------------------------------------------------------------- SpiNNaker2

def f32(v):
    return np.array([v], dtype=np.float32)


def test_float32_lif_golden(trajectory):
    # a = 0.3, v = 0.4; a = 0.6, v = 0.36 + 0.6 + 0.1 = 1.06 spike -> 0.06; 0.054 + 0.1
    r = Float32LIF(shape=(1,), alpha=f32(0.9), threshold=f32(1.0), i_offset=f32(0.1),
                   v_reset=f32(0.0), weight_scale=0.3)
    assert trajectory(r, [1, 2, 0, 7], "int") == [0, 1, 0, 1]


def test_float32_lif_rounds_every_operation_in_order(make_program):
    rng = np.random.default_rng(3)
    alpha, th, off, scale = np.float32(0.937), np.float32(0.71), np.float32(0.013), 0.0173
    for reset in ("subtract", "zero"):
        r = Float32LIF(shape=(1,), alpha=f32(alpha), threshold=f32(th), i_offset=f32(off),
                       v_reset=f32(-0.25), weight_scale=scale, reset=reset)
        xs = rng.integers(-20, 60, 200)
        got = run(make_program(r, "int"), xs.reshape(-1, 1, 1)).output[:, 0, 0]
        v, want = np.float32(0), []
        for x in xs:  # python scalars, one rounding per line
            a = np.float32(np.float32(scale) * np.float32(x))
            v = np.float32(alpha * v)
            v = np.float32(v + a)
            v = np.float32(v + off)
            s = bool(v >= th)
            if s:
                v = np.float32(v - th) if reset == "subtract" else np.float32(-0.25)
            want.append(int(s))
        assert got.tolist() == want


def test_speck_v_init_and_custom_bounds(trajectory):
    # v: 2 + 0 + 1 = 3 -> 1 spike, 0; then clip(0 - 20 + 1, v_min -10) = -10; -10 + 1 = -9
    r = speck(v_init=I(2), v_min=-10, v_max=100)
    assert trajectory(r, [0, -20, 0], "int") == [1, 0, 0]


def test_bitshift_narrow_state_and_v_init(trajectory):
    # 8-bit state: isyn = sat8(300) = 127; dv = 127 - (v_init 20 >> 15 = 0 -> sign 1) = 126;
    # v = sat8(20 + 126) = 127; next: isyn 0, dv = -(127 >> 15 -> 1) = -1, v = 126
    r = bitshift(dash_mem=I(15), dash_syn=None, state_bits=8, v_init=I(20))
    assert trajectory(r, [300, 0], "int") == [127, 126]


def test_loihi_current_decay_du(trajectory):
    # du = 4095: the current is forgotten every step (factor 4096 - 4096 = 0): u = a_in << 6
    r = loihi(du=I(4095), dv=I(4095))
    # v: y = v*1 >> 12 = 1 for v = 8192 (8192 >> 12 = 2): 8192; then 2 + 0; then 0 + 64*5
    assert trajectory(r, [128, 0, 5], "int") == [8192, 2, 320]
    # du = 2047: x = u * 2048 >> 12 = u / 2 (toward zero): u 8192, 4096, 2048; dv = 4095 (v ≈ u)
    r = loihi(du=I(2047), dv=I(4095))
    assert trajectory(r, [128, 0, 0], "int") == [8192, 4098, 2049]


def test_xylo_input_channel_delivers_at_most_15_events(make_program):
    # 20 input events on a +100 synapse: Xylo (input_event_cap 15) takes 15 (1500); the generic
    # family takes all 20, and so does an ordered record without a cap (the figure is the record's)
    x = np.array([[[20]]], dtype=np.int64)
    for mode, cap, want in (("ordered", 15, 1500), ("sum", UNLIMITED, 2000),
                            ("ordered", UNLIMITED, 2000), ("ordered", 7, 700)):
        r = bitshift(dash_mem=None, dash_syn=None, accumulate=mode, input_event_cap=cap)
        result = run(make_program(r, "int", weight=np.array([[100]])), x, record=("w",))
        assert result.output[0, 0, 0] == want, (mode, cap)
        assert result.recorded["w"][0, 0, 0] == 2000  # the weight op's own output is not capped


def test_loihi_negative_bias_exponent_is_a_floor_right_shift(trajectory):
    # bias = -7 >> 1 = -4 (floor); v: -4; then -2 - 4 = -6
    r = loihi(bias_mant=I(-7), bias_exp=I(-1))
    assert trajectory(r, [0, 0], "int") == [-4, -6]
