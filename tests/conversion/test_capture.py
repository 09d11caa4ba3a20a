"""Capture (torch.export + ATen rules) and the graph passes: exact, and refusing what they can't."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from nirconv.conversion import capture_model
from nirconv.conversion.normalization import ann_activations
from nirconv.errors import BadInput, Unsupported


def _graph_output(model, x):
    graph = capture_model(model, x[:2], "test")
    acts = ann_activations(graph, x.to(torch.float32))
    return graph, acts[graph.output.name]


def test_bn_folding_is_exact(zoo):
    torch.manual_seed(0)
    model = zoo.randomize_bn(zoo.SmallCNN())
    x = torch.randn(16, 1, 8, 8)
    graph, y = _graph_output(model, x)
    assert not [l for l in graph.layers if l.kind == "bn"]
    assert [l.kind for l in graph.layers].count("conv") == 2
    torch.testing.assert_close(y, model(x), rtol=1e-5, atol=1e-5)


def test_bn1d_after_linear_and_standalone_bn_are_exact(zoo):
    torch.manual_seed(1)
    model = zoo.randomize_bn(nn.Sequential(nn.BatchNorm1d(6), nn.Linear(6, 5), nn.BatchNorm1d(5),
                                       nn.ReLU(), nn.Linear(5, 3)))
    x = torch.randn(8, 6)
    graph, y = _graph_output(model, x)
    assert not [l for l in graph.layers if l.kind == "bn"]
    torch.testing.assert_close(y, model(x), rtol=1e-5, atol=1e-5)


def test_conv1d_avgpool1d_and_conv_options(zoo):
    torch.manual_seed(2)
    model = zoo.randomize_bn(nn.Sequential(
        nn.Conv1d(2, 4, 3, stride=2, padding=2, dilation=2), nn.BatchNorm1d(4), nn.ReLU(),
        nn.AvgPool1d(2), nn.Conv1d(4, 4, 3, groups=2, padding=1), nn.ReLU(), nn.Flatten(),
        nn.Linear(4 * 5, 3)))
    x = torch.randn(4, 2, 21)
    graph, y = _graph_output(model, x)
    kinds = [l.kind for l in graph.layers]
    assert "avgpool" in kinds and "reshape" in kinds and kinds.count("reshape") == 1
    torch.testing.assert_close(y, model(x), rtol=1e-5, atol=1e-5)


def test_residual_graph_is_captured_exactly(zoo):
    torch.manual_seed(3)
    model = zoo.randomize_bn(zoo.Residual())
    x = torch.randn(4, 1, 8, 8)
    graph, y = _graph_output(model, x)
    assert [l.kind for l in graph.layers].count("sum") == 1
    torch.testing.assert_close(y, model(x), rtol=1e-5, atol=1e-5)


class WithMaxPool(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2))
        self.fc = nn.Linear(2 * 9, 3)

    def forward(self, x):
        return self.fc(self.features(x).flatten(1))


def test_maxpool_is_refused_naming_module_path_and_type():
    with pytest.raises(Unsupported) as e:
        capture_model(WithMaxPool().eval(), torch.randn(2, 1, 8, 8), "m.pt2")
    msg = e.value.one_line()
    assert "features.2" in msg and "MaxPool2d" in msg and "m.pt2" in msg
    assert "\n" not in msg


def test_other_activation_is_refused():
    model = nn.Sequential(nn.Linear(4, 4), nn.Sigmoid(), nn.Linear(4, 2)).eval()
    with pytest.raises(Unsupported, match=r"'1'.*Sigmoid"):
        capture_model(model, torch.randn(2, 4), "test")


def test_nan_weights_are_bad_input():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)).eval()
    with torch.no_grad():
        model[2].weight[0, 0] = float("nan")
    with pytest.raises(BadInput, match="NaN") as e:
        capture_model(model, torch.randn(2, 4), "test")
    assert e.value.node == "2" and e.value.field == "weight"
