"""Quantization for a target, and the facade's `export` and `check`.

    dep    = export(model_or_snn_or_graph, target="speck", calibration=x)   # raises DoesNotFit
    report = check(graph, target="xylo")                                   # Report

`quantize(graph, target, ...)` runs the passes of `pipeline.py` (flatten -> resolve_float -> decays
-> input_encoding -> scales -> weights -> neurons -> stamp); `to_float_graph(dep)` gives back the
float graph a deployed file was made from. The mapper/checker is ``nirconv.backends.constraints``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import nir
import numpy as np

from ..errors import DoesNotFit, NirconvError, Unsupported
from .. import targets as _targets
from .graph import flat_graph, fold_scales
from .pipeline import QuantEnv, quantize as _quantize, to_float_graph

__all__ = ["check", "export", "export_with_report", "quantize", "to_float_graph", "QuantEnv"]


def _input_range(calibration) -> tuple[Optional[float], Optional[float], bool]:
    """(max |x|, min x, whether the data are integer event counts) of the calibration inputs."""
    if calibration is None:
        return None, None, False
    if hasattr(calibration, "detach"):
        x = calibration.detach().cpu().numpy()
    elif isinstance(calibration, np.ndarray):
        x = calibration
    else:
        from ..conversion import calibration_tensor
        x = calibration_tensor(calibration).numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0 or not np.all(np.isfinite(x)):
        from ..errors import BadInput
        raise BadInput("calibration data is empty or not finite", field="calibration")
    events = bool(np.all(x >= 0) and np.all(np.equal(np.mod(x, 1), 0)))
    return float(np.max(np.abs(x))), float(np.min(x)), events


def _as_graph(obj, calibration, target, source, convert_options) -> tuple[nir.NIRGraph, str]:
    if isinstance(obj, nir.NIRGraph):
        return obj, source
    if isinstance(obj, (str, Path)):
        from ..nir_io import load
        return load(obj), str(obj)
    import torch

    if isinstance(obj, (torch.nn.Module, torch.export.ExportedProgram)):
        from ..conversion import SpikingNetwork, convert, to_nir
        if not isinstance(obj, SpikingNetwork):
            if calibration is None:
                from ..errors import BadInput
                raise BadInput("exporting a model needs calibration data", field="calibration")
            options = dict(convert_options)
            if options.get("readout") is None and not target["neurons.membrane_readout"]:
                options["readout"] = "spikes"  # spike-only chips read spike counts
            obj = convert(obj, calibration, **options)
        return to_nir(obj), source
    raise Unsupported(f"cannot export a {type(obj).__name__}: give a torch model, a converted SNN, "
                      "a nir.NIRGraph or a .nir path", field="model")


def quantize(graph: nir.NIRGraph, target, calibration=None, *, dialect="auto", dt=None,
             source="<memory>") -> nir.NIRGraph:
    """The deployable integer graph of ``graph`` for ``target`` (no fit check)."""
    t = _targets.load(target)
    if (graph.metadata or {}).get("arithmetic"):
        graph = _float_graph(graph, source)
    top, low, events = _input_range(calibration)
    env = QuantEnv(target=t, dt=dt, dialect=dialect, input_max=top, input_min=low,
                   input_events=events, source=source)
    return _quantize(graph, env)


def _float_graph(dep, source):
    try:
        return to_float_graph(dep)
    except NirconvError as e:
        raise e.with_file(source) from None


def _check(graph, t, calibration, dialect, dt, source):
    """(report, deployed graph or None)."""
    from ..backends.constraints import BLOCKING, Violation, Warning_, check_float_graph

    if (graph.metadata or {}).get("arithmetic"):
        graph = _float_graph(graph, source)
    graph = fold_scales(flat_graph(graph, source), source)
    report = check_float_graph(graph, t, dialect=dialect, dt=dt, source=source)
    if any(v.rule in BLOCKING for v in report.violations):
        return report, None
    try:
        dep = quantize(graph, t, calibration, dialect=dialect, dt=dt, source=source)
    except (Unsupported, NirconvError) as e:
        if not isinstance(e, Unsupported):
            raise
        return report.with_extra([Violation(e.node or "(network)", "quantization",
                                            e.field or "", "", e.message)]), None
    warnings = [Warning_.parse(w) for w in dep.metadata.get("warnings", [])]
    return report.with_extra(warnings=warnings), dep


def check(graph, target="xylo", calibration=None, dialect="auto", dt=None, **options):
    """A Report: does ``graph`` (a float or quantized NIR graph, or a .nir path) fit ``target``?"""
    source = "<memory>"
    if isinstance(graph, (str, Path)):
        from ..nir_io import load
        source = str(graph)
        graph = load(graph, dialect=dialect)
    report, _ = _check(graph, _targets.load(target), calibration, dialect, dt, source)
    return report


def export_with_report(model_or_snn_or_graph, target="speck", calibration=None, force=False,
                       dialect="auto", dt=None, source="<memory>", **convert_options):
    """(deployed graph, report). Raises DoesNotFit (with ``.report``) unless ``force``."""
    t = _targets.load(target)
    graph, source = _as_graph(model_or_snn_or_graph, calibration, t, source, convert_options)
    report, dep = _check(graph, t, calibration, dialect, dt, source)
    if dep is None:
        raise DoesNotFit(report.summary() + ("" if not force else " (cannot quantize for this "
                                             "target, so --force writes nothing)"),
                         report=report, file=None if source == "<memory>" else source)
    dep.metadata["fits"] = bool(report.fits)
    if not report.fits and not force:
        raise DoesNotFit(report.summary(), report=report,
                         file=None if source == "<memory>" else source)
    return dep, report


def export(model_or_snn_or_graph, target="speck", calibration=None, force=False, **options):
    """The deployable quantized ``nir.NIRGraph`` for ``target`` (raises DoesNotFit unless force)."""
    dep, _ = export_with_report(model_or_snn_or_graph, target=target, calibration=calibration,
                                force=force, **options)
    return dep
