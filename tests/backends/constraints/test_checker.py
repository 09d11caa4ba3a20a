"""The mapper and checker on networks shaped like the NIR paper's, and the per-chip rules."""
from __future__ import annotations

import json

import nir
import numpy as np
import pytest

import nirconv
from nirconv.backends.constraints import Report, Violation, check_program
from nirconv.backends.constraints.mappers import _matching, speck_layer_memory
from nirconv.backends.constraints.net import build_net
from nirconv.reading import lower
from nirconv.targets import load, path_of
from ...fixtures.paper import braille_rnn, nmnist_cnn


@pytest.fixture(scope="module")
def cnn():
    return nmnist_cnn()


@pytest.fixture(scope="module")
def rnn():
    return braille_rnn()


@pytest.mark.parametrize("target", ["speck", "loihi2", "spinnaker2", "generic"])
def test_nmnist_cnn_fits(cnn, target):
    report = nirconv.check(cnn, target=target)
    assert report.fits, report.summary()
    assert report.resources["neurons"] == 16 * 16 * 16 * 2 + 8 * 8 * 8 + 256 + 10


def test_nmnist_cnn_does_not_fit_xylo_and_every_rule_is_named(cnn):
    report = nirconv.check(cnn, target="xylo")
    assert not report.fits
    rules = {v.rule for v in report.violations}
    assert {"layer_type", "hidden_neurons", "inputs", "outputs", "fan_out"} <= rules
    convs = {v.node for v in report.violations if v.rule == "layer_type"}
    assert convs == {"conv0", "conv1", "conv2", "pool1", "pool2"}  # every one, not the first
    hidden = next(v for v in report.violations if v.rule == "hidden_neurons")
    assert (hidden.value, hidden.limit) == (8960, 1000)


@pytest.mark.parametrize("target", ["xylo", "loihi2", "spinnaker2", "generic"])
def test_braille_rnn_fits(rnn, target):
    report = nirconv.check(rnn, target=target)
    assert report.fits, report.summary()


def test_braille_rnn_does_not_fit_speck(rnn):
    rules = {(v.node, v.rule) for v in nirconv.check(rnn, target="speck").violations}
    assert {("lif1", "neuron_model"), ("lif2", "neuron_model"), ("lif1", "recurrent")} <= rules


def test_speck_uses_five_cores_and_the_big_linear_layer_gets_a_big_core(cnn):
    report = nirconv.check(cnn, target="speck")
    mapping = report.resources["mapping"]
    assert report.resources["cores_used"] == 5 and len(set(mapping.values())) == 5
    # Affine 128->256 as a 4x4 conv on 8 channels: kernel = 8 * 2^(4 + 8) = 32Ki words
    assert report.resources["layer_memory"]["fc1"]["kernel"] == 32768
    assert mapping["fc1"] in (3, 4, 5, 6)


def test_speck_memory_formula_docs_example():
    """sinabs docs: Conv2d 16->32 k3 s1 p1 on 64x64: kernel 8Ki, neuron 128Ki -> fits no core."""
    rng = np.random.default_rng(0)
    nodes = {"input": nir.Input(input_type={"input": np.array([16, 64, 64])}),
             "conv": nir.Conv2d(input_shape=(64, 64), weight=rng.normal(size=(32, 16, 3, 3)),
                                stride=1, padding=1, dilation=1, groups=1, bias=np.zeros(32)),
             "if": nir.IF(r=np.ones((32, 64, 64)), v_threshold=np.ones((32, 64, 64)),
                          metadata={"reset": "subtract"}),
             "output": nir.Output(output_type={"output": np.array([32, 64, 64])})}
    g = nir.NIRGraph(nodes=nodes, edges=[("input", "conv"), ("conv", "if"), ("if", "output")],
                     type_check=False, metadata={"dialect": "nirconv"})
    net = build_net(lower(g))
    assert speck_layer_memory(net, "conv") == {"kernel": 8192, "neuron": 131072, "bias": 0}
    report = check_program(lower(g), load("speck"))
    v = next(v for v in report.violations if v.rule == "neuron_memory")
    assert (v.node, v.value, v.limit) == ("conv", 131072, 65536)


