"""Quantization passes: number formats per target, metadata that maps back to float, warnings."""
from __future__ import annotations

import nir
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import nirconv
from nirconv.errors import BadInput, DoesNotFit
from nirconv.reading import lower
from nirconv.deploy import export_with_report, quantize_graph
from nirconv.passes import Pass, PassFailed, run_passes
from ..fixtures.paper import braille_rnn, nmnist_cnn


@pytest.fixture(scope="module")
def rnn():
    return braille_rnn()


def test_runner_names_the_failing_pass():
    g = braille_rnn()
    passes = [Pass("one", lambda x: x), Pass("two", lambda x: x, ensures=lambda x: "broken")]
    with pytest.raises(PassFailed, match="'two'.*after one.*broken"):
        run_passes(g, passes)


def test_xylo_number_formats(rnn):
    dep = quantize_graph(rnn, "xylo")
    assert dep.metadata["arithmetic"] == "xylo" and dep.metadata["target"] == "xylo"
    for name in ("fc_in", "fc_rec", "fc_out"):
        node = dep.nodes[name]
        w = np.asarray(node.weight)
        assert np.all(w == np.rint(w)) and np.abs(w).max() <= 127 and np.abs(w).max() >= 64
        assert 0 <= node.metadata["shift"] <= 7
    lif = dep.nodes["lif1"].metadata
    # dash = round(log2(tau/dt)): tau_syn 1 ms, tau_mem 2 ms at dt 0.1 ms
    assert (lif["dash_syn"], lif["dash_mem"]) == (round(np.log2(10)), round(np.log2(20)))
    assert lif["threshold_int"] == 1 << (16 - 1 - 2)  # 16-bit state, 2 bits of headroom
    assert lif["max_spikes"] == 31 and dep.nodes["lif2"].metadata["max_spikes"] == 1
    program = lower(dep, mode="auto")
    assert program.mode == "int" and program.family == "xylo"
    lif1 = program.op("lif1")
    assert [e.src for e in lif1.inputs] == ["fc_in", "fc_rec"]  # input weights first
    assert program.op("fc_out").inputs[0].delay == 1  # readout sees the previous step


def test_weights_map_back_to_float_units(rnn):
    dep = quantize_graph(rnn, "generic")
    for name in ("fc_in", "fc_rec", "fc_out"):
        node, orig = dep.nodes[name], rnn.nodes[name]
        scale = np.asarray(node.metadata["weight_scale"]).reshape(-1, 1)
        err = np.abs(np.asarray(node.weight) * scale - orig.weight)
        assert np.all(err <= 0.5 * scale + 1e-12)  # half an integer step, per row
    back = lower(dep, mode="float")  # the float view: the float program it was quantized from
    for name in ("fc_in", "fc_rec", "fc_out"):
        np.testing.assert_array_equal(back.op(name).weight, rnn.nodes[name].weight)
    assert back.deployment is None and back.op("lif1").neuron.reset == "subtract"


def test_loihi_sign_modes_and_formats(rnn):
    dep = quantize_graph(rnn, "loihi2")
    for name in ("fc_in", "fc_rec", "fc_out"):
        node = dep.nodes[name]
        w = np.asarray(node.weight, dtype=np.int64)
        assert node.metadata["sign_mode"] == "mixed"
        assert np.all(w % 2 == 0) and w.min() >= -256 and w.max() <= 254
        assert 0 <= node.metadata["shift"] <= 7
    m = dep.nodes["lif1"].metadata
    assert m["reset"] == "zero" and m["float_reset"] == "subtract"
    assert 0 <= m["du"] <= 4095 and 0 <= m["dv"] <= 4095 and 0 < m["vth"] < 1 << 17
    assert any("reset_substituted" in w for w in dep.metadata["warnings"])
    program = lower(dep, mode="int")
    assert all(e.delay >= 1 for e in program.op("lif1").inputs)  # Dense delays one step


def test_excitatory_matrix_uses_0_to_255():
    g = braille_rnn()
    g.nodes["fc_in"].weight = np.abs(g.nodes["fc_in"].weight)
    node = quantize_graph(g, "loihi2").nodes["fc_in"]
    w = np.asarray(node.weight)
    assert node.metadata["sign_mode"] == "excitatory" and w.min() >= 0 and w.max() <= 255
    assert np.any(w % 2 == 1)  # not truncated to even values


