"""Golden files from snnTorch (main venv: snntorch 1.0 is installed there).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/golden/make_snntorch.py

Builds small snnTorch networks (Leaky, Synaptic, a conv net, RLeaky and the paper-style RSynaptic
graph 12 -> Affine -> CubaLIF(40, recurrent 40x40) -> Affine -> CubaLIF(7)), exports each with
``snntorch.export_nir.export_to_nir``, runs snnTorch on a seeded Bernoulli input (default
``reset_mechanism="subtract"``, ``reset_delay=True``) and writes ``tests/golden/snntorch/``.
snnTorch writes ``tau = dt/(1-beta)`` and ``r = tau/dt`` with its fixed ``dt = 1e-4`` s.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bernoulli, write_case  # noqa: E402

DT_S = 1e-4  # snnTorch's exporter hard-codes it
T, B = 40, 4


def run(net, x):
    from snntorch import utils

    utils.reset(net)
    out = []
    with torch.no_grad():
        for t in range(x.shape[0]):
            y = net(torch.from_numpy(x[t]))
            out.append(y.reshape(y.shape[0], -1).numpy())
    return np.stack(out)


def full(n, value):
    """snnTorch's exporter needs per-neuron parameters: scalars fail its own type inference."""
    return torch.full((n,), float(value))


def scaled(layer, factor):
    with torch.no_grad():
        layer.weight.mul_(factor)
    return layer


def export(net, sample):
    from snntorch.export_nir import export_to_nir

    return export_to_nir(net, sample, ignore_dims=[0])  # drop the batch axis from the types


def main():
    import snntorch as snn

    version = snn.__version__
    torch.manual_seed(2)
    nn = torch.nn

    net = nn.Sequential(scaled(nn.Linear(12, 20), 2.0),
                        snn.Leaky(beta=torch.linspace(0.7, 0.95, 20),
                                  threshold=torch.full((20,), 0.6),
                                  init_hidden=True),
                        scaled(nn.Linear(20, 6), 2.0),
                        snn.Leaky(beta=full(6, 0.85), threshold=full(6, 0.5), init_hidden=True))
    x = bernoulli((T, B, 12), 0.3, seed=21)
    write_case("snntorch", "ff_leaky", export(net, torch.zeros(1, 12)), x, run(net, x), dt=DT_S,
               tool_version=version, note="Linear-Leaky-Linear-Leaky, reset subtract")

    # reset_mechanism="zero": the file is the same as with "subtract" (snnTorch does not record
    # it); read with --reset zero.
    net = nn.Sequential(scaled(nn.Linear(12, 20), 2.0),
                        snn.Leaky(beta=full(20, 0.9), threshold=full(20, 0.6),
                                  reset_mechanism="zero", init_hidden=True),
                        scaled(nn.Linear(20, 6), 2.0),
                        snn.Leaky(beta=full(6, 0.85), threshold=full(6, 0.5),
                                  reset_mechanism="zero", init_hidden=True))
    x = bernoulli((T, B, 12), 0.3, seed=26)
    write_case("snntorch", "ff_leaky_zero", export(net, torch.zeros(1, 12)), x, run(net, x),
               dt=DT_S, tool_version=version, reset="zero",
               note="Linear-Leaky-Linear-Leaky, reset_mechanism='zero' (read with --reset zero)")

    net = nn.Sequential(scaled(nn.Linear(12, 16), 1.5),
                        snn.Synaptic(alpha=full(16, 0.7), beta=full(16, 0.85),
                                     threshold=full(16, 0.8),
                                     init_hidden=True),
                        scaled(nn.Linear(16, 5), 1.5),
                        snn.Synaptic(alpha=full(5, 0.6), beta=full(5, 0.9), threshold=full(5, 0.7),
                                     init_hidden=True))
    x = bernoulli((T, B, 12), 0.3, seed=22)
    write_case("snntorch", "ff_synaptic", export(net, torch.zeros(1, 12)), x, run(net, x),
               dt=DT_S, tool_version=version, note="Linear-Synaptic-Linear-Synaptic")

    net = nn.Sequential(scaled(nn.Conv2d(1, 4, 3, stride=2), 2.0),
                        snn.Leaky(beta=torch.full((4, 4, 4), 0.9),
                                  threshold=torch.full((4, 4, 4), 0.5),
                                  init_hidden=True),
                        nn.Flatten(),
                        scaled(nn.Linear(4 * 4 * 4, 5), 2.0),
                        snn.Leaky(beta=full(5, 0.9), threshold=full(5, 0.5), init_hidden=True))
    x = bernoulli((T, B, 1, 9, 9), 0.3, seed=23)
    write_case("snntorch", "conv_leaky", export(net, torch.zeros(1, 1, 9, 9)), x, run(net, x),
               dt=DT_S, tool_version=version, note="Conv2d(s2)-Leaky-Flatten-Linear-Leaky")

    net = nn.Sequential(scaled(nn.Linear(12, 16), 2.0),
                        snn.RLeaky(beta=0.85, threshold=0.6, linear_features=16, init_hidden=True),
                        scaled(nn.Linear(16, 5), 2.0),
                        snn.Leaky(beta=full(5, 0.85), threshold=full(5, 0.5), init_hidden=True))
    with torch.no_grad():
        net[1].recurrent.weight.mul_(2.0)
    x = bernoulli((T, B, 12), 0.3, seed=24)
    write_case("snntorch", "rec_rleaky", export(net, torch.zeros(1, 12)), x, run(net, x),
               dt=DT_S, tool_version=version, note="Linear-RLeaky(16, all-to-all)-Linear-Leaky")

    net = nn.Sequential(scaled(nn.Linear(12, 40), 2.0),
                        snn.RSynaptic(alpha=0.7, beta=0.85, threshold=0.8, linear_features=40,
                                      init_hidden=True),
                        scaled(nn.Linear(40, 7), 1.5),
                        snn.Synaptic(alpha=full(7, 0.7), beta=full(7, 0.85), threshold=full(7, 0.8),
                                     init_hidden=True))
    x = bernoulli((T, B, 12), 0.3, seed=25)
    write_case("snntorch", "rec_paper", export(net, torch.zeros(1, 12)), x, run(net, x),
               dt=DT_S, tool_version=version,
               note="paper-style: 12-Affine-CubaLIF(40, recurrent Affine 40x40)-Affine-CubaLIF(7)")


if __name__ == "__main__":
    main()
