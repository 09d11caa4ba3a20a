"""Speck: our speck integer mode gives Sinabs' spikes (Sinabs' IAF: multi-spike, subtractive reset,
min_v_mem = -32768, on the integer weights and thresholds of the graph written for nir 1.0.4 and
loaded with ``sinabs.from_nir``).

Sinabs lives in its own venv (nir <= 1.0.4; samna never installed): set ``NIRCONV_SINABS_PYTHON``
to its python (default here: /work/venvs/sinabs/bin/python when it exists); skipped otherwise.
"""
from __future__ import annotations

import os

import nir
import numpy as np
import pytest
import torch

import nirconv
from nirconv.vendors import registry

DEFAULT_SINABS_PYTHON = "/work/venvs/sinabs/bin/python"


@pytest.fixture
def sinabs_env(monkeypatch):
    if registry._missing("sinabs", "") is None:
        return
    if not registry.sinabs_python():
        if os.path.isfile(DEFAULT_SINABS_PYTHON):
            monkeypatch.setenv(registry.SINABS_PYTHON_ENV, DEFAULT_SINABS_PYTHON)
        else:
            pytest.skip(f"no Sinabs: set {registry.SINABS_PYTHON_ENV} to a Python with sinabs "
                        "(its own venv, nir <= 1.0.4)")


def _float_cnn(rng, reset):
    """A small Speck-shaped float SNN: conv(+bias) -> IF -> sumpool -> flatten -> linear -> IF."""
    def IF(shape):
        return nir.IF(r=np.ones(shape), v_threshold=np.ones(shape), v_reset=np.zeros(shape),
                      metadata={"reset": reset})
    nodes = {
        "input": nir.Input(input_type={"input": np.array([1, 8, 8])}),
        "conv": nir.Conv2d(input_shape=(8, 8), weight=rng.normal(0, 0.5, (4, 1, 3, 3)),
                           stride=1, padding=1, dilation=1, groups=1,
                           bias=rng.normal(0, 0.05, 4)),
        "if1": IF((4, 8, 8)),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([4, 4, 4])}, start_dim=0, end_dim=-1),
        "fc": nir.Affine(weight=rng.normal(0, 0.3, (10, 64)), bias=np.zeros(10)),
        "if2": IF((10,)),
        "output": nir.Output(output_type={"output": np.array([10])}),
    }
    edges = [("input", "conv"), ("conv", "if1"), ("if1", "pool"), ("pool", "flat"),
             ("flat", "fc"), ("fc", "if2"), ("if2", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": 1e-3})


@pytest.mark.slow  # ~20 s: Sinabs runs in a subprocess of its own venv (torch import)
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_speck_integer_mode_equals_sinabs(sinabs_env, reset):
    rng = np.random.default_rng(0)
    dep = nirconv.export(_float_cnn(rng, reset), target="speck",
                         calibration=torch.rand(64, 1, 8, 8))
    x = (rng.random((40, 3, 1, 8, 8)) < 0.3).astype(np.int64)
    theirs = registry.run_sinabs(dep, x)
    assert theirs.sum() > 0
    for backend in ("event", "torch"):
        ours = nirconv.simulate(dep, x, backend=backend, mode="int").numpy()
        np.testing.assert_array_equal(ours, theirs, err_msg=backend)
