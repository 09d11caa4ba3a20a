"""ANN -> float SNN conversion, the SNN as a float Program and its NIR export.

    snn     = convert(model, calibration)      # capture -> passes -> normalize -> build
    program = to_program(snn)                  # the float Program (conversion/program.py)
    graph   = to_nir(snn)                      # that Program, written by nirconv.writing

Pipeline: `capture.capture` (torch.export + core ATen, one rule per op) -> `passes.run_passes`
(AvgPool1d pattern, BatchNorm folding) -> `normalize.normalize` (λ, v_init, bias corrections on the
calibration set) -> `build.build_snn` (unit thresholds, Ŵ = W·λ_pre/λ) -> `SpikingNetwork`.
"""
from __future__ import annotations

import copy
import re
import warnings
from dataclasses import replace

import numpy as np
import torch

from .._version import __version__
from ..arguments import finite_float, numeric_array, positive_int
from ..errors import BadInput
from .build import build_snn
from .capture import capture, export_model
from .graph import Graph
from .normalization import DEFAULT_METHOD, DEFAULT_TIMESTEPS, METHODS, Options, normalize
from .passes import run_passes
from .snn import SpikingNetwork, require_memory

DT_S = 1e-3  # nominal step recorded in the metadata; IF and I are dt-free
READOUTS = ("membrane", "spikes")
DEFAULT_READOUT = "membrane"
# the candidates of normalize="calibrated" with timesteps=T, in the order they are built
CHOICES = ("target_steps", "joint_steps", "percentile")
SELECT_SAMPLES = 2048  # at most this many calibration inputs judge the candidates

__all__ = ["convert", "to_program", "to_nir", "SpikingNetwork", "METHODS", "DEFAULT_METHOD",
           "READOUTS"]


def calibration_tensor(calibration, source: str = "calibration") -> torch.Tensor:
    """A float32 tensor of inputs from a tensor, an array or an iterable (DataLoader) of batches:
    numeric, finite, a non-empty batch ``(B, ...)``."""
    if calibration is None or isinstance(calibration, (str, bytes, dict)):
        raise BadInput("calibration must be a tensor, an array or a DataLoader of inputs",
                       field="calibration")
    if isinstance(calibration, (np.ndarray, torch.Tensor, list, tuple)):
        batches = [calibration]
    else:
        try:
            batches = [_first(b) for b in calibration]
        except TypeError:
            raise BadInput("calibration must be a tensor, an array or a DataLoader of inputs",
                           field="calibration") from None
        if not batches:
            raise BadInput("calibration data is empty", field="calibration")
    arrays = [numeric_array(b, "calibration", min_ndim=2, nonempty_axis0=False) for b in batches]
    if any(a.shape[1:] != arrays[0].shape[1:] for a in arrays):
        raise BadInput("calibration batches differ in shape", field="calibration")
    x = torch.as_tensor(np.concatenate(arrays) if len(arrays) > 1 else arrays[0])
    if x.shape[0] == 0:
        raise BadInput(f"calibration needs a batch of inputs (B, ...), has shape "
                       f"{tuple(x.shape)}", file=source, field="calibration")
    return x.to(torch.float32)


def _first(batch):
    if isinstance(batch, (list, tuple)):
        return batch[0]
    if isinstance(batch, dict):
        for key in ("input", "inputs", "image", "images", "x"):
            if key in batch:
                return batch[key]
    return batch


def options(normalize=None, percentile=99.9, scale=None, channel_wise=None, readout=None,
            timesteps=None, v_init=0.5) -> Options:
    method = normalize or ("scale" if scale is not None else DEFAULT_METHOD)
    if not isinstance(method, str) or method not in METHODS:
        raise BadInput(f"unknown normalization {method!r}; choose one of {', '.join(METHODS)}",
                       field="normalize")
    if scale is not None:
        scale = finite_float(scale, "scale", positive=True)
    if method == "scale" and scale is None:
        raise BadInput("normalization 'scale' needs a positive scale factor", field="scale")
    percentile = finite_float(percentile, "percentile")
    if not 0 < percentile <= 100:
        raise BadInput(f"percentile must be in (0, 100], is {percentile}", field="percentile")
    readout = readout or DEFAULT_READOUT
    if readout not in READOUTS:
        raise BadInput(f"readout must be 'membrane' or 'spikes', is {readout!r}", field="readout")
    if channel_wise is not None and not isinstance(channel_wise, (bool, np.bool_)):
        raise BadInput(f"channel_wise must be True, False or None, is {channel_wise!r}",
                       field="channel_wise")
    steps = DEFAULT_TIMESTEPS if timesteps is None else tuple(
        positive_int(t, "timesteps") for t in (
            timesteps if isinstance(timesteps, (list, tuple)) and timesteps else (timesteps,)))
    return Options(method=method, percentile=percentile, scale=scale,
                   channel_wise=True if channel_wise is None else bool(channel_wise),
                   timesteps=tuple(int(t) for t in steps),
                   v_init=finite_float(v_init, "v_init"), readout=readout)


def capture_model(model, example: torch.Tensor, source: str) -> Graph:
    """Conversion graph of an ``nn.Module`` or an ``ExportedProgram``."""
    if isinstance(model, torch.export.ExportedProgram):
        program = model
    elif isinstance(model, torch.nn.Module):
        model = copy.deepcopy(model).eval()
        try:
            with torch.no_grad():
                model(example)
        except Exception as e:
            raise BadInput(f"the model does not run on calibration inputs of shape "
                           f"{tuple(example.shape[1:])} ({type(e).__name__}: "
                           f"{str(e).strip().splitlines()[0][:160] if str(e).strip() else ''})",
                           field="calibration") from None
        program = export_model(model, example, source)
    else:
        raise BadInput(f"expected a torch.nn.Module or a torch.export program, got "
                       f"{type(model).__name__}", file=source, field="model")
    return run_passes(capture(program, source))


