"""How an integer Affine op forms its exact sums in one step: dense GEMM, gather, or int8 GEMM.

All three give the same integers (integer sums are order-free; every carrier is proven exact by
the value bounds, `exactness.py`); they differ only in cost. The rule
(docs/equations/torch_exactness.md, "Sparse spikes"), deterministic given the data and the machine:

* ``int8`` — int8 x int8 -> int32 GEMMs (``torch._int_mm``; oneDNN on AMX / AVX-VNNI) when the
  CPU has an int8 matrix engine (`int8_engine`), the op's input bounds lie in [-128, 127], its
  weights in int8 or within 256 consecutive values (one GEMM, plus an offset times the input's
  row sum) or in 15 bits (two GEMMs, on the byte pieces of the weights) and every partial sum
  stays below 2**31 (`int8_split`);
* ``gather`` — a sum of the weight rows of the non-zero inputs (``embedding_bag``), when the
  step's input density ``d`` (non-zeros / elements; for a non-negative input, Σx / elements, an
  upper bound, one reduction) satisfies ``d * GATHER_PS < max(mac_ps, weight_ps / B) -
  NONZERO_PS / n_out``, i.e. when the rows it adds cost less than the GEMM it replaces (its
  multiply-adds, or for a small batch B reading its weights, whichever is more) plus the scan
  that finds the inputs;
* ``dense`` — the GEMM in the run's carrier otherwise, and always on CUDA (finding the non-zero
  inputs synchronizes with the host there; to be measured when a GPU is available).

The costs are picoseconds per element, measured on the development CPU (Xeon with AMX, one thread,
``benchmarks/bitaccurate.py``): a float32 GEMM ~12.6 ps per multiply-add and at least ~150 ps per
weight read, an int8 GEMM ~2 ps and ~90 ps, a gathered row element ~130 ps, the non-zero scan
~1500 ps per input element.
"""
from __future__ import annotations

import functools
import os

import numpy as np
import torch

FLOAT_GEMM_PS = 12.6  # float32 (float64: the same ratio to its own gather) GEMM, per MAC
FLOAT_WEIGHT_PS = 150.0  # ... and per weight it reads, the floor of a small batch
INT8_GEMM_PS = 2.0  # int8 GEMM on an int8 matrix engine, per MAC
INT8_WEIGHT_PS = 90.0  # ... and per weight read
GATHER_PS = 130.0  # one element of a gathered weight row
NONZERO_PS = 1500.0  # finding the non-zero inputs, per input element
INT8_FLAGS = ("amx_int8", "avx512_vnni", "avx_vnni")
INT32_EXACT = float(1 << 31)


def _cpu_flags() -> set:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


@functools.lru_cache(maxsize=None)
def int8_engine() -> bool:
    """Whether this CPU multiplies int8 matrices in hardware (AMX or VNNI, from /proc/cpuinfo)
    and torch's int8 GEMM gives the exact int64 product on a probe (set ``NIRCONV_INT8=0`` to
    turn it off)."""
    if os.environ.get("NIRCONV_INT8", "1") == "0" or not hasattr(torch, "_int_mm"):
        return False
    if not set(INT8_FLAGS) & _cpu_flags():
        return False
    g = torch.Generator().manual_seed(0)
    a = torch.randint(-128, 128, (33, 70), generator=g, dtype=torch.int64)
    b = torch.randint(-128, 128, (70, 19), generator=g, dtype=torch.int64)
    try:
        got = torch._int_mm(a.to(torch.int8), b.to(torch.int8))
    except RuntimeError:
        return False
    return bool(torch.equal(got.to(torch.int64), a @ b))


def int8_split(weight_lo: float, weight_hi: float, in_lo: float, in_hi: float, n_in: int,
               acc_bound: float):
    """How int8 GEMMs with int32 accumulators compute this op's sums exactly: "int8" (the
    weights fit int8: one GEMM), "offset" (they span at most 256 values: one GEMM on
    ``W - c`` plus ``c`` times the input's row sum), "bytes" (they fit 15 bits: two GEMMs on the
    byte pieces ``W = W_lo + 128 W_hi``), or None (they do not, or the input does not fit int8,
    or a partial sum may overflow int32). See `int8_tables`."""
    if not (-128 <= in_lo and in_hi <= 127 and acc_bound < INT32_EXACT):
        return None
    if -128 <= weight_lo and weight_hi <= 127:
        return "int8"
    # every partial sum of a piece is at most in_max * n_in * (its largest |weight|)
    reach = max(-in_lo, in_hi) * n_in
    offset = abs(weight_lo + 128)
    if (weight_hi - weight_lo <= 255 and reach < (1 << 24)
            and acc_bound + 2 * (128 + offset) * reach < INT32_EXACT):
        return "offset"
    if (-(1 << 14) <= weight_lo and weight_hi < (1 << 14)
            and acc_bound + 2 * 128 * reach < INT32_EXACT):
        return "bytes"
    return None


def int8_exact(weight_lo, weight_hi, in_lo, in_hi, acc_bound, n_in=1) -> bool:
    """Whether one plain int8 GEMM with int32 accumulators computes this op's sums exactly."""
    return int8_split(weight_lo, weight_hi, in_lo, in_hi, n_in, acc_bound) == "int8"


def int8_tables(w: np.ndarray, split: str):
    """([(factor, int8 array)], offset) with ``w = Σ factor * piece + offset`` (`int8_split`)."""
    if split == "int8":
        return [(1, w.astype(np.int8))], 0
    if split == "offset":
        offset = int(w.min()) + 128
        return [(1, (w - offset).astype(np.int8))], offset
    hi = np.floor_divide(w, 128)
    return [(1, (w - 128 * hi).astype(np.int8)), (128, hi.astype(np.int8))], 0


def gather_below(mac_ps: float, weight_ps: float, n_out: int, batch: int) -> float:
    """The input density under which gathering weight rows beats the GEMM (see above)."""
    return (max(mac_ps, weight_ps / max(batch, 1)) - NONZERO_PS / max(n_out, 1)) / GATHER_PS


def int8_product(x: torch.Tensor, tables: list, offset: int = 0) -> torch.Tensor:
    """``x @ table`` for integer ``x`` (B, J) within int8 and the int8 pieces of a (J, K) table
    (`int8_tables`), as int32."""
    x8 = x.to(torch.int8).contiguous()
    y = None
    for factor, table in tables:
        part = torch._int_mm(x8, table)
        y = part if y is None else y.add_(part.mul_(factor))
    if offset:  # the row sums in x's own type (integers below 2**24: exact), then int32
        y += x.sum(1, keepdim=True).to(torch.int32) * offset
    return y
