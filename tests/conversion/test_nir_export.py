"""to_nir: node types, metadata, the file round trip, norse, and agreement with the simulator."""
from __future__ import annotations

import nir
import numpy as np
import pytest
import torch

import nirconv
from nirconv.nir_io.metadata import KEYS


@pytest.fixture(scope="module")
def snn(trained_small_cnn, digits):
    return nirconv.convert(trained_small_cnn, digits.x_train[:128], timesteps=8)


def test_node_types_and_metadata(snn):
    graph = nirconv.to_nir(snn)
    types = {type(n).__name__ for n in graph.nodes.values()}
    assert types == {"Input", "Conv2d", "IF", "SumPool2d", "Flatten", "Affine", "I", "Output"}
    meta = graph.metadata
    for key in ("nirconv_version", "source_model", "normalization", "dt", "timesteps",
                "readout", "input_encoding"):
        assert key in meta, key
    assert meta["input_encoding"] == "current" and meta["readout"] == "membrane"
    for name, node in graph.nodes.items():
        if isinstance(node, nir.IF):
            assert node.metadata["reset"] == "subtract" and node.metadata["compare"] == ">="
            assert {"v_init", "threshold", "scale"} <= set(node.metadata)
        for key in node.metadata:
            assert key in KEYS, f"{name}: metadata key {key!r} missing from metadata.KEYS"
    for key in meta:
        assert key in KEYS, f"graph metadata key {key!r} missing from metadata.KEYS"


def test_float_parameters_are_recoverable(snn):
    graph = nirconv.to_nir(snn)
    for layer in snn.graph.layers:
        if layer.kind in ("affine", "conv"):
            np.testing.assert_array_equal(graph.nodes[layer.name].weight, layer.params["weight"])
        if layer.kind == "if":
            np.testing.assert_array_equal(graph.nodes[layer.name].v_threshold,
                                          layer.params["threshold"])


def _same(a, b, path="graph"):
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (np.ndarray, list, tuple)) and not isinstance(a, str):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=path)
    else:
        assert a == b, path


def test_round_trip_gives_back_the_same_graph(snn, tmp_path):
    graph = nirconv.to_nir(snn)
    path = nirconv.save(graph, tmp_path / "snn.nir")
    back = nirconv.load(path)
    assert set(back.nodes) == set(graph.nodes)
    assert sorted(map(tuple, back.edges)) == sorted(map(tuple, graph.edges))
    _same(dict(graph.metadata), dict(back.metadata))
    for name, node in graph.nodes.items():
        other = back.nodes[name]
        assert type(other) is type(node), name
        for field, value in vars(node).items():
            if field in ("input_type", "output_type"):
                continue  # nir infers these on read
            _same(value, getattr(other, field), f"{name}.{field}")


def test_norse_loads_the_export(snn, tmp_path):
    norse = pytest.importorskip("norse.torch")
    graph = nirconv.load(nirconv.save(nirconv.to_nir(snn), tmp_path / "snn.nir"))
    module = norse.from_nir(graph)
    assert isinstance(module, torch.nn.Module)


@pytest.mark.parametrize("readout", ["membrane", "spikes"])
def test_snn_and_event_simulation_of_the_export_agree(trained_small_cnn, digits, readout):
    snn = nirconv.convert(trained_small_cnn, digits.x_train[:128], timesteps=8,
                          readout=readout).double()
    graph = nirconv.to_nir(snn)
    x = digits.x_test[:16].double()
    T = 12
    recorded = snn.run(x, timesteps=T, record=True)
    ifs = [l.name for l in snn.graph.layers if l.kind == "if"]
    result = nirconv.simulate(graph, x.numpy(), timesteps=T, dtype=torch.float64, record=ifs,
                              full=True)
    for name in ifs:
        np.testing.assert_array_equal(np.asarray(result.recorded[name]),
                                      recorded[name].numpy(), err_msg=name)
    out = np.asarray(next(iter(result.outputs.values())))
    mine = recorded["output"].numpy()
    if readout == "membrane":  # the Output reads the integrator's membrane: the running sum
        np.testing.assert_allclose(out, np.cumsum(mine, axis=0), rtol=1e-9, atol=1e-9)
    else:
        np.testing.assert_array_equal(out, mine)


def test_residual_export_agrees_with_event_simulation(zoo):
    torch.manual_seed(0)
    model = zoo.randomize_bn(zoo.Residual())
    x = torch.rand(64, 1, 8, 8)
    snn = nirconv.convert(model, x, normalize="percentile").double()
    graph = nirconv.to_nir(snn)
    assert any(isinstance(n, nir.Scale) for n in graph.nodes.values())  # the skip's rescale
    xs = x[:8].double()
    mine = snn(xs, timesteps=10).numpy()
    out = nirconv.simulate(graph, xs.numpy(), timesteps=10, dtype=torch.float64).numpy()
    np.testing.assert_allclose(out, np.cumsum(mine, axis=0), rtol=1e-9, atol=1e-9)
