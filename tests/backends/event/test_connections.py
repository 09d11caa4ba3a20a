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


def _apply_stencil(stencil, x, bias=None, work=None):
    nz, values = C.events(x)
    return C.stencil_sum(stencil, nz, values, x.shape[0], bias, work)


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
    # the stencil: the same synapses, each output summed in the same (event) order
    stencil = C.conv_stencil(op, np.float64)
    assert (stencil.n_in, stencil.n_out) == (fan.n_in, fan.n_out)
    np.testing.assert_array_equal(_apply_stencil(stencil, x.reshape(2, -1)), got)


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
    stencil = C.pool_stencil(op, np.float64)
    np.testing.assert_array_equal(_apply_stencil(stencil, x.reshape(2, -1)), got)


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


def _conv_op(weight, in_shape, out_shape, padding=1, groups=1):
    return ConvOp(name="c", inputs=(), in_shape=in_shape, out_shape=out_shape, weight=weight,
                  stride=(1, 1), padding=(padding, padding), dilation=(1, 1), groups=groups)


def test_stencil_integer_sums_are_exact_beyond_float64():
    rng = np.random.default_rng(3)
    w = rng.integers(-2 ** 40, 2 ** 40, (3, 2, 3, 3))
    op = _conv_op(w, (2, 4, 4), (3, 4, 4))
    x = rng.integers(-2 ** 19, 2 ** 19, (2, 2, 4, 4)) * (rng.random((2, 2, 4, 4)) < 0.5)
    bias = rng.integers(-2 ** 50, 2 ** 50, 3 * 16)
    got = _apply_stencil(C.conv_stencil(op, np.int64), x.reshape(2, -1), bias)
    assert got.dtype == np.int64
    want = np.zeros((2, 3, 4, 4), dtype=object)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))).astype(object)
    for o in range(3):
        for i in range(2):
            for ky in range(3):
                for kx in range(3):
                    want[:, o] += int(w[o, i, ky, kx]) * xp[:, i, ky:ky + 4, kx:kx + 4]
    want = want.reshape(2, -1) + bias.astype(object)
    assert got.tolist() == want.tolist()


def test_stencil_workspace_is_reused_across_event_counts():
    """One workspace over steps with more, fewer and no events: each result stands alone and
    the returned arrays are never overwritten by later steps."""
    rng = np.random.default_rng(4)
    op = ConvOp(name="c", inputs=(), in_shape=(4, 5, 5), out_shape=(4, 5, 5),
                weight=rng.normal(size=(4, 2, 3, 3)), stride=(1, 1), padding=(1, 1),
                dilation=(1, 1), groups=2)
    stencil, fan = C.conv_stencil(op, np.float64), C.conv_fan_out(op, np.float64)
    work = C.Workspace()
    xs = [(rng.random((3, 100)) < d) * rng.normal(size=(3, 100)) for d in (0.1, 0.9, 0.0, 0.3)]
    outs = [_apply_stencil(stencil, x, work=work) for x in xs]
    for x, out in zip(xs, outs):
        np.testing.assert_array_equal(out, _apply(fan, x)[0])


def test_rows_times_table_adds_in_entry_order(monkeypatch):
    """The compiled product equals a loop over the entries, bit for bit (float64, in order), and
    the public scipy route (the fallback) gives the same."""
    rng = np.random.default_rng(5)
    rows, cols = rng.integers(0, 6, 300), rng.integers(0, 9, 300)
    values, table = rng.normal(size=300) * 1e3, rng.normal(size=(9, 4))
    want = np.zeros((6, 4))
    for r, c, v in zip(rows, cols, values):
        want[r] = want[r] + v * table[c]
    got = C.rows_times_table(rows, cols, values, table, np.zeros((6, 4)))
    np.testing.assert_array_equal(got, want)
    monkeypatch.setattr(C, "_coo_matmat_dense", None)
    np.testing.assert_allclose(C.rows_times_table(rows, cols, values, table, np.zeros((6, 4))),
                               want, rtol=1e-12, atol=1e-9)
