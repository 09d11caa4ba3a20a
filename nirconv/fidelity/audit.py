"""`nirconv.audit`: how far the deployed integer SNN is from the float SNN and from the ANN.

    result = audit(model, dep, data, labels, timesteps=32, tolerance=1.0, snn=None,
                   backend="torch", device="cpu", progress=True)
    result.to_json()     # the contract's audit JSON (plus more keys)

The data are processed in batches: the ANN (with forward hooks on the modules the converter maps to
each SNN layer), the float SNN (``mode="float"``, float64) for ``T`` steps and the deployed graph
(``mode="int"``) for ``T + latency`` steps, where ``latency`` is the largest extra delay of the
deployed pipeline (`compare.align`). Metrics are accumulated per batch; nothing holds the spike
trains of the whole data set.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from ..errors import BadInput, NirconvError
from . import compare as C
from .model_map import ann_activations, layer_modules, layer_scales, rebuild_float_graph
from .state import LayerState, SampleTracker

BATCH = 256
SCATTER_POINTS = 1500


@dataclass(frozen=True)
class LayerAudit:
    """One spiking node: float SNN vs deployed (aligned), and both against the ANN activation."""

    node: str
    spike_agreement: float
    rate_correlation: float
    shift_steps: int
    neurons: int
    float_spikes: int
    deployed_spikes: int
    float_rate: float  # mean spikes per neuron per step
    deployed_rate: float
    ann_module: Optional[str] = None
    rate_error_float: Optional[float] = None
    rate_error_deployed: Optional[float] = None
    rate_error_basis: Optional[str] = None  # "activation_scale" | "least_squares"

    def to_json(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return {k: v for k, v in d.items() if v is not None}


@dataclass(frozen=True)
class AuditResult:
    """Everything the audit measured. `to_json` is the contract's shape plus more keys."""

    timesteps: int
    samples: int
    tolerance: float  # percentage points
    ann_accuracy: float
    snn_accuracy: float
    deployed_accuracy: float
    passed: bool
    layers: tuple[LayerAudit, ...]
    first_divergence: Optional[dict]
    target: str = ""
    arithmetic: str = ""
    backend: str = "torch"
    latency_steps: int = 0  # extra steps the deployed run needs (largest shift)
    output_shift_steps: int = 0  # the deployed readout's extra delay
    snn_accuracy_by_steps: tuple[float, ...] = ()  # after 1..T steps
    deployed_accuracy_by_steps: tuple[float, ...] = ()
    vendor: Optional[str] = None  # "skipped: <reason>" when no vendor simulator ran
    vendor_accuracy: Optional[float] = None
    snn_source: str = "deployed metadata"
    scatter: dict = field(default_factory=dict, repr=False, compare=False)  # node -> (act, f, q)

    @property
    def accuracy_drop_points(self) -> float:
        return 100.0 * (self.snn_accuracy - self.deployed_accuracy)

    def to_json(self) -> dict:
        out: dict[str, Any] = {
            "timesteps": self.timesteps, "ann_accuracy": self.ann_accuracy,
            "snn_accuracy": self.snn_accuracy, "deployed_accuracy": self.deployed_accuracy,
            "passed": self.passed, "layers": [layer.to_json() for layer in self.layers],
            "first_divergence": self.first_divergence,
            "tolerance": self.tolerance, "accuracy_drop_points": self.accuracy_drop_points,
            "samples": self.samples, "target": self.target, "arithmetic": self.arithmetic,
            "backend": self.backend, "latency_steps": self.latency_steps,
            "output_shift_steps": self.output_shift_steps,
            "snn_source": self.snn_source,
            "accuracy_by_steps": {"ann": self.ann_accuracy,
                                  "snn": list(self.snn_accuracy_by_steps),
                                  "deployed": list(self.deployed_accuracy_by_steps)},
        }
        if self.vendor_accuracy is not None:
            out["vendor_accuracy"] = self.vendor_accuracy
        if self.vendor is not None:
            out["vendor"] = self.vendor
        return out


# --- input checks -------------------------------------------------------------------------------

def _as_numpy(x, what):
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except Exception:
        raise BadInput(f"{what} is not an array", field=what) from None


