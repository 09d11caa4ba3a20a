"""Golden files from norse (run with the main venv: norse 1.1 is a dependency of nirconv).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/golden/make_norse.py

Builds small networks from the modules norse's own importer (``norse.torch.from_nir``) creates
(LIFBoxCell for LIF, IAFCell for IF), exports them with ``norse.torch.to_nir``, simulates them with
norse on a seeded Bernoulli input and writes ``tests/golden/norse/<name>.{nir,npz}``.

Two norse 1.1 facts these scripts work around, both stated in docs/equations/dialects.md:
- ``to_nir(module, sample, dt=...)`` writes ``tau = dt / tau_mem_inv`` (that is tau * dt), so the
  file states the time constant in seconds only with ``dt=1.0``; we export with ``dt=1.0`` and
  simulate with norse's default ``dt = 1e-3`` s, which is also what ``from_nir`` assumes.
- Parameters must be per-neuron tensors: a scalar becomes a 0-d dataset that ``nir.write`` refuses
  (gzip on a scalar); norse cannot export ``nn.Flatten`` (so the conv net ends in a conv layer) and
  leaves ``Conv2d.input_shape`` None, which ``nir.write`` cannot store (we fill it in).
Norse's LIFCell (exported as CubaLIF) is not used: norse's importer reads CubaLIF differently from
how LIFCell integrates (see dialects.md); the CubaLIF reading is checked against ``from_nir`` live.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bernoulli, fill_untyped, write_case  # noqa: E402

DT_S = 1e-3
T, B = 40, 4


def lif(n, tau_s, v_th, v_leak=0.0):
    from norse.torch.module.lif_box import LIFBoxCell, LIFBoxParameters

    tau = torch.as_tensor(tau_s, dtype=torch.float32).expand(n).clone()
    p = LIFBoxParameters(tau_mem_inv=1.0 / tau,
                         v_leak=torch.full((n,), float(v_leak)),
                         v_th=torch.as_tensor(v_th, dtype=torch.float32).expand(n).clone())
    return LIFBoxCell(p, dt=DT_S)


def iaf(shape, v_th):
    from norse.torch.module.iaf import IAFCell, IAFParameters

    return IAFCell(IAFParameters(v_th=torch.full(shape, float(v_th))), dt=DT_S)


def run(net, x):
    state, out = None, []
    with torch.no_grad():
        for t in range(x.shape[0]):
            y, state = net(torch.from_numpy(x[t]), state)
            out.append(y.reshape(y.shape[0], -1).numpy())
    return np.stack(out)


def export(net, sample):
    import norse.torch as norse

    graph = norse.to_nir(net, sample, dt=1.0)  # dt=1.0: tau written in seconds (see above)
    fill_untyped(graph, sample.shape[1:])  # norse leaves Conv2d.input_shape None
    return graph


def main():
    import norse
    import norse.torch as nt

    version = getattr(norse, "__version__", "1.1")
    torch.manual_seed(1)
    rng = np.random.default_rng(1)

    # feed-forward LIF -> IF, heterogeneous time constants and thresholds, one v_leak != 0
    fc1, fc2 = torch.nn.Linear(12, 20), torch.nn.Linear(20, 6)
    with torch.no_grad():
        fc1.weight.mul_(3.0)
        fc2.weight.mul_(3.0)
    net = nt.SequentialState(fc1, lif(20, torch.from_numpy(rng.uniform(5e-3, 2e-2, 20)).float(),
                                      torch.from_numpy(rng.uniform(0.3, 0.8, 20)).float(), 0.05),
                             fc2, iaf((6,), 0.6))
    x = bernoulli((T, B, 12), 0.3, seed=11)
    write_case("norse", "ff_lif_if", export(net, torch.zeros(1, 12)), x, run(net, x), dt=DT_S,
               tool_version=version, note="Linear-LIF-Linear-IF; exported with to_nir(dt=1.0)")

    # LIF -> LIF
    fc1, fc2 = torch.nn.Linear(10, 16), torch.nn.Linear(16, 4)
    with torch.no_grad():
        fc1.weight.mul_(4.0)
        fc2.weight.mul_(4.0)
    net = nt.SequentialState(fc1, lif(16, 1e-2, 0.5), fc2, lif(4, 5e-3, 0.4))
    x = bernoulli((T, B, 10), 0.4, seed=12)
    write_case("norse", "ff_lif", export(net, torch.zeros(1, 10)), x, run(net, x), dt=DT_S,
               tool_version=version, note="Linear-LIF-Linear-LIF")

    # conv net: Conv2d(stride 2)-IF-Conv2d-IF (norse cannot export Flatten)
    c1, c2 = torch.nn.Conv2d(1, 4, 3, stride=2), torch.nn.Conv2d(4, 3, 3)
    with torch.no_grad():
        c1.weight.mul_(2.0)
        c2.weight.mul_(2.0)
    net = nt.SequentialState(c1, iaf((4, 4, 4), 0.5), c2, iaf((3, 2, 2), 0.5))
    x = bernoulli((T, B, 1, 9, 9), 0.3, seed=13)
    write_case("norse", "conv_if", export(net, torch.zeros(1, 1, 9, 9)), x, run(net, x), dt=DT_S,
               tool_version=version, note="Conv2d(s2)-IF-Conv2d-IF; output flattened (C*H*W)")


if __name__ == "__main__":
    main()
