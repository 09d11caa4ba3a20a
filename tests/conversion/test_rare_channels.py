"""A channel that is almost never active must not get a tiny λ (huge incoming weights)."""
from __future__ import annotations

import numpy as np
import torch

from nirconv.conversion.normalization import MIN_LAMBDA_FRACTION, Options, activation_scale


def test_rarely_active_channel_is_floored():
    acts = torch.zeros(2000, 3)
    acts[:, 0] = torch.rand(2000) * 2.0
    acts[:, 1] = torch.rand(2000) * 3.0
    acts[0, 2] = 1e-4  # active once, barely
    lam = activation_scale(acts, Options(method="percentile", percentile=99.9, channel_wise=True))
    median = float(np.median(lam))
    assert lam[2] >= MIN_LAMBDA_FRACTION * median * (1 - 1e-12)
    assert lam[0] > 1.9 and lam[1] > 2.9  # normal channels untouched
