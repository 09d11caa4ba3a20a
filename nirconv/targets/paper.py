"""Float NIR graphs shaped like the NIR paper's networks (Pedersen et al., Nat. Commun. 2024,
``paper/02_cnn``, ``paper/03_rnn``), with random weights: fit-check fixtures for tests and demos.

* `nmnist_cnn`: input 2x34x34; Conv 2->16 k5 s2 p1, IF; Conv 16->16 k3 p1, IF; SumPool 2;
  Conv 16->8 k3 p1, IF; SumPool 2; Flatten; Affine 128->256, IF; Affine 256->10, IF.
* `braille_rnn`: 12 -> Affine -> CubaLIF 40 (recurrent Affine 40->40) -> Affine -> CubaLIF 7.
"""
from __future__ import annotations

import nir
import numpy as np

IF_META = {"reset": "subtract", "compare": ">=", "v_init": 0.0}


def _if(n_shape, threshold=1.0):
    shape = tuple(n_shape)
    return nir.IF(r=np.ones(shape), v_threshold=np.full(shape, threshold),
                  v_reset=np.zeros(shape), metadata=dict(IF_META, threshold=threshold))


def _conv(rng, c_in, c_out, k, stride, pad, in_hw):
    w = rng.normal(0, 1.0 / np.sqrt(c_in * k * k), (c_out, c_in, k, k))
    return nir.Conv2d(input_shape=in_hw, weight=w, stride=(stride, stride), padding=(pad, pad),
                      dilation=(1, 1), groups=1, bias=rng.normal(0, 0.01, c_out))


def nmnist_cnn(seed: int = 0) -> nir.NIRGraph:
    rng = np.random.default_rng(seed)
    nodes = {
        "input": nir.Input(input_type={"input": np.array([2, 34, 34])}),
        "conv0": _conv(rng, 2, 16, 5, 2, 1, (34, 34)), "if0": _if((16, 16, 16)),
        "conv1": _conv(rng, 16, 16, 3, 1, 1, (16, 16)), "if1": _if((16, 16, 16)),
        "pool1": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                               padding=np.array([0, 0])),
        "conv2": _conv(rng, 16, 8, 3, 1, 1, (8, 8)), "if2": _if((8, 8, 8)),
        "pool2": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                               padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([8, 4, 4])}, start_dim=1, end_dim=-1),
        "fc1": nir.Affine(weight=rng.normal(0, 1 / np.sqrt(128), (256, 128)),
                          bias=rng.normal(0, 0.01, 256)),
        "if3": _if((256,)),
        "fc2": nir.Affine(weight=rng.normal(0, 1 / np.sqrt(256), (10, 256)),
                          bias=np.zeros(10)),
        "if4": _if((10,)),
        "output": nir.Output(output_type={"output": np.array([10])}),
    }
    names = list(nodes)
    edges = list(zip(names[:-1], names[1:]))
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False,
                        metadata={"dt": 1e-3, "readout": "spikes", "input_encoding": "current",
                                  "dialect": "nirconv"})


def _cuba(n, tau_syn, tau_mem, threshold=1.0):
    return nir.CubaLIF(tau_syn=np.full(n, tau_syn), tau_mem=np.full(n, tau_mem), r=np.ones(n),
                       v_leak=np.zeros(n), v_threshold=np.full(n, threshold),
                       v_reset=np.zeros(n), w_in=np.ones(n),
                       metadata={"reset": "subtract", "compare": ">=", "threshold": threshold})


def braille_rnn(seed: int = 0, dt: float = 1e-4, n_in: int = 12, n_hidden: int = 40,
                n_out: int = 7, tau_syn: float = 1e-3, tau_mem: float = 2e-3,
                gain: float = 20.0) -> nir.NIRGraph:
    rng = np.random.default_rng(seed)
    nodes = {
        "input": nir.Input(input_type={"input": np.array([n_in])}),
        "fc_in": nir.Linear(weight=gain * rng.normal(0, 1 / np.sqrt(n_in), (n_hidden, n_in))),
        "lif1": _cuba(n_hidden, tau_syn, tau_mem),
        "fc_rec": nir.Linear(weight=gain * rng.normal(0, 0.5 / np.sqrt(n_hidden),
                                                      (n_hidden, n_hidden))),
        "fc_out": nir.Linear(weight=gain * rng.normal(0, 1 / np.sqrt(n_hidden), (n_out, n_hidden))),
        "lif2": _cuba(n_out, tau_syn, tau_mem),
        "output": nir.Output(output_type={"output": np.array([n_out])}),
    }
    edges = [("input", "fc_in"), ("fc_in", "lif1"), ("lif1", "fc_rec"), ("fc_rec", "lif1"),
             ("lif1", "fc_out"), ("fc_out", "lif2"), ("lif2", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False,
                        metadata={"dt": dt, "readout": "spikes", "dialect": "nirconv"})
