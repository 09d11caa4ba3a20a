"""Xylo's ordered accumulation against a plain Python event-by-event replay (forced saturation)."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from nirconv.equations.records import InputEncoding
from nirconv.backends.event import run
from nirconv.equations.neurons import BitShiftLIF
from nirconv.equations.program import AffineOp, Edge, InputOp, NeuronOp, OutputOp, Program

HI, LO = 2 ** 15 - 1, -(2 ** 15)


def decay(x, dash):
    d = x >> dash
    return (1 if x > 0 else -1) if d == 0 and x != 0 else d


def python_reference(x, w_in, w_rec, shift_in, shift_rec, th, dash_syn, dash_mem):
    """xylosim order: inputs (index ascending, each event alone), then the previous step's
    hidden spikes through the recurrent weights; then decay, membrane, spikes."""
    steps, batch, n_in = x.shape
    n = w_in.shape[0]
    out = np.zeros((steps, batch, n), dtype=np.int64)
    for b in range(batch):
        isyn, v, prev = [0] * n, [0] * n, [0] * n
        for t in range(steps):
            for i in range(n_in):
                for _ in range(int(x[t, b, i])):
                    for j in range(n):
                        isyn[j] = min(HI, max(LO, isyn[j] + (int(w_in[j, i]) << shift_in)))
            for i in range(n):
                for _ in range(prev[i]):
                    for j in range(n):
                        isyn[j] = min(HI, max(LO, isyn[j] + (int(w_rec[j, i]) << shift_rec)))
            for j in range(n):
                isyn[j] -= decay(isyn[j], dash_syn)
                dv = min(HI, max(LO, -decay(v[j], dash_mem) + isyn[j]))
                v[j] = min(HI, max(LO, v[j] + dv))
                k = 0
                while v[j] >= th and k < 31:
                    k += 1
                    v[j] -= th
                out[t, b, j] = prev[j] = k
    return out


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10 ** 6), st.integers(0, 3), st.integers(0, 2))
def test_ordered_accumulation_matches_event_by_event_replay(seed, shift_in, shift_rec):
    rng = np.random.default_rng(seed)
    n_in, n = 4, 5
    w_in = rng.integers(-127, 128, (n, n_in)) * 40  # large: partial sums saturate often
    w_rec = rng.integers(-127, 128, (n, n)) * 20
    th = int(rng.integers(500, 4000))
    dash_syn, dash_mem = int(rng.integers(0, 4)), int(rng.integers(1, 5))
    rec = BitShiftLIF(shape=(n,), threshold=np.full(n, th), bias=np.zeros(n, dtype=np.int64),
                      v_init=np.zeros(n, dtype=np.int64), dash_mem=np.full(n, dash_mem),
                      dash_syn=np.full(n, dash_syn), max_spikes=31, accumulate="ordered")
    ops = (InputOp(name="in", inputs=(), in_shape=(n_in,), out_shape=(n_in,)),
           AffineOp(name="w_in", inputs=(Edge("in"),), in_shape=(n_in,), out_shape=(n,),
                    weight=w_in, shift=shift_in),
           NeuronOp(name="h", inputs=(Edge("w_in"), Edge("w_rec", 1)), in_shape=(n,),
                    out_shape=(n,), neuron=rec),
           AffineOp(name="w_rec", inputs=(Edge("h"),), in_shape=(n,), out_shape=(n,),
                    weight=w_rec, shift=shift_rec),
           OutputOp(name="out", inputs=(Edge("h"),), in_shape=(n,), out_shape=(n,)))
    program = Program(ops=ops, inputs=("in",), outputs=("out",), mode="int", family="xylo",
                      encoding=InputEncoding(kind="spikes"))
    x = rng.integers(0, 4, (12, 2, n_in)) * (rng.random((12, 2, n_in)) < 0.5)
    got = run(program, x).output
    want = python_reference(x, w_in, w_rec, shift_in, shift_rec, th, dash_syn, dash_mem)
    np.testing.assert_array_equal(got, want)
