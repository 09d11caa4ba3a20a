"""nirconv: trained ANN -> spiking network -> quantized NIR graph for a neuromorphic chip, with
fit checks and a fidelity audit. The facade below is the Python API of ../shared/contract.md;
each function imports its implementation lazily so that ``import nirconv`` stays cheap.

Every function checks its arguments at this boundary (`nirconv.arguments`) and raises only the
`NirconvError` subclasses the CLI maps to exit codes (docs/memory.md: the API's error guarantee).
"""
from __future__ import annotations

from . import arguments as _args
from ._version import __version__
from .errors import BadInput, CheckFailed, DoesNotFit, InternalError, NirconvError, Unsupported


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
    from .deploy import export as _export
    return _export(model_or_snn_or_graph, target=_target(target),
                   calibration=_calibration(calibration), force=force,
                   **_graph_options(options))


def check(graph, target="xylo", **options):
    """Does ``graph`` fit ``target``? A Report with .fits, .violations, .warnings, .resources."""
    from .deploy import check as _check
    return _check(_args.nir_graph(graph, "graph"), target=_target(target),
                  **_graph_options(options))


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


def save(graph, path, nir_version=None):
    """Write ``graph`` (a ``nir.NIRGraph``) to ``path`` atomically; ``nir_version="1.0.4"`` writes
    what nir 1.0.4 reads."""
    from .nir_io import save as _save
    graph = _args.nir_graph(graph, "graph", allow_path=False)
    path = _args.path(path, "path")
    if nir_version is not None and not isinstance(nir_version, str):
        raise BadInput(f"must be a version string such as '1.0.4', is "
                       f"{_args.describe(nir_version)}", field="nir_version")
    return _save(graph, path, nir_version=nir_version)


def load(path, dialect="auto"):
    """Read a NIR file written by nirconv or a peer (metadata normalized)."""
    from .nir_io import load as _load
    return _load(_args.path(path, "path"), dialect=_dialect(dialect))


def _dialect(dialect):
    from .reading import dialects
    if _args.choice(dialect, ("auto",) + dialects.NAMES, "dialect") != "auto":
        dialects.get(dialect)  # Unsupported when the peer's module is not installed
    return dialect


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


def _graph_options(options: dict) -> dict:
    """``dialect``, ``dt`` and check's ``calibration`` checked; other options passed on."""
    options = dict(options)
    if "calibration" in options:
        options["calibration"] = _calibration(options["calibration"])
    if "dialect" in options:
        options["dialect"] = _dialect(options["dialect"])
    if options.get("dt") is not None:
        options["dt"] = _args.finite_float(options["dt"], "dt", positive=True)
    return options


__all__ = ["convert", "to_nir", "export", "check", "simulate", "audit", "save", "load",
           "NirconvError", "BadInput", "Unsupported", "DoesNotFit", "CheckFailed", "InternalError",
           "__version__"]
