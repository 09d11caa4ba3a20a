"""Lava's own bit-accurate models (Loihi 2) on a chain of Dense + LIF layers, standalone.

Lava needs Python < 3.11, so it lives in its own venv (e.g. ``python3.10 -m venv /work/venvs/lava;
/work/venvs/lava/bin/pip install lava-nc==0.10.0``). This file imports only numpy and lava — never
nirconv — and is run by that interpreter::

    /work/venvs/lava/bin/python nirconv/vendors/lava_check.py NET.npz OUT.npz

``NET.npz``: ``x`` (T, B, n_in) int input (graded when ``input_message_bits`` > 0), ``layers``
(number of layers), and per layer i: ``w{i}`` (n_out, n_in) weights, ``exp{i}`` weight exponent,
``wrec{i}`` (optional recurrent weights, same exponent), ``du{i}``, ``dv{i}``, ``vth{i}`` (scalars),
``bias_mant{i}``, ``bias_exp{i}`` (per neuron). ``OUT.npz`` gets ``y`` (T, B, n_last): the last
LIF's spikes, from ``RingBuffer`` source -> (``Dense`` -> ``LIF``)* -> ``RingBuffer`` sink, run with
the bit-accurate process models (``fixed_pt``), one sample per run.
"""
from __future__ import annotations

import sys

import numpy as np


def _run_sample(net, x):
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIF

    T = x.shape[0]
    source = Source(data=x.T.astype(np.int32))
    port = source.s_out
    message_bits = int(net["input_message_bits"])
    for i in range(int(net["layers"])):
        w = net[f"w{i}"]
        dense = Dense(weights=w, weight_exp=int(net[f"exp{i}"]), num_message_bits=message_bits)
        lif = LIF(shape=(w.shape[0],), du=int(net[f"du{i}"]), dv=int(net[f"dv{i}"]),
                  vth=int(net[f"vth{i}"]), bias_mant=net[f"bias_mant{i}"].astype(np.int32),
                  bias_exp=net[f"bias_exp{i}"].astype(np.int32))
        port.connect(dense.s_in)
        dense.a_out.connect(lif.a_in)
        if f"wrec{i}" in net:
            rec = Dense(weights=net[f"wrec{i}"], weight_exp=int(net[f"exp{i}"]))
            lif.s_out.connect(rec.s_in)
            rec.a_out.connect(lif.a_in)
        port = lif.s_out
        message_bits = 0
    sink = Sink(shape=(lif.s_out.shape[0],), buffer=T)
    port.connect(sink.a_in)
    sink.run(condition=RunSteps(num_steps=T), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
    out = sink.data.get().T.copy()
    sink.stop()
    return out


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    with np.load(argv[0], allow_pickle=False) as data:
        net = {k: data[k] for k in data.files}
    x = net["x"]
    y = np.stack([_run_sample(net, x[:, b]) for b in range(x.shape[1])], axis=1)
    np.savez(argv[1], y=np.rint(y).astype(np.int64))
    return 0


if __name__ == "__main__":
    sys.exit(main())
