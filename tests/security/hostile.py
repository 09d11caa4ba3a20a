"""Shared by the tests of this folder (loaded with importlib, not a conftest): a small graph, its
deployed version, a matching torch model, and the assertions every hostile-input case makes."""
from __future__ import annotations

import nir
import numpy as np

import nirconv
from nirconv.cli import main

N_IN, N_OUT = 3, 4


def small_graph(threshold=None, leaky=False, dt=1e-3) -> nir.NIRGraph:
    """input (3) -> Affine (4x3) -> IF or LIF (4) -> output (4), nirconv dialect."""
    threshold = np.full(N_OUT, 0.5) if threshold is None else np.asarray(threshold, float)
    rng = np.random.default_rng(0)
    neuron = (nir.LIF(tau=np.full(N_OUT, 5e-3), r=np.ones(N_OUT), v_leak=np.zeros(N_OUT),
                      v_threshold=threshold, metadata={"reset": "subtract"}) if leaky else
              nir.IF(r=np.ones(N_OUT), v_threshold=threshold, metadata={"reset": "subtract"}))
    nodes = {"input": nir.Input(input_type=np.array([N_IN])),
             "fc": nir.Affine(weight=rng.normal(1, 1, (N_OUT, N_IN)), bias=np.zeros(N_OUT)),
             "lif": neuron, "output": nir.Output(output_type=np.array([N_OUT]))}
    return nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")],
                        metadata={"nirconv_version": nirconv.__version__, "dt": dt})


def static_input(batch=2) -> np.ndarray:
    return np.random.default_rng(1).random((batch, N_IN)).astype(np.float32)


def deployed(target="generic") -> nir.NIRGraph:
    """The small graph quantized for ``target`` (integer mode; keeps its float record)."""
    return nirconv.export(small_graph(), target=target, calibration=static_input(16))


def model():
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(N_IN, N_OUT)).eval()


def assert_api_error(excinfo, field: str) -> None:
    """A NirconvError subclass with exit code 2, one line, naming ``field``."""
    err = excinfo.value
    assert isinstance(err, (nirconv.BadInput, nirconv.Unsupported)), type(err)
    assert err.exit_code == 2
    assert "\n" not in str(err), str(err)
    assert err.field == field, str(err)


def cli_error(capsys, args, *words, output=None) -> str:
    """Run ``nirconv args`` in-process: exit 2, exactly one stderr line without a traceback that
    contains ``words``, and ``output`` (when given) not created or left unchanged."""
    before = output.read_bytes() if output is not None and output.exists() else None
    capsys.readouterr()
    assert main([str(a) for a in args]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("nirconv: error: "), lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    if output is not None:
        if before is None:
            assert not output.exists()
        else:
            assert output.read_bytes() == before
    return lines[0]
