"""The exactness argument, enforced: flags, carrier dtypes chosen from value bounds, fallbacks."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import nirconv.backends.torch.kernels as K
from nirconv.backends.torch import run
from nirconv.backends.torch.exactness import (exact_numerics, float32_safe, int32_safe,
                                              matmul_dtype, value_bounds)
from nirconv.equations.neurons import BitShiftLIF, SpeckIAF
from nirconv.equations.program import (AffineOp, ConvOp, DelayOp, Edge, InputOp, NeuronOp,
                                       OutputOp, Program)
from nirconv.errors import Unsupported


def affine_program(weight, bias=None, shift=0):
    n_out, n_in = np.shape(weight)
    ops = (InputOp(name="in", inputs=(), in_shape=(n_in,), out_shape=(n_in,)),
           AffineOp(name="fc", inputs=(Edge("in"),), in_shape=(n_in,), out_shape=(n_out,),
                    weight=np.asarray(weight, dtype=np.int64), bias=bias, shift=shift),
           OutputOp(name="out", inputs=(Edge("fc"),), in_shape=(n_out,), out_shape=(n_out,)))
    return Program(ops=ops, inputs=("in",), outputs=("out",), mode="int", family="generic")


def exact_reference(weight, x, bias=None, shift=0):
    """Python integers: no rounding anywhere."""
    out = []
    for row in x:
        y = [sum(int(w) * int(v) for w, v in zip(wr, row)) + (int(bias[k]) if bias is not None
                                                               else 0)
             for k, wr in enumerate(weight)]
        out.append([v << shift if shift >= 0 else v >> -shift for v in y])
    return np.array(out, dtype=np.int64)


@pytest.mark.parametrize("magnitude,carrier", [
    (2 ** 8, torch.float32), (2 ** 20, torch.float64), (2 ** 26, torch.int64)])
def test_large_values_pick_an_exact_carrier(magnitude, carrier, monkeypatch):
    rng = np.random.default_rng(0)
    weight = rng.integers(-magnitude, magnitude, (5, 64))
    x = rng.integers(-magnitude // 2, magnitude // 2, (3, 4, 64))
    seen = []
    original = K.WeightKernel.__init__

    def spy(self, op, env):
        original(self, op, env)
        seen.append(self.cdtype)

    monkeypatch.setattr(K.WeightKernel, "__init__", spy)
    got = run(affine_program(weight), x).output
    assert seen == [carrier]
    for t in range(3):
        np.testing.assert_array_equal(got[t], exact_reference(weight, x[t]))


def test_float32_alone_would_round_these_sums():
    # the check is not vacuous: in float32 the same product is wrong
    w = np.full((1, 4), 4097, dtype=np.int64)
    x = np.full((1, 4), 4097, dtype=np.int64)
    inexact = (torch.as_tensor(x, dtype=torch.float32) @ torch.as_tensor(w, dtype=torch.float32).T)
    assert int(inexact[0, 0]) != 4 * 4097 * 4097
    assert run(affine_program(w), x[None]).output[0, 0, 0] == 4 * 4097 * 4097


def test_bias_and_shift_are_exact():
    w = np.array([[3, -5], [7, 1]])
    bias = np.array([4, -9])
    x = np.array([[[5, 2], [-3, 7]]])
    for shift in (-2, 0, 3):
        got = run(affine_program(w, bias, shift), x).output[0]
        np.testing.assert_array_equal(got, exact_reference(w, x[0], bias, shift))


def test_matmul_dtype_thresholds():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert matmul_dtype(2.0 ** 24 - 1, cpu, "fc", "f") == torch.float32
    assert matmul_dtype(2.0 ** 24, cpu, "fc", "f") == torch.float64
    assert matmul_dtype(2.0 ** 53, cpu, "fc", "f") == torch.int64
    with pytest.raises(Unsupported, match="fc"):
        matmul_dtype(2.0 ** 53, cuda, "fc", "f")


def test_bounds_follow_neurons_and_diverge_without_them():
    n = 3
    rec = SpeckIAF(shape=(n,), threshold=np.full(n, 7), bias=np.zeros(n, np.int64),
                   v_init=np.zeros(n, np.int64), v_max=100)
    ops = (InputOp(name="in", inputs=(), in_shape=(n,), out_shape=(n,)),
           NeuronOp(name="iaf", inputs=(Edge("in"),), in_shape=(n,), out_shape=(n,), neuron=rec),
           AffineOp(name="fc", inputs=(Edge("iaf"),), in_shape=(n,), out_shape=(n,),
                    weight=np.array([[1, -2, 3]] * 3), bias=None),
           OutputOp(name="out", inputs=(Edge("fc"),), in_shape=(n,), out_shape=(n,)))
    b = value_bounds(Program(ops, ("in",), ("out",), "int", "speck"), -5, 9)
    assert b["in"] == (-5, 9)
    assert b["iaf"] == (0, 100 // 7)
    assert b["fc"] == (-2 * 14, 4 * 14)
    # a loop through a Delay and an Affine only: no finite bound, int64 carrier
    loop = (InputOp(name="in", inputs=(), in_shape=(1,), out_shape=(1,)),
            DelayOp(name="d", inputs=(Edge("in"), Edge("fc", 1)), in_shape=(1,),
                    out_shape=(1,), steps=np.array([0])),
            AffineOp(name="fc", inputs=(Edge("d"),), in_shape=(1,), out_shape=(1,),
                     weight=np.array([[2]]), bias=None),
            OutputOp(name="out", inputs=(Edge("fc"),), in_shape=(1,), out_shape=(1,)))
    program = Program(loop, ("in",), ("out",), "int", "generic")
    assert value_bounds(program, 0, 1)["fc"] == (-math.inf, math.inf)
    out = run(program, np.ones((70, 1, 1), dtype=np.int64)).output[:, 0, 0]
    # y_t = 2 * (1 + y_{t-1}) = 2**(t+2) - 2, exact up to int64 overflow (t <= 60)
    assert [int(v) for v in out[:60]] == [2 ** (t + 2) - 2 for t in range(60)]


def test_flags_are_exact_inside_and_restored_after(monkeypatch):
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    torch.set_float32_matmul_precision("medium")
    seen = {}
    original = K.AffineKernel.product

    def spy(self, x, w):
        seen.update(cudnn=torch.backends.cudnn.allow_tf32,
                    cublas=torch.backends.cuda.matmul.allow_tf32,
                    deterministic=torch.backends.cudnn.deterministic,
                    precision=torch.get_float32_matmul_precision())
        return original(self, x, w)

    monkeypatch.setattr(K.AffineKernel, "product", spy)
    monkeypatch.setattr(K, "int8_engine", lambda: False)  # the float GEMM, whose flags these are
    try:
        run(affine_program([[1, 2]]), np.ones((2, 1, 2), dtype=np.int64))
        assert seen == dict(cudnn=False, cublas=False, deterministic=True, precision="highest")
        assert torch.backends.cudnn.allow_tf32 is True
        assert torch.backends.cuda.matmul.allow_tf32 is True
        assert torch.backends.cudnn.benchmark is True
        assert torch.get_float32_matmul_precision() == "medium"
    finally:
        torch.backends.cudnn.allow_tf32 = True  # torch's defaults
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.benchmark = False
        torch.set_float32_matmul_precision("highest")


def test_flags_restored_after_an_error():
    before = torch.backends.cudnn.allow_tf32
    with pytest.raises(RuntimeError):
        with exact_numerics():
            assert torch.backends.cudnn.allow_tf32 is False
            raise RuntimeError("boom")
    assert torch.backends.cudnn.allow_tf32 is before


def test_ordered_fast_path_and_exact_path_agree():
    """Force saturation on half the neurons: the mixed batch equals a per-event loop."""
    rng = np.random.default_rng(1)
    n_in, n = 30, 8
    weight = rng.integers(-128, 128, (n, n_in)) << 4
    rec = BitShiftLIF(shape=(n,), threshold=None, bias=np.zeros(n, np.int64),
                      v_init=np.zeros(n, np.int64), dash_mem=None, dash_syn=np.full(n, 15),
                      accumulate="ordered")
    ops = (InputOp(name="in", inputs=(), in_shape=(n_in,), out_shape=(n_in,)),
           AffineOp(name="fc", inputs=(Edge("in"),), in_shape=(n_in,), out_shape=(n,),
                    weight=weight, bias=None),
           NeuronOp(name="n", inputs=(Edge("fc"),), in_shape=(n,), out_shape=(n,), neuron=rec),
           OutputOp(name="out", inputs=(Edge("n"),), in_shape=(n,), out_shape=(n,)))
    program = Program(ops, ("in",), ("out",), "int", "xylo")
    x = rng.integers(0, 4, (5, 6, n_in))
    got = run(program, x).output
    for b in range(6):  # the reference: events one by one, isyn decays by isyn >> 15
        isyn, v = [0] * n, [0] * n
        for t in range(5):
            for k in range(n):
                for j in range(n_in):
                    for _ in range(int(x[t, b, j])):
                        isyn[k] = min(max(isyn[k] + int(weight[k, j]), -32768), 32767)
                d = isyn[k] >> 15
                isyn[k] -= d if d != 0 or isyn[k] == 0 else (1 if isyn[k] > 0 else -1)
                v[k] = min(max(v[k] + isyn[k], -32768), 32767)
            assert got[t, b].tolist() == v, (t, b)


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(bits=st.sampled_from([24, 53]), data=st.data())
def test_float_floor_division_is_the_integer_one(bits, data):
    """The multi-spike count floor(v / th) is computed in float32 (float64), vectorised: exact
    for |v| < 2**24 (2**53), see docs/equations/torch_exactness.md."""
    v = data.draw(st.integers(-(2 ** bits) + 1, 2 ** bits - 1))
    th = data.draw(st.integers(1, 2 ** (bits + 2)))
    dtype = torch.float32 if bits == 24 else torch.float64
    q = torch.floor(torch.tensor([v], dtype=torch.int64).to(dtype) /
                    torch.tensor([th], dtype=torch.int64).to(dtype))
    assert int(q[0]) == v // th


@pytest.mark.parametrize("magnitude,carrier", [
    (2 ** 6, "float32"), (2 ** 12, "int32"), (2 ** 20, "int64")])
def test_state_carrier_follows_the_bounds(magnitude, carrier):
    """float32 carries the run when every value and partial sum stays within 2**21, int32
    within 2**28, else int64; each gives the Python-integer result."""
    rng = np.random.default_rng(2)
    weight = rng.integers(-magnitude, magnitude, (4, 40))
    x = rng.integers(-magnitude, magnitude, (3, 2, 40))
    program = affine_program(weight, bias=rng.integers(-magnitude, magnitude, 4), shift=-3)
    bounds = value_bounds(program, float(x.min()), float(x.max()))
    got = ("float32" if float32_safe(program, bounds) else
           "int32" if int32_safe(program, bounds) else "int64")
    assert got == carrier
    out = run(program, x).output
    assert out.dtype == np.int64
    for t in range(3):
        np.testing.assert_array_equal(out[t], exact_reference(weight, x[t], program.ops[1].bias,
                                                              -3))


def test_integer_conv_is_exact_without_onednn():
    """With oneDNN switched off torch would convolve float32 through NNPACK (Winograd: rounds
    integer operands); the run switches NNPACK off and restores it afterwards."""
    rng = np.random.default_rng(3)
    weight = rng.integers(-60, 70, (32, 16, 3, 3))
    ops = (InputOp(name="in", inputs=(), in_shape=(16, 4, 4), out_shape=(16, 4, 4)),
           ConvOp(name="conv", inputs=(Edge("in"),), in_shape=(16, 4, 4), out_shape=(32, 4, 4),
                  weight=weight, bias=None, stride=(1, 1), padding=(1, 1), dilation=(1, 1),
                  groups=1),
           OutputOp(name="out", inputs=(Edge("conv"),), in_shape=(32, 4, 4),
                    out_shape=(32, 4, 4)))
    program = Program(ops, ("in",), ("out",), "int", "speck")
    x = rng.integers(0, 3, (1, 64, 16, 4, 4))
    want = torch.nn.functional.conv2d(torch.as_tensor(x[0], dtype=torch.float64),
                                      torch.as_tensor(weight, dtype=torch.float64), padding=1)
    nnpack = torch._C._get_nnpack_enabled()
    try:
        torch.backends.mkldnn.enabled = False
        got = run(program, x).output[0]
    finally:
        torch.backends.mkldnn.enabled = True
    np.testing.assert_array_equal(got, want.numpy().astype(np.int64))
    assert torch._C._get_nnpack_enabled() == nnpack


@pytest.mark.parametrize("kernel,stride,pad", [((2, 2), (2, 2), (0, 0)), ((3, 3), (2, 2), (1, 1)),
                                               ((3, 2), (1, 2), (1, 0))])
def test_sum_pooling_on_every_carrier_is_the_window_sum(kernel, stride, pad, monkeypatch):
    """The float32 carrier sums windows with torch's pooling kernel (divisor 1); the integer
    carriers add shifted slices: both equal a plain numpy window sum."""
    import nirconv.backends.torch.runner as runner
    from nirconv.equations.program import PoolOp
    rng = np.random.default_rng(4)
    c, h, w = 3, 7, 6
    ho, wo = [(n + 2 * p - k) // s + 1 for n, p, k, s in zip((h, w), pad, kernel, stride)]
    ops = (InputOp(name="in", inputs=(), in_shape=(c, h, w), out_shape=(c, h, w)),
           PoolOp(name="pool", inputs=(Edge("in"),), in_shape=(c, h, w), out_shape=(c, ho, wo),
                  kernel=kernel, stride=stride, padding=pad, mode="sum"),
           OutputOp(name="out", inputs=(Edge("pool"),), in_shape=(c, ho, wo),
                    out_shape=(c, ho, wo)))
    program = Program(ops, ("in",), ("out",), "int", "speck")
    x = rng.integers(-1000, 1000, (2, 5, c, h, w))
    xp = np.pad(x, [(0, 0)] * 3 + [(pad[0], pad[0]), (pad[1], pad[1])])
    want = np.zeros((2, 5, c, ho, wo), dtype=np.int64)
    for i in range(ho):
        for j in range(wo):
            window = xp[..., i * stride[0]:i * stride[0] + kernel[0],
                        j * stride[1]:j * stride[1] + kernel[1]]
            want[..., i, j] = window.sum(axis=(-2, -1))
    np.testing.assert_array_equal(run(program, x).output, want)  # float32 carrier
    monkeypatch.setattr(runner, "float32_safe", lambda program, bounds: False)
    np.testing.assert_array_equal(run(program, x).output, want)  # int32 carrier
