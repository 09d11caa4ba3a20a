"""The audit on a small trained digits CNN through the real pipeline (convert -> export -> audit),
checked against a direct recomputation from the simulators' outputs."""
from __future__ import annotations

import json

import nir
import numpy as np
import pytest

import nirconv
from nirconv.fidelity import write_report
from nirconv.fidelity.compare import readout_is_spiking
from nirconv.reading import float_view, to_program
from nirconv.simulation import simulate
from nirconv.writing import to_nir

T = 12
SAMPLES = 48
NORM = "percentile"  # fast; the audit, not the normalization, is under test here
TARGETS = ["speck", "loihi2"]  # spike-input IAF without delays; Dense's one-step delay per layer


@pytest.fixture(scope="module", params=TARGETS)
def audited(request, digits_cnn):
    """convert -> export for the target -> audit (float SNN rebuilt from the deployed graph)."""
    import torch

    model, x, y = digits_cnn
    calibration = torch.from_numpy(x[:100])
    dep = nirconv.export(model, target=request.param, calibration=calibration, normalize=NORM)
    result = nirconv.audit(model, dep, x[:SAMPLES], y[:SAMPLES], timesteps=T, backend="torch",
                           progress=False)
    float_graph = to_nir(float_view(dep))  # the float SNN the deployed graph carries
    return request.param, model, x[:SAMPLES], y[:SAMPLES], float_graph, dep, result


def _runs(float_graph, dep, x, result):
    nodes = [layer.node for layer in result.layers]
    rf = simulate(float_graph, x, timesteps=T, backend="event", mode="float", record=nodes,
                  full=True)
    rq = simulate(dep, x, timesteps=T + result.latency_steps, backend="event", mode="int",
                  record=nodes, full=True)
    return rf, rq


def test_accuracies_agree_with_direct_recomputation(audited):
    import torch

    target, model, x, y, float_graph, dep, result = audited
    with torch.no_grad():
        ann = (model(torch.from_numpy(x)).argmax(-1).numpy() == y).mean()
    rf, rq = _runs(float_graph, dep, x, result)
    assert result.ann_accuracy == pytest.approx(ann)
    membrane = (float_graph.metadata.get("readout") == "membrane")
    f_out = np.asarray(rf.output)
    f_pred = f_out[T - 1].argmax(-1) if membrane else f_out.sum(0).argmax(-1)
    assert result.snn_accuracy == pytest.approx((f_pred == y).mean())
    q_out = np.asarray(rq.output).reshape(rq.output.shape[0], len(y), -1)
    spiking = readout_is_spiking(to_program(dep, mode="int"))
    q_window = q_out[:T + result.output_shift_steps]  # the readout's extra delay on the chip
    q_pred = q_window.sum(0).argmax(-1) if spiking else q_window[-1].argmax(-1)
    assert result.deployed_accuracy == pytest.approx((q_pred == y).mean())
    assert 0.0 <= result.deployed_accuracy <= 1.0
    assert result.passed == (result.deployed_accuracy >= result.snn_accuracy - 0.01 - 1e-12)


def test_layer_metrics_agree_with_hand_computation(audited):
    target, model, x, y, float_graph, dep, result = audited
    rf, rq = _runs(float_graph, dep, x, result)
    assert [layer.node for layer in result.layers] == [n for n in float_graph.nodes
                                                       if isinstance(float_graph.nodes[n], nir.IF)]
    for k, layer in enumerate(result.layers):
        expected_shift = k + 1 if target == "loihi2" else 0
        assert layer.shift_steps == expected_shift
        f = np.asarray(rf.recorded[layer.node], dtype=np.float64)
        q = np.asarray(rq.recorded[layer.node], dtype=np.float64)[layer.shift_steps:][:T]
        assert f.shape == q.shape
        both, either = np.minimum(f, q).sum(), np.maximum(f, q).sum()
        assert layer.spike_agreement == pytest.approx(both / either if either else 1.0)
        rates_f = f.sum(0).reshape(len(y), -1) / T
        rates_q = q.sum(0).reshape(len(y), -1) / T
        assert layer.rate_correlation == pytest.approx(
            np.corrcoef(rates_f.ravel(), rates_q.ravel())[0, 1], abs=1e-6)
        assert layer.float_spikes == int(f.sum()) and layer.deployed_spikes == int(q.sum())
        assert layer.ann_module is not None and layer.rate_error_float is not None


def test_first_divergence_is_the_first_difference_of_that_sample(audited):
    target, model, x, y, float_graph, dep, result = audited
    d = result.first_divergence
    if d is None:  # then every node agrees on every sample
        assert all(layer.spike_agreement == 1.0 for layer in result.layers)
        return
    rf, rq = _runs(float_graph, dep, x, result)
    shifts = {layer.node: layer.shift_steps for layer in result.layers}
    s, t = d["sample"], d["timestep"]

    def trains(node):
        f = np.asarray(rf.recorded[node])[:, s].reshape(T, -1)
        q = np.asarray(rq.recorded[node])[shifts[node]:, s][:T].reshape(T, -1)
        return f, q

    f, q = trains(d["node"])
    assert f[t, d["neuron"]] != q[t, d["neuron"]]
    for node in shifts:  # nothing differs earlier, on any node
        f, q = trains(node)
        assert np.array_equal(f[:t], q[:t])


