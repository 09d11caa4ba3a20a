"""`nirconv.audit`: how far the deployed integer SNN is from the float SNN and from the ANN.

    result = audit(model, dep, data, labels, timesteps=32, tolerance=1.0, snn=None,
                   backend="torch", device="cpu", progress=True)
    result.to_json()     # the contract's audit JSON (plus more keys)

``dep`` (a deployed NIR graph, its path or its integer Program) is read once
(`nirconv.reading.to_program`); the float SNN is the deployed graph's float view (the float record
it keeps, ``nirconv/reading/float_view.py``) unless ``snn`` (a converted network, a float Program,
a NIR graph or a path) is given. Which ANN module each layer stands for and its λ come from the
ops' `OpInfo` (``module``, ``act_scale``).

The data are processed in batches: the ANN (with forward hooks on the modules the converter maps to
each SNN layer), the float SNN (``mode="float"``, float64) for ``T`` steps and the deployed graph
(``mode="int"``) for ``T + latency`` steps, where ``latency`` is the largest extra delay of the
deployed pipeline (`compare.align`). Metrics are accumulated per batch (`state.Totals`): memory
does not grow with the number of samples.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..arguments import finite_float, numeric_array, positive_int
from ..equations.program import Program
from ..errors import BadInput, NirconvError
from ..reading import float_view, to_program
from . import compare as C
from .model_map import ann_activations, layer_modules, layer_scales
from .records import AuditResult, LayerAudit
from .state import Totals

__all__ = ["audit", "AuditResult", "LayerAudit"]

BATCH = 256
SCATTER_POINTS = 1500


# --- input checks -------------------------------------------------------------------------------

def _check_inputs(data, labels, timesteps, tolerance):
    data = numeric_array(data, "data", min_ndim=2)
    labels = numeric_array(labels, "labels", nonempty_axis0=False, finite=False)
    if labels.ndim != 1 or labels.shape[0] != data.shape[0]:
        raise BadInput(f"labels must be ({data.shape[0]},) to match the data, are {labels.shape}",
                       field="labels")
    if labels.dtype.kind not in "iu":
        if not (labels.dtype.kind == "f" and np.all(np.isfinite(labels))
                and np.all(np.mod(labels, 1) == 0)):
            raise BadInput(f"labels must be integers, are {labels.dtype}", field="labels")
    if np.any(labels < 0):
        raise BadInput(f"labels must be class indices >= 0, found {_first_bad(labels, 0)}",
                       field="labels")
    T = positive_int(timesteps, "timesteps")
    tolerance = finite_float(tolerance, "tolerance", minimum=0.0)
    return data.astype(np.float32), labels.astype(np.int64), T, tolerance


def _first_bad(labels, low, high=None):
    bad = labels < low if high is None else (labels < low) | (labels >= high)
    i = int(np.flatnonzero(bad)[0])
    return f"{labels[i]:g} (sample {i})"


def _check_labels(labels, n_classes: int) -> None:
    """Labels index the deployed graph's outputs: each in [0, n_classes)."""
    if np.any(labels >= n_classes):
        raise BadInput(f"labels must be in [0, {n_classes}) for a graph with {n_classes} outputs, "
                       f"found {_first_bad(labels, 0, n_classes)}", field="labels")


def _check_model(model) -> None:
    import torch

    if not (isinstance(model, torch.export.ExportedProgram) or callable(model)):
        raise BadInput(f"model must be a torch module or a torch.export program, is "
                       f"{type(model).__name__}", field="model")


def _load_graph(graph, what):
    """(graph, source) of a NIR graph or a .nir path (a Program is returned as is)."""
    from pathlib import Path

    if isinstance(graph, Program):
        return graph, graph.source
    if isinstance(graph, (str, Path)):
        from ..nir_io import load
        return load(graph), str(graph)
    if hasattr(graph, "nodes") and hasattr(graph, "edges"):
        return graph, "<memory>"
    raise BadInput(f"{what} must be a NIR graph or a .nir path, is {type(graph).__name__}",
                   field=what)


