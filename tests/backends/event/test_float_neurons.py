"""Golden trajectories (computed by hand) of `NeuronFloat`, one per record switch."""
from __future__ import annotations

from nirconv.equations.limits import UNLIMITED
import numpy as np
import pytest

from nirconv.equations.neurons import NeuronFloat


def rec(**kw):
    base = dict(shape=(1,), alpha_mem=np.array([1.0]), beta_mem=np.array([1.0]),
                bias=np.array([0.0]), v_threshold=np.array([1.0]), v_reset=np.array([0.0]),
                v_init=np.array([0.0]), reset="subtract", compare=">=")
    base.update({k: (np.array([v]) if isinstance(v, float) and k != "max_spikes" else v)
                 for k, v in kw.items()})
    return NeuronFloat(**base)


def test_leaky_integrator_membrane_with_bias_and_v_init(trajectory):
    r = rec(alpha_mem=0.5, bias=0.25, v_init=1.0, v_threshold=None)
    assert trajectory(r, [1, 0, 0]) == pytest.approx([1.75, 1.125, 0.8125])


def test_lif_subtract(trajectory):
    r = rec(alpha_mem=0.5)
    # v: 0.6, 0.9, 1.05 -> spike, 0.05; 0.625; 0.3125
    assert trajectory(r, [0.6, 0.6, 0.6, 0.6, 0.0]) == [0, 0, 1, 0, 0]


@pytest.mark.parametrize("compare,expected", [(">=", [0, 1, 0, 1]), (">", [0, 0, 1, 0])])
def test_compare_at_exactly_threshold(trajectory, compare, expected):
    # >= : 0.5, 1.0 spike -> 0, 0.5, 1.0 spike.   > : 0.5, 1.0, 1.5 spike -> 0.5, 1.0
    assert trajectory(rec(compare=compare), [0.5] * 4) == expected


@pytest.mark.parametrize("reset,expected", [("zero", [1, 0, 0, 1]), ("subtract", [1, 0, 1, 1])])
def test_reset_zero_goes_to_v_reset(trajectory, reset, expected):
    # zero (v_reset -0.5): 1.25 spike -> -0.5, 0.0, 0.5, 1.25 spike
    # subtract:            1.25 spike -> 0.25, 0.75, 1.25 spike -> 0.25, 1.0 spike
    assert trajectory(rec(reset=reset, v_reset=-0.5), [1.25, 0.5, 0.5, 0.75]) == expected


@pytest.mark.parametrize("delay,expected", [(False, [1, 1.5, 1.75, 1.875]),
                                            (True, [0, 1, 1.5, 1.75])])
def test_synaptic_current_and_current_delay(trajectory, delay, expected):
    # i: 1, 0.5, 0.25, 0.125; v sums i_t (norse's current_delay: i_{t-1})
    r = rec(v_threshold=None, alpha_syn=0.5, beta_syn=1.0, current_delay=delay)
    assert trajectory(r, [1, 0, 0, 0]) == pytest.approx(expected)


def test_synapse_scales_input_by_beta_syn(trajectory):
    r = rec(v_threshold=None, alpha_syn=0.0, beta_syn=0.5, alpha_mem=0.0, beta_mem=2.0)
    assert trajectory(r, [1.0, 3.0]) == pytest.approx([1.0, 3.0])


def test_cuba_lif_spikes(trajectory):
    # i: 1, 0.5, 0.25; v: 1 (>= 1: spike -> 0), 0.5, 0.75; then i 0.125 -> v 0.875
    r = rec(alpha_syn=0.5, beta_syn=1.0)
    assert trajectory(r, [1, 0, 0, 0]) == [1, 0, 0, 0]
    r2 = rec(alpha_syn=0.5, beta_syn=1.0, v_threshold=0.7)
    # v: 1 spike -> 0.3, 0.8 spike -> 0.1, 0.35, 0.475
    assert trajectory(r2, [1, 0, 0, 0]) == [1, 1, 0, 0]