def _check_inputs(data, labels, timesteps, tolerance):
    data = _as_numpy(data, "data")
    labels = _as_numpy(labels, "labels")
    if not np.issubdtype(data.dtype, np.number) or data.ndim < 2:
        raise BadInput(f"data must be a numeric (B, *shape) array, is {data.dtype} {data.shape}",
                       field="data")
    if not np.all(np.isfinite(data)):
        raise BadInput("data contains NaN or infinite values", field="data")
    if labels.ndim != 1 or labels.shape[0] != data.shape[0]:
        raise BadInput(f"labels must be ({data.shape[0]},) to match the data, are {labels.shape}",
                       field="labels")
    if not np.issubdtype(labels.dtype, np.integer):
        if not (np.issubdtype(labels.dtype, np.floating) and np.all(np.isfinite(labels))
                and np.all(np.mod(labels, 1) == 0)):
            raise BadInput(f"labels must be integers, are {labels.dtype}", field="labels")
    if data.shape[0] == 0:
        raise BadInput("no samples", field="data")
    if isinstance(timesteps, bool) or not float(timesteps).is_integer() or int(timesteps) < 1:
        raise BadInput(f"timesteps must be a positive integer, is {timesteps!r}",
                       field="timesteps")
    if not np.isfinite(float(tolerance)) or float(tolerance) < 0:
        raise BadInput(f"tolerance must be a finite number of points >= 0, is {tolerance!r}",
                       field="tolerance")
    return data.astype(np.float32), labels.astype(np.int64), int(timesteps), float(tolerance)


def _load_graph(graph, what):
    from pathlib import Path

    if isinstance(graph, (str, Path)):
        from ..nir_io import load
        return load(graph), str(graph)
    if hasattr(graph, "nodes") and hasattr(graph, "edges"):
        return graph, "<memory>"
    raise BadInput(f"{what} must be a NIR graph or a .nir path, is {type(graph).__name__}",
                   field=what)


def _float_graph(snn, dep, dep_source):
    if snn is None:
        return rebuild_float_graph(dep, dep_source), "deployed metadata"
    if hasattr(snn, "forward") and not hasattr(snn, "edges"):  # a float SNN module
        from ..conversion import to_nir
        return to_nir(snn), "snn module"
    graph, source = _load_graph(snn, "snn")
    return graph, ("snn graph" if source == "<memory>" else source)


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


def _setup(dep, dep_source, float_graph, model):
    from ..simulation import to_program

    pf = to_program(float_graph, mode="float")
    pq = to_program(dep, mode="int")
    if pq.input_shape != pf.input_shape and int(np.prod(pq.input_shape)) != int(
            np.prod(pf.input_shape)):
        raise BadInput(f"the float SNN takes {pf.input_shape}, the deployed graph "
                       f"{pq.input_shape}", file=dep_source, field="input_type")
    alignments = C.align(pf, pq)
    out_shift = max(0, C.output_shift(pf, pq))
    latency = max([0, out_shift] + [a.shift for a in alignments])
    return _Setup(pf, pq, alignments, latency, out_shift, C.readout_is_spiking(pf),
                  C.readout_is_spiking(pq), layer_modules(dep, float_graph, model),
                  layer_scales(float_graph, {a.node: a.shape for a in alignments}))