def _float_program(snn, dep, dep_source) -> tuple[Program, str]:
    """(float SNN Program, what it is for the report): the float view of the deployed graph
    (``nirconv/reading/float_view.py``), or the ``snn`` given (a converted network, a Program,
    a NIR graph or a path)."""
    if snn is None:
        return _float_view(dep, dep_source), "deployed metadata"
    if isinstance(snn, Program):
        if snn.mode != "float":
            raise BadInput("must be the float SNN's Program (mode float)", file=snn.source,
                           field="snn")
        return snn, "snn program"
    if hasattr(snn, "forward") and not hasattr(snn, "edges"):  # a float SNN module
        from ..conversion import to_program as snn_program
        return snn_program(snn), "snn module"
    graph, source = _load_graph(snn, "snn")
    return (to_program(graph, mode="float", source=source),
            "snn graph" if source == "<memory>" else source)


def _float_view(dep, dep_source) -> Program:
    """The float SNN a deployed graph keeps (its float record), or a BadInput saying to pass
    ``snn=``."""
    try:
        return float_view(dep, source=dep_source)
    except NirconvError as e:
        where = f" at node '{e.node}'" if e.node else ""
        raise BadInput(f"cannot rebuild the float SNN from the deployed graph ({e.field}{where}: "
                       f"{e.message}); pass snn= / --snn SNN.nir", file=e.file or dep_source,
                       field="snn") from None


# --- the audit ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Setup:
    float_program: Any
    int_program: Any
    alignments: tuple
    latency: int
    out_shift: int
    float_spiking: bool
    int_spiking: bool
    modules: dict  # node -> module path
    scales: dict  # node -> activation scale per neuron (flat array), where known


def _setup(pq: Program, pf: Program, model, sample_shape):
    if int(np.prod(pq.input_shape)) != int(np.prod(pf.input_shape)):
        raise BadInput(f"the float SNN takes {pf.input_shape}, the deployed graph "
                       f"{pq.input_shape}", file=pq.source, field="input_type")
    if int(np.prod(sample_shape)) != int(np.prod(pq.input_shape)):
        raise BadInput(f"data samples have shape {tuple(sample_shape)}, the deployed graph "
                       f"takes {pq.input_shape}", field="data")
    alignments = C.align(pf, pq)
    out_shift = max(0, C.output_shift(pf, pq))
    latency = max([0, out_shift] + [a.shift for a in alignments])
    return _Setup(pf, pq, alignments, latency, out_shift, C.readout_is_spiking(pf),
                  C.readout_is_spiking(pq), layer_modules(pq, pf, model),
                  layer_scales(pf, {a.node: a.shape for a in alignments}))


def audit(model, dep, data, labels, timesteps=32, tolerance=1.0, snn=None, backend="torch",
          device="cpu", progress=True, batch_size=BATCH) -> AuditResult:
    """Audit ``dep`` (deployed NIR graph or path) against ``model`` (the ANN) on labelled data."""
    _check_model(model)
    data, labels, T, tolerance = _check_inputs(data, labels, timesteps, tolerance)
    batch_size = positive_int(batch_size, "batch_size")
    dep, dep_source = _load_graph(dep, "deployed")
    pf, snn_label = _float_program(snn, dep, dep_source)
    pq = to_program(dep, mode="int", source=dep_source)
    if pq.mode != "int":
        raise BadInput("must be the integer Program of a deployed graph", file=dep_source,
                       field="deployed")
    setup = _setup(pq, pf, model, data.shape[1:])
    _check_labels(labels, _output_size(setup.int_program))
    _check_memory(setup, T, min(batch_size, data.shape[0]))
    totals = Totals(setup.alignments, setup.modules, setup.scales, T, SCATTER_POINTS)
    for start in _progress(range(0, data.shape[0], batch_size), progress):
        x, y = data[start:start + batch_size], labels[start:start + batch_size]
        _audit_chunk(setup, model, x, y, start, backend, device, totals)
    return _result(totals, setup, dep, data, labels, tolerance, backend, snn_label)


