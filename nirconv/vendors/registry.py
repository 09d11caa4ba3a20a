"""The vendors' own simulators, per target, for the audit's vendor column.

    fn, reason = vendor_simulator("xylo")
    if fn is None: print(f"skipped: {reason}")
    else: out = fn(deployed_graph_or_program, x, timesteps)   # (T, B, n_out) numpy

``x`` is what the audit gives our simulators: static ``(B, *shape)`` (encoded as the deployed graph's
`InputEncoding` says, exactly as for our integer mode: `Program.check_input`) or ``(T, B, *shape)``.
A graph or path is read by `nirconv.reading.to_program`. The vendor packages are
optional; a missing one gives ``(None, reason)``, never an ImportError.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from ..equations.program import Program
from ..errors import Unsupported
from ..reading import to_program

VendorFn = Callable[..., np.ndarray]


def _events(program: Program, x, timesteps: Optional[int]) -> np.ndarray:
    """``x`` as our integer simulators take it (`Program.check_input`), and as a vendor simulator
    takes it: non-negative event counts."""
    x = program.check_input(x, timesteps)
    if x.size and x.min() < 0:
        raise Unsupported("the vendor simulator takes non-negative event counts; this graph's "
                          "inputs are not (see metadata input_encoding)", field="input_encoding")
    return x


def run_xylosim(graph_or_program, x, timesteps: Optional[int] = None) -> np.ndarray:
    """xylosim (SynSense's bit-exact Xylo simulator) on a quantized xylo graph: (T, B, n_out)."""
    from .xylo import XyloSimLayer, spec_from_program

    program = to_program(graph_or_program, mode="int")
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
    program = to_program(graph, mode="int")
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


LAVA_PYTHON_ENV = "NIRCONV_LAVA_PYTHON"  # a Python < 3.11 with lava-nc


def lava_python() -> Optional[str]:
    """The interpreter that runs Lava: ``$NIRCONV_LAVA_PYTHON`` if set and executable."""
    import os

    path = os.environ.get(LAVA_PYTHON_ENV)
    return path if path and os.path.isfile(path) and os.access(path, os.X_OK) else None


def _lava_layers(program: Program) -> dict:
    """A loihi2 chain (input -> (dense [+ recurrent] -> CUBA)+ -> output) as `lava_check`'s arrays."""
    from ..equations.neurons import LoihiCubaLIF
    from ..equations.program import AffineOp, FlattenOp, InputOp, NeuronOp

    if program.family != "loihi2" or len(program.outputs) != 1:
        raise Unsupported("Lava runs one loihi2 chain", file=program.source,
                          field="metadata.arithmetic")
    chain, current = [], program.op(program.outputs[0]).inputs[0].src
    while not isinstance(program.op(current), InputOp):
        op = program.op(current)
        if isinstance(op, FlattenOp):
            current = op.inputs[0].src
            continue
        if not (isinstance(op, NeuronOp) and isinstance(op.neuron, LoihiCubaLIF)):
            raise Unsupported("Lava's chain is Dense + LIF layers", file=program.source,
                              node=op.name, field="type")
        ff, _, _ = _inputs(program, op)
        if not isinstance(ff, AffineOp) or any(e.delay + program.op(e.src).inputs[0].delay != 1
                                               for e in op.inputs):
            raise Unsupported("Lava's Dense delivers after one step", file=program.source,
                              node=op.name, field="edges")
        chain.append(op)
        current = ff.inputs[0].src
    net: dict = {"layers": len(chain)}
    for i, neuron in enumerate(reversed(chain)):
        layer_name = neuron.name
        rec = neuron.neuron
        if rec.vth is None:
            raise Unsupported("Lava's LIF outputs spikes; a membrane readout has no spike output "
                              "to compare", file=program.source, node=layer_name, field="vth")
        ff, wrec, _ = _inputs(program, neuron)
        if wrec is not None and wrec.shift != ff.shift:
            raise Unsupported("lava_check gives a layer's recurrent Dense the feed-forward "
                              "exponent; these differ", file=program.source, node=wrec.name,
                              field="shift")
        net[f"w{i}"] = np.asarray(ff.weight, np.int64)
        net[f"exp{i}"] = np.asarray(int(ff.shift))
        if wrec is not None:
            net[f"wrec{i}"] = np.asarray(wrec.weight, np.int64)
        for key in ("du", "dv", "vth"):
            values = np.unique(np.asarray(getattr(rec, key)))
            if values.size != 1:
                raise Unsupported(f"Lava's LIF takes one {key} per layer", file=program.source,
                                  node=layer_name, field=key)
            net[f"{key}{i}"] = np.asarray(int(values[0]))
        n = int(np.prod(neuron.out_shape))
        net[f"bias_mant{i}"] = np.broadcast_to(np.asarray(rec.bias_mant, np.int64), (n,)).copy()
        net[f"bias_exp{i}"] = np.broadcast_to(np.asarray(rec.bias_exp, np.int64), (n,)).copy()
    return net


def _graded_bits() -> int:
    """The payload width of Loihi 2's graded spikes: the loihi2 target's ``state.bits`` (24,
    lava's uv_bitwidth; what lava's Dense takes as num_message_bits)."""
    from ..targets import load

    return int(load("loihi2")["state.bits"])


def _inputs(program: Program, neuron):
    ff = rec = None
    for e in neuron.inputs:
        op = program.op(e.src)
        if op.inputs[0].src == neuron.name:
            rec = op
        else:
            ff = op
    return ff, rec, None


def run_lava(graph_or_program, x, timesteps: Optional[int] = None) -> np.ndarray:
    """Lava's bit-accurate Dense + LIF (`lava_check`, in ``$NIRCONV_LAVA_PYTHON``) on a quantized
    loihi2 chain: (T, B, n_out) output spikes."""
    import subprocess
    import tempfile
    from pathlib import Path

    from . import lava_check

    python = lava_python()
    if python is None:
        raise Unsupported(f"${LAVA_PYTHON_ENV} is not set", field="vendor")
    program = to_program(graph_or_program, mode="int")
    x = program.check_input(x, timesteps)
    x = x.reshape(x.shape[0], x.shape[1], -1)
    net = _lava_layers(program)
    net["x"] = x
    net["input_message_bits"] = np.asarray(0 if np.isin(x, (0, 1)).all() else _graded_bits())
    with tempfile.TemporaryDirectory(prefix="nirconv-lava-") as tmp:
        tmp = Path(tmp)
        np.savez(tmp / "net.npz", **net)
        done = subprocess.run([python, lava_check.__file__, str(tmp / "net.npz"),
                               str(tmp / "out.npz")], capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise Unsupported(f"Lava failed on this graph: {last}", field="vendor")
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
    "spinnaker2": "no public bit-exact SpiNNaker2 simulator (py-spinnaker2 is not published)",
    "generic": "generic is nirconv's own target; there is no vendor",
}


def vendor_simulator(target: str) -> tuple[Optional[VendorFn], Optional[str]]:
    """``(fn, None)`` when ``target``'s vendor simulator is installed, else ``(None, reason)``."""
    if target in NO_VENDOR:
        return None, NO_VENDOR[target]
    if target == "loihi2":  # Lava needs Python < 3.11: always in its own venv
        if lava_python():
            return run_lava, None
        return None, (f"Lava (Intel's bit-accurate Loihi 2 models) needs Python < 3.11: set "
                      f"${LAVA_PYTHON_ENV} to a Python with lava-nc (e.g. a 3.10 venv with "
                      "pip install lava-nc==0.10.0)")
    if target not in VENDORS:
        return None, f"no vendor simulator known for target {target!r}"
    module, hint, fn = VENDORS[target]
    reason = _missing(module, hint)
    if reason and target == "speck" and sinabs_python():
        return fn, None  # Sinabs in its own venv
    return (None, reason) if reason else (fn, None)
