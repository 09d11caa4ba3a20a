"""Golden files from Rockpool 3.1 (its own venv: Rockpool's NIR support pins nir <= 1.0.4).

    python3 -m venv /work/venvs/rockpool
    /work/venvs/rockpool/bin/pip install -c constraints.txt torch numpy scipy "nir==1.0.4" h5py
    /work/venvs/rockpool/bin/pip install --no-deps rockpool==3.1 nirtorch==1.0   # never samna
    OMP_NUM_THREADS=1 /work/venvs/rockpool/bin/python scripts/golden/make_rockpool.py

Torch modules only (``rockpool.devices.xylo`` imports samna and is never imported). Networks of
LinearTorch + LIFTorch (exported as CubaLIF) and LIFNeuronTorch (exported as LIF), exported with
``rockpool.nn.modules.to_nir`` and simulated by Rockpool on a seeded Bernoulli input with its
default ``dt = 1e-3`` s and multi-spike output (``max_spikes_per_dt = 2**16``): ``output`` holds
spike counts per step. Rockpool's exporter writes the Input type with the batch axis (1, n) and
``r = tau * exp(-dt / tau) / dt``. It does not export ``w_rec`` (recurrent LIFTorch), so there is
no recurrent case.
"""
from __future__ import annotations

import sys
from importlib.metadata import version as dist_version
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bernoulli, write_case  # noqa: E402

T, B = 40, 4
DT_S = 1e-3


def run(net, x):
    """x (T, B, n) -> Rockpool's (B, T, n) -> output (T, B, n)."""
    net.reset_state()
    with torch.no_grad():
        y, _, _ = net(torch.from_numpy(np.ascontiguousarray(np.swapaxes(x, 0, 1))))
    return np.swapaxes(y.detach().numpy(), 0, 1)


def linear(n_in, n_out, scale, seed):
    from rockpool.nn.modules import LinearTorch

    w = torch.from_numpy(np.random.default_rng(seed).normal(0, scale / np.sqrt(n_in),
                                                             (n_in, n_out))).float()
    return LinearTorch((n_in, n_out), weight=w, has_bias=False)


def export(net, n_in):
    from rockpool.nn.modules import to_nir

    return to_nir(net, torch.zeros(1, n_in))


def main():
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIFNeuronTorch, LIFTorch

    version = dist_version("rockpool")

    net = Sequential(linear(12, 16, 1.0, 41),
                     LIFTorch(16, tau_mem=torch.linspace(5e-3, 2e-2, 16),
                              tau_syn=torch.full((16,), 4e-3),
                              threshold=torch.full((16,), 1.0), dt=DT_S),
                     linear(16, 5, 0.6, 42),
                     LIFTorch(5, tau_mem=torch.full((5,), 1e-2), tau_syn=torch.full((5,), 5e-3),
                              threshold=torch.full((5,), 0.8), dt=DT_S))
    x = bernoulli((T, B, 12), 0.3, seed=41)
    write_case("rockpool", "ff_cubalif", export(net, 12), x, run(net, x), dt=DT_S,
               tool_version=version, note="LinearTorch-LIFTorch-LinearTorch-LIFTorch, multi-spike")

    net = Sequential(linear(10, 16, 1.5, 43),
                     LIFNeuronTorch(16, tau_mem=torch.linspace(4e-3, 2e-2, 16),
                                    threshold=torch.full((16,), 1.0), dt=DT_S),
                     linear(16, 4, 2.0, 44),
                     LIFNeuronTorch(4, tau_mem=torch.full((4,), 1e-2),
                                    threshold=torch.full((4,), 0.7), dt=DT_S))
    x = bernoulli((T, B, 10), 0.4, seed=42)
    write_case("rockpool", "ff_lif", export(net, 10), x, run(net, x), dt=DT_S,
               tool_version=version, note="LinearTorch-LIFNeuronTorch-LinearTorch-LIFNeuronTorch")


if __name__ == "__main__":
    main()
