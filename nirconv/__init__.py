"""nirconv: trained ANN -> spiking network -> quantized NIR graph for a neuromorphic chip, with
fit checks and a fidelity audit.

    snn   = nirconv.convert(model, calibration)          # ANN -> float SNN (an nn.Module)
    graph = nirconv.to_nir(snn)                          # the float SNN as a nir.NIRGraph
    dep   = nirconv.export(graph, target="speck")        # quantized, mapped, checked
    rep   = nirconv.check(graph, target="xylo")          # does it fit? every violation
    out   = nirconv.simulate(dep, x, timesteps=32)       # bit-accurate integer simulation
    res   = nirconv.audit(model, dep, x, y)              # ANN vs float SNN vs deployed
    nirconv.save(dep, "dep.nir"); nirconv.load("dep.nir")

This module is the Python API (layer 7 of docs/architecture.md; README: "What it does, in five
lines of Python"). ``help(nirconv.<function>)`` is its reference: every parameter with its type,
default, meaning and unit, the return value and the errors raised. Each function imports its
implementation lazily so that ``import nirconv`` stays cheap.

Every function checks its arguments at this boundary (`nirconv.arguments`) and raises only the
`NirconvError` subclasses the CLI maps to exit codes (docs/memory.md: the API's error guarantee):
`BadInput` and `Unsupported` (CLI exit 2), `DoesNotFit` and `CheckFailed` (CLI exit 1).
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Sequence

from . import arguments as _args
from ._version import __version__
from .errors import BadInput, CheckFailed, DoesNotFit, InternalError, NirconvError, Unsupported

if TYPE_CHECKING:  # for the annotations only: importing these is what the lazy imports avoid
    from pathlib import Path

    import nir
    import torch

    from .backends.constraints import Report
    from .conversion import SpikingNetwork
    from .equations.result import SimResult
    from .fidelity import AuditResult
    from .targets import Target


def convert(model: torch.nn.Module | torch.export.ExportedProgram, calibration: Any,
            normalize: str | None = None, percentile: float = 99.9,
            scale: float | None = None, channel_wise: bool | None = None,
            readout: str | None = None, timesteps: int | Sequence[int] | None = None, *,
            v_init: float = 0.5, source: str | None = None) -> SpikingNetwork:
    """Convert a trained ANN into a float spiking network (docs/equations/conversion.md).

    The model is captured with ``torch.export`` (a copy: ``model`` is not changed), batch norm is
    folded, ReLU becomes integrate-and-fire neurons with reset by subtraction, average pooling
    becomes sum pooling; each layer's threshold comes from its activations on ``calibration``.

    Args:
        model (torch.nn.Module | torch.export.ExportedProgram): the trained ANN, in eval mode.
        calibration (torch.Tensor | numpy.ndarray | DataLoader): inputs ``(B, *input shape)`` in
            the model's input units, numeric and finite; or an iterable of batches (of a tensor,
            an ``(x, y)`` tuple or a dict with key ``input``, ``inputs``, ``image``, ``images``
            or ``x``), concatenated.
        normalize (str | None, default None): how thresholds are set: ``"max"`` (the largest
            activation), ``"percentile"`` (the ``percentile``-th percentile), ``"scale"`` (``scale``
            times the largest activation) or ``"calibrated"`` (bias correction and a per-channel
            threshold and initial-membrane search at ``timesteps``). None: ``"scale"`` when
            ``scale`` is given, else ``"calibrated"``, the most accurate.
        percentile (float, default 99.9): the percentile p, in (0, 100], of the activations that
            ``"percentile"`` and ``"calibrated"`` start from.
        scale (float | None, default None): the factor (> 0, unitless) of ``"scale"``: threshold
            = ``scale`` x the largest activation; giving it selects ``"scale"`` when
            ``normalize`` is None.
        channel_wise (bool | None, default None): one threshold per channel (True) or per layer
            (False). None: True.
        readout (str | None, default None): how the network ends: ``"membrane"`` (a non-leaky
            integrator, NIR ``I``) or ``"spikes"`` (IF neurons, for chips that count output
            spikes). None: ``"membrane"``.
        timesteps (int | Sequence[int] | None, default None): the number of steps T (or several)
            that ``"calibrated"`` tunes for; with one T it also picks, without labels, between
            candidates calibrated for T, for (4, 8, 16, 32) and plain percentile. Recorded in
            the metadata (``timesteps``: the largest). None: (4, 8, 16, 32).
        v_init (float, default 0.5): the initial membrane potential as a fraction of the
            threshold (unitless), for every method but ``"calibrated"``, which searches it.
        source (str | None, default None): the model's name recorded as provenance
            (``source_model`` metadata). None: the model's class name.

    Returns:
        SpikingNetwork: a float SNN (``torch.nn.Module``); ``snn(x, timesteps=T)`` returns the
        per-step output ``(T, B, classes)`` of the readout (``out.sum(0).argmax(-1)`` is the
        prediction); ``snn.metadata`` holds what ``to_nir`` writes.

    Raises:
        BadInput: ``model`` is not a module or torch.export program, or does not run on the
            calibration inputs; ``calibration`` is empty, not numeric, not finite or not shaped
            like the model's input; an option is out of range; the calibration would need more
            memory than is available.
        Unsupported: the model holds a layer or operation nirconv does not convert (e.g. max
            pooling), named by its module path.
    """
    from .conversion import convert as _convert
    return _convert(model, calibration, normalize=normalize, percentile=percentile, scale=scale,
                    channel_wise=channel_wise, readout=readout, timesteps=timesteps,
                    v_init=v_init, source=source)


def to_nir(snn: SpikingNetwork, *, metadata: dict | None = None) -> nir.NIRGraph:
    """The float SNN made by `convert` as a NIR graph, with nirconv's metadata (README: "Metadata
    nirconv writes": ``reset`` on every spiking node, ``dt``, ``timesteps``, provenance, ...).

    Args:
        snn (SpikingNetwork): a network returned by `convert`.
        metadata (dict | None, default None): extra graph-level metadata entries (str keys; values
            that NIR files store: numbers, strings, arrays, lists); they replace the network's
            own entries of the same name. None: none.

    Returns:
        nir.NIRGraph: the graph, ready for `save`, `export`, `check` and `simulate`.

    Raises:
        BadInput: ``snn`` was not made by `convert`; ``metadata`` is not a dict with str keys.
    """
    from .conversion import SpikingNetwork, to_nir as _to_nir
    extra = _metadata(metadata)
    if extra and isinstance(snn, SpikingNetwork):  # a shallow copy: ``snn`` is not changed
        snn = copy.copy(snn)
        snn.metadata = {**snn.metadata, **extra}
    return _to_nir(snn)


def export(model_or_snn_or_graph: Any, target: str | Path | Target = "speck",
           calibration: Any = None, force: bool = False, *, normalize: str | None = None,
           percentile: float = 99.9, scale: float | None = None,
           channel_wise: bool | None = None, readout: str | None = None,
           timesteps: int | Sequence[int] | None = None, v_init: float = 0.5,
           dialect: str = "auto", dt: float | None = None,
           source: str = "<memory>") -> nir.NIRGraph:
    """Quantize a network for ``target``, map it onto the chip and check that it fits.

    A torch model is first converted (`convert`, with the conversion options below; for a chip
    that reads only output spikes the readout defaults to ``"spikes"``), then written as NIR.

    Args:
        model_or_snn_or_graph (torch.nn.Module | SpikingNetwork | nir.NIRGraph | str | Path):
            a trained ANN (eval mode; needs ``calibration``), a float SNN from `convert`, a float
            NIR graph (ours or a peer's), a deployed graph (re-quantized from its float record),
            or the path of a .nir file.
        target (str | Path | Target, default "speck"): a built-in target name (``nirconv
            targets`` lists them) or the path of a target file (TOML, docs/equations/
            targets.md).
        calibration (torch.Tensor | numpy.ndarray | DataLoader | None, default None): inputs
            ``(B, *input shape)`` (as for `convert`); required for a torch model. Their range
            sets the integer input scale (``input_scale`` metadata); integer data >= 0 are taken
            as spike events. None: inputs are spike events or integer currents (input_scale 1,
            with a warning in the metadata).
        force (bool, default False): return the deployed graph even when it does not fit
            (its metadata ``fits`` is then false) instead of raising `DoesNotFit`.
        normalize (str | None, default None): as for `convert` (a torch model only).
        percentile (float, default 99.9): as for `convert` (a torch model only).
        scale (float | None, default None): as for `convert` (a torch model only).
        channel_wise (bool | None, default None): as for `convert` (a torch model only).
        readout (str | None, default None): as for `convert` (a torch model only). None:
            ``"membrane"``, or ``"spikes"`` when the target reads only spikes.
        timesteps (int | Sequence[int] | None, default None): as for `convert` (a torch model
            only).
        v_init (float, default 0.5): as for `convert` (a torch model only).
        dialect (str, default "auto"): how to read a graph's neurons: ``"auto"``, ``"nirconv"``,
            ``"norse"``, ``"snntorch"``, ``"sinabs"`` or ``"rockpool"`` (docs/equations/
            dialects.md).
        dt (float | None, default None): the time step in seconds (> 0) for a graph that does not
            record one (leaky neurons need it). None: the graph's own.
        source (str, default "<memory>"): the name error messages give an in-memory input (a
            path names itself).

    Returns:
        nir.NIRGraph: the deployed integer graph; its metadata records the target, the scales,
        the input encoding, ``fits`` and every warning (README: "Metadata nirconv writes").

    Raises:
        DoesNotFit: the network does not fit the target (unless ``force``); ``.report`` lists
            every violation. Also with ``force`` when it cannot be quantized for the target.
        BadInput: a bad argument, file or graph (named: file, node, field); a torch model
            without ``calibration``.
        Unsupported: a layer, neuron model or option the target or nirconv does not handle.
    """
    from .deploy import export as _export
    return _export(model_or_snn_or_graph, target=_target(target),
                   calibration=_calibration(calibration), force=force, normalize=normalize,
                   percentile=percentile, scale=scale, channel_wise=channel_wise,
                   readout=readout, timesteps=timesteps, v_init=v_init,
                   dialect=_dialect(dialect), dt=_dt(dt), source=source)


def check(graph: nir.NIRGraph | str | Path, target: str | Path | Target = "xylo",
          calibration: Any = None, dialect: str = "auto",
          dt: float | None = None) -> Report:
    """Does ``graph`` fit ``target``? Every violation is listed, not just the first.

    A float graph is quantized in memory first; a deployed graph is checked from its float record.

    Args:
        graph (nir.NIRGraph | str | Path): a float or deployed NIR graph, or the path of a .nir
            file.
        target (str | Path | Target, default "xylo"): a built-in target name or the path of a
            target file (TOML), as for `export`.
        calibration (torch.Tensor | numpy.ndarray | DataLoader | None, default None): inputs
            ``(B, *input shape)`` that set the integer input scale, as for `export`. None: as
            for `export`.
        dialect (str, default "auto"): how to read the graph's neurons, as for `export`.
        dt (float | None, default None): the time step in seconds (> 0) for a graph that does not
            record one. None: the graph's own.

    Returns:
        Report: ``.fits`` (bool), ``.violations`` (node, rule, value, limit), ``.warnings``
        (changes the target forces that are not violations) and ``.resources`` (cores,
        neurons, synapses used and available); ``.to_json()`` is the CLI's JSON.

    Raises:
        BadInput: a bad argument, file or graph (named: file, node, field).
        Unsupported: a node type, neuron model or field value nirconv does not handle.
    """
    from .deploy import check as _check
    return _check(_args.nir_graph(graph, "graph"), target=_target(target),
                  calibration=_calibration(calibration), dialect=_dialect(dialect), dt=_dt(dt))


def simulate(graph: nir.NIRGraph | str | Path, x: Any, timesteps: int | None = None,
             backend: str = "event", device: str | torch.device = "cpu", mode: str = "auto",
             dtype: Any = None, dialect: str = "auto", dt: float | None = None, *,
             reset: str = "auto", record: Sequence[str] = (), full: bool = False,
             progress: bool = False) -> torch.Tensor | SimResult:
    """Run a NIR graph (ours or a peer's, float or deployed) on ``x``, step by step.

    Args:
        graph (nir.NIRGraph | str | Path): the graph, or the path of a .nir file.
        x (torch.Tensor | numpy.ndarray): the input: static ``(B, *input shape)``, presented on
            every step (``timesteps`` required; in integer mode encoded as the graph's metadata
            says: an integer current or a rate code), or per step ``(T, B, *input shape)``
            (integer mode: integers, spike counts or currents in the graph's input units).
        timesteps (int | None, default None): the number of steps T (>= 1). Required for a
            static input; for a per-step input it must equal T when given.
        backend (str, default "event"): ``"event"`` (event-driven CPU reference) or ``"torch"``
            (batched, CPU or CUDA); both are bit-exact in integer mode.
        device (str | torch.device, default "cpu"): ``"cpu"`` or ``"cuda"`` (torch backend only).
        mode (str, default "auto"): ``"float"``, ``"int"`` (the target's integer equations) or
            ``"auto"``: integer for a graph quantized for a target (its metadata says so), float
            otherwise.
        dtype (torch.dtype | numpy.dtype | str | None, default None): float mode's precision,
            float32 or float64. None: float32 outputs. Integer mode returns int64 counts.
        dialect (str, default "auto"): how to read the graph's neurons: ``"auto"``,
            ``"nirconv"``, ``"norse"``, ``"snntorch"``, ``"sinabs"`` or ``"rockpool"``.
        dt (float | None, default None): the time step in seconds (> 0) for a graph that does not
            record one (leaky neurons need it). None: the graph's own.
        reset (str, default "auto"): the reset of every spiking neuron: ``"zero"``,
            ``"subtract"`` or ``"auto"`` (each node's own).
        record (Sequence[str], default ()): names of nodes whose per-step outputs to keep
            (``full=True`` returns them in ``.recorded``).
        full (bool, default False): return the whole `SimResult` instead of the output tensor.
        progress (bool, default False): show a progress bar on stderr.

    Returns:
        torch.Tensor | SimResult: the output ``(T, B, n_outputs)`` (float mode: 0/1 spikes or
        membrane values; integer mode: integer spike counts or membrane); with ``full=True`` a
        `SimResult` with ``.outputs``, ``.recorded``, ``.spikes_per_node``, ``.synops``
        (delivered spikes x fan-out) and ``.seconds``.

    Raises:
        BadInput: a bad argument, file, graph or input (shape, values, steps), a graph with leaky
            neurons and no ``dt``, or a run that needs more memory than is available.
        Unsupported: a node type, neuron model, dialect or device nirconv does not handle (the
            event backend runs on the CPU only).
    """
    from .simulation import simulate as _simulate
    return _simulate(graph, x, timesteps=timesteps, backend=backend, device=device, mode=mode,
                     dtype=dtype, dialect=dialect, dt=dt, reset=reset, record=record, full=full,
                     progress=progress)


def audit(model: torch.nn.Module | torch.export.ExportedProgram,
          dep: nir.NIRGraph | str | Path, data: Any, labels: Any, timesteps: int = 32,
          tolerance: float = 1.0, snn: Any = None, *, backend: str = "torch",
          device: str | torch.device = "cpu", progress: bool = True,
          batch_size: int = 256) -> AuditResult:
    """How far the deployed integer SNN is from the float SNN and from the ANN, on labelled data
    (docs/equations/audit.md).

    Args:
        model (torch.nn.Module | torch.export.ExportedProgram): the ANN the network came from.
        dep (nir.NIRGraph | str | Path): the deployed graph from `export`, or its .nir path.
        data (torch.Tensor | numpy.ndarray): samples ``(B, *input shape)``, numeric and finite,
            presented as a constant input on every step.
        labels (torch.Tensor | numpy.ndarray): class indices ``(B,)``, integers in
            [0, n_outputs).
        timesteps (int, default 32): the number of steps T (>= 1) of the float SNN; the deployed
            graph runs T plus its extra latency.
        tolerance (float, default 1.0): how far, in percentage points, the deployed accuracy may
            fall below the float SNN's and still pass (>= 0).
        snn (SpikingNetwork | nir.NIRGraph | str | Path | None, default None): the float SNN to
            compare with. None: rebuilt from the float record in ``dep``'s metadata.
        backend (str, default "torch"): the simulator for both SNNs, ``"torch"`` or ``"event"``.
        device (str | torch.device, default "cpu"): ``"cpu"`` or ``"cuda"`` (torch backend).
        progress (bool, default True): a progress bar on stderr when it is a terminal.
        batch_size (int, default 256): samples per batch (>= 1); memory grows with it, not with
            the number of samples.

    Returns:
        AuditResult: ``.ann_accuracy``, ``.snn_accuracy``, ``.deployed_accuracy`` (fractions in
        [0, 1]), ``.passed``, per-layer ``.layers`` (spike agreement, rate correlation) and
        ``.first_divergence`` (sample, node, timestep, neuron); ``.to_json()`` is the CLI's JSON.

    Raises:
        BadInput: a bad argument, file, graph, data or labels, graphs that disagree in shape, or
            a batch that needs more memory than is available.
        Unsupported: a node type or neuron model nirconv does not handle.

    An audit below tolerance is not an error here: ``.passed`` is False (the CLI turns it into
    `CheckFailed`, exit 1).
    """
    from .fidelity import audit as _audit
    return _audit(model, dep, data, labels, timesteps=timesteps, tolerance=tolerance, snn=snn,
                  backend=backend, device=device, progress=progress, batch_size=batch_size)


def save(graph: nir.NIRGraph, path: str | Path, nir_version: str | None = None) -> Path:
    """Write ``graph`` to a NIR (HDF5) file atomically: a temporary file in the same folder, then
    a rename, so that no partial file is ever left behind.

    Args:
        graph (nir.NIRGraph): the graph to write.
        path (str | Path): the destination file (its folder must exist).
        nir_version (str | None, default None): ``"1.0.4"`` writes what nir 1.0.4 (pinned by
            Sinabs and Rockpool) reads, keeping newer fields in metadata. None: the installed
            nir's format.

    Returns:
        Path: the path written.

    Raises:
        BadInput: ``graph`` is not a ``nir.NIRGraph``, the destination cannot be written (a
            folder, no such folder, no permission, disk full), or ``nir_version`` is not a
            version string.
        Unsupported: the graph holds something ``nir_version`` cannot store.
    """
    from .nir_io import save as _save
    graph = _args.nir_graph(graph, "graph", allow_path=False)
    path = _args.path(path, "path")
    if nir_version is not None and not isinstance(nir_version, str):
        raise BadInput(f"must be a version string such as '1.0.4', is "
                       f"{_args.describe(nir_version)}", field="nir_version")
    return _save(graph, path, nir_version=nir_version)


def load(path: str | Path, dialect: str = "auto") -> nir.NIRGraph:
    """Read a NIR file written by nirconv or a peer, robustly (files from strangers are hostile:
    links, external storage and oversized arrays are refused); metadata normalized (arrays back
    to lists, bytes back to strings).

    Args:
        path (str | Path): the .nir file.
        dialect (str, default "auto"): the writer's conventions, recorded in the graph's
            ``dialect`` metadata for later reading: ``"auto"`` (guessed when the graph is read),
            ``"nirconv"``, ``"norse"``, ``"snntorch"``, ``"sinabs"`` or ``"rockpool"``.

    Returns:
        nir.NIRGraph: the graph.

    Raises:
        BadInput: no such file, not a NIR file, a corrupt or hostile file (named: file, node,
            field).
        Unsupported: an unknown dialect, or a node type or field the file's nir version has that
            nirconv does not handle.
    """
    from .nir_io import load as _load
    return _load(_args.path(path, "path"), dialect=_dialect(dialect))


def _dialect(dialect):
    from .reading import dialects
    return _args.choice(dialect, ("auto",) + dialects.NAMES, "dialect")


def _dt(dt):
    return None if dt is None else _args.finite_float(dt, "dt", positive=True)


def _target(target):
    """A target name or a path to a target file (its content is checked by nirconv.targets)."""
    from .targets import Target
    if isinstance(target, Target):
        return target
    if isinstance(target, str) or hasattr(target, "__fspath__"):
        return target
    raise BadInput(f"must be a target name or the path of a target file (.toml), is "
                   f"{_args.describe(target)}", field="target")


def _calibration(calibration):
    """None, an array or tensor of inputs (checked: numeric, finite, a non-empty batch (B, ...)),
    or a DataLoader's batches as one float32 tensor (checked the same way)."""
    import numpy as np

    if calibration is None:
        return None
    if hasattr(calibration, "detach") or isinstance(calibration, (list, tuple, np.ndarray)):
        array = _args.numeric_array(calibration, "calibration", min_ndim=2)
        return calibration if hasattr(calibration, "detach") else array
    from .conversion import calibration_tensor
    return calibration_tensor(calibration)


def _metadata(metadata) -> dict:
    """``to_nir``'s extra metadata: None or a dict with str keys."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) for k in metadata):
        raise BadInput(f"must be a dict with str keys, is {_args.describe(metadata)}",
                       field="metadata")
    return dict(metadata)


__all__ = ["convert", "to_nir", "export", "check", "simulate", "audit", "save", "load",
           "NirconvError", "BadInput", "Unsupported", "DoesNotFit", "CheckFailed", "InternalError",
           "__version__"]
