"""How an integer Affine op forms its exact sums in one step: dense GEMM, gather, or int8 GEMM.

All three give the same integers (integer sums are order-free; every carrier is proven exact by the
value bounds, `exactness.py`); they differ only in cost. The rule (docs/equations/torch_exactness.md,
"Sparse spikes"), deterministic given the data and the machine:

* ``int8`` — an int8 x int8 -> int32 GEMM (``torch._int_mm``; oneDNN on AMX / AVX-VNNI) when the
  CPU has an int8 matrix engine (`int8_engine`), the op's weights and its input bounds lie in
  [-128, 127] and every partial sum stays below 2**31 (`int8_exact`);
* ``gather`` — a sum of the weight rows of the non-zero inputs (``embedding_bag``), when the step's
  input density ``d`` (non-zeros / elements; for a non-negative input, Σx / elements, an upper
  bound, one reduction) satisfies ``d * GATHER_PS < dense_ps - NONZERO_PS / n_out``, i.e. when the
  rows it adds cost less than the GEMM it replaces plus the scan that finds the inputs;
* ``dense`` — the GEMM in the run's carrier otherwise, and always on CUDA (finding the non-zero
  inputs synchronizes with the host there; to be measured when a GPU is available).

The costs are picoseconds per element, measured on the development CPU (Xeon with AMX, one thread,
``benchmarks/bitaccurate.py``): a float32 GEMM ~12.6 ps per multiply-add, an int8 GEMM ~2 ps, a
gathered row element ~130 ps, the non-zero scan ~1500 ps per input element.
"""
from __future__ import annotations

import functools
import os

import torch

FLOAT_GEMM_PS = 12.6  # float32 (float64: the same ratio to its own gather) GEMM, per MAC
INT8_GEMM_PS = 2.0  # int8 GEMM on an int8 matrix engine, per MAC
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


def int8_exact(weight_lo: float, weight_hi: float, in_lo: float, in_hi: float,
               acc_bound: float) -> bool:
    """Whether an int8 GEMM with int32 accumulators computes this op's sums exactly."""
    return (-128 <= weight_lo and weight_hi <= 127 and -128 <= in_lo and in_hi <= 127
            and acc_bound < INT32_EXACT)


def gather_below(dense_ps: float, n_out: int) -> float:
    """The input density under which gathering weight rows beats the GEMM (see above)."""
    return (dense_ps - NONZERO_PS / max(n_out, 1)) / GATHER_PS


def int8_product(x: torch.Tensor, table_int8: torch.Tensor) -> torch.Tensor:
    """``x @ table`` for integer ``x`` (B, J) within int8 and an int8 (J, K) table, as int32."""
    return torch._int_mm(x.to(torch.int8).contiguous(), table_int8)
