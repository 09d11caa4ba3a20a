"""Shared helpers of the vendor tests: random Xylo specifications and a direct transcription of the
`BitShiftLIF` docstring for a Xylo network (the spec, written a third time, as a test oracle)."""
from __future__ import annotations

import numpy as np
import pytest

from nirconv.vendors.xylo import XyloSpec, xylosim_missing_reason


def random_xylo_spec(rng: np.random.Generator, n_in=16, n_hid=64, n_out=8, fan_out=64,
                     weight_shift=(4, 3, 3), threshold=(200, 3000), dash=(1, 6), bias=False,
                     dt=1e-3) -> XyloSpec:
    """A XyloAudio 2-shaped network: every hidden neuron reaches at most ``fan_out`` targets
    (recurrent + readout), int8 weights, thresholds low enough for several spikes per step and
    weights large enough for 16-bit saturation."""
    w_in = rng.integers(-128, 128, size=(n_in, n_hid)) * (rng.random((n_in, n_hid)) < 0.5)
    w_rec = np.zeros((n_hid, n_hid), np.int64)
    w_out = np.zeros((n_hid, n_out), np.int64)
    for pre in range(n_hid):
        targets = rng.choice(n_hid + n_out, size=min(fan_out, n_hid + n_out), replace=False)
        weights = rng.integers(-128, 128, size=targets.size)
        for t, w in zip(targets, weights):
            if t < n_hid:
                w_rec[pre, t] = w
            else:
                w_out[pre, t - n_hid] = w
    lo, hi = dash

    def z(m):
        return np.stack([m, np.zeros_like(m)], axis=2).astype(np.int64)

    return XyloSpec(
        weights_in=z(w_in), weights_rec=z(w_rec), weights_out=w_out.astype(np.int64),
        dash_mem=rng.integers(lo, hi + 1, n_hid), dash_mem_out=rng.integers(lo, hi + 1, n_out),
        dash_syn=rng.integers(lo, hi + 1, n_hid), dash_syn_2=np.zeros(n_hid, np.int64),
        dash_syn_out=rng.integers(lo, hi + 1, n_out),
        threshold=rng.integers(threshold[0], threshold[1], n_hid),
        threshold_out=rng.integers(threshold[0], threshold[1], n_out),
        bias=rng.integers(-50, 50, n_hid) if bias else np.zeros(n_hid, np.int64),
        bias_out=rng.integers(-50, 50, n_out) if bias else np.zeros(n_out, np.int64),
        weight_shift_in=weight_shift[0], weight_shift_rec=weight_shift[1],
        weight_shift_out=weight_shift[2], dt=dt)


def random_events(rng, T, B, n_in, max_events=15, density=0.3):
    x = rng.integers(1, max_events + 1, size=(T, B, n_in)) * (rng.random((T, B, n_in)) < density)
    return x.astype(np.int64)


def _sat(x):
    return np.clip(x, -32768, 32767)


def _decay(x, dash):
    d = x >> dash
    return np.where((d == 0) & (x != 0), np.sign(x), d)


def reference_run(spec: XyloSpec, x: np.ndarray, record_hidden=False):
    """The BitShiftLIF docstring for a Xylo spec, batched over samples. n events of one presynaptic
    neuron on one synapse equal one saturating add of n*w (same sign, monotone), so events are
    grouped per presynaptic neuron, in xylosim's order: inputs, then hidden (previous step)."""
    T, B, _ = x.shape
    w_in = spec.weights_in[:, :, 0] << spec.weight_shift_in
    w_rec = spec.weights_rec[:, :, 0] << spec.weight_shift_rec
    w_out = spec.weights_out << spec.weight_shift_out
    bias_on = spec.has_bias
    hid = dict(v=np.zeros((B, spec.n_hidden), np.int64), i=np.zeros((B, spec.n_hidden), np.int64))
    out = dict(v=np.zeros((B, spec.n_out), np.int64), i=np.zeros((B, spec.n_out), np.int64))
    prev = np.zeros((B, spec.n_hidden), np.int64)
    outs, hiddens = [], []
    for t in range(T):
        counts = np.minimum(x[t], 15)
        for p in range(w_in.shape[0]):
            c = counts[:, p:p + 1]
            if c.any():
                hid["i"] = _sat(hid["i"] + c * w_in[p])
        for p in np.flatnonzero(prev.any(axis=0)):
            c = prev[:, p:p + 1]
            hid["i"] = _sat(hid["i"] + c * w_rec[p])
            out["i"] = _sat(out["i"] + c * w_out[p])
        prev = _evolve(hid, spec.dash_syn, spec.dash_mem, spec.bias if bias_on else 0,
                       spec.threshold, 31)
        o = _evolve(out, spec.dash_syn_out, spec.dash_mem_out, spec.bias_out if bias_on else 0,
                    spec.threshold_out, 1)
        outs.append(out["v"].copy() if spec.output_mode == "Vmem" else o)
        hiddens.append(prev)
    result = np.stack(outs)
    return (result, np.stack(hiddens)) if record_hidden else result


def _evolve(state, dash_syn, dash_mem, bias, threshold, max_spikes):
    state["i"] = state["i"] - _decay(state["i"], dash_syn)
    dv = _sat(-_decay(state["v"], dash_mem) + state["i"])
    dv = _sat(dv + bias)
    v = _sat(state["v"] + dv)
    n = np.zeros_like(v)
    for _ in range(max_spikes):
        fire = v >= threshold
        if not fire.any():
            break
        n += fire
        v = v - threshold * fire
    state["v"] = v
    return n


@pytest.fixture
def xylo_helpers():
    return dict(random_spec=random_xylo_spec, random_events=random_events,
                reference_run=reference_run)


@pytest.fixture
def need_xylosim():
    reason = xylosim_missing_reason()
    if reason:
        pytest.skip(reason)
