"""The converted SNN: rates approximate ReLU activations, options, non-sequential models."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import nirconv
from nirconv.errors import BadInput


@pytest.mark.parametrize("v_init", [0.0, 0.5])
def test_one_layer_rate_converges_to_relu_within_one_over_t(v_init):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 2)).eval()
    x = torch.randn(64, 5)
    snn = nirconv.convert(model, x, normalize="max", v_init=v_init)
    snn = snn.double()
    if_layer = next(l for l in snn.graph.layers if l.kind == "if")
    lam = torch.as_tensor(if_layer.params["scale"])
    relu = torch.relu(model[0](x)).double()
    errors = []
    for t in (4, 8, 16, 32, 64, 128):
        spikes = snn.run(x, timesteps=t, record=True)[if_layer.name]
        err = (lam * spikes.mean(0) - relu).abs() / lam
        assert float(err.max()) <= 1.0 / t + 1e-9, t
        errors.append(float(err.max()))
    assert errors[-1] < errors[0]


def test_static_and_sequence_inputs_agree_and_shapes(trained_small_cnn, digits):
    snn = nirconv.convert(trained_small_cnn, digits.x_train[:128], timesteps=8)
    x = digits.x_test[:5]
    out = snn(x, timesteps=8)
    assert out.shape == (8, 5, 10)
    seq = x.unsqueeze(0).expand(8, *x.shape)
    torch.testing.assert_close(snn(seq), out)
    with pytest.raises(BadInput, match="timesteps"):
        snn(x)
    with pytest.raises(BadInput, match="does not match"):
        snn(torch.zeros(2, 3), timesteps=4)


@pytest.mark.parametrize("normalize,readout", [
    ("max", "spikes"), ("percentile", "membrane"), ("scale", "membrane"),
    ("calibrated", "membrane"), ("calibrated", "spikes")])
def test_every_normalization_and_readout_classifies(trained_small_cnn, digits, normalize,
                                                    readout):
    snn = nirconv.convert(trained_small_cnn, digits.x_train[:200], normalize=normalize,
                          scale=0.9 if normalize == "scale" else None, readout=readout,
                          timesteps=32, channel_wise=normalize != "max")
    with torch.no_grad():
        ann = trained_small_cnn(digits.x_test).argmax(-1)
    agree = float((snn.predict(digits.x_test, 32) == ann).float().mean())
    assert agree > 0.85, agree
    kinds = [l.kind for l in snn.graph.layers]
    assert (kinds[-2] == "if") == (readout == "spikes")
    assert snn.metadata["normalization"] == normalize


def test_calibrated_default_at_least_as_good_as_max_at_low_t(trained_small_cnn, digits):
    x, y = digits.x_test, digits.y_test
    cal = nirconv.convert(trained_small_cnn, digits.x_train, timesteps=4)
    plain = nirconv.convert(trained_small_cnn, digits.x_train, normalize="max", v_init=0.0)
    acc_cal = float((cal.predict(x, 4) == y).float().mean())
    acc_max = float((plain.predict(x, 4) == y).float().mean())
    assert acc_cal >= acc_max


def test_residual_model_converts_and_tracks_the_ann(zoo):
    torch.manual_seed(0)
    model = zoo.randomize_bn(zoo.Residual())
    x = torch.rand(128, 1, 8, 8)
    snn = nirconv.convert(model, x, timesteps=64)
    kinds = [l.kind for l in snn.graph.layers]
    assert "sum" in kinds
    with torch.no_grad():
        logits = model(x[:32])
    est = snn(x[:32], timesteps=64).mean(0) * float(snn.graph.layers[-2].params["scale"].flat[0])
    corr = np.corrcoef(est.flatten().numpy(), logits.flatten().numpy())[0, 1]
    assert corr > 0.95, corr
    graph = nirconv.to_nir(snn)
    into = {}
    for s, d in graph.edges:
        into.setdefault(d, []).append(s)
    assert any(len(v) == 2 for v in into.values())  # the residual add: two edges into one node


def test_concatenation_converts_but_is_not_exported():
    class Cat(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 3), nn.Linear(4, 2)
            self.head = nn.Linear(5, 2)

        def forward(self, x):
            return self.head(torch.cat([torch.relu(self.a(x)), torch.relu(self.b(x))], 1))

    torch.manual_seed(0)
    model = Cat().eval()
    x = torch.randn(64, 4)
    snn = nirconv.convert(model, x, normalize="max")
    with torch.no_grad():
        logits = model(x)
    est = snn(x, timesteps=256).mean(0) * float(snn.graph.layers[-2].params["scale"].flat[0])
    assert np.corrcoef(est.flatten().numpy(), logits.flatten().numpy())[0, 1] > 0.97
    with pytest.raises(nirconv.Unsupported, match="concatenation"):
        nirconv.to_nir(snn)


def test_bad_options_are_one_line_errors(trained_small_cnn, digits):
    x = digits.x_train[:16]
    with pytest.raises(BadInput, match="normalization"):
        nirconv.convert(trained_small_cnn, x, normalize="median")
    with pytest.raises(BadInput, match="scale"):
        nirconv.convert(trained_small_cnn, x, normalize="scale")
    with pytest.raises(BadInput, match="readout"):
        nirconv.convert(trained_small_cnn, x, readout="voltage")
    with pytest.raises(BadInput, match="calibration"):
        nirconv.convert(trained_small_cnn, torch.zeros(4, 3))
    with pytest.raises(BadInput, match="NaN"):
        nirconv.convert(trained_small_cnn, torch.full((4, 1, 8, 8), float("nan")))


def test_dataloader_calibration(trained_small_cnn, digits):
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(digits.x_train[:64], digits.y_train[:64]), batch_size=16)
    snn = nirconv.convert(trained_small_cnn, loader, normalize="percentile")
    ref = nirconv.convert(trained_small_cnn, digits.x_train[:64], normalize="percentile")
    torch.testing.assert_close(snn(digits.x_test[:4], timesteps=4),
                               ref(digits.x_test[:4], timesteps=4))
