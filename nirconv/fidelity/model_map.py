"""What the audit needs from the conversion and quantization: which ANN module each SNN layer
stands for, its activation scale, and the float SNN rebuilt from a deployed file.

The converter writes, on every spiking node of the float graph (and the export keeps it):
``module`` — the dotted path of the ANN module (in ``model.named_modules()``) whose output the
node's rate approximates — and ``scale`` — λ, the activation (ANN units) that corresponds to a rate
of one spike per step (float, per channel or per neuron). Both are optional: without ``module`` a
layer has no rate-vs-activation error (except a spiking readout feeding the output, which stands for
the ANN's logits); without ``scale`` the error is measured up to the
least-squares scale (`compare.scale_free_error`).
"""
from __future__ import annotations

import warnings

import nir
import numpy as np

from ..errors import BadInput

MODULE_KEYS = ("module",)
OUTPUT = "<output>"  # a spiking readout without a module of its own stands for the ANN's logits
SCALE_KEYS = ("scale",)


def _flat_nodes(graph):
    """(dotted name, node) of every node that is not a subgraph (walked, not recursed)."""
    from ..nir_io.walk import leaves

    return leaves(graph).items()


def _meta_value(node, keys):
    meta = getattr(node, "metadata", None) or {}
    for key in keys:
        if key in meta:
            value = meta[key]
            return value.decode() if isinstance(value, bytes) else value
    return None


def layer_modules(dep, float_graph, model) -> dict[str, str]:
    """node -> ANN module path, from the float graph's metadata (else the deployed graph's),
    kept only where ``model`` has that module."""
    names = _module_names(model)
    found: dict[str, str] = {}
    for graph in (dep, float_graph):
        for node_name, node in _flat_nodes(graph):
            path = _meta_value(node, MODULE_KEYS)
            if path is not None and str(path) in names:
                found[node_name] = str(path)
    for src, dst in float_graph.edges:
        node = float_graph.nodes.get(src)
        if (src not in found and isinstance(float_graph.nodes.get(dst), nir.Output)
                and getattr(node, "v_threshold", None) is not None):
            found[src] = OUTPUT
    return found


def layer_scales(float_graph, shapes: dict) -> dict[str, np.ndarray]:
    """node -> activation scale per neuron (flat, ``prod(shape)``): ANN value ≈ scale × rate.

    Read from a converted float graph only (``normalization`` in its metadata: there the node key
    ``scale`` is the converter's λ, a float, per channel (C,) or per neuron)."""
    if "normalization" not in (float_graph.metadata or {}):
        return {}
    scales = {}
    for node_name, node in _flat_nodes(float_graph):
        value = _meta_value(node, SCALE_KEYS)
        if value is None or node_name not in shapes:
            continue
        scale = _per_neuron(np.asarray(value, dtype=np.float64), tuple(shapes[node_name]))
        if scale is not None and np.all(np.isfinite(scale)) and np.all(scale > 0):
            scales[node_name] = scale
    return scales


def _per_neuron(value: np.ndarray, shape: tuple) -> np.ndarray | None:
    n = int(np.prod(shape))
    if value.size == 1:
        return np.full(n, float(value.ravel()[0]))
    if value.size == n:
        return value.reshape(n)
    if shape and value.size == shape[0]:
        return np.broadcast_to(value.reshape((-1,) + (1,) * (len(shape) - 1)), shape).reshape(n)
    return None


def hookable(model):
    """The ANN as a module whose submodules run (so forward hooks fire): an ``ExportedProgram``
    is unflattened back to its module hierarchy."""
    import torch

    if isinstance(model, torch.export.ExportedProgram):
        with warnings.catch_warnings():  # torch's own deprecation notices
            warnings.simplefilter("ignore", FutureWarning)
            try:
                return torch.export.unflatten(model)
            except Exception:
                return model.module()
    if not callable(model):
        raise BadInput(f"model must be a torch module, is {type(model).__name__}", field="model")
    return model


def static_batch(model) -> int | None:
    """The fixed batch size of an ``ExportedProgram`` exported without a dynamic batch axis."""
    import torch

    if not isinstance(model, torch.export.ExportedProgram):
        return None
    lifted = set(model.graph_signature.inputs_to_parameters) | set(
        model.graph_signature.inputs_to_buffers)
    for node in model.graph.nodes:
        if node.op == "placeholder" and node.name not in lifted:
            val = node.meta.get("val")
            shape = getattr(val, "shape", None)
            if shape is not None and len(shape) and isinstance(shape[0], int):
                return int(shape[0])
            return None
    return None


def _module_names(model) -> set:
    model = hookable(model)
    if hasattr(model, "named_modules"):
        return {name for name, _ in model.named_modules() if name}
    return set()


def ann_activations(model, x: np.ndarray, modules: dict[str, str]):
    """The ANN's logits (B, classes) and, per node, the output of its module (B, ...) as numpy.

    An exported program with a fixed batch size runs in slices of that size (the last padded)."""
    fixed = static_batch(model)
    net = hookable(model)
    if fixed is None or fixed == x.shape[0]:
        return _forward(net, x, modules)
    n = x.shape[0]
    pad = (-n) % fixed
    xp = np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)]) if pad else x
    parts = [_forward(net, xp[i:i + fixed], modules) for i in range(0, xp.shape[0], fixed)]
    logits = np.concatenate([p[0] for p in parts])[:n]
    acts = {node: np.concatenate([p[1][node] for p in parts])[:n] for node in parts[0][1]}
    return logits, acts


def _forward(model, x, modules):
    import torch

    by_name = dict(model.named_modules()) if hasattr(model, "named_modules") else {}
    captured: dict[str, np.ndarray] = {}
    hooks = []

    def hook_for(path):
        def hook(_module, _inputs, output):
            if isinstance(output, torch.Tensor):
                captured[path] = output.detach().float().cpu().numpy()
        return hook

    for path in set(modules.values()):
        if path in by_name:
            hooks.append(by_name[path].register_forward_hook(hook_for(path)))
    try:
        with torch.no_grad():
            out = model(torch.as_tensor(x, dtype=torch.float32))
    except Exception as e:
        raise BadInput(f"the model cannot run on the data {tuple(x.shape)}: {type(e).__name__}: "
                       f"{str(e).splitlines()[0][:200]}", field="data") from None
    finally:
        for h in hooks:
            h.remove()
    if isinstance(out, (tuple, list)):
        out = out[0]
    logits = out.detach().float().cpu().numpy().reshape(x.shape[0], -1)
    captured[OUTPUT] = logits
    acts = {node: captured[path] for node, path in modules.items() if path in captured}
    return logits, acts


def rebuild_float_graph(dep, source: str = "<memory>"):
    """The float SNN of a deployed graph, from the float values the export keeps in its metadata
    (its float view, ``nirconv/reading/float_view.py``, written as a float graph)."""
    from ..reading import lower
    from ..writing import to_nir

    meta = dep.metadata or {}
    missing = [name for name, node in _flat_nodes(dep)
               if hasattr(node, "weight") and "float_weight" not in (node.metadata or {})]
    if not meta.get("arithmetic") or missing:
        raise BadInput("cannot rebuild the float SNN: the deployed graph keeps no float weights"
                       + (f" (none on {', '.join(missing[:3])})" if missing else
                          " (it is not a quantized graph)") + "; pass snn= / --snn SNN.nir",
                       file=source, field="snn")
    return to_nir(lower(dep, mode="float", source=source))