def test_spinnaker2_formats():
    dep = quantize_graph(nmnist_cnn(), "spinnaker2")
    m = dep.nodes["if3"].metadata
    assert m["threshold_f32"] == 1.0 and m["alpha"] == 1.0 and m["weight_scale"] > 0
    assert np.abs(np.asarray(dep.nodes["fc1"].weight)).max() == 127
    assert np.all(np.asarray(dep.nodes["fc1"].bias) == 0)  # bias moved to i_offset
    assert np.any(np.asarray(m["i_offset"]) != 0)


def test_xylo_drops_weight_biases_with_a_warning():
    g = braille_rnn()
    g.nodes["fc_in"] = nir.Affine(weight=g.nodes["fc_in"].weight, bias=np.full(40, 0.1))
    dep, report = export_with_report(g, target="xylo")
    assert np.all(np.asarray(dep.nodes["fc_in"].bias) == 0)
    assert any(w.rule == "bias_dropped" and w.node == "fc_in" for w in report.warnings)


def test_the_deployed_file_round_trips(tmp_path, rnn):
    dep = quantize_graph(rnn, "xylo")
    path = tmp_path / "dep.nir"
    nirconv.save(dep, path)
    back = nirconv.load(path)
    x = (np.random.default_rng(0).random((30, 2, 12)) < 0.3).astype(np.int64)
    a = nirconv.simulate(dep, x, mode="int").numpy()
    b = nirconv.simulate(back, x, mode="int").numpy()
    np.testing.assert_array_equal(a, b)
    assert back.metadata["arithmetic"] == "xylo"


def test_unsupported_model_is_a_violation_and_export_refuses():
    g = braille_rnn()
    report = nirconv.check(g, target="speck")
    assert any(v.rule == "neuron_model" for v in report.violations)
    with pytest.raises(DoesNotFit) as e:
        nirconv.export(g, target="speck")
    assert e.value.report is not None and not e.value.report.fits


def test_leaky_graph_without_dt_is_bad_input():
    g = braille_rnn()
    g.metadata = {"dialect": "nirconv"}
    with pytest.raises(BadInput) as e:
        nirconv.check(g, target="xylo")
    assert e.value.field == "dt"
    assert nirconv.check(g, target="xylo", dt=1e-4).fits


def test_integer_lowering_refuses_out_of_range_values(rnn):
    dep = quantize_graph(rnn, "xylo")
    dep.nodes["lif1"].metadata["dash_mem"] = 16
    with pytest.raises(BadInput) as e:
        lower(dep, mode="int")
    assert (e.value.node, e.value.field) == ("lif1", "metadata.dash_mem")
    dep = quantize_graph(rnn, "generic")
    dep.nodes["fc_in"].weight = dep.nodes["fc_in"].weight + 0.5
    with pytest.raises(BadInput) as e:
        lower(dep, mode="int")
    assert e.value.node == "fc_in"


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.floats(0.01, 100.0), st.integers(0, 10_000))
def test_weight_quantization_error_is_at_most_half_a_step(n_out, n_in, magnitude, seed):
    rng = np.random.default_rng(seed)
    w = rng.normal(0, magnitude, (n_out, n_in))
    nodes = {"input": nir.Input(input_type={"input": np.array([n_in])}),
             "fc": nir.Linear(weight=w),
             "if": nir.IF(r=np.ones(n_out), v_threshold=np.full(n_out, 1.0),
                          metadata={"reset": "subtract", "compare": ">="}),
             "output": nir.Output(output_type={"output": np.array([n_out])})}
    g = nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "if"), ("if", "output")],
                     type_check=False, metadata={"dialect": "nirconv"})
    for target in ("generic", "speck", "xylo"):
        if target == "xylo":
            continue  # IF on Xylo needs a synapse model; covered by the recurrent tests
        node = quantize_graph(g, target).nodes["fc"]
        scale = np.asarray(node.metadata["weight_scale"]).reshape(-1, 1)
        q = np.asarray(node.weight)
        assert np.abs(q).max() <= 128
        clipped = (np.abs(q) == 128) | (np.abs(q) == 127)
        err = np.abs(q * scale - w)[~clipped]
        assert np.all(err <= 0.5 * np.broadcast_to(scale, w.shape)[~clipped] * (1 + 1e-9))


