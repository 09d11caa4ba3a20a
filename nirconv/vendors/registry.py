"""The vendors' own simulators, per target, for the audit's vendor column.

    fn, reason = vendor_simulator("xylo")
    if fn is None: print(f"skipped: {reason}")
    else: out = fn(deployed_graph_or_program, x, timesteps)   # (T, B, n_out) numpy

``x`` is what the audit gives our simulators: static ``(B, *shape)`` (encoded as the deployed graph's
metadata says, exactly as for our integer mode) or ``(T, B, *shape)``. The vendor packages are
optional; a missing one gives ``(None, reason)``, never an ImportError.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from ..equations.encoding import encode_static
from ..equations.program import Program
from ..errors import BadInput, Unsupported

VendorFn = Callable[..., np.ndarray]


def _program(graph_or_program) -> Program:
    if isinstance(graph_or_program, Program):
        return graph_or_program
    from ..lowering import lower

    graph, source = graph_or_program, "<memory>"
    if isinstance(graph, (str, bytes)) or hasattr(graph, "__fspath__"):
        from ..nir_io import load

        source = str(graph)
        graph = load(graph)
    return lower(graph, mode="int", source=source)


def _events(program: Program, x, timesteps: Optional[int]) -> np.ndarray:
    x = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)
    shape = tuple(program.input_shape)
    if x.ndim == len(shape) + 1 and x.shape[1:] == shape:
        if timesteps is None:
            raise BadInput("a static input needs timesteps", field="timesteps")
        x = encode_static(x, int(timesteps), program.metadata, True)
    if x.ndim != len(shape) + 2 or x.shape[2:] != shape:
        raise BadInput(f"input of shape {x.shape} does not match the graph's input {shape}",
                       field="input")
    if not np.all(np.equal(np.mod(x, 1), 0)) or (x.size and x.min() < 0):
        raise Unsupported("the vendor simulator takes non-negative event counts; this graph's "
                          "inputs are not (see metadata input_encoding)", field="input_encoding")
    return x.astype(np.int64)


def run_xylosim(graph_or_program, x, timesteps: Optional[int] = None) -> np.ndarray:
    """xylosim (SynSense's bit-exact Xylo simulator) on a quantized xylo graph: (T, B, n_out)."""
    from .xylo import XyloSimLayer, spec_from_program

    program = _program(graph_or_program)
    spec = spec_from_program(program)
    return XyloSimLayer(spec).run(_events(program, x, timesteps))


SINABS_PYTHON_ENV = "NIRCONV_SINABS_PYTHON"  # a Python with sinabs (its own venv: nir <= 1.0.4)


def sinabs_python() -> Optional[str]:
    """The interpreter that runs Sinabs: ``$NIRCONV_SINABS_PYTHON`` if set and executable."""
    import os

    path = os.environ.get(SINABS_PYTHON_ENV)
    return path if path and os.path.isfile(path) and os.access(path, os.X_OK) else None


def run_sinabs(graph, x, timesteps: Optional[int] = None) -> np.ndarray:
    """Sinabs' IAF simulation of a quantized speck graph (`sinabs_check`: ``from_nir`` on the graph
    written for nir 1.0.4, integer thresholds, min_v_mem = -32768, multi-spike with subtractive
    reset): (T, B, n_out). Runs in this interpreter when sinabs imports here, else in
    ``$NIRCONV_SINABS_PYTHON``."""
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from ..nir_io import save
    from . import sinabs_check

    if isinstance(graph, Program):
        raise Unsupported("Sinabs reads NIR graphs: pass the deployed graph, not a Program",
                          field="graph")
    if isinstance(graph, (str, bytes)) or hasattr(graph, "__fspath__"):
        from ..nir_io import load

        graph = load(graph)
    program = _program(graph)
    events = _events(program, x, timesteps)
    with tempfile.TemporaryDirectory(prefix="nirconv-sinabs-") as tmp:
        tmp = Path(tmp)
        save(graph, tmp / "graph.nir", nir_version="1.0.4")
        np.savez(tmp / "in.npz", x=events)
        python = sys.executable if _missing("sinabs", "") is None else sinabs_python()
        if python is None:
            raise Unsupported(f"sinabs is not importable and ${SINABS_PYTHON_ENV} is not set",
                              field="vendor")
        done = subprocess.run([python, sinabs_check.__file__, str(tmp / "graph.nir"),
                               str(tmp / "in.npz"), str(tmp / "out.npz")],
                              capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise Unsupported(f"Sinabs failed on this graph: {last}", field="vendor")
        with np.load(tmp / "out.npz", allow_pickle=False) as out:
            return out["y"]


def _missing(module: str, hint: str) -> Optional[str]:
    import importlib

    try:
        importlib.import_module(module)
    except ImportError as exc:
        return f"{module} is not installed ({' '.join(str(exc).split())}); {hint}"
    except Exception as exc:  # a broken install (e.g. a missing optional dependency)
        return f"{module} does not import ({type(exc).__name__}: {' '.join(str(exc).split())})"
    return None


# target -> (importable module, install hint, runner)
VENDORS: dict[str, tuple[str, str, VendorFn]] = {
    "xylo": ("xylosim.v2", "pip install xylosim (the 'vendor' extra)", run_xylosim),
    "speck": ("sinabs", "install sinabs in its own venv (pip install --no-deps sinabs==3.1.3, never "
                        f"samna) and set ${SINABS_PYTHON_ENV} to its python", run_sinabs),
}
NO_VENDOR = {
    "loihi2": "Lava (Intel's bit-accurate Loihi 2 models) needs Python < 3.11; its golden values "
              "are reproduced in tests/vendors/test_lava_golden.py instead",
    "spinnaker2": "no public bit-exact SpiNNaker2 simulator (py-spinnaker2 is not published)",
    "generic": "generic is nirconv's own target; there is no vendor",
}


def vendor_simulator(target: str) -> tuple[Optional[VendorFn], Optional[str]]:
    """``(fn, None)`` when ``target``'s vendor simulator is installed, else ``(None, reason)``."""
    if target in NO_VENDOR:
        return None, NO_VENDOR[target]
    if target not in VENDORS:
        return None, f"no vendor simulator known for target {target!r}"
    module, hint, fn = VENDORS[target]
    reason = _missing(module, hint)
    if reason and target == "speck" and sinabs_python():
        return fn, None  # Sinabs in its own venv
    return (None, reason) if reason else (fn, None)
