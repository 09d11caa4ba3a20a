"""Our CNN exports open with nir.read's type check on, and norse runs them on batched input."""
from __future__ import annotations

import nir
import numpy as np
import torch

import nirconv


def test_cnn_export_passes_nir_type_check_and_runs_in_norse(trained_small_cnn, digits, tmp_path):
    import norse.torch

    model = trained_small_cnn
    snn = nirconv.convert(model, digits.x_train[:200], normalize="percentile")
    path = nirconv.save(nirconv.to_nir(snn), tmp_path / "cnn.nir")
    graph = nir.read(str(path))  # type_check=True: Flatten shapes must be consistent
    flat = [n for n in graph.nodes.values() if isinstance(n, nir.Flatten)]
    assert flat and all(n.start_dim < 0 for n in flat)
    module = norse.torch.from_nir(graph)
    x = digits.x_test[:4]
    state, outs = None, []
    for _ in range(5):
        out, state = module(x, state)
        outs.append(out)
    assert torch.stack(outs).shape == (5, 4, 10)
    ours = nirconv.simulate(path, x.numpy(), timesteps=5)
    assert ours.shape == (5, 4, 10) and np.isfinite(ours.numpy()).all()