def test_integer_sum_pooling_as_a_weight_chain_on_generic():
    """1-D sum pooling is written as a depthwise Conv1d of ones (NIR has no 1-D pooling node):
    a weight layer feeding a weight layer, kept as is where the target allows chains."""
    rng = np.random.default_rng(0)

    def if_(shape):
        return nir.IF(r=np.ones(shape), v_threshold=np.ones(shape),
                      metadata={"reset": "subtract", "compare": ">="})

    nodes = {"input": nir.Input(input_type={"input": np.array([1, 20])}),
             "conv": nir.Conv1d(input_shape=20, weight=rng.normal(0, 0.5, (2, 1, 3)), stride=1,
                                padding=1, dilation=1, groups=1, bias=np.zeros(2)),
             "if1": if_((2, 20)),
             "pool": nir.Conv1d(input_shape=20, weight=np.ones((2, 1, 2)), stride=2, padding=0,
                                dilation=1, groups=2, bias=np.zeros(2)),
             "flat": nir.Flatten(input_type={"input": np.array([2, 10])}),
             "fc": nir.Affine(weight=rng.normal(0, 0.5, (3, 20)), bias=np.zeros(3)),
             "if2": if_((3,)),
             "output": nir.Output(output_type={"output": np.array([3])})}
    names = list(nodes)
    g = nir.NIRGraph(nodes=nodes, edges=list(zip(names[:-1], names[1:])), type_check=False,
                     metadata={"dialect": "nirconv"})
    assert nirconv.check(g, target="generic").fits
    assert any(v.rule == "weight_chain" for v in nirconv.check(g, target="spinnaker2").violations)
    x = rng.random((8, 1, 20)) * 2
    dep = quantize_graph(g, "generic", x)
    np.testing.assert_array_equal(dep.nodes["pool"].weight, np.ones((2, 1, 2)))
    a = nirconv.simulate(g, x, timesteps=20, mode="float").numpy().sum(0)
    b = nirconv.simulate(dep, x, timesteps=20, mode="int").numpy().sum(0)
    assert np.abs(a - b).max() <= 2


def test_per_channel_scales_from_a_user_target(tmp_path):
    from nirconv.targets import path_of

    text = path_of("generic").read_text().replace('name = "generic"', 'name = "gen-pc"').replace(
        'scale = { value = "per_layer", source = "nirconv: one scale per layer" }',
        'scale = { value = "per_channel", source = "test" }')
    (tmp_path / "pc.toml").write_text(text)
    g = braille_rnn()
    g.nodes["fc_out"].weight = g.nodes["fc_out"].weight * np.arange(1, 8)[:, None]  # rows differ
    dep = quantize_graph(g, str(tmp_path / "pc.toml"))
    w = np.asarray(dep.nodes["fc_out"].weight)
    assert np.all(np.abs(w).max(axis=1) >= 64)  # every row uses its own range
    assert np.size(dep.nodes["fc_out"].metadata["weight_scale"]) == 7
    assert np.size(dep.nodes["lif2"].metadata["threshold_int"]) == 7
    x = (np.random.default_rng(0).random((100, 4, 12)) < 0.3).astype(np.int64)
    a = nirconv.simulate(g, x, mode="float").numpy().sum(0)
    b = nirconv.simulate(dep, x, mode="int").numpy().sum(0)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.98


def test_checking_a_deployed_graph_requantizes_from_its_float_values(tmp_path):
    g = nmnist_cnn()
    x = np.random.default_rng(0).random((4, 2, 34, 34)) * 3.0
    dep = quantize_graph(g, "speck", x)
    assert dep.metadata["input_max"] == pytest.approx(x.max())
    again = quantize_graph(dep, "speck")  # from the deployed file alone
    for name in ("conv0", "fc1"):
        np.testing.assert_array_equal(again.nodes[name].weight, dep.nodes[name].weight)
    assert nirconv.check(dep, target="speck").fits
    assert not nirconv.check(dep, target="xylo").fits


def test_spinnaker2_cubalif_is_exported_with_a_warning_and_int_simulation_refuses():
    from nirconv.errors import Unsupported

    dep, report = export_with_report(braille_rnn(), target="spinnaker2")
    assert report.fits
    assert {w.node for w in report.warnings if w.rule == "no_integer_simulation"} == {"lif1", "lif2"}
    with pytest.raises(Unsupported) as e:
        lower(dep, mode="int")
    assert e.value.node == "lif1" and e.value.field == "type"