def _result(totals, setup, dep, data, labels, tolerance, backend, snn_label) -> AuditResult:
    n, T = data.shape[0], totals.timesteps
    snn_by_t = tuple(float(c) / n for c in totals.snn_correct)
    dep_by_t = tuple(float(c) / n for c in totals.dep_correct)
    vendor, vendor_acc = _vendor(dep, data, labels, T, setup)
    target, family = _target(setup.int_program)
    passed = dep_by_t[-1] >= snn_by_t[-1] - tolerance / 100.0 - 1e-12
    return AuditResult(
        timesteps=T, samples=n, tolerance=tolerance, ann_accuracy=totals.ann_correct / n,
        snn_accuracy=snn_by_t[-1], deployed_accuracy=dep_by_t[-1], passed=bool(passed),
        layers=tuple(state.result() for state in totals.layers.values()),
        first_divergence=totals.tracker.divergence(), target=target, arithmetic=family,
        backend=backend,
        latency_steps=setup.latency, output_shift_steps=setup.out_shift,
        snn_accuracy_by_steps=snn_by_t, deployed_accuracy_by_steps=dep_by_t, vendor=vendor,
        vendor_accuracy=vendor_acc, snn_source=snn_label,
        scatter={name: state.scatter() for name, state in totals.layers.items()
                 if state.has_activations})


def _target(program: Program) -> tuple[str, str]:
    """(target, integer family) of the deployed program ("" where it does not say)."""
    d = program.deployment
    return (d.target, d.family) if d is not None else ("", program.family or "")


def _simulate(setup, x, T, backend, device):
    """Float SNN for T steps and deployed SNN for T + latency steps, recording compared nodes."""
    from ..simulation import run_program

    nodes = [a.node for a in setup.alignments]
    pf, pq = setup.float_program, setup.int_program
    xf = pf.check_input(x.reshape(x.shape[0], *pf.input_shape), T, record=nodes)
    rf = run_program(pf, xf, backend=backend, device=device, dtype=_float64(backend),
                     record=nodes)
    xq = pq.check_input(x.reshape(x.shape[0], *pq.input_shape), T + setup.latency,
                        record=nodes)
    rq = run_program(pq, xq, backend=backend, device=device, record=nodes)
    return rf, rq


def _check_memory(setup, T, batch) -> None:
    """Both runs of a batch (their results are compared) fit in memory (docs/memory.md)."""
    from ..equations.memory import program_bytes, require

    nodes = [a.node for a in setup.alignments]
    require(program_bytes(setup.float_program, T, batch, nodes)
            + program_bytes(setup.int_program, T + setup.latency, batch, nodes),
            hint="lower timesteps or batch_size")


def _output_size(program) -> int:
    """Classes of the deployed graph: the size of its (first) Output."""
    return int(np.prod(program.op(program.outputs[0]).out_shape))


def _audit_chunk(setup, model, x, y, start, backend, device, totals):
    T = totals.timesteps
    logits, acts = ann_activations(model, x, setup.modules)
    rf, rq = _simulate(setup, x, T, backend, device)
    totals.add_predictions(y, logits.argmax(-1),
                           C.predictions_by_steps(_np(rf.output), setup.float_spiking, 0, T),
                           C.predictions_by_steps(_np(rq.output), setup.int_spiking,
                                                  setup.out_shift, T))
    aligned = {a.node: (_np(rf.recorded[a.node]),
                        C.aligned_window(_np(rq.recorded[a.node]), a.shift, T))
               for a in setup.alignments}
    totals.add_layers(start, aligned, acts)


def _np(x):
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _float64(backend):
    if backend == "torch":
        import torch
        return torch.float64
    return None


def _progress(chunks, progress):
    import sys

    if not progress or len(chunks) < 2 or not sys.stderr.isatty():
        return chunks
    from rich.console import Console
    from rich.progress import track
    return track(chunks, description="auditing", transient=True, console=Console(stderr=True))


def _vendor(dep, data, labels, T, setup):
    """The vendor simulator's accuracy (read like the deployed run) where one is installed, else
    ``"skipped: <reason>"``."""
    from ..vendors.registry import vendor_simulator

    target = _target(setup.int_program)[0]
    fn, reason = vendor_simulator(target)
    if fn is None:
        return f"skipped: {reason}", None
    try:
        out = _np(fn(dep, data, T + setup.out_shift))
        pred = C.predictions_by_steps(out.reshape(out.shape[0], out.shape[1], -1),
                                      setup.int_spiking, setup.out_shift, T)[-1]
    except NirconvError as e:
        return f"skipped: {e.one_line()}", None
    except Exception as e:  # the vendor's package failed: report it, keep our audit
        return f"skipped: the vendor simulator failed ({type(e).__name__}: {e})", None
    return None, float((pred == labels).mean())
