"""The speed paths of the torch backend, each forced, and the fallback to the exact path.

Affine products: dense GEMM, int8 GEMM, gather of weight rows (`products.py`). Xylo's ordered
accumulation: safe pairs, one-signed pairs, mixed pairs (in event rounds or the clamp tree), with
the fan-in lists (`ordered.fan_in`) of Affine and Conv ops. Each is checked against Python
integers; the agreement tests (tests/agreement/test_bitexact.py) force them on random programs.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import nirconv.backends.torch.kernels as K
import nirconv.backends.torch.ordered as O
import nirconv.backends.torch.runner as R
from nirconv.backends.torch import run
from nirconv.backends.torch.products import (gather_below, int8_engine, int8_exact, int8_split,
                                             int8_tables)
from nirconv.equations.neurons import BitShiftLIF
from nirconv.equations.program import (AffineOp, ConvOp, Edge, InputOp, NeuronOp, OutputOp,
                                       Program)


def affine_program(weight, family="generic"):
    n_out, n_in = np.shape(weight)
    ops = (InputOp(name="in", inputs=(), in_shape=(n_in,), out_shape=(n_in,)),
           AffineOp(name="fc", inputs=(Edge("in"),), in_shape=(n_in,), out_shape=(n_out,),
                    weight=np.asarray(weight, dtype=np.int64)),
           OutputOp(name="out", inputs=(Edge("fc"),), in_shape=(n_out,), out_shape=(n_out,)))
    return Program(ops=ops, inputs=("in",), outputs=("out",), mode="int", family=family)


def paths_taken(monkeypatch):
    """The product paths of every Affine kernel of the next runs, as a Counter."""
    from collections import Counter
    seen = Counter()
    original = R.Loop.run

    def spy(self, progress):
        out = original(self, progress)
        for kernel in self.plan.kernels.values():
            seen.update(getattr(kernel, "paths", {}))
        return out

    monkeypatch.setattr(R.Loop, "run", spy)
    return seen


@pytest.mark.parametrize("path,w_lo,w_hi", [("dense", -128, 128), ("gather", -128, 128),
                                            ("int8", -128, 128), ("int8", -100, 150),
                                            ("int8", -9000, 9000)])
def test_each_affine_product_path_is_exact(path, w_lo, w_hi, monkeypatch):
    rng = np.random.default_rng(0)
    weight = rng.integers(w_lo, w_hi, (40, 300))  # int8, with an offset, in two bytes
    x = (rng.random((6, 9, 300)) < 0.05) * rng.integers(1, 4, (6, 9, 300))
    want = np.einsum("tbi,oi->tbo", x, weight)
    if path == "int8" and not int8_engine():
        pytest.skip("no int8 matrix engine on this CPU")
    monkeypatch.setattr(K, "int8_engine", lambda: path == "int8")
    monkeypatch.setattr(K, "gather_below", lambda *costs: 2.0 if path == "gather" else 0.0)
    seen = paths_taken(monkeypatch)
    np.testing.assert_array_equal(run(affine_program(weight), x).output, want)
    assert set(seen) == {path}


def test_int8_needs_int8_weights_inputs_and_int32_sums():
    assert int8_exact(-128, 127, 0, 31, 2.0 ** 20)
    assert not int8_exact(-129, 127, 0, 31, 2.0 ** 20)  # a weight outside int8
    assert not int8_exact(-128, 127, 0, 128, 2.0 ** 20)  # an input outside int8
    assert not int8_exact(-128, 127, 0, 1, 2.0 ** 31)  # a sum that may overflow int32
    assert int8_split(-120, 135, 0, 1, 1024, 2.0 ** 20) == "offset"  # 256 values: an offset
    assert int8_split(-300, 135, 0, 1, 1024, 2.0 ** 20) == "bytes"  # 15 bits: two bytes
    assert int8_split(-(1 << 14) - 1, 0, 0, 1, 1024, 2.0 ** 20) is None


@pytest.mark.parametrize("split,w", [("int8", np.arange(-128, 128)),
                                     ("offset", np.arange(-120, 136)),
                                     ("bytes", np.arange(-(1 << 14), 1 << 14, 37))])
def test_int8_pieces_add_up_to_the_weights(split, w):
    pieces, offset = int8_tables(w.reshape(-1, 1), split)
    assert all(p.dtype == np.int8 for _, p in pieces)
    total = sum(f * p.astype(np.int64) for f, p in pieces) + offset
    np.testing.assert_array_equal(total, w.reshape(-1, 1))


def test_weights_beyond_15_bits_fall_back_to_an_exact_float_product(monkeypatch):
    rng = np.random.default_rng(1)
    weight = rng.integers(-30000, 30000, (8, 50))  # not 15 bits: no int8 GEMM, whatever the CPU
    x = rng.integers(0, 3, (4, 5, 50))
    seen = paths_taken(monkeypatch)
    np.testing.assert_array_equal(run(affine_program(weight), x).output,
                                  np.einsum("tbi,oi->tbo", x, weight))
    assert "int8" not in seen and sum(seen.values()) == 4


def test_gather_rule_follows_the_density_and_the_batch():
    """Gathering beats the GEMM below (max(mac, weight / B) - scan / n_out) / gather per element:
    for a small batch the GEMM still reads all its weights; for small layers the scan alone
    costs more than the GEMM: never."""
    assert gather_below(12.6, 150, 1024, 256) == pytest.approx((12.6 - 1500 / 1024) / 130)
    assert gather_below(2.0, 90, 1024, 1) == pytest.approx((90 - 1500 / 1024) / 130)
    assert gather_below(12.6, 150, 64, 256) < 0 and gather_below(2.0, 90, 1024, 256) > 0
    fake = type("Fake", (), {"gemm_ps": (12.6, 150.0), "gather_ok": True, "int8": None,
                             "in_lo": 0, "op": type("Op", (), {"out_shape": (1024,)})})()
    dense = torch.zeros(64, 100)
    dense[:, :20] = 1  # density 0.2
    sparse = torch.zeros(64, 100)
    sparse[:, :5] = 1  # 0.05
    rule = K.AffineKernel.choose
    assert rule(fake, dense) == "dense" and rule(fake, sparse) == "gather"
    assert rule(fake, dense[:1]) == "gather"  # one sample: the GEMM's weight reads dominate


# ------------------------------------------------------------------ ordered accumulation

def sequential(start, events, lo, hi):
    for c in events:
        start = min(max(start + c, lo), hi)
    return start


def xylo_layer(weight, shift=0):
    n, n_in = np.shape(weight)
    rec = BitShiftLIF(shape=(n,), threshold=None, bias=np.zeros(n, np.int64),
                      v_init=np.zeros(n, np.int64), dash_mem=None, dash_syn=np.full(n, 15),
                      accumulate="ordered")
    ops = (InputOp(name="in", inputs=(), in_shape=(n_in,), out_shape=(n_in,)),
           AffineOp(name="fc", inputs=(Edge("in"),), in_shape=(n_in,), out_shape=(n,),
                    weight=np.asarray(weight), bias=None, shift=shift),
           NeuronOp(name="n", inputs=(Edge("fc"),), in_shape=(n,), out_shape=(n,), neuron=rec),
           OutputOp(name="out", inputs=(Edge("n"),), in_shape=(n,), out_shape=(n,)))
    return Program(ops, ("in",), ("out",), "int", "xylo")


def reference_isyn(weight, x, shift, lo=-32768, hi=32767):
    """isyn after one step from 0: every event on its own, presynaptic order."""
    out = np.zeros((x.shape[0], weight.shape[0]), dtype=np.int64)
    for b in range(x.shape[0]):
        for k in range(weight.shape[0]):
            events = [int(weight[k, j]) << shift for j in range(weight.shape[1])
                      for _ in range(int(x[b, j]))]
            out[b, k] = sequential(0, events, lo, hi)
    return out


def ordered_stats(monkeypatch):
    """The (sample, neuron) pair classes of every ordered neuron of the next runs."""
    from collections import Counter
    seen = Counter()
    original = R.Loop.run

    def spy(self, progress):
        out = original(self, progress)
        for kernel in self.plan.kernels.values():
            seen.update(getattr(getattr(kernel, "state", None), "stats", {}))
        return out

    monkeypatch.setattr(R.Loop, "run", spy)
    return seen


@pytest.mark.parametrize("rounds_from", [0, 10 ** 9])
@pytest.mark.parametrize("chunk", [1 << 19, 7])
def test_mixed_pairs_fall_back_to_the_exact_ordered_sum(rounds_from, chunk, monkeypatch):
    """Large shifted weights: the bounds cannot prove most pairs safe; they take the exact path
    (event rounds or clamp tree, in chunks or not) and equal the per-event loop."""
    rng = np.random.default_rng(5)
    weight = rng.integers(-128, 128, (16, 40)) * (rng.random((16, 40)) < 0.5)
    x = rng.integers(0, 4, (1, 12, 40))
    monkeypatch.setattr(O, "ROUNDS_FROM", rounds_from)
    monkeypatch.setattr(O, "PAIR_CHUNK_ELEMENTS", chunk)
    stats = ordered_stats(monkeypatch)
    got = run(xylo_layer(weight, shift=6), x).output[0]
    # dash_syn 15: isyn -= decay(isyn) (sign(isyn) for |isyn| < 2**15), then v = isyn
    isyn = reference_isyn(weight, x[0], 6)
    np.testing.assert_array_equal(got, isyn - np.sign(isyn))
    assert stats["mixed"] > 0 and stats["safe"] + stats["one-signed"] + stats["mixed"] == 12 * 16


def test_safe_and_one_signed_pairs_need_no_events(monkeypatch):
    weight = np.array([[100, 50, 0], [-100, -50, 0], [100, -50, 20]])
    x = np.array([[[300, 300, 0], [1, 1, 1]]])  # sample 0 saturates; sample 1 does not
    stats = ordered_stats(monkeypatch)
    monkeypatch.setattr(O, "_exact_pairs", None)  # any mixed pair would fail here
    got = run(xylo_layer(weight[:2]), x).output[0]
    want = reference_isyn(weight[:2], x[0], 0)
    np.testing.assert_array_equal(got, want - np.sign(want))
    assert (stats["safe"], stats["one-signed"], stats["mixed"]) == (2, 2, 0)


@pytest.mark.parametrize("groups,stride,padding,dilation", [
    (1, (1, 1), (1, 1), (1, 1)), (2, (2, 1), (0, 1), (1, 1)), (1, (1, 2), (1, 0), (2, 1))])
def test_conv_fan_in_lists_are_the_convolution(groups, stride, padding, dilation):
    rng = np.random.default_rng(6)
    c_in, c_out, h, w = 2, 4, 6, 5
    weight = rng.integers(-5, 6, (c_out, c_in // groups, 3, 2))
    out_hw = [(n + 2 * p - d * (k - 1) - 1) // s + 1
              for n, p, d, k, s in zip((h, w), padding, dilation, (3, 2), stride)]
    op = ConvOp(name="c", inputs=(), in_shape=(c_in, h, w), out_shape=(c_out, *out_hw),
                weight=weight, stride=stride, padding=padding, dilation=dilation, groups=groups)
    fan = O.fan_in(op)
    n_in = c_in * h * w
    dense = np.zeros((int(np.prod(op.out_shape)), n_in), dtype=np.int64)
    for k in range(dense.shape[0]):
        cols = fan.cols[fan.indptr[k]:fan.indptr[k + 1]]
        assert np.all(np.diff(cols) > 0)  # delivery order: presynaptic index ascending
        dense[k, cols] = fan.vals[fan.indptr[k]:fan.indptr[k + 1]]
    eye = torch.eye(n_in, dtype=torch.float64).reshape(n_in, c_in, h, w)
    want = F.conv2d(eye, torch.as_tensor(weight, dtype=torch.float64), None, stride, padding,
                    dilation, groups).reshape(n_in, -1).T
    np.testing.assert_array_equal(dense, want.numpy().astype(np.int64))
