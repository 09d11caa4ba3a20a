"""`SpikingNetwork`: the converted float SNN, an ``nn.Module`` that follows the nirconv dialect.

``snn(x, timesteps=T)`` with a static ``x`` (B, *shape) presents it as a constant current on every
step; ``x`` may also be ``(T, B, *shape)``. Returns the per-step output ``(T, B, classes)``: the
readout IF layer's spikes (readout "spikes") or the readout integrator's per-step input (readout
"membrane": its membrane after T steps is ``out.sum(0)``), so ``out.sum(0).argmax(-1)`` predicts.

The graph has no delays and no cycles, so it is evaluated layer by layer over all steps at once;
this is the same computation as stepping every layer once per step (NeuronFloat with alpha = r = 1,
compare ">=", reset "subtract", v_0 = v_init).
"""
from __future__ import annotations

import numpy as np
import torch

from ..arguments import numeric_array, optional_positive_int
from ..equations.memory import require, sequence_bytes
from ..errors import BadInput
from .functional import if_neuron, over_time
from .graph import Graph

INTEGER_DTYPES = (torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)
LIVE_SEQUENCES = 4  # a layer's input, its output and two temporaries (membrane, cumulative sums)


def sequence_values(graph: Graph, record: bool = False) -> int:
    """Values held per step and sample while ``graph`` is evaluated over all steps at once: the
    input plus `LIVE_SEQUENCES` of the largest layer (every layer's output with ``record``).
    The memory estimate of docs/memory.md, for the converted network."""
    sizes = [int(np.prod(layer.shape, dtype=np.float64)) for layer in graph.layers]
    return sum(sizes) if record else sizes[0] + LIVE_SEQUENCES * max(sizes)


def require_memory(graph: Graph, timesteps: int, batch: int, record: bool = False,
                   itemsize: int = 4) -> None:
    """BadInput naming ``timesteps`` when evaluating ``graph`` does not fit in memory."""
    require(sequence_bytes(timesteps, batch, sequence_values(graph, record), itemsize=itemsize))


def input_tensor(x) -> torch.Tensor:
    """``x`` as a tensor (kept on its device): numeric (bool, int or float), finite."""
    if isinstance(x, torch.Tensor):
        if not (x.is_floating_point() or x.dtype in INTEGER_DTYPES):
            raise BadInput(f"must be numeric (bool, int or float), has dtype {x.dtype}",
                           field="input")
        if x.is_floating_point() and not bool(torch.isfinite(x).all()):
            raise BadInput("contains NaN or infinite values", field="input")
        return x
    return torch.as_tensor(numeric_array(x, "input", nonempty_axis0=False))


class SpikingNetwork(torch.nn.Module):
    def __init__(self, graph: Graph, metadata: dict):
        super().__init__()
        self.graph = graph
        self.metadata = dict(metadata)
        self._keys: dict[str, dict[str, str]] = {}
        self._layers = graph.by_name
        for i, layer in enumerate(graph.layers):
            keys = {}
            for k, v in layer.params.items():
                if isinstance(v, np.ndarray):
                    buf = f"p{i}_{k}"
                    self.register_buffer(buf, torch.as_tensor(v, dtype=torch.float32))
                    keys[k] = buf
            self._keys[layer.name] = keys

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.graph.input.shape

    @property
    def readout(self) -> str:
        return str(self.metadata.get("readout", "membrane"))

    def _params(self, name: str) -> dict:
        """The layer's parameters in the module's dtype and device, converted from the float64
        originals (so that ``.double()`` computes with the exact values the NIR export holds)."""
        layer = self._layers[name]
        out = {}
        for k, b in self._keys[name].items():
            buf = getattr(self, b)
            out[k] = torch.as_tensor(layer.params[k], dtype=buf.dtype, device=buf.device)
        return out

    def _dtype(self) -> torch.dtype:
        for b in self.buffers():
            return b.dtype
        return torch.float32

    def prepare(self, x, timesteps=None, record: bool = False) -> torch.Tensor:
        """The input as ``(T, B, *input_shape)`` in this module's dtype (checked: numeric, finite,
        samples and steps present, the run's memory available)."""
        x = input_tensor(x)
        timesteps = optional_positive_int(timesteps, "timesteps")
        shape = tuple(self.input_shape)
        if x.dim() == len(shape) + 1 and tuple(x.shape[1:]) == shape:
            if timesteps is None:
                raise BadInput(f"a static input {tuple(x.shape)} needs timesteps",
                               field="timesteps")
            steps = timesteps
        elif x.dim() == len(shape) + 2 and tuple(x.shape[2:]) == shape:
            if timesteps is not None and timesteps != x.shape[0]:
                raise BadInput(f"input has {x.shape[0]} steps, timesteps says {timesteps}",
                               field="timesteps")
            steps = x.shape[0]
        else:
            raise BadInput(f"input of shape {tuple(x.shape)} does not match the network's input "
                           f"{shape}", field="input")
        batch = x.shape[1] if x.dim() == len(shape) + 2 else x.shape[0]
        if batch == 0 or steps == 0:
            raise BadInput(f"input of shape {tuple(x.shape)} has no "
                           f"{'samples (batch 0)' if batch == 0 else 'steps (T = 0)'}",
                           field="input")
        require_memory(self.graph, steps, batch, record, self._dtype().itemsize)
        if x.dim() == len(shape) + 1:
            x = x.unsqueeze(0).expand((steps,) + tuple(x.shape))
        return x.to(self._dtype())

    def run(self, x, timesteps=None, record: bool = False) -> dict[str, torch.Tensor]:
        """Every layer's per-step output ``(T, B, *shape)`` (``record=False``: the output only)."""
        seq = {}
        remaining = {k: len(v) for k, v in self.graph.consumers().items()}
        for layer in self.graph.layers:
            if layer.kind == "input":
                seq[layer.name] = self.prepare(x, timesteps, record)
                continue
            ins = [seq[i] for i in layer.inputs]
            p = self._params(layer.name)
            if layer.kind == "if":
                seq[layer.name] = if_neuron(ins[0], p["threshold"], p["v_init"])
            else:
                seq[layer.name] = over_time(layer, ins, p)
            if not record:
                for i in layer.inputs:
                    remaining[i] -= 1
                    if remaining[i] == 0:
                        del seq[i]
        return seq

    def forward(self, x, timesteps=None) -> torch.Tensor:
        with torch.no_grad():
            return self.run(x, timesteps)[self.graph.output.name]

    def predict(self, x, timesteps=None) -> torch.Tensor:
        return self.forward(x, timesteps).sum(0).argmax(-1)

    def extra_repr(self) -> str:
        kinds = [l.kind for l in self.graph.layers]
        return f"layers={len(kinds)}, if_layers={kinds.count('if')}, readout={self.readout}"
