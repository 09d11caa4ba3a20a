"""Sinabs' simulation of a quantized speck graph (the Speck vendor reference), standalone.

Sinabs pins nir <= 1.0.4 and declares samna (never install it), so it lives in its own venv
(``/work/venvs/sinabs``: ``pip install --no-deps sinabs==3.1.3`` + numpy, torch, nir 1.0.4,
nirtorch, matplotlib, pbr). This file imports only numpy, torch, nir and sinabs — never nirconv —
so that venv's interpreter can run it on a file written with ``nirconv.save(g, p,
nir_version="1.0.4")``::

    /work/venvs/sinabs/bin/python nirconv/vendors/sinabs_check.py GRAPH.nir IN.npz OUT.npz

``IN.npz`` holds ``x`` (T, B, *input_shape) integer events; ``OUT.npz`` gets ``y`` (T, B, n_out).

What it does: ``sinabs.from_nir(graph, batch_size=B)`` builds the network (Conv2d / Linear with
the graph's integer weights, SumPool2d, Flatten, ``IAFSqueeze`` per IF node). ``from_nir`` takes an
IF's float ``v_threshold`` and sets ``min_v_mem = -v_threshold``; a quantized graph keeps its
integer neuron parameters in node metadata (``threshold_int``, ``bias_int``, ``v_init_int``,
``reset``, ``state_bits``), so each IAF is then set to the integer threshold and initial membrane,
``min_v_mem =
-2**(state_bits-1)`` (-32768), ``MembraneSubtract`` + ``MultiSpike`` (reset "subtract") or
``MembraneReset`` + ``SingleSpike`` (reset "zero"), and the per-step bias goes into the bias of the
Conv2d / Linear feeding it (it must be one value per channel). Sinabs has no upper bound on v
(ours saturates at 32767), so the two agree while no membrane exceeds 32767.
"""
from __future__ import annotations

import sys
from typing import Optional

import numpy as np


def _sanitize(name: str) -> str:
    return name.replace(".", "_")


def _patch_neuron(model, name, node, producers, graph, batch):
    import sinabs.activation as sa
    import torch

    meta = dict(getattr(node, "metadata", None) or {})
    if "threshold_int" not in meta:
        raise ValueError(f"node {name!r}: no metadata threshold_int (not a quantized speck graph)")
    layer = getattr(model, _sanitize(name))
    shape = tuple(np.asarray(node.v_threshold).shape)
    threshold = np.broadcast_to(np.asarray(meta["threshold_int"], dtype=np.float64), shape)
    _assign(layer, "spike_threshold", torch.tensor(threshold.copy(), dtype=torch.float32))
    v_min = -float(1 << (int(meta.get("state_bits", 16)) - 1))
    _assign(layer, "min_v_mem", torch.full(shape, v_min, dtype=torch.float32))
    if str(meta.get("reset", "subtract")) == "zero":
        layer.reset_fn, layer.spike_fn = sa.MembraneReset(), sa.SingleSpike
    else:
        layer.reset_fn, layer.spike_fn = sa.MembraneSubtract(), sa.MultiSpike
    v_init = np.broadcast_to(np.asarray(meta.get("v_init_int", 0), dtype=np.float64), shape)
    if np.any(v_init != 0):  # a state of the right shape is kept by sinabs' forward
        layer.init_state_with_shape((batch, *shape))
        layer.v_mem.data.copy_(torch.tensor(np.broadcast_to(v_init, (batch, *shape)).copy()))
    bias = np.broadcast_to(np.asarray(meta.get("bias_int", 0), dtype=np.float64), shape)
    if np.any(bias != 0):
        _set_bias(model, name, bias, producers, graph)


def _assign(layer, attr, value):
    """Set a sinabs layer attribute that from_nir may have made a Parameter (keep its kind)."""
    import torch

    current = getattr(layer, attr, None)
    if isinstance(current, torch.nn.Parameter):
        setattr(layer, attr, torch.nn.Parameter(value, requires_grad=False))
    else:
        setattr(layer, attr, value)


def _set_bias(model, name, bias, producers, graph):
    import torch

    prev = producers.get(name, [])
    if len(prev) != 1:
        raise ValueError(f"node {name!r}: its bias needs exactly one Conv2d/Affine producer")
    per_channel = bias.reshape(bias.shape[0], -1)
    if np.any(per_channel != per_channel[:, :1]):
        raise ValueError(f"node {name!r}: the bias differs within a channel")
    weight_layer = getattr(model, _sanitize(prev[0]))
    weight_layer.bias.data = torch.tensor(per_channel[:, 0], dtype=weight_layer.bias.dtype)


def sinabs_simulate(graph, x: np.ndarray) -> np.ndarray:
    """Sinabs' output (T, B, n_out) of a quantized speck NIR graph (nir 1.0.4 objects) on integer
    events x (T, B, *input_shape)."""
    import nir
    import sinabs
    import torch

    T, B = x.shape[:2]
    model = sinabs.from_nir(graph, batch_size=B)
    producers: dict = {}
    for src, dst in graph.edges:
        producers.setdefault(dst, []).append(src)
    for name, node in graph.nodes.items():
        if isinstance(node, nir.IF):
            _patch_neuron(model, name, node, producers, graph, B)
        elif type(node).__name__ in ("LIF", "CubaLIF", "LI", "I", "CubaLI"):
            raise ValueError(f"node {name!r}: Speck has only IF neurons, got {type(node).__name__}")
    flat = torch.tensor(np.ascontiguousarray(np.swapaxes(x, 0, 1)).reshape(B * T, *x.shape[2:]),
                        dtype=torch.float32)
    with torch.no_grad():
        out = model(flat)
    out = out[0] if isinstance(out, tuple) else out
    out = out.detach().numpy().reshape(B, T, -1)
    return np.rint(np.swapaxes(out, 0, 1)).astype(np.int64)


def main(argv: Optional[list] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    import nir

    graph_path, in_path, out_path = argv
    graph = nir.read(graph_path)
    with np.load(in_path, allow_pickle=False) as data:
        x = data["x"]
    y = sinabs_simulate(graph, x)
    np.savez(out_path, y=y)
    return 0


if __name__ == "__main__":
    sys.exit(main())
