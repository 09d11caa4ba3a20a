"""The audit's metrics on tiny hand-made spike arrays, and the alignment by delay."""
from __future__ import annotations

import numpy as np
import pytest

from nirconv.equations.neurons import NeuronFloat
from nirconv.equations.program import (AffineOp, Edge, InputOp, NeuronOp, OutputOp, Program,
                                       ThresholdOp)
from nirconv.errors import BadInput
from nirconv.fidelity import compare as C


def test_agreement_of_binary_spikes_is_both_over_either():
    a = np.array([[1, 0, 1, 1], [0, 0, 1, 0]])
    b = np.array([[1, 1, 0, 1], [0, 0, 1, 0]])
    # both: (0,0) (0,3) (1,2) = 3; either: 3 + (0,1) + (0,2) = 5
    assert C.spike_agreement(a, b) == pytest.approx(3 / 5)


def test_agreement_of_counts_uses_min_over_max():
    a = np.array([3, 0, 2])
    b = np.array([1, 0, 2])
    assert C.spike_agreement(a, b) == pytest.approx((1 + 0 + 2) / (3 + 0 + 2))


def test_agreement_is_one_when_both_silent_and_zero_when_disjoint():
    z = np.zeros((4, 2, 3))
    assert C.spike_agreement(z, z) == 1.0
    a = np.zeros(4)
    a[0] = 1
    b = np.zeros(4)
    b[1] = 1
    assert C.spike_agreement(a, b) == 0.0
    assert C.spike_agreement(a, z[:, 0, 0]) == 0.0


def test_agreement_refuses_different_shapes():
    with pytest.raises(BadInput, match="shape"):
        C.spike_agreement(np.zeros(3), np.zeros(4))


def test_rate_correlation_matches_pearson():
    rng = np.random.default_rng(1)
    a = rng.random((5, 7))
    b = 0.5 * a + 0.1 * rng.random((5, 7))
    expected = np.corrcoef(a.ravel(), b.ravel())[0, 1]
    assert C.rate_correlation(a, b) == pytest.approx(expected)
    assert C.rate_correlation(a, -a) == pytest.approx(-1.0)


def test_rate_correlation_of_constant_vectors():
    ones = np.ones(6)
    assert C.rate_correlation(ones, ones) == 1.0           # both constant and equal
    assert C.rate_correlation(np.zeros(6), np.zeros(6)) == 1.0
    assert C.rate_correlation(ones, 2 * ones) == 0.0       # constant but different
    assert C.rate_correlation(ones, np.arange(6.0)) == 0.0  # one side constant
    assert C.rate_correlation(np.zeros(0), np.zeros(0)) == 1.0


def test_scale_free_error_is_zero_for_proportional_rates():
    act = np.array([0.0, 1.0, 2.0, 4.0])
    assert C.scale_free_error(act / 8, act) == pytest.approx(0.0, abs=1e-6)
    assert C.scale_free_error(np.zeros(4), np.zeros(4)) == 0.0
    assert C.scale_free_error(np.array([1.0, 0, 0, 0]), np.array([0, 0, 0, 1.0])) == \
        pytest.approx(1.0)


def _neuron(shape, spiking=True, current_delay=False):
    ones = np.ones(shape)
    return NeuronFloat(shape=shape, alpha_mem=ones, beta_mem=ones, bias=0 * ones,
                       v_threshold=ones if spiking else None, v_reset=0 * ones, v_init=0 * ones,
                       alpha_syn=ones if current_delay else None,
                       beta_syn=ones if current_delay else None, current_delay=current_delay)


def _chain(delay_into_neurons: int, readout_delay: int, mode="float", current_delay=False):
    """input -> fc1 -> lif1 -> fc2 -> out_neuron (membrane) -> output, with edge delays."""
    w = np.eye(3)
    ops = (
        InputOp("input", (), (3,), (3,)),
        AffineOp("fc1", (Edge("input"),), (3,), (3,), weight=w),
        NeuronOp("lif1", (Edge("fc1", delay_into_neurons),), (3,), (3,),
                 neuron=_neuron((3,), current_delay=current_delay)),
        AffineOp("fc2", (Edge("lif1"),), (3,), (3,), weight=w),
        NeuronOp("lif2", (Edge("fc2", delay_into_neurons), Edge("lif2", 1)), (3,), (3,),
                 neuron=_neuron((3,))),
        AffineOp("fc3", (Edge("lif2"),), (3,), (3,), weight=w),
        NeuronOp("readout", (Edge("fc3", readout_delay),), (3,), (3,),
                 neuron=_neuron((3,), spiking=False)),
        OutputOp("output", (Edge("readout"),), (3,), (3,)),
    )
    return Program(ops=ops, inputs=("input",), outputs=("output",), mode=mode)


def test_delays_follow_the_longest_path_and_skip_recurrent_edges():
    assert C.op_delays(_chain(1, 0)) == {"input": 0, "fc1": 0, "lif1": 1, "fc2": 1, "lif2": 2,
                                         "fc3": 2, "readout": 2, "output": 2}
    # norse's delayed current adds one step at the neuron itself
    assert C.op_delays(_chain(0, 0, current_delay=True))["lif1"] == 1


