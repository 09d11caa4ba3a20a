"""A small CNN trained on scikit-learn's digits (seeded, a few seconds on one core)."""
from __future__ import annotations

import numpy as np
import pytest


def make_cnn():
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(32, 10))


@pytest.fixture(scope="session")
def digits_cnn():
    return train_digits_cnn()


def train_digits_cnn():
    """(model in eval mode, x (N, 1, 8, 8) float32 in [0, 1], y (N,) int64) — held-out split."""
    import torch
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    train, test = order[:1400], order[1400:]
    torch.manual_seed(0)
    model = make_cnn()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(0)
    xt, yt = torch.from_numpy(x[train]), torch.from_numpy(y[train])
    for _ in range(12):  # ~90% held-out accuracy
        perm = torch.randperm(len(train), generator=gen)
        for i in range(0, len(train), 50):
            idx = perm[i:i + 50]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
    model.eval()
    return model, x[test], y[test]