def audit(model, dep, data, labels, timesteps=32, tolerance=1.0, snn=None, backend="torch",
          device="cpu", progress=True, batch_size=BATCH) -> AuditResult:
    """Audit ``dep`` (deployed NIR graph or path) against ``model`` (the ANN) on labelled data."""
    data, labels, T, tolerance = _check_inputs(data, labels, timesteps, tolerance)
    dep, dep_source = _load_graph(dep, "deployed")
    float_graph, snn_source = _float_graph(snn, dep, dep_source)
    setup = _setup(dep, dep_source, float_graph, model)
    layers = {a.node: LayerState(a, setup.modules.get(a.node), setup.scales.get(a.node), T)
              for a in setup.alignments}
    tracker = SampleTracker()
    correct = {"ann": 0, "snn": np.zeros(T), "dep": np.zeros(T)}
    chunks = range(0, data.shape[0], int(batch_size))
    for start in _progress(chunks, progress):
        sl = slice(start, start + int(batch_size))
        _audit_chunk(setup, model, data[sl], labels[sl], T, start, backend, device, layers,
                     tracker, correct)
    n = data.shape[0]
    snn_by_t = tuple(float(c) / n for c in correct["snn"])
    dep_by_t = tuple(float(c) / n for c in correct["dep"])
    vendor, vendor_acc = _vendor(dep, data, labels, T)
    meta = dict(dep.metadata or {})
    passed = dep_by_t[-1] >= snn_by_t[-1] - tolerance / 100.0 - 1e-12
    return AuditResult(
        timesteps=T, samples=n, tolerance=tolerance, ann_accuracy=correct["ann"] / n,
        snn_accuracy=snn_by_t[-1], deployed_accuracy=dep_by_t[-1], passed=bool(passed),
        layers=tuple(state.result() for state in layers.values()),
        first_divergence=tracker.divergence(), target=_text(meta.get("target", "")),
        arithmetic=_text(meta.get("arithmetic", "")), backend=backend,
        latency_steps=setup.latency, output_shift_steps=setup.out_shift,
        snn_accuracy_by_steps=snn_by_t,
        deployed_accuracy_by_steps=dep_by_t, vendor=vendor, vendor_accuracy=vendor_acc,
        snn_source=snn_source,
        scatter={name: state.scatter(SCATTER_POINTS) for name, state in layers.items()
                 if state.module is not None and state.activations})


def _text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def _audit_chunk(setup, model, x, y, T, start, backend, device, layers, tracker, correct):
    from ..simulation import prepare_input, run_program

    nodes = [a.node for a in setup.alignments]
    logits, acts = ann_activations(model, x, {n: m for n, m in setup.modules.items() if m})
    correct["ann"] += int((logits.argmax(-1) == y).sum())
    dtype = _float64(backend)
    xf = prepare_input(setup.float_program, x.reshape(x.shape[0], *setup.float_program.input_shape),
                       T)
    rf = run_program(setup.float_program, xf, backend=backend, device=device, dtype=dtype,
                     record=nodes)
    xq = prepare_input(setup.int_program, x.reshape(x.shape[0], *setup.int_program.input_shape),
                       T + setup.latency)
    rq = run_program(setup.int_program, xq, backend=backend, device=device, record=nodes)
    pf = C.predictions_by_steps(_np(rf.output), setup.float_spiking, 0, T)
    pq = C.predictions_by_steps(_np(rq.output), setup.int_spiking, setup.out_shift, T)
    correct["snn"] += (pf == y[None]).sum(axis=1)
    correct["dep"] += (pq == y[None]).sum(axis=1)
    both = np.zeros(x.shape[0])
    either = np.zeros(x.shape[0])
    aligned_f, aligned_q = {}, {}
    for a in setup.alignments:
        f = _np(rf.recorded[a.node])
        q = C.aligned_window(_np(rq.recorded[a.node]), a.shift, T)
        b_s, e_s = layers[a.node].add(f, q, acts.get(a.node))
        both += b_s
        either += e_s
        aligned_f[a.node], aligned_q[a.node] = f, q
    tracker.add(start, both, either, nodes, aligned_f, aligned_q)


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
    from rich.progress import track
    return track(chunks, description="auditing", transient=True, console=None)


def _vendor(dep, data, labels, T):
    """The vendor simulator's accuracy where one is installed, else why not."""
    target = _text((dep.metadata or {}).get("target", ""))
    try:
        from ..vendors.registry import vendor_simulator
    except ImportError:
        return "skipped: no vendor simulator support in this installation", None
    fn, reason = vendor_simulator(target)
    if fn is None:
        return f"skipped: {reason}", None
    try:
        out = _np(fn(dep, data, T))
    except NirconvError as e:
        return f"skipped: {e.one_line()}", None
    except Exception as e:  # the vendor's package failed: report it, keep our audit
        return f"skipped: the vendor simulator failed ({type(e).__name__}: {e})", None
    pred = out.reshape(out.shape[0], out.shape[1], -1).sum(axis=0).argmax(-1)
    return None, float((pred == labels).mean())
