"""Lava itself (lava-nc 0.10.0 bit-accurate Dense + LIF, run in its own Python 3.10 venv) against our
loihi2 integer mode in both simulators, on random Dense/LIF chains with recurrence, graded input,
weight exponents, biases and wrapping/saturating states.

Set ``NIRCONV_LAVA_PYTHON`` to a Python with lava-nc (default here: /work/venvs/lava/bin/python
when it exists); skipped otherwise.
"""
from __future__ import annotations

import importlib
import os
import subprocess

import numpy as np
import pytest

from nirconv.equations.neurons import LoihiCubaLIF
from nirconv.equations.program import AffineOp, Edge, InputOp, NeuronOp, OutputOp, Program
from nirconv.vendors import lava_check
from nirconv.vendors.netx import lava_dense_weights

DEFAULT_LAVA_PYTHON = "/work/venvs/lava/bin/python"


@pytest.fixture
def lava_python():
    path = os.environ.get("NIRCONV_LAVA_PYTHON") or DEFAULT_LAVA_PYTHON
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.skip("no Lava: set NIRCONV_LAVA_PYTHON to a Python (< 3.11) with lava-nc")
    return path


def _random_chain(rng, sizes, recurrent, exps):
    """Layers with Lava-legal weights (lava_dense_weights) and random CUBA parameters."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = lava_dense_weights(rng.integers(-256, 256, (n_out, n_in)), sign_mode=1)
        layer = dict(w=w, exp=exps[i], du=int(rng.integers(0, 4096)), dv=int(rng.integers(0, 4096)),
                     vth=int(rng.integers(20, 400)), bias_mant=rng.integers(-300, 300, n_out),
                     bias_exp=np.full(n_out, int(rng.integers(0, 7))))
        if recurrent and i == 0:
            layer["wrec"] = lava_dense_weights(rng.integers(-256, 256, (n_out, n_out)), sign_mode=1)
        layers.append(layer)
    return layers


def _program(layers, n_in):
    ops = [InputOp(name="input", inputs=(), in_shape=(n_in,), out_shape=(n_in,))]
    prev = "input"
    for i, layer in enumerate(layers):
        n_out, m = layer["w"].shape
        rec = LoihiCubaLIF(shape=(n_out,), du=np.full(n_out, layer["du"]),
                           dv=np.full(n_out, layer["dv"]), vth=np.full(n_out, layer["vth"]),
                           bias_mant=layer["bias_mant"], bias_exp=layer["bias_exp"])
        inputs = [Edge(f"w{i}", 1)] + ([Edge(f"wrec{i}", 1)] if "wrec" in layer else [])
        ops.append(AffineOp(name=f"w{i}", inputs=(Edge(prev),), in_shape=(m,), out_shape=(n_out,),
                            weight=layer["w"], bias=None, shift=layer["exp"]))
        ops.append(NeuronOp(name=f"lif{i}", inputs=tuple(inputs), in_shape=(n_out,),
                            out_shape=(n_out,), neuron=rec))
        if "wrec" in layer:
            ops.append(AffineOp(name=f"wrec{i}", inputs=(Edge(f"lif{i}"),), in_shape=(n_out,),
                                out_shape=(n_out,), weight=layer["wrec"], bias=None,
                                shift=layer["exp"]))
        prev = f"lif{i}"
    ops.append(OutputOp(name="output", inputs=(Edge(prev),), in_shape=(n_out,), out_shape=(n_out,)))
    return Program(ops=tuple(ops), inputs=("input",), outputs=("output",), mode="int",
                   family="loihi2")


def _run_lava(python, tmp_path, layers, x, graded):
    net = {"x": x, "layers": len(layers), "input_message_bits": 24 if graded else 0}
    for i, layer in enumerate(layers):
        for key, value in layer.items():
            net[f"{key}{i}"] = np.asarray(value)
    np.savez(tmp_path / "net.npz", **net)
    done = subprocess.run([python, lava_check.__file__, str(tmp_path / "net.npz"),
                           str(tmp_path / "out.npz")], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    with np.load(tmp_path / "out.npz") as out:
        return out["y"]


@pytest.mark.slow  # Lava starts its runtime per sample (seconds each)
@pytest.mark.parametrize("case", ["binary_recurrent", "graded_exponents"])
def test_ours_equals_lava(lava_python, tmp_path, case):
    rng = np.random.default_rng(0 if case == "binary_recurrent" else 1)
    graded = case == "graded_exponents"
    sizes = (12, 24, 6)
    layers = _random_chain(rng, sizes, recurrent=not graded, exps=(1, -1) if graded else (0, 1))
    T, B = 40, 2
    if graded:
        x = rng.integers(-90, 130, (T, B, sizes[0]))  # a_in << 6 passes 2**23: u wraps
    else:
        x = (rng.random((T, B, sizes[0])) < 0.4).astype(np.int64)
    theirs = _run_lava(lava_python, tmp_path, layers, x, graded)
    assert theirs.sum() > 0
    program = _program(layers, sizes[0])
    for backend in ("event", "torch"):
        mod = importlib.import_module(f"nirconv.backends.{backend}")
        ours = np.asarray(mod.run(program, x).outputs["output"])
        np.testing.assert_array_equal(ours, theirs, err_msg=backend)


@pytest.mark.slow
def test_audit_vendor_column_runs_lava(lava_python, monkeypatch):
    """registry.vendor_simulator("loihi2") runs Lava through $NIRCONV_LAVA_PYTHON."""
    from nirconv.vendors import registry

    monkeypatch.setenv(registry.LAVA_PYTHON_ENV, lava_python)
    fn, reason = registry.vendor_simulator("loihi2")
    assert fn is registry.run_lava and reason is None
    rng = np.random.default_rng(2)
    layers = _random_chain(rng, (10, 16, 4), recurrent=True, exps=(0, 0))
    program = _program(layers, 10)
    x = (rng.random((30, 2, 10)) < 0.4).astype(np.int64)
    theirs = fn(program, x)
    ours = importlib.import_module("nirconv.backends.torch").run(program, x).outputs["output"]
    assert theirs.sum() > 0
    np.testing.assert_array_equal(np.asarray(ours), theirs)