def convert(model, calibration, normalize=None, percentile=99.9, scale=None, channel_wise=None,
            readout=None, timesteps=None, v_init=0.5, source=None) -> SpikingNetwork:
    """A trained ANN (eval mode) as a float SNN (see the package docstring and
    docs/equations/conversion.md)."""
    if not isinstance(model, (torch.nn.Module, torch.export.ExportedProgram)):
        raise BadInput(f"expected a torch.nn.Module or a torch.export program, got "
                       f"{type(model).__name__}", field="model")
    opts = options(normalize, percentile, scale, channel_wise, readout, timesteps, v_init)
    x = calibration_tensor(calibration)
    if source is None:
        source = type(model).__name__ if isinstance(model, torch.nn.Module) else "ExportedProgram"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.export's internal deprecation notes
        graph = capture_model(model, x[: min(2, x.shape[0])], str(source))
    if tuple(x.shape[1:]) != graph.input.shape:
        raise BadInput(f"calibration inputs have shape {tuple(x.shape[1:])}, the model takes "
                       f"{graph.input.shape}", field="calibration")
    if opts.method == "calibrated":  # the calibration and `select` run the SNN for T steps
        require_memory(graph, max(set(opts.timesteps) | set(DEFAULT_TIMESTEPS)),
                       min(x.shape[0], SELECT_SAMPLES))
    candidates = [opts]
    if opts.method == "calibrated" and set(opts.timesteps) != set(DEFAULT_TIMESTEPS):
        joint = tuple(sorted(set(DEFAULT_TIMESTEPS) | set(opts.timesteps)))
        candidates.append(replace(opts, timesteps=joint))
        candidates.append(replace(opts, method="percentile"))  # half-threshold, no search
    nets = []
    for cand, choice in zip(candidates, CHOICES):
        norm = normalize_graph(graph, x, cand)
        snn_graph = name_layers(build_snn(graph, norm, cand.readout))
        meta = {**_metadata(cand, str(source)), "normalization": opts.method}
        if len(candidates) > 1:
            meta["calibration_choice"] = choice
        nets.append(SpikingNetwork(snn_graph, meta))
    return nets[0] if len(nets) == 1 else select(nets, graph, x, opts.timesteps)


def select(nets, graph, x, steps) -> SpikingNetwork:
    """The candidate that best follows the ANN on calibration inputs the calibration did not use
    (the logit error summed over each T in ``steps``, then the agreement of the predictions): no
    labels."""
    from .normalization import MAX_CALIBRATION_SAMPLES, ann_activations
    held = x[MAX_CALIBRATION_SAMPLES:MAX_CALIBRATION_SAMPLES + SELECT_SAMPLES]
    val = held if held.shape[0] >= 64 else x[:SELECT_SAMPLES]
    with torch.no_grad():
        logits = ann_activations(graph, val)[graph.output.inputs[0]]
    scores = []
    for net in nets:
        agree, err = 0.0, 0.0
        for t in steps:
            out = net(val, timesteps=t).sum(0) / t
            agree += float((out.argmax(-1) == logits.argmax(-1)).float().mean())
            scale = float(net.graph.layers[-2].params["scale"].reshape(-1)[0])
            err += float(((out * scale - logits) ** 2).mean())
        scores.append((-err, agree))
    best = max(range(len(nets)), key=lambda i: scores[i])
    return nets[best]


def normalize_graph(graph, x, opts):
    with torch.no_grad():
        return normalize(graph, x, opts)


def _metadata(opts: Options, source: str) -> dict:
    return {
        "nirconv_version": __version__,
        "source_model": source,
        "normalization": opts.method,
        "granularity": "channel" if opts.channel_wise else "layer",
        "percentile": opts.percentile,
        "dt": DT_S,
        "timesteps": max(opts.timesteps),
        "calibration_timesteps": list(opts.timesteps),
        "readout": opts.readout,
        "input_encoding": "current",
        **({"scale_factor": opts.scale} if opts.scale is not None else {}),
    }


def name_layers(graph: Graph) -> Graph:
    """Node names from the torch module paths (dots -> '_'; NIR uses dots for subgraphs)."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for layer in graph.layers:
        base = layer.name if layer.kind in ("input", "output") else (
            re.sub(r"[^A-Za-z0-9_]", "_", layer.path) if layer.path and layer.kind not in
            ("scale", "sum", "integrator") else layer.name)
        base = base.strip("_") or layer.kind
        name, i = base, 1
        while name in taken:
            name, i = f"{base}_{i}", i + 1
        taken.add(name)
        names[layer.name] = name
    return graph.replace([replace(l, name=names[l.name], inputs=tuple(names[i] for i in l.inputs))
                          for l in graph.layers])


def to_program(snn: SpikingNetwork, **metadata) -> "Program":  # noqa: F821
    """The SNN as a float ``Program`` (its graph metadata, updated by ``metadata``, as the
    Program's dt, timesteps and provenance); no NIR round trip."""
    from .program import snn_program
    if not isinstance(snn, SpikingNetwork):
        raise BadInput(f"needs a network made by nirconv.convert, got {type(snn).__name__}",
                       field="snn")
    return snn_program(snn.graph, {**snn.metadata, **metadata})


def to_nir(snn: SpikingNetwork, **metadata) -> "nir.NIRGraph":  # noqa: F821
    """The SNN as a ``nir.NIRGraph`` with the metadata of the contract: its float Program
    (`to_program`) written by the one writer (``nirconv.writing``)."""
    from ..writing import to_nir as write
    return write(to_program(snn, **metadata))