def test_report_files_and_json_contract(audited, tmp_path):
    result = audited[-1]
    j, h = tmp_path / "audit.json", tmp_path / "audit.html"
    write_report(result, j, h)
    data = json.loads(j.read_text())
    assert {"timesteps", "ann_accuracy", "snn_accuracy", "deployed_accuracy", "passed", "layers",
            "first_divergence"} <= set(data)
    assert data["timesteps"] == T and isinstance(data["passed"], bool)
    assert data["target"] == audited[0]
    for key in ("ann_accuracy", "snn_accuracy", "deployed_accuracy"):
        assert 0.0 <= data[key] <= 1.0
    assert all({"node", "spike_agreement", "rate_correlation"} <= set(layer)
               for layer in data["layers"])
    assert data["first_divergence"] is None or {"sample", "node", "timestep", "neuron"} <= set(
        data["first_divergence"])
    assert h.read_text().count("data:image/png;base64,") == 3



def test_snn_override_matches_the_float_snn_rebuilt_from_metadata(audited, digits_cnn):
    import torch

    target, model, x, y, float_graph, dep, result = audited
    calibration = torch.from_numpy(digits_cnn[1][:100])
    snn = nirconv.convert(model, calibration, normalize=NORM,
                          readout="spikes" if target == "speck" else None)
    again = nirconv.audit(model, dep, x, y, timesteps=T, snn=nirconv.to_nir(snn),
                          backend="event", progress=False)
    assert again.snn_source == "snn graph" and result.snn_source == "deployed metadata"
    assert again.snn_accuracy == pytest.approx(result.snn_accuracy)
    assert again.deployed_accuracy == pytest.approx(result.deployed_accuracy)  # event == torch
    assert [l.spike_agreement for l in again.layers] == pytest.approx(
        [l.spike_agreement for l in result.layers])
    assert again.first_divergence == result.first_divergence


def test_batching_does_not_change_the_result(audited):
    target, model, x, y, float_graph, dep, result = audited
    batched = nirconv.audit(model, dep, x, y, timesteps=T, backend="torch", progress=False,
                            batch_size=7)  # 48 samples: 6 batches of 7 and one of 6
    a, b = batched.to_json(), result.to_json()
    for layer_a, layer_b in zip(a.pop("layers"), b.pop("layers")):
        assert layer_a.keys() == layer_b.keys()
        for key, value in layer_a.items():
            assert value == (pytest.approx(layer_b[key], rel=1e-9, abs=1e-9)
                             if isinstance(value, float) else layer_b[key]), key
    assert a == b
    # the scatter's random sample depends on the batching; its size does not
    assert len(batched.scatter["1"][0]) == len(result.scatter["1"][0]) == 1500


def test_data_that_does_not_fit_the_graph_is_bad_input(audited):
    from nirconv.errors import BadInput

    target, model, x, y, float_graph, dep, result = audited
    with pytest.raises(BadInput, match="data samples have shape") as e:
        nirconv.audit(model, dep, x[:4, :, :7, :7], y[:4], timesteps=T, progress=False)
    assert e.value.field == "data"


def test_xylo_readout_delay_and_vendor_column():
    """A dense net on Xylo: the readout weights add one step (aligned); xylosim, when installed,
    is bit-exact, so its accuracy equals the deployed accuracy."""
    import torch
    from sklearn.datasets import load_digits

    d = load_digits()
    keep = d.target < 8  # Xylo has 8 outputs
    x = (d.data[keep] / 16).astype(np.float32)
    y = d.target[keep]
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8))
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    xt, yt = torch.from_numpy(x[:800]), torch.from_numpy(y[:800])
    for _ in range(80):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xt), yt).backward()
        opt.step()
    model.eval()
    dep = nirconv.export(model, target="xylo", calibration=xt[:100], normalize=NORM, force=True)
    result = nirconv.audit(model, dep, x[800:880], y[800:880], timesteps=T, progress=False)
    assert result.output_shift_steps == 1 and result.latency_steps == 1
    assert [layer.shift_steps for layer in result.layers] == [0, 1]  # hidden, readout
    assert result.ann_accuracy > 0.8 and result.deployed_accuracy > 0.8
    if result.vendor_accuracy is None:
        assert result.vendor.startswith("skipped: ")
    else:
        assert result.vendor is None
        assert result.vendor_accuracy == pytest.approx(result.deployed_accuracy)


def test_programs_audit_like_the_graphs_they_are_read_from(audited):
    from nirconv.reading import float_view

    target, model, x, y, float_graph, dep, result = audited
    again = nirconv.audit(model, to_program(dep, mode="int"), x, y, timesteps=T,
                          snn=float_view(dep), backend="torch", progress=False)
    assert again.snn_source == "snn program"
    assert (again.target, again.arithmetic) == (result.target, result.arithmetic)
    assert again.snn_accuracy == result.snn_accuracy
    assert again.deployed_accuracy == result.deployed_accuracy
    assert [l.spike_agreement for l in again.layers] == [l.spike_agreement for l in result.layers]
    assert [l.rate_error_float for l in again.layers] == [l.rate_error_float
                                                          for l in result.layers]
