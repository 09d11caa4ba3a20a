"""The per-event saturating accumulation (Xylo "ordered") against a plain sequential loop."""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nirconv.backends.torch.ordered import compose_clamps, ordered_sum


def sequential(s, events, lo, hi):
    for c in events:
        s = min(max(s + c, lo), hi)
    return s


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(bits=st.integers(3, 16), start=st.integers(-2 ** 15, 2 ** 15 - 1),
       events=st.lists(st.integers(-3 * 2 ** 15, 3 * 2 ** 15), min_size=0, max_size=37))
def test_composed_clamps_equal_the_sequential_loop(bits, start, events):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    start = min(max(start, lo), hi)  # states always lie in range
    got = ordered_sum(torch.tensor([start]), torch.tensor([events], dtype=torch.int64)
                      .reshape(1, len(events)), lo, hi)
    assert int(got[0]) == sequential(start, events, lo, hi)


def test_batched_rows_are_independent():
    rng = np.random.default_rng(0)
    events = rng.integers(-500, 500, (64, 33))
    starts = rng.integers(-128, 128, 64)
    got = ordered_sum(torch.as_tensor(starts), torch.as_tensor(events), -128, 127).numpy()
    want = [sequential(int(s), map(int, e), -128, 127) for s, e in zip(starts, events)]
    assert got.tolist() == want


def test_order_matters_and_is_kept():
    # +100 +100 -100 -100 in 8 bits: 100, 127, 27, -73 (the plain sum would be 0)
    assert int(ordered_sum(torch.tensor([0]), torch.tensor([[100, 100, -100, -100]]), -128,
                           127)[0]) == -73
    a, l, h = compose_clamps(torch.tensor([[-100, -100, 100, 100]]), -128, 127)
    assert int(torch.minimum(torch.maximum(torch.tensor(0) + a, l), h)[0]) == 72
