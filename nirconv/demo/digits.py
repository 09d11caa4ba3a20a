"""The embedded default model: a small CNN (batch norm, average pooling) trained in seconds on
scikit-learn's 8x8 ``load_digits`` (no download), deterministic for a given seed.

    model, data = trained_digits_cnn(seed=0)     # data: Dataset(x_train, y_train, x_test, y_test)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True, eq=False)
class Dataset:
    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def load_digits_data(seed: int = 0, test_fraction: float = 0.25) -> Dataset:
    """scikit-learn digits as (B, 1, 8, 8) float32 in [0, 1]; a fixed stratified split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=test_fraction,
                                          random_state=seed, stratify=d.target)
    return Dataset("digits", torch.from_numpy(xtr), torch.from_numpy(ytr).long(),
                   torch.from_numpy(xte), torch.from_numpy(yte).long())


class DigitsCNN(nn.Module):
    """conv-bn-relu, avgpool, conv-bn-relu, avgpool, flatten, linear-relu, linear (10 classes)."""

    def __init__(self, channels: int = 16, hidden: int = 64):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(),
            nn.AvgPool2d(2),
            nn.Conv2d(channels, 2 * channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(2 * channels), nn.ReLU(),
            nn.AvgPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.1), nn.Linear(2 * channels * 4, hidden), nn.ReLU(),
            nn.Linear(hidden, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def train_classifier(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int = 40,
                     batch_size: int = 64, lr: float = 3e-3, seed: int = 0) -> nn.Module:
    """Adam + cosine schedule, cross-entropy; deterministic for a given seed. Returns it in eval."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch_size):
            idx = perm[i:i + batch_size]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        sched.step()
    return model.eval()


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(-1) == y).float().mean())


def trained_digits_cnn(seed: int = 0, epochs: int = 40) -> tuple[nn.Module, Dataset]:
    data = load_digits_data(seed)
    torch.manual_seed(seed)
    model = DigitsCNN()
    return train_classifier(model, data.x_train, data.y_train, epochs=epochs, seed=seed), data
