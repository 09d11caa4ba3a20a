"""Check and export: NIR at the edges, a `Program` in the middle (docs/equations/targets.md).

    report = check(graph, target="xylo", calibration=None, dialect="auto", dt=None)
    dep    = export(model_or_snn_or_graph, target="speck", calibration=x, force=False)
    int_program, float_program, report = export_program(model_or_snn_or_graph, target="speck")

The input is read once (`nirconv.reading.lower`; a deployed graph is read as the float program
it was quantized from, its float record); Scale ops after weight ops are folded
(`nirconv.quantization.fold_scales`); the fit is checked on that float program
(`nirconv.backends.constraints`); unless a violation makes it impossible, the program is quantized
(`nirconv.quantization.quantize`), which adds the target's warnings to the report; `export` then
writes the deployed graph once (`nirconv.writing.to_nir`). `export` raises `DoesNotFit` (with
``.report``) unless ``force``; the deployed graph records whether it ``fits``.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import nir
import numpy as np

from . import targets as _targets
from .backends.constraints import BLOCKING, Report, Violation, Warning_, check_program
from .equations.program import Program
from .errors import BadInput, DoesNotFit, Unsupported
from .quantization import InputRange, fold_scales, quantize
from .reading import lower
from .writing import to_nir

__all__ = ["check", "export", "export_program", "export_with_report", "input_range",
           "quantize_graph"]


def input_range(calibration) -> InputRange:
    """What calibration inputs (a tensor, an array or a DataLoader; None: none) say about the
    input range: largest |x|, smallest x, and whether they are integer event counts."""
    if calibration is None:
        return InputRange()
    if hasattr(calibration, "detach"):
        x = calibration.detach().cpu().numpy()
    elif isinstance(calibration, np.ndarray):
        x = calibration
    else:
        from .conversion import calibration_tensor
        x = calibration_tensor(calibration).numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise BadInput("calibration data is empty or not finite", field="calibration")
    events = bool(np.all(x >= 0) and np.all(np.equal(np.mod(x, 1), 0)))
    return InputRange(max_abs=float(np.max(np.abs(x))), min=float(np.min(x)), events=events)


def _graph(obj, target, calibration, source, convert_options, dialect=None) -> tuple:
    """(NIR graph, where it came from) of a graph, a .nir path, a converted SNN or a model."""
    if isinstance(obj, nir.NIRGraph):
        return obj, source
    if isinstance(obj, (str, Path)):
        from .nir_io import load
        return (load(obj) if dialect is None else load(obj, dialect=dialect)), str(obj)
    import torch

    if isinstance(obj, (torch.nn.Module, torch.export.ExportedProgram)):
        from .conversion import SpikingNetwork, convert, to_nir as snn_to_nir
        if not isinstance(obj, SpikingNetwork):
            if calibration is None:
                raise BadInput("exporting a model needs calibration data", field="calibration")
            options = dict(convert_options)
            if options.get("readout") is None and not target["neurons.membrane_readout"]:
                options["readout"] = "spikes"  # spike-only chips read spike counts
            obj = convert(obj, calibration, **options)
        return snn_to_nir(obj), source
    raise Unsupported(f"cannot export a {type(obj).__name__}: give a torch model, a converted SNN, "
                      "a nir.NIRGraph or a .nir path", field="model")


def read(obj, target, *, calibration=None, dialect="auto", dt=None, source="<memory>",
         load_dialect=None, **convert_options) -> Program:
    """The float program of ``obj`` (a graph, a .nir path, a converted SNN or a model), read once;
    a deployed graph is read as its float view. Scale ops are folded by `fit` / `quantize`."""
    graph, source = _graph(obj, target, calibration, source, convert_options, load_dialect)
    return lower(graph, mode="float", dialect=dialect, dt=dt, source=source)


def fit(program: Program, target, calibration=None) -> tuple:
    """(report, integer program or None, the float program it was made from) for ``target``.
    Quantization is skipped when a violation makes it impossible; a network the quantizer
    cannot take for this target is a ``quantization`` violation."""
    folded = fold_scales(program)
    report = check_program(folded, target)
    if any(v.rule in BLOCKING for v in report.violations):
        return report, None, folded
    try:
        int_program = quantize(folded, target, input_range(calibration))
    except Unsupported as e:
        return report.with_extra([Violation(e.node or "(network)", "quantization", e.field or "",
                                            "", e.message)]), None, folded
    warnings = [Warning_.of(w) for w in int_program.deployment.warnings]
    return report.with_extra(warnings=warnings), int_program, folded


def check(graph, target="xylo", calibration=None, dialect="auto", dt=None, **options) -> Report:
    """A Report: does ``graph`` (a float or deployed NIR graph, or a .nir path) fit ``target``?"""
    t = _targets.load(target)
    program = read(graph, t, dialect=dialect, dt=dt, load_dialect=dialect)
    report, _, _ = fit(program, t, calibration)
    return report


def export_program(model_or_snn_or_graph, target="speck", calibration=None, force=False,
                   dialect="auto", dt=None, source="<memory>", **convert_options) -> tuple:
    """(integer program, the float program it was quantized from, report) for in-process users.
    Raises DoesNotFit (with ``.report``) unless ``force``; a forced export that cannot be
    quantized still raises."""
    t = _targets.load(target)
    program = read(model_or_snn_or_graph, t, calibration=calibration, dialect=dialect, dt=dt,
                   source=source, **convert_options)
    report, int_program, float_program = fit(program, t, calibration)
    where = None if program.source == "<memory>" else program.source
    if int_program is None:
        raise DoesNotFit(report.summary() + ("" if not force else " (cannot quantize for this "
                                             "target, so --force writes nothing)"),
                         report=report, file=where)
    int_program = dataclasses.replace(int_program, deployment=dataclasses.replace(
        int_program.deployment, fits=bool(report.fits)))
    if not report.fits and not force:
        raise DoesNotFit(report.summary(), report=report, file=where)
    return int_program, float_program, report


def export_with_report(model_or_snn_or_graph, target="speck", calibration=None, force=False,
                       dialect="auto", dt=None, source="<memory>", **convert_options) -> tuple:
    """(deployed ``nir.NIRGraph``, report). Raises DoesNotFit (with ``.report``) unless
    ``force``."""
    int_program, float_program, report = export_program(
        model_or_snn_or_graph, target=target, calibration=calibration, force=force,
        dialect=dialect, dt=dt, source=source, **convert_options)
    return to_nir(int_program, float_program), report


def export(model_or_snn_or_graph, target="speck", calibration=None, force=False, **options):
    """The deployable quantized ``nir.NIRGraph`` for ``target`` (raises DoesNotFit unless force)."""
    dep, _ = export_with_report(model_or_snn_or_graph, target=target, calibration=calibration,
                                force=force, **options)
    return dep


def quantize_graph(graph, target, calibration=None, *, dialect="auto", dt=None,
                   source="<memory>") -> nir.NIRGraph:
    """The deployed graph of ``graph`` (a float or deployed NIR graph, or a .nir path) for
    ``target``, without a fit check: read, quantize, write."""
    t = _targets.load(target)
    program = fold_scales(read(graph, t, dialect=dialect, dt=dt, source=source))
    return to_nir(quantize(program, t, input_range(calibration)), program)

