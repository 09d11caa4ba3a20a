"""Fan-out lists (CSR) of every connection equal the dense operation (torch as the reference)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from nirconv.backends.event import connections as C
from nirconv.equations.program import AffineOp, ConvOp, PoolOp


def _apply(fan, x):
    """Propagate every entry of x (B, n_in) through the fan-out lists."""
    nz, values = C.events(x)
    targets, contrib, lens = C.gather(fan, nz, values)
    out = C.scatter_sum(targets, contrib, x.shape[0] * fan.n_out, False, 0)
    return out.reshape(x.shape[0], fan.n_out), int(lens.sum())


def _out(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.integers(1, 2), st.integers(1, 3), st.integers(1, 2),
       st.integers(0, 2), st.integers(1, 2), st.integers(3, 7), st.integers(3, 7),
       st.booleans(), st.integers(0, 10 ** 6))
def test_conv2d_equals_torch(groups_mul, cin_g, kernel, stride, padding, dilation, h, w, one_d,
                             seed):
    rng = np.random.default_rng(seed)
    groups = groups_mul
    c_in, c_out = cin_g * groups, 2 * groups
    if one_d:
        h = 1
    k = (1, kernel) if one_d else (kernel, kernel)
    hout = _out(h, k[0], stride, 0 if one_d else padding, dilation)
    wout = _out(w, k[1], stride, padding, dilation)
    if hout <= 0 or wout <= 0:
        return
    weight = rng.normal(size=(c_out, cin_g, *k))
    x = (rng.random((2, c_in, h, w)) < 0.4) * rng.normal(size=(2, c_in, h, w))
    ref = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(weight),
                                     stride=stride, padding=(0 if one_d else padding, padding),
                                     dilation=dilation, groups=groups).numpy()
    if one_d:
        op = ConvOp(name="c", inputs=(), in_shape=(c_in, w), out_shape=(c_out, wout),
                    weight=weight[:, :, 0, :], stride=(stride,), padding=(padding,),
                    dilation=(dilation,), groups=groups)
    else:
        op = ConvOp(name="c", inputs=(), in_shape=(c_in, h, w), out_shape=(c_out, hout, wout),
                    weight=weight, stride=(stride, stride), padding=(padding, padding),
                    dilation=(dilation, dilation), groups=groups)
    fan = C.conv_fan_out(op, np.float64)
    got, _ = _apply(fan, x.reshape(2, -1))
    np.testing.assert_allclose(got, ref.reshape(2, -1), atol=1e-12)


@pytest.mark.parametrize("mode,kernel,stride,padding", [("sum", 2, 2, 0), ("avg", 2, 2, 0),
                                                        ("sum", 3, 2, 1), ("avg", 3, 1, 1)])
def test_pooling_equals_torch(mode, kernel, stride, padding):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 6, 5))
    t = torch.from_numpy(x)
    ref = torch.nn.functional.avg_pool2d(t, kernel, stride, padding, count_include_pad=True)
    if mode == "sum":
        ref = ref * kernel * kernel
    op = PoolOp(name="p", inputs=(), in_shape=(3, 6, 5), out_shape=tuple(ref.shape[1:]),
                kernel=(kernel, kernel), stride=(stride, stride), padding=(padding, padding),
                mode=mode)
    got, _ = _apply(C.pool_fan_out(op, np.float64), x.reshape(2, -1))
    np.testing.assert_allclose(got, ref.numpy().reshape(2, -1), atol=1e-12)


def test_affine_fan_out_counts_structural_synapses():
    w = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]])
    op = AffineOp(name="a", inputs=(), in_shape=(3,), out_shape=(2,), weight=w)
    fan = C.affine_fan_out(op, np.float64)
    assert fan.fan_out.tolist() == [2, 2, 2]  # zero weights are still wiring
    got, touched = _apply(fan, np.array([[1.0, 0.0, 2.0]]))
    assert got.tolist() == [[5.0, 6.0]] and touched == 4


def test_integer_sums_are_exact_beyond_float64():
    big = 2 ** 60
    targets = np.array([0, 0, 0])
    contrib = np.array([big, 1, -big], dtype=np.int64)
    assert C.scatter_sum(targets, contrib, 1, True, float(3 * big)).tolist() == [1]


def test_float_sums_stay_float_without_events():
    empty = np.zeros(0, dtype=np.int64)
    out = C.scatter_sum(empty, np.zeros(0), 4, False, 0)
    assert out.dtype == np.float64 and out.tolist() == [0, 0, 0, 0]
