"""Why the torch backend is bit-exact, enforced: numeric flags and value bounds.

* `exact_numerics()` turns TF32 off (cuBLAS and cuDNN; cuDNN's is on by default for convolutions),
  asks for deterministic cuDNN kernels (integer mode: no cuDNN at all, its Winograd/FFT
  convolutions round), and restores the user's settings afterwards.
* `value_bounds(program, x)` propagates an interval ``[lo, hi]`` for every op's output through the
  program (a fixed point over recurrent edges) from the input data and the neuron records: spike
  counts are bounded by each family's rules, membranes by their saturation range.
* `matmul_dtype(acc_bound)` picks the carrier for a weight op's products and sums: float32 when
  every partial sum is an integer of magnitude < 2**24, float64 when < 2**53 (any summation order
  is then exact), else int64 (CPU only; torch has no integer matmul/conv on CUDA: `Unsupported`).
"""
from __future__ import annotations

import contextlib
import math
import weakref

import numpy as np
import torch

from nirconv.equations.limits import is_unlimited
from nirconv.equations.neurons import BitShiftLIF, Float32LIF, LoihiCubaLIF, SpeckIAF
from nirconv.equations.program import (AffineOp, ConvOp, DelayOp, FlattenOp, InputOp, NeuronOp,
                                       OutputOp, PoolOp, Program, ScaleOp, ThresholdOp)
from nirconv.errors import Unsupported

FLOAT32_EXACT = float(1 << 24)
FLOAT64_EXACT = float(1 << 53)
INF = math.inf


def _flag_slots(integer: bool):
    """(object, attribute, exact value) for every numeric flag torch has in this version."""
    slots = [(torch.backends.cuda.matmul, "allow_tf32", False),
             (torch.backends.cudnn, "allow_tf32", False),
             (torch.backends.cudnn, "deterministic", True),
             (torch.backends.cudnn, "benchmark", False)]
    for owner in ("cuda.matmul", "cudnn.conv", "cudnn.rnn", "mkldnn.matmul", "mkldnn.conv"):
        obj = torch.backends
        for part in owner.split("."):
            obj = getattr(obj, part, None)
        if obj is not None and hasattr(obj, "fp32_precision"):
            slots.append((obj, "fp32_precision", "ieee"))
    if integer:
        # cuDNN may pick Winograd/FFT convolutions, whose transforms round even integer operands;
        # without it torch convolves by im2col + GEMM, exact for bounded integers.
        slots.append((torch.backends.cudnn, "enabled", False))
    return slots


def _nnpack_enabled():
    """NNPACK's switch (None where this torch has none)."""
    getter = getattr(torch._C, "_get_nnpack_enabled", None)
    return None if getter is None else bool(getter())


@contextlib.contextmanager
def exact_numerics(integer: bool = True):
    """TF32 off, deterministic kernels, full float32 matmul precision (integer mode: no cuDNN);
    the user's settings are restored on exit."""
    saved_precision = torch.get_float32_matmul_precision()
    saved = []
    for obj, attr, value in _flag_slots(integer):
        try:
            saved.append((obj, attr, getattr(obj, attr)))
            setattr(obj, attr, value)
        except (AttributeError, RuntimeError, ValueError):
            pass
    torch.set_float32_matmul_precision("highest")
    nnpack = _nnpack_enabled()
    if integer and nnpack:
        # with oneDNN off (a user's choice) torch convolves float32 on the CPU through NNPACK,
        # whose Winograd/FFT transforms round even small integer operands
        torch.backends.nnpack.set_flags(False)
    try:
        yield
    finally:
        if nnpack is not None:
            torch.backends.nnpack.set_flags(nnpack)
        for obj, attr, value in reversed(saved):
            try:
                setattr(obj, attr, value)
            except (AttributeError, RuntimeError, ValueError):
                pass
        torch.set_float32_matmul_precision(saved_precision)


def matmul_dtype(acc_bound: float, device: torch.device, op_name: str, source: str):
    """The carrier dtype that sums integer products of total magnitude <= acc_bound exactly."""
    if acc_bound < FLOAT32_EXACT:
        return torch.float32
    if acc_bound < FLOAT64_EXACT:
        return torch.float64
    if device.type == "cpu":
        return torch.int64
    raise Unsupported(f"partial sums may reach {acc_bound:.3g} >= 2**53: float64 would not be "
                      "exact and torch has no integer matmul/convolution on this device; run on "
                      "cpu",
                      file=source, node=op_name, field="weight")


# ---------------------------------------------------------------------------------------------
# Interval bounds of every op's output (integer mode).

