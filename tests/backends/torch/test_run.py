"""The torch backend's interface: inputs, outputs, dtypes, records, errors, batching."""
from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from nirconv.equations.records import InputEncoding
from nirconv.backends.torch import run
from nirconv.backends.torch.kernels import KERNELS
from nirconv.equations import program as P
from nirconv.errors import BadInput, Unsupported

_path = Path(__file__).resolve().parents[2] / "agreement" / "strategies.py"
_spec = importlib.util.spec_from_file_location("torch_tests_strategies", _path)
S = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = S
_spec.loader.exec_module(S)


def test_every_op_type_has_a_kernel():
    ops = [c for _, c in inspect.getmembers(P, inspect.isclass)
           if issubclass(c, P.Op) and c is not P.Op]
    missing = [c.__name__ for c in ops if c not in KERNELS and c is not P.NeuronOp]
    assert not missing


@pytest.mark.parametrize("family", S.FAMILIES)
@pytest.mark.parametrize("topology", S.TOPOLOGIES)
def test_batched_run_equals_one_sample_at_a_time(family, topology):
    case = S.random_case(11, family, topology, steps=6, batch=4)
    dtype = torch.float64 if family == "float" else None
    names = [op.name for op in case.program.ops]
    together = run(case.program, case.x, record=names, dtype=dtype)
    for b in range(case.x.shape[1]):
        alone = run(case.program, case.x[:, b:b + 1], record=names, dtype=dtype)
        for name in names:
            if family == "float":
                np.testing.assert_allclose(together.recorded[name][:, b],
                                           alone.recorded[name][:, 0], rtol=1e-12, atol=1e-12)
            else:
                np.testing.assert_array_equal(together.recorded[name][:, b],
                                              alone.recorded[name][:, 0])


def test_result_fields_and_dtypes():
    case = S.random_case(3, "float", "conv2d", steps=5, batch=2)
    r32 = run(case.program, case.x, record=("lif_conv",))
    r64 = run(case.program, case.x, record=("lif_conv",), dtype=torch.float64)
    assert r32.output.dtype == np.float32 and r64.output.dtype == np.float64
    assert r32.output.shape == (5, 2, *case.program.op("out").out_shape)
    assert r32.recorded["lif_conv"].shape == (5, 2, *case.program.op("lif_conv").out_shape)
    spiking = {op.name for op in case.program.neuron_ops if op.neuron.spiking}
    assert "lif_conv" in spiking and set(r32.spikes_per_node) == spiking
    assert r64.spikes_per_node["lif_conv"] == int(r64.recorded["lif_conv"].sum())
    assert r32.backend == "torch" and r32.device == "cpu" and r32.seconds > 0
    assert r32.synops > 0
    icase = S.random_case(3, "speck", "mlp", steps=5, batch=2)
    ri = run(icase.program, icase.x)
    assert ri.output.dtype == np.int64


def test_synops_count_spikes_times_fan_out():
    # Input(3) -> Affine(2x3) -> ...: an analog input counts non-zeros x fan-out (2 each)
    w = np.array([[1, 0, 2], [3, 4, 0]])
    ops = (P.InputOp(name="in", inputs=(), in_shape=(3,), out_shape=(3,)),
           P.AffineOp(name="fc", inputs=(P.Edge("in"),), in_shape=(3,), out_shape=(2,),
                      weight=w, bias=None),
           P.OutputOp(name="out", inputs=(P.Edge("fc"),), in_shape=(2,), out_shape=(2,)))
    program = P.Program(ops, ("in",), ("out",), "int", "generic")
    x = np.array([[[5, 0, -1]], [[0, 0, 0]]])
    assert run(program, x).synops == 2 * 2
    spikes = P.Program(ops, ("in",), ("out",), "int", "generic",
                       encoding=InputEncoding(kind="spikes"))
    assert run(spikes, np.array([[[3, 0, 1]]])).synops == (3 + 1) * 2


def test_progress_bar_runs():
    case = S.random_case(0, "generic", "mlp", steps=3, batch=1)
    assert run(case.program, case.x, progress=True).output.shape[0] == 3


def test_bad_inputs_are_one_line_errors():
    case = S.random_case(0, "generic", "mlp", steps=3, batch=2)
    with pytest.raises(BadInput, match="record"):
        run(case.program, case.x, record=("nope",))
    with pytest.raises(BadInput, match="input"):
        run(case.program, case.x[..., :-1] if case.x.shape[-1] > 1 else case.x[..., None])
    with pytest.raises(BadInput, match="integer"):
        run(case.program, case.x + 0.5)
    with pytest.raises(BadInput, match="device"):
        run(case.program, case.x, device="tpu:0:0")
    fcase = S.random_case(0, "float", "mlp", steps=3, batch=2)
    with pytest.raises(BadInput, match="dtype"):
        run(fcase.program, fcase.x, dtype=torch.int32)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_a_gpu_is_unsupported():
    case = S.random_case(0, "generic", "mlp", steps=3, batch=2)
    with pytest.raises(Unsupported, match="cuda"):
        run(case.program, case.x, device="cuda")


def test_integer_mode_refuses_what_has_no_integer_form():
    pool = P.PoolOp(name="pool", inputs=(P.Edge("in"),), in_shape=(1, 4, 4), out_shape=(1, 2, 2),
                    kernel=(2, 2), stride=(2, 2), padding=(0, 0), mode="avg")
    ops = (P.InputOp(name="in", inputs=(), in_shape=(1, 4, 4), out_shape=(1, 4, 4)), pool,
           P.OutputOp(name="out", inputs=(P.Edge("pool"),), in_shape=(1, 2, 2),
                      out_shape=(1, 2, 2)))
    with pytest.raises(Unsupported, match="pool"):
        run(P.Program(ops, ("in",), ("out",), "int", "speck"),
            np.zeros((1, 1, 1, 4, 4), dtype=np.int64))
    scale = P.ScaleOp(name="scale", inputs=(P.Edge("in"),), in_shape=(2,), out_shape=(2,),
                      scale=np.array([0.5, 1.0]))
    ops = (P.InputOp(name="in", inputs=(), in_shape=(2,), out_shape=(2,)), scale,
           P.OutputOp(name="out", inputs=(P.Edge("scale"),), in_shape=(2,), out_shape=(2,)))
    with pytest.raises(Unsupported, match="scale"):
        run(P.Program(ops, ("in",), ("out",), "int", "generic"), np.zeros((1, 1, 2), np.int64))


def test_float32_default_tracks_float64():
    case = S.random_case(5, "float", "mlp", steps=8, batch=3)
    lo = run(case.program, case.x, record=[o.name for o in case.program.ops])
    hi = run(case.program, case.x, record=[o.name for o in case.program.ops],
             dtype=torch.float64)
    for name, op in ((o.name, o) for o in case.program.ops):
        if isinstance(op, P.AffineOp):
            np.testing.assert_allclose(lo.recorded[name], hi.recorded[name], rtol=1e-4,
                                       atol=1e-4)
