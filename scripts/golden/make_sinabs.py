"""Golden files from Sinabs 3.1.3 (its own venv: Sinabs pins nir <= 1.0.4).

    python3 -m venv /work/venvs/sinabs
    /work/venvs/sinabs/bin/pip install -c constraints.txt torch numpy "nir==1.0.4" h5py pbr \
        matplotlib
    /work/venvs/sinabs/bin/pip install --no-deps sinabs==3.1.3 nirtorch==1.0    # never samna
    OMP_NUM_THREADS=1 /work/venvs/sinabs/bin/python scripts/golden/make_sinabs.py

Networks built as Sinabs' own importer (``sinabs.nir.from_nir``) builds them, so that the file and
Sinabs' simulation mean the same thing: ``IAFSqueeze(min_v_mem=-spike_threshold)``, ``LIFSqueeze(
norm_input=False)``, the default ``MultiSpike`` (a neuron may emit several spikes per step) and
``MembraneSubtract``. Exported with ``sinabs.nir.to_nir`` (batch axis ignored), simulated by Sinabs
on a seeded Bernoulli input; ``output`` holds spike counts per step. No recurrent export in Sinabs.
"""
from __future__ import annotations

import sys
from importlib.metadata import version as dist_version
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bernoulli, fill_untyped, write_case  # noqa: E402

T, B = 40, 4
DT = 1.0  # Sinabs' time constants are in steps


def run(net, x):
    """x (T, B, ...) -> Sinabs' squeezed (B*T, ...) layout -> output (T, B, n)."""
    from sinabs import reset_states

    reset_states(net)
    t_steps, batch = x.shape[:2]
    flat = torch.from_numpy(np.ascontiguousarray(np.swapaxes(x, 0, 1)))
    flat = flat.reshape(batch * t_steps, *x.shape[2:])
    with torch.no_grad():
        y = net(flat)
    return np.swapaxes(y.reshape(batch, t_steps, -1).numpy(), 0, 1)


def iaf(th):
    import sinabs.layers as sl

    return sl.IAFSqueeze(spike_threshold=torch.tensor(th), min_v_mem=-torch.tensor(th),
                         batch_size=B)


def lif(tau, th):
    import sinabs.layers as sl

    tau = torch.as_tensor(tau, dtype=torch.float32)  # exporter: tau and threshold same shape
    return sl.LIFSqueeze(tau_mem=tau, spike_threshold=torch.full_like(tau, th), norm_input=False,
                         batch_size=B)


def scaled(layer, factor):
    with torch.no_grad():
        layer.weight.mul_(factor)
    return layer


def export(net, sample):
    import sinabs.nir

    graph = sinabs.nir.to_nir(net, sample)
    fill_untyped(graph, sample.shape[1:])  # Sinabs leaves conv/flatten types None
    return graph


def main():
    nn = torch.nn
    version = dist_version("sinabs")
    torch.manual_seed(3)

    net = nn.Sequential(scaled(nn.Linear(12, 16), 2.0), iaf(1.0), scaled(nn.Linear(16, 5), 2.0),
                        iaf(1.0))
    x = bernoulli((T, B, 12), 0.3, seed=31)
    y = run(net, x)
    write_case("sinabs", "ff_iaf", export(net, torch.zeros(B, 12)), x, y, dt=DT,
               tool_version=version, note="Linear-IAF-Linear-IAF, MultiSpike, min_v_mem=-th")

    net = nn.Sequential(scaled(nn.Linear(12, 16), 2.0), lif(torch.linspace(3.0, 12.0, 16), 0.8),
                        scaled(nn.Linear(16, 5), 2.0), lif(torch.full((5,), 6.0), 0.6))
    x = bernoulli((T, B, 12), 0.3, seed=32)
    y = run(net, x)
    write_case("sinabs", "ff_lif", export(net, torch.zeros(B, 12)), x, y, dt=DT,
               tool_version=version, note="Linear-LIF-Linear-LIF, tau in steps, norm_input=False")

    import sinabs.layers as sl

    net = nn.Sequential(scaled(nn.Conv2d(1, 4, 3, bias=False), 2.0), iaf(1.0),
                        sl.SumPool2d(2), scaled(nn.Conv2d(4, 4, 3, padding=1), 1.5), iaf(1.0),
                        nn.Flatten(), scaled(nn.Linear(4 * 3 * 3, 5), 1.5), iaf(1.0))
    x = bernoulli((T, B, 1, 8, 8), 0.3, seed=33)
    y = run(net, x)
    write_case("sinabs", "conv_iaf", export(net, torch.zeros(B, 1, 8, 8)), x, y, dt=DT,
               tool_version=version,
               note="Conv2d-IAF-SumPool2d-Conv2d(pad 1)-IAF-Flatten-Linear-IAF")


if __name__ == "__main__":
    main()
