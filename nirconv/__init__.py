"""nirconv: trained ANN -> spiking network -> quantized NIR graph for a neuromorphic chip, with
fit checks and a fidelity audit. The facade below is the Python API of ../shared/contract.md;
each function imports its implementation lazily so that ``import nirconv`` stays cheap.
"""
from __future__ import annotations

from ._version import __version__
from .errors import BadInput, CheckFailed, DoesNotFit, InternalError, NirconvError, Unsupported
from .nir_io import load, save


def convert(model, calibration, normalize=None, percentile=99.9, scale=None, channel_wise=None,
            readout=None, **options):
    """Convert a trained ``nn.Module`` (eval mode) into a float SNN (an ``nn.Module``)."""
    from .conversion import convert as _convert
    return _convert(model, calibration, normalize=normalize, percentile=percentile, scale=scale,
                    channel_wise=channel_wise, readout=readout, **options)


def to_nir(snn, **options):
    """The float SNN as a ``nir.NIRGraph`` with nirconv's metadata."""
    from .conversion import to_nir as _to_nir
    return _to_nir(snn, **options)


def export(model_or_snn_or_graph, target="speck", calibration=None, force=False, **options):
    """Quantize, map and check for ``target``; the deployable ``nir.NIRGraph`` (raises DoesNotFit)."""
    from .quantization import export as _export
    return _export(model_or_snn_or_graph, target=target, calibration=calibration, force=force,
                   **options)


def check(graph, target="xylo", **options):
    """Does ``graph`` fit ``target``? A Report with .fits, .violations, .warnings, .resources."""
    from .quantization import check as _check
    return _check(graph, target=target, **options)


def simulate(graph, x, timesteps=None, backend="event", device="cpu", mode="auto", dtype=None,
             dialect="auto", dt=None, **options):
    """Run a NIR graph (or path) on ``x``; returns the output ``(T, B, n)`` as a torch tensor."""
    from .simulation import simulate as _simulate
    return _simulate(graph, x, timesteps=timesteps, backend=backend, device=device, mode=mode,
                     dtype=dtype, dialect=dialect, dt=dt, **options)


def audit(model, dep, data, labels, timesteps=32, tolerance=1.0, snn=None, **options):
    """Accuracy of ANN, float SNN and deployed SNN, per-layer agreement, first divergence."""
    from .fidelity import audit as _audit
    return _audit(model, dep, data, labels, timesteps=timesteps, tolerance=tolerance, snn=snn,
                  **options)


__all__ = ["convert", "to_nir", "export", "check", "simulate", "audit", "save", "load",
           "NirconvError", "BadInput", "Unsupported", "DoesNotFit", "CheckFailed", "InternalError",
           "__version__"]
