"""A small trained digits CNN converted to a float SNN NIR graph by a minimal, self-contained
rate conversion (data-based max normalization), so these tests do not depend on nirconv.convert."""
from __future__ import annotations

import nir
import numpy as np
import pytest
import torch
from torch import nn


def _digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(x))
    return x[idx[:1400]], d.target[idx[:1400]], x[idx[1400:]], d.target[idx[1400:]]


def _train(x, y):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                          nn.Linear(128, 32), nn.ReLU(), nn.Linear(32, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).long()
    for _ in range(8):
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            b = perm[i:i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(xt[b]), yt[b]).backward()
            opt.step()
    return model.eval()


def _if(shape, v_init=0.5):
    return nir.IF(r=np.ones(shape), v_threshold=np.ones(shape), v_reset=np.zeros(shape),
                  metadata={"reset": "subtract", "compare": ">=", "v_init": v_init,
                            "threshold": 1.0})


def convert_to_nir(model, x_cal) -> nir.NIRGraph:
    conv, fc1, fc2 = model[0], model[4], model[6]
    with torch.no_grad():
        xc = torch.from_numpy(x_cal)
        a1 = torch.relu(conv(xc))
        a2 = torch.relu(fc1(nn.functional.avg_pool2d(a1, 2).flatten(1)))
        a3 = fc2(a2)
    lam1, lam2, lam3 = (float(np.percentile(a.numpy(), 99.9)) for a in (a1, a2, a3.clamp(min=0)))
    w = lambda p: p.detach().numpy().astype(np.float64)  # noqa: E731
    nodes = {
        "input": nir.Input(input_type={"input": np.array([1, 8, 8])}),
        "conv": nir.Conv2d(input_shape=(8, 8), weight=w(conv.weight) / lam1, stride=1, padding=1,
                           dilation=1, groups=1, bias=w(conv.bias) / lam1),
        "if1": _if((8, 8, 8)),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([8, 4, 4])}, start_dim=1, end_dim=-1),
        "fc1": nir.Affine(weight=w(fc1.weight) * 0.25 * lam1 / lam2, bias=w(fc1.bias) / lam2),
        "if2": _if((32,)),
        "fc2": nir.Affine(weight=w(fc2.weight) * lam2 / lam3, bias=w(fc2.bias) / lam3),
        "if3": _if((10,)),
        "output": nir.Output(output_type={"output": np.array([10])}),
    }
    names = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names[:-1], names[1:])), type_check=False,
                        metadata={"dt": 1e-3, "timesteps": 32, "readout": "spikes",
                                  "input_encoding": "current", "dialect": "nirconv"})


@pytest.fixture(scope="session")
def digits_snn():
    """(float NIR graph, ANN, x_cal, x_test, y_test) on scikit-learn digits."""
    xtr, ytr, xte, yte = _digits()
    model = _train(xtr, ytr)
    graph = convert_to_nir(model, xtr[:300])
    return graph, model, xtr[:300], xte, yte
