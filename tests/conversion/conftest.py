"""Small models and data for the conversion tests (trained in a second, cached per session)."""
from __future__ import annotations

import pytest
import torch
from torch import nn


class SmallCNN(nn.Module):
    """Conv-BN-ReLU, AvgPool, Conv-BN-ReLU, AvgPool, Flatten, Linear: the benchmark's shape."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.AvgPool2d(2),
            nn.Conv2d(6, 8, 3, padding=1, stride=1, dilation=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.AvgPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(32, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.body = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                                  nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4))
        self.relu = nn.ReLU()
        self.pool = nn.AvgPool2d(2)
        self.head = nn.Linear(4 * 16, 10)

    def forward(self, x):
        h = self.stem(x)
        h = self.relu(self.body(h) + h)
        return self.head(self.pool(h).flatten(1))


def randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial running statistics and affine parameters in every BatchNorm."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.3)
            m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(c, generator=g) * 0.2)
    return model.eval()


@pytest.fixture(scope="session")
def digits():
    from nirconv.demo.digits import load_digits_data
    return load_digits_data(seed=0)


@pytest.fixture(scope="session")
def trained_small_cnn(digits):
    from nirconv.demo.digits import train_classifier
    torch.manual_seed(0)
    return train_classifier(SmallCNN(), digits.x_train, digits.y_train, epochs=4, seed=0)


class _Zoo:
    SmallCNN = SmallCNN
    Residual = Residual
    randomize_bn = staticmethod(randomize_bn)


@pytest.fixture(scope="session")
def zoo():
    """The model classes above (pytest's importlib mode cannot import conftest by name)."""
    return _Zoo