def test_bipartite_matching_finds_what_greedy_misses():
    # layer a fits cores 0 and 1, layer b only core 0: greedy a->0 would strand b
    assert _matching({"a": [0, 1], "b": [0]}, 2) == {"a": 1, "b": 0}


def _single_affine(n_in, n_out, seed=0):
    rng = np.random.default_rng(seed)
    nodes = {"input": nir.Input(input_type={"input": np.array([n_in])}),
             "fc": nir.Linear(weight=rng.normal(size=(n_out, n_in)).astype(np.float32)),
             "if": nir.IF(r=np.ones(n_out), v_threshold=np.ones(n_out),
                          metadata={"reset": "zero"}),
             "output": nir.Output(output_type={"output": np.array([n_out])})}
    return nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "if"), ("if", "output")],
                        type_check=False, metadata={"dialect": "nirconv"})


def test_loihi2_layer_that_does_not_fit_the_memory_model():
    """192 KB per core, 2 bytes per synapse: a neuron with 110,000 inputs needs 220,016 bytes."""
    report = nirconv.check(_single_affine(110_000, 2), target="loihi2")
    v = next(v for v in report.violations if v.rule == "memory_per_core")
    assert (v.node, v.value, v.limit) == ("if", 110_000 * 2 + 16, 196608)
    assert nirconv.check(_single_affine(1000, 2), target="loihi2").fits


def test_loihi2_packs_neurons_by_memory(tmp_path):
    # 4000 inputs: (196608) // (4000*2 + 16) = 24 neurons per core -> 300 neurons need 13 cores
    report = nirconv.check(_single_affine(4000, 300), target="loihi2")
    assert report.fits
    assert report.resources["mapping"]["if"] == {"cores": 13, "neurons_per_core": 24,
                                                 "bytes_per_core": 24 * 8016}
    small = path_of("loihi2").read_text().replace("count = { value = 128,", "count = { value = 8,")
    (tmp_path / "small.toml").write_text(small)
    report = nirconv.check(_single_affine(4000, 300), target=str(tmp_path / "small.toml"))
    v = next(v for v in report.violations if v.rule == "cores")
    assert (v.value, v.limit) == (13, 8)


def test_spinnaker2_neurons_per_pe():
    report = nirconv.check(_single_affine(10, 1000), target="spinnaker2")
    assert report.resources["mapping"]["if"]["cores"] == 4  # 250 LIF neurons per PE


def test_xylo_graph_rules_and_fan_out():
    g = braille_rnn(n_hidden=80)  # fan-out 80 recurrent + 7 readout > 64
    report = nirconv.check(g, target="xylo")
    v = next(v for v in report.violations if v.rule == "fan_out")
    assert (v.node, v.value, v.limit) == ("lif1", 87, 64)
    assert nirconv.check(braille_rnn(n_out=9), target="xylo").violations[0].rule in (
        "outputs", "output_neurons")


def test_report_json_matches_the_contract(cnn):
    out = nirconv.check(cnn, target="xylo").to_json()
    text = json.dumps(out, allow_nan=False)
    assert set(out) >= {"target", "fits", "violations", "warnings", "resources"}
    assert all(set(v) >= {"node", "rule", "value", "limit"} for v in out["violations"])
    assert set(out["resources"]) >= {"cores_used", "cores_available", "neurons", "synapses"}
    assert json.loads(text)["fits"] is False


def test_report_is_frozen():
    r = Report("x", (Violation("n", "rule", 1, 0),))
    with pytest.raises(AttributeError):
        r.target = "y"
    assert not r.fits and "rule at 'n'" in r.summary()
