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


def run_sinabs(graph_or_program, x, timesteps: Optional[int] = None) -> np.ndarray:
    """Sinabs' IAF simulation of a quantized speck graph (multi-spike, subtractive reset,
    min_v_mem = -32768): (T, B, n_out). Needs sinabs importable in this interpreter."""
    from .sinabs_check import sinabs_run

    program = _program(graph_or_program)
    return sinabs_run(program, _events(program, x, timesteps))


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
    "speck": ("sinabs", "install sinabs (pip install --no-deps sinabs, never samna)", run_sinabs),
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
    return (None, reason) if reason else (fn, None)
