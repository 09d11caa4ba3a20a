"""The torch backend against the event backend: bit for bit in integer mode, on random Programs.

Every integer family x every topology (mlp, Xylo-style recurrence, conv2d + pooling, conv1d, and
Scale/Delay/Threshold/skip connections/edge delays), with forced 16-bit saturation, Loihi's 24-bit
wrap and multi-spike counts (see strategies.py). Every op's per-step output is compared, not only
the outputs, plus spikes_per_node and synops. Float mode: float64 on both sides, spikes exact and
membranes within 1e-12. The same on CUDA when torch sees a GPU (skipped otherwise).
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings

_spec = importlib.util.spec_from_file_location("agreement_strategies",
                                               Path(__file__).with_name("strategies.py"))
S = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = S
_spec.loader.exec_module(S)

from nirconv.backends.torch import run as torch_run  # noqa: E402

try:
    from nirconv.backends.event import run as event_run
except ImportError as e:  # the event backend is built in parallel
    event_run = None
    EVENT_MISSING = f"nirconv.backends.event is not importable yet ({e})"
else:
    EVENT_MISSING = ""

needs_event = pytest.mark.skipif(event_run is None, reason=EVENT_MISSING or "-")
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible to torch")
DEVICES = [pytest.param("cpu"), pytest.param("cuda", marks=CUDA)]
FAST = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def all_ops(program):
    return [op.name for op in program.ops]


def assert_same_int(case, device):
    names = all_ops(case.program)
    ours = torch_run(case.program, case.x, record=names, device=device)
    ref = event_run(case.program, case.x, record=names)
    for name in names:  # every op, every step, every sample
        a, b = ours.recorded[name], ref.recorded[name]
        assert a.dtype == np.int64 and b.dtype == np.int64, (case, name, a.dtype, b.dtype)
        if not np.array_equal(a, b):
            t, s, *i = np.argwhere(a != b)[0]
            pytest.fail(f"{case}: op {name} differs first at step {t}, sample {s}, index {i}: "
                        f"torch {a[(t, s, *i)]} vs event {b[(t, s, *i)]}")
    for name in case.program.outputs:
        assert np.array_equal(ours.outputs[name], ref.outputs[name]), (case, name)
    assert ours.spikes_per_node == ref.spikes_per_node, case
    assert ours.synops == ref.synops, case


@needs_event
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("family", S.INTEGER_FAMILIES)
@FAST
@given(data=S.st.data())
def test_integer_mode_is_bit_exact(family, device, data):
    case = data.draw(S.cases(families=(family,)))
    assert_same_int(case, device)


@needs_event
@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(case=S.cases(families=("float",)))
def test_float64_mode_agrees(case, device):
    names = all_ops(case.program)
    ours = torch_run(case.program, case.x, record=names, device=device, dtype=torch.float64)
    ref = event_run(case.program, case.x, record=names)
    for name in names:
        a, b = ours.recorded[name], ref.recorded[name]
        assert a.dtype == np.float64 and b.dtype == np.float64, (case, name, a.dtype, b.dtype)
        op = case.program.op(name)
        spiking = getattr(getattr(op, "neuron", None), "spiking", False) or \
            type(op).__name__ == "ThresholdOp"
        if spiking:
            assert np.array_equal(a, b), (case, name)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=repr(case))
    assert ours.spikes_per_node == ref.spikes_per_node, case
    assert ours.synops == ref.synops, case


@needs_event
@pytest.mark.parametrize("family", S.INTEGER_FAMILIES)
def test_bit_exact_at_a_larger_batch(family):
    """One bigger batch per family (32 samples, longer runs): the batched paths at scale."""
    for seed in range(3):
        for topology in S.TOPOLOGIES:
            case = S.random_case(seed, family, topology, steps=16, batch=32)
            assert_same_int(case, "cpu")


PATHS = {  # (module attribute, value) pairs that force one speed path of the torch backend
    "gather": [("kernels", "gather_below", lambda *costs: 2.0)],
    "no-gather-no-int8": [("kernels", "gather_below", lambda *costs: 0.0),
                          ("kernels", "int8_engine", lambda: False)],
    "int8": [("kernels", "gather_below", lambda *costs: 0.0)],
    "event-rounds": [("ordered", "ROUNDS_FROM", 0), ("ordered", "PAIR_CHUNK_ELEMENTS", 64)],
    "clamp-tree": [("ordered", "ROUNDS_FROM", 10 ** 9)],
}


@needs_event
@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("family", ["xylo", "generic", "speck"])
def test_every_speed_path_is_bit_exact(family, path, monkeypatch):
    """Each product path (gather, int8 GEMM where the CPU has one, dense) and each exact path of
    Xylo's ordered accumulation (event rounds in small chunks, clamp tree), forced on random
    programs with saturation and sparse inputs."""
    import nirconv.backends.torch.kernels as kernels
    import nirconv.backends.torch.ordered as ordered
    modules = {"kernels": kernels, "ordered": ordered}
    for module, name, value in PATHS[path]:
        monkeypatch.setattr(modules[module], name, value)
    for seed in range(3):
        for topology in S.TOPOLOGIES:
            assert_same_int(S.random_case(seed, family, topology, steps=8, batch=6), "cpu")


# --- a few through the real lowering: NIR graph -> Program ----------------------------------

def _nir_float_graphs():
    import nir
    rng = np.random.default_rng(7)
    graphs = {}
    w1, w2 = rng.normal(0, 0.6, (12, 6)), rng.normal(0, 0.5, (3, 12))
    graphs["lif_mlp"] = nir.NIRGraph(
        nodes={"input": nir.Input(np.array([6])),
               "fc1": nir.Affine(w1, rng.normal(0, 0.1, 12)),
               "lif1": nir.LIF(tau=np.full(12, 0.02), r=np.ones(12), v_leak=np.zeros(12),
                               v_threshold=np.full(12, 0.8)),
               "fc2": nir.Linear(w2),
               "li": nir.LI(tau=np.full(3, 0.01), r=np.ones(3), v_leak=np.zeros(3)),
               "output": nir.Output(np.array([3]))},
        edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "li"),
               ("li", "output")], metadata={"dt": 1e-3, "dialect": "nirconv"})
    sub = {"reset": "subtract"}
    graphs["lif_lif"] = nir.NIRGraph(
        nodes={"input": nir.Input(np.array([6])),
               "fc1": nir.Linear(w1),
               "lif1": nir.LIF(tau=np.full(12, 0.02), r=np.ones(12), v_leak=np.zeros(12),
                               v_threshold=np.full(12, 0.8), metadata=dict(sub)),
               "fc2": nir.Linear(w2),
               "lif2": nir.LIF(tau=np.full(3, 0.01), r=np.ones(3), v_leak=np.zeros(3),
                               v_threshold=np.ones(3), metadata=dict(sub)),
               "output": nir.Output(np.array([3]))},
        edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"),
               ("lif2", "output")], metadata={"dt": 1e-3, "dialect": "nirconv"})
    graphs["cuba_recurrent"] = nir.NIRGraph(
        nodes={"input": nir.Input(np.array([5])),
               "fc": nir.Linear(rng.normal(0, 0.8, (8, 5))),
               "cuba": nir.CubaLIF(tau_syn=np.full(8, 0.005), tau_mem=np.full(8, 0.01),
                                   r=np.ones(8), v_leak=np.zeros(8), v_threshold=np.ones(8)),
               "rec": nir.Linear(rng.normal(0, 0.3, (8, 8))),
               "output": nir.Output(np.array([8]))},
        edges=[("input", "fc"), ("fc", "cuba"), ("cuba", "rec"), ("rec", "cuba"),
               ("cuba", "output")], metadata={"dt": 1e-3, "dialect": "nirconv"})
    graphs["conv_if"] = nir.NIRGraph(
        nodes={"input": nir.Input(np.array([1, 6, 6])),
               "conv": nir.Conv2d(input_shape=(6, 6), weight=rng.normal(0, 0.7, (2, 1, 3, 3)),
                                  stride=1, padding=1, dilation=1, groups=1,
                                  bias=np.zeros(2)),
               "if1": nir.IF(r=np.ones((2, 6, 6)), v_threshold=np.ones((2, 6, 6)),
                             metadata={"reset": "subtract"}),
               "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                     padding=np.array([0, 0])),
               "flat": nir.Flatten(input_type={"input": np.array([2, 3, 3])}, start_dim=0,
                                   end_dim=-1),
               "fc": nir.Linear(rng.normal(0, 0.5, (4, 18))),
               "if2": nir.IF(r=np.ones(4), v_threshold=np.ones(4), metadata={"reset": "subtract"}),
               "output": nir.Output(np.array([4]))},
        edges=[("input", "conv"), ("conv", "if1"), ("if1", "pool"), ("pool", "flat"),
               ("flat", "fc"), ("fc", "if2"), ("if2", "output")], metadata={"dt": 1e-3, "dialect": "nirconv"})
    return graphs


@needs_event
@pytest.mark.parametrize("name", ["lif_mlp", "cuba_recurrent", "conv_if"])
def test_lowered_nir_graphs_agree_in_float64(name):
    from nirconv.reading import lower
    graph = _nir_float_graphs()[name]
    program = lower(graph, mode="float", dialect="nirconv", dt=1e-3)
    rng = np.random.default_rng(3)
    x = rng.normal(2.0, 3.0, (40, 4, *program.input_shape))
    names = all_ops(program)
    ours = torch_run(program, x, record=names, dtype=torch.float64)
    ref = event_run(program, x, record=names)
    for op in names:
        np.testing.assert_allclose(ours.recorded[op], ref.recorded[op], rtol=1e-12, atol=1e-12,
                                   err_msg=op)
    assert ours.spikes_per_node == ref.spikes_per_node
    assert sum(ours.spikes_per_node.values()) > 0  # the graphs do spike


@needs_event
@pytest.mark.parametrize("target", ["speck", "xylo", "loihi2", "spinnaker2", "generic"])
def test_lowered_quantized_graphs_are_bit_exact(target):
    """A float graph quantized for each target (when quantization is available), lowered in
    integer mode, on both backends."""
    import nirconv
    from nirconv.errors import NirconvError
    from nirconv.reading import lower
    graph = _nir_float_graphs()["conv_if" if target == "speck" else "lif_lif"]
    shape = (1, 6, 6) if target == "speck" else (6,)
    calibration = np.abs(np.random.default_rng(1).normal(1.0, 1.0, (32, *shape)))
    try:
        deployed = nirconv.export(graph, target=target, calibration=calibration, force=True)
        program = lower(deployed, mode="int", dt=1e-3)
    except (ImportError, NirconvError) as e:
        pytest.skip(f"cannot quantize/lower for {target} yet: {e}")
    static = np.abs(np.random.default_rng(5).normal(1.5, 1.0, (4, *program.input_shape)))
    x = program.check_input(static, 30)  # encoded as the deployed metadata says
    names = all_ops(program)
    assert program.family == target
    ours = torch_run(program, x, record=names)
    ref = event_run(program, x, record=names)
    for op in names:
        assert np.array_equal(ours.recorded[op], ref.recorded[op]), op
    assert ours.spikes_per_node == ref.spikes_per_node
    assert sum(ours.spikes_per_node.values()) > 0


@needs_event
@pytest.mark.parametrize("carrier", ["int32", "int64"])
@pytest.mark.parametrize("family", S.INTEGER_FAMILIES)
def test_integer_carriers_are_bit_exact_too(family, carrier, monkeypatch):
    """Programs whose values fit 2**21 run in float32 (matmul/conv without conversions), those
    that fit 2**28 in int32 (faster on CPU than int64); the int32 and int64 paths must agree as
    well: force them."""
    import nirconv.backends.torch.runner as runner
    monkeypatch.setattr(runner, "float32_safe", lambda program, bounds: False)
    if carrier == "int64":
        monkeypatch.setattr(runner, "int32_safe", lambda program, bounds: False)
    for seed in range(4):
        for topology in S.TOPOLOGIES:
            assert_same_int(S.random_case(seed, family, topology), "cpu")