def test_snntorch_delayed_undecayed_subtract(trajectory):
    # snnTorch: v1 = 1.5 (spike, kept), v2 = 0.75 + 0.8 - 1 = 0.55 (no spike), v3 = 0.275
    r = rec(alpha_mem=0.5, compare=">", reset_after_decay=False)
    assert trajectory(r, [1.5, 0.8, 0.0]) == [1, 0, 0]
    # nirconv order: v1 = 1.5 -> 0.5, v2 = 0.25 + 0.8 = 1.05 (spike)
    assert trajectory(rec(alpha_mem=0.5, compare=">"), [1.5, 0.8, 0.0]) == [1, 1, 0]


def test_snntorch_zero_reset_replaces_previous_membrane(trajectory):
    # v1 = 1.5 spike; v2 = 0.5*v_reset(0.2) + 0.8 = 0.9; v3 = 0.45 + 0.8 = 1.25 spike
    r = rec(alpha_mem=0.5, compare=">", reset="zero", v_reset=0.2, reset_after_decay=False)
    assert trajectory(r, [1.5, 0.8, 0.8]) == [1, 0, 1]
    r = rec(alpha_mem=0.5, compare=">", reset="zero", v_reset=0.3, reset_after_decay=False)
    # v2 = 0.15 + 0.8 = 0.95, v3 = 0.475 + 0.8 = 1.275 spike, v4 = 0.15 + 0.9 = 1.05 spike
    assert trajectory(r, [1.5, 0.8, 0.8, 0.9]) == [1, 0, 1, 1]




@pytest.mark.parametrize("max_spikes,xs,expected", [(UNLIMITED, [0.5, 3.25, 0.5, 0.0], [0, 3, 1, 0]),
                                                     (2, [0.5, 3.25, 0.0, 0.0], [0, 2, 1, 0])])
def test_multi_spike_counts(trajectory, max_spikes, xs, expected):
    # θ 1, subtract, no leak. uncapped: v 0.5; 3.75 -> 3 spikes, 0.75; 1.25 -> 1, 0.25; 0.25
    # capped at 2: v 0.5; 3.75 -> 2 spikes, 1.75; 1.75 -> 1, 0.75; 0.75
    assert trajectory(rec(max_spikes=max_spikes), xs) == expected


def test_multi_spike_is_at_least_one_when_threshold_is_crossed(trajectory):
    # compare ">=" at v = 1.5 with θ = 1: floor 1 -> 1 spike; θ = 2 and v = 2.0: 1 spike
    assert trajectory(rec(max_spikes=UNLIMITED), [1.5]) == [1]
    assert trajectory(rec(max_spikes=4, v_threshold=2.0), [2.0, 7.0]) == [1, 3]


def test_multi_spike_zero_reset(trajectory):
    r = rec(max_spikes=UNLIMITED, reset="zero", v_reset=-0.25)
    # v 3.5 -> 3 spikes, v = -0.25; then -0.25 + 1.5 = 1.25 -> 1 spike
    assert trajectory(r, [3.5, 1.5]) == [3, 1]


def test_multi_spike_with_snntorch_order(trajectory):
    # delayed undecayed reset subtracts θ·n_{t-1}: v1 = 2.5 (2 spikes, kept);
    # v2 = 0.5*2.5 + 1 - 2 = 0.25 (0); v3 = 0.125 + 1 = 1.125 (1)
    r = rec(alpha_mem=0.5, max_spikes=UNLIMITED, reset_after_decay=False)
    assert trajectory(r, [2.5, 1.0, 1.0]) == [2, 0, 1]


def test_v_min_bounds_the_membrane_after_reset(trajectory):
    # non-spiking with v_min -1: v = -3 -> -1, then -1 + 0.5 = -0.5
    r = rec(v_threshold=None, v_min=-1.0)
    assert trajectory(r, [-3.0, 0.5]) == [-1.0, -0.5]
    # spiking: -5 -> -1; +1.75 -> 0.75; +0.25 -> 1.0 spike
    r = rec(v_min=-1.0)
    assert trajectory(r, [-5.0, 1.75, 0.25]) == [0, 0, 1]