def test_alignment_shifts_each_spiking_node_by_its_extra_delay():
    loihi_like, float_prog = _chain(1, 0), _chain(0, 0)
    rows = C.align(float_prog, loihi_like)
    assert [(r.node, r.shift) for r in rows] == [("lif1", 1), ("lif2", 2)]  # readout: not spiking
    assert C.output_shift(float_prog, _chain(0, 1)) == 1  # Xylo-like delayed readout


def test_aligned_window_shifts_and_pads():
    x = np.arange(6).reshape(6, 1)
    assert C.aligned_window(x, 2, 3)[:, 0].tolist() == [2, 3, 4]
    assert C.aligned_window(x, 4, 3)[:, 0].tolist() == [4, 5, 0]
    assert C.aligned_window(x, -1, 3)[:, 0].tolist() == [0, 0, 1]


def test_shifted_spike_train_agrees_after_alignment():
    rng = np.random.default_rng(0)
    f = (rng.random((10, 2, 4)) < 0.3).astype(np.int64)
    q = np.concatenate([np.zeros((2, 2, 4), np.int64), f])  # deployed: two steps late
    assert C.spike_agreement(f, q[:10]) < 1.0
    assert C.spike_agreement(f, C.aligned_window(q, 2, 10)) == 1.0


def test_first_divergence_is_earliest_step_then_topological_order_then_neuron():
    T = 5
    f1, q1 = np.zeros((T, 2, 2)), np.zeros((T, 2, 2))
    f2, q2 = np.zeros((T, 3)), np.zeros((T, 3))
    assert C.first_divergence([f1, f2], [q1, q2], ["a", "b"]) is None
    q2[1, 2] = 1  # node b diverges at step 1, neuron 2
    q1[3, 1, 0] = 2  # node a diverges later
    d = C.first_divergence([f1, f2], [q1, q2], ["a", "b"])
    assert d == {"node": "b", "timestep": 1, "neuron": 2, "neuron_index": [2], "float": 0,
                 "deployed": 1}
    q1[1, 1, 1] = 1; q1[1, 0, 1] = 1  # same step: the earlier node wins, lowest flat index
    d = C.first_divergence([f1, f2], [q1, q2], ["a", "b"])
    assert (d["node"], d["timestep"], d["neuron"], d["neuron_index"]) == ("a", 1, 1, [0, 1])


def test_spiking_classification():
    th = ThresholdOp("th", (), (2,), (2,), threshold=np.ones(2))
    assert C.is_spiking(th)
    assert not C.is_spiking(AffineOp("fc", (), (2,), (2,), weight=np.eye(2)))
    assert C.readout_is_spiking(_chain(0, 0)) is False


def test_predictions_by_steps_for_spikes_and_membrane():
    out = np.zeros((4, 1, 3))
    out[0, 0, 2] = 1
    out[1, 0, 1] = 1
    out[2, 0, 1] = 1
    assert C.predictions_by_steps(out, True)[:, 0].tolist() == [2, 1, 1, 1]
    assert C.predictions_by_steps(out, False)[:, 0].tolist() == [2, 1, 1, 0]
    assert C.predictions_by_steps(out, True, shift=1, steps=3)[:, 0].tolist() == [1, 1, 1]
    with pytest.raises(BadInput):
        C.predictions_by_steps(out, True, shift=2, steps=3)


def test_scale_free_error_fits_one_scale_per_channel():
    act = np.random.default_rng(2).random((5, 2, 3))  # (B, C, positions)
    rate = act * np.array([0.5, 0.1])[None, :, None]  # a different λ per channel
    assert C.scale_free_error(rate.reshape(5, -1), act.reshape(5, -1), channels=2) == \
        pytest.approx(0.0, abs=1e-6)
    assert C.scale_free_error(rate.reshape(5, -1), act.reshape(5, -1), channels=1) > 0.1


def test_batched_accumulators_equal_the_one_shot_metrics():
    rng = np.random.default_rng(3)
    a = rng.random((30, 8))
    b = 0.7 * a + 0.2 * rng.random((30, 8))
    acc, fit = C.PearsonAccumulator(), C.ProportionalFit(channels=2)
    for lo, hi in [(0, 7), (7, 8), (8, 30)]:  # uneven batches, one of a single sample
        acc.add(a[lo:hi], b[lo:hi])
        fit.add(b[lo:hi], a[lo:hi])
    assert acc.value() == pytest.approx(C.rate_correlation(a, b), abs=1e-12)
    assert fit.value() == pytest.approx(C.scale_free_error(b, a, channels=2), abs=1e-9)
    const = C.PearsonAccumulator()
    const.add(np.ones(3), np.ones(3))
    const.add(np.ones(2), np.ones(2))
    assert const.value() == 1.0
    const.add(np.ones(1), np.zeros(1))
    assert const.value() == 0.0
    assert C.PearsonAccumulator().value() == 1.0
