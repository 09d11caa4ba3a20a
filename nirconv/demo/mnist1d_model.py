"""A 1-D CNN (Conv1d + batch norm + AvgPool1d) on mnist1d (generated offline in seconds).

    model, data = trained_mnist1d_cnn(seed=0)
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .digits import Dataset, train_classifier


def load_mnist1d_data(num_samples: int = 5000) -> Dataset:
    """mnist1d (40 samples per sequence) as (B, 1, 40) float32; its own fixed seed and split."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = num_samples
    state = np.random.get_state()  # make_dataset seeds numpy's global generator
    try:
        d = make_dataset(args)
    finally:
        np.random.set_state(state)

    def t(a):
        return torch.from_numpy(np.asarray(a, dtype=np.float32))[:, None]

    return Dataset("mnist1d", t(d["x"]), torch.from_numpy(np.asarray(d["y"])).long(),
                   t(d["x_test"]), torch.from_numpy(np.asarray(d["y_test"])).long())


class Mnist1dCNN(nn.Module):
    def __init__(self, channels: int = 32):
        super().__init__()
        c = channels
        self.features = nn.Sequential(
            nn.Conv1d(1, c, 5, padding=2), nn.BatchNorm1d(c), nn.ReLU(),
            nn.Conv1d(c, c, 3, padding=1), nn.BatchNorm1d(c), nn.ReLU(), nn.AvgPool1d(2),
            nn.Conv1d(c, c, 3, padding=1), nn.BatchNorm1d(c), nn.ReLU(), nn.AvgPool1d(2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(c * 10, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def trained_mnist1d_cnn(seed: int = 0, epochs: int = 40) -> tuple[nn.Module, Dataset]:
    data = load_mnist1d_data()
    torch.manual_seed(seed)
    model = Mnist1dCNN()
    return train_classifier(model, data.x_train, data.y_train, epochs=epochs, seed=seed), data
