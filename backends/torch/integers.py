"""Exact integer operations on the run's carrier (float32, int32 or int64; see
docs/equations/torch_exactness.md): shifts by powers of two and 0/1 comparisons."""
from __future__ import annotations

import torch


def shift_int(y: torch.Tensor, shift: int) -> torch.Tensor:
    """Multiply by 2**shift; floor for negative shifts (arithmetic right shift). On an integer
    value carried in float32 (`Setup.float32`) scaling by a power of two is exact."""
    if y.is_floating_point():
        if shift > 0:
            return y * float(2 ** shift)
        if shift < 0:
            return torch.floor(y * 2.0 ** shift)
        return y
    if shift > 0:
        return y << shift
    if shift < 0:
        return y >> (-shift)
    return y


def at_least(v: torch.Tensor, th: torch.Tensor) -> torch.Tensor:
    """``[v >= th]`` as 0/1 in ``v``'s type, written straight into a fresh tensor of that type
    (several times faster on the CPU than a bool tensor converted afterwards)."""
    return torch.ge(v, th, out=torch.empty(v.shape, dtype=v.dtype, device=v.device))