def neuron_bounds(record) -> tuple[float, float]:
    """The range of a neuron's output: spike counts, or the membrane's saturation range."""
    if isinstance(record, SpeckIAF):
        if record.reset == "zero":
            return 0.0, 1.0
        if not is_unlimited(record.max_spikes):
            return 0.0, float(record.max_spikes)
        th = int(np.min(record.threshold)) if np.size(record.threshold) else 1
        return 0.0, float(max(record.v_max, 0) // th) if th > 0 else INF
    if isinstance(record, BitShiftLIF):
        if record.threshold is None:
            half = 1 << (record.state_bits - 1)
            return float(-half), float(half - 1)
        if record.reset == "zero":
            return 0.0, 1.0
        hi = float((1 << (record.state_bits - 1)) - 1)  # a count is at most v / th <= v_max
        return 0.0, hi if is_unlimited(record.max_spikes) else min(hi, float(record.max_spikes))
    if isinstance(record, LoihiCubaLIF):
        if record.vth is None:
            return float(-record.STATE_MAX), float(record.STATE_MAX)
        return 0.0, 1.0
    if isinstance(record, Float32LIF):
        return 0.0, 1.0
    return -INF, INF


def _mul_interval(lo, hi, w):
    """Interval of w * x for x in [lo, hi], elementwise over w (numpy), always including 0."""
    w = np.asarray(w, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        a = np.where(w == 0, 0.0, w * lo)
        b = np.where(w == 0, 0.0, w * hi)
    return np.minimum(np.minimum(a, b), 0.0), np.maximum(np.maximum(a, b), 0.0)


_ROW_SUMS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def row_sums(op) -> tuple[np.ndarray, np.ndarray]:
    """Per output row (channel), the sums of the positive and of the negative weights (cached
    per op: a program is usually run many times)."""
    cached = _ROW_SUMS.get(op)
    if cached is None:
        w = np.asarray(op.weight, dtype=np.float64)
        rows = w.reshape(w.shape[0], -1)
        cached = (np.maximum(rows, 0).sum(axis=1), np.minimum(rows, 0).sum(axis=1))
        _ROW_SUMS[op] = cached
    return cached


def _times(a: np.ndarray, b: float) -> np.ndarray:
    """a * b with 0 * inf = 0 (a zero row contributes nothing, however large the input)."""
    with np.errstate(invalid="ignore"):
        return np.where(a == 0, 0.0, a * b)


def weight_intervals(op, lo, hi):
    """(out_lo, out_hi, acc_bound) of a weight op's sum before bias and shift, for inputs in
    [lo, hi] with lo <= 0 <= hi (every interval here contains 0): per row, the positive weights
    times hi plus the negative ones times lo bound it above, and the partial sums of |w x| are
    at most (P - N) * max(|lo|, |hi|)."""
    pos, neg = row_sums(op)
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    out_hi = _times(pos, hi) + _times(neg, lo)
    out_lo = _times(pos, lo) + _times(neg, hi)
    acc = _times(pos - neg, max(abs(lo), abs(hi)))
    return float(out_lo.min(initial=0.0)), float(out_hi.max(initial=0.0)), \
        float(acc.max(initial=0.0))


def _shifted(lo, hi, bias, shift):
    b = np.asarray(bias if bias is not None else 0.0, dtype=np.float64)
    lo, hi = lo + float(np.min(b, initial=0.0)), hi + float(np.max(b, initial=0.0))
    return math.floor(lo * 2.0 ** shift) if lo > -INF else lo, \
        math.floor(hi * 2.0 ** shift) if hi < INF else hi


def _op_interval(op, lo, hi):
    if isinstance(op, NeuronOp):
        return neuron_bounds(op.neuron)
    if isinstance(op, ThresholdOp):
        return 0.0, 1.0
    if isinstance(op, (AffineOp, ConvOp)):
        wlo, whi, _ = weight_intervals(op, lo, hi)
        return _shifted(wlo, whi, op.bias, op.shift)
    if isinstance(op, PoolOp):
        if op.mode == "avg":
            return min(lo, 0.0), max(hi, 0.0)
        k = float(np.prod(op.kernel))
        return k * min(lo, 0.0), k * max(hi, 0.0)
    if isinstance(op, ScaleOp):
        slo, shi = _mul_interval(lo, hi, op.scale)
        low, high = float(slo.min(initial=0.0)), float(shi.max(initial=0.0))
        return (math.floor(low) if low > -INF else low), (math.ceil(high) if high < INF else high)
    if isinstance(op, (FlattenOp, OutputOp, DelayOp)):
        return min(lo, 0.0), max(hi, 0.0)
    raise Unsupported(f"op {type(op).__name__} is not supported by the torch backend",
                      node=op.name, field="type")


def value_bounds(program: Program, x_lo: float, x_hi: float) -> dict[str, tuple[float, float]]:
    """Interval of every op's output over all steps and samples, for inputs in [x_lo, x_hi]."""
    bounds = {op.name: (0.0, 0.0) for op in program.ops}
    for op in program.ops:
        if isinstance(op, InputOp):
            bounds[op.name] = (min(float(x_lo), 0.0), max(float(x_hi), 0.0))

    def sweep():
        changed = False
        for op in program.ops:
            if isinstance(op, InputOp):
                continue
            lo = sum(bounds[e.src][0] for e in op.inputs)
            hi = sum(bounds[e.src][1] for e in op.inputs)
            new = _op_interval(op, lo, hi)
            new = (min(new[0], bounds[op.name][0]), max(new[1], bounds[op.name][1]))
            if new != bounds[op.name]:
                bounds[op.name] = new
                changed = True
        return changed

    for _ in range(len(program.ops) + 2):
        if not sweep():
            return bounds
    # A recurrence without a saturating neuron can grow without bound: no finite interval.
    for op in program.ops:
        if not isinstance(op, (InputOp, NeuronOp, ThresholdOp)):
            bounds[op.name] = (-INF, INF)
    sweep()
    return bounds


def input_bound(program: Program, bounds, op) -> tuple[float, float]:
    """Interval of the summed input arriving at ``op``."""
    return (sum(bounds[e.src][0] for e in op.inputs), sum(bounds[e.src][1] for e in op.inputs))


INT32_HEADROOM = float(1 << 28)  # any sum of up to 8 such values stays inside int32
FLOAT32_HEADROOM = float(1 << 21)  # any sum of up to 8 such values is an exact float32 integer


def _record_magnitude(record) -> float:
    """The largest integer a neuron's own state and parameters reach (Loihi computes in int64
    internally and outputs at most STATE_MAX)."""
    if isinstance(record, SpeckIAF):
        arrays = (record.threshold, record.bias, record.v_init, record.v_min, record.v_max)
    elif isinstance(record, BitShiftLIF):
        arrays = (record.threshold if record.threshold is not None else 0, record.bias,
                  record.v_init, float(1 << record.state_bits))
    else:
        return 0.0
    return max(float(np.max(np.abs(np.asarray(a, dtype=np.float64)), initial=0.0))
               for a in arrays)


def _within(program: Program, bounds: dict, headroom: float) -> bool:
    for op in program.ops:
        lo, hi = bounds[op.name]
        ilo, ihi = input_bound(program, bounds, op)
        if max(-lo, hi, -ilo, ihi) > headroom:
            return False
        if isinstance(op, NeuronOp) and _record_magnitude(op.neuron) > headroom:
            return False
    return True


def int32_safe(program: Program, bounds: dict) -> bool:
    """Whether every op's output and summed input, and every neuron's state, stays within 2**28:
    then int32 holds every value and every sum the kernels form (count * threshold <= |v|)."""
    return _within(program, bounds, INT32_HEADROOM)


def float32_safe(program: Program, bounds: dict) -> bool:
    """Whether float32 can carry every integer value of the run exactly: every op's output and
    summed input, every neuron's state and parameters within 2**21 (so every sum of up to 8 of
    them, and ``count * threshold <= |v|``, is an integer below 2**24), and every weight op's
    partial sums plus bias (before its shift) below 2**21 too. Then matmul/conv outputs, neuron
    updates and pooling all run in float32 without a single conversion, and each operation
    (add, subtract, clip, compare, multiply by a power of two, floor of a quotient) returns the
    exact integer result."""
    if not _within(program, bounds, FLOAT32_HEADROOM):
        return False
    for op in program.ops:
        if isinstance(op, (AffineOp, ConvOp)):
            lo, hi = input_bound(program, bounds, op)
            _, _, acc = weight_intervals(op, lo, hi)
            bias = float(np.max(np.abs(np.asarray(op.bias if op.bias is not None else 0.0,
                                                  dtype=np.float64)), initial=0.0))
            if acc + bias > FLOAT32_HEADROOM:
                return False
        if isinstance(op, NeuronOp) and isinstance(op.neuron, LoihiCubaLIF):
            return False  # its arithmetic is int64 whatever the carrier: nothing to gain
    return True
