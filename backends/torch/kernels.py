"""One torch kernel per Program op type, registered in `KERNELS`, built by `make_kernel`.

A kernel is built once per run from its op and the run's `Setup`, then stepped: ``step(x, t)``
takes the summed input ``(B, *in_shape)`` of step ``t`` and returns the output ``(B, *out_shape)``.
A neuron op's kernel holds the mutable `State` of its population (`make_state`, ``neurons.py``).
Integer mode: every value is an integer, carried in ``Setup.vdtype``: float32 when the value bounds
prove every value and intermediate an integer below 2**24 (`exactness.float32_safe`), else int32
when they allow, else int64; every operation is exact (weight products go through
`exactness.matmul_dtype`). Float mode: the float dtype of the run.
See docs/equations/torch_exactness.md.
"""
from __future__ import annotations

import weakref
from collections import Counter
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from nirconv.equations.limits import UNLIMITED
from nirconv.equations.neurons import (BitShiftLIF, Float32LIF, LoihiCubaLIF, NeuronFloat,
                                       SpeckIAF)
from nirconv.equations.program import (AffineOp, ConvOp, DelayOp, FlattenOp, InputOp, NeuronOp,
                                       Op, OutputOp, PoolOp, Program, ScaleOp, ThresholdOp)
from nirconv.errors import Unsupported

from .exactness import matmul_dtype, weight_intervals
from .integers import shift_int
from .products import (FLOAT_GEMM_PS, FLOAT_WEIGHT_PS, INT8_GEMM_PS, INT8_WEIGHT_PS,
                       gather_below, int8_engine, int8_product, int8_split, int8_tables)
from .neurons import BitShiftState, Float32State, FloatState, LoihiState, SpeckState

_WEIGHTS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


@dataclass
class Setup:
    """The settings of one run: device, number formats and (integer mode) the value bounds."""

    program: Program
    device: torch.device
    integer: bool
    fdtype: torch.dtype  # float mode carrier
    bounds: Optional[dict]  # integer mode: op name -> (lo, hi) of its output
    input_bounds: Optional[dict]  # integer mode: op name -> (lo, hi) of its summed input
    int32: bool = False  # integer mode: every value fits int32 with headroom (exactness.int32_safe)
    float32: bool = False  # integer mode: float32 carries every value exactly (float32_safe)

    @property
    def source(self) -> str:
        return self.program.source

    @property
    def vdtype(self) -> torch.dtype:
        if self.integer:
            if self.float32:
                return torch.float32
            return torch.int32 if self.int32 else torch.int64
        return self.fdtype

    def tensor(self, array, dtype=None) -> torch.Tensor:
        return torch.as_tensor(np.array(array, copy=True), dtype=dtype or self.vdtype,
                               device=self.device)

    def weight(self, op, part: str, dtype) -> torch.Tensor:
        """op.weight (``part`` "w"), its positive or negative part ("pos", "neg") or both stacked
        along the output axis ("pn": per group, the group's positive then negative channels, so
        that a grouped convolution keeps its groups); a "T" suffix: the (n_in, n_out) table of
        the rows a sparse product gathers. A device tensor, cached per op, so repeated runs of
        one program do not convert the weights again."""
        per_op = _WEIGHTS.setdefault(op, {})
        key = (part, dtype, str(self.device))
        if key not in per_op:
            per_op[key] = self.tensor(weight_part(op, part), dtype)
        return per_op[key]

    def int8_tables(self, op, part: str, split: str):
        """The (n_in, n_out) table of ``part`` as int8 pieces and an offset
        (`products.int8_tables`), cached like `weight`."""
        per_op = _WEIGHTS.setdefault(op, {})
        key = (part, "int8", split, str(self.device))
        if key not in per_op:
            pieces, offset = int8_tables(weight_part(op, part + "T"), split)
            per_op[key] = ([(f, torch.as_tensor(t, device=self.device)) for f, t in pieces],
                           offset)
        return per_op[key]


def weight_range(op) -> tuple[float, float]:
    """(min, max) of op.weight, cached per op like the weight tensors."""
    per_op = _WEIGHTS.setdefault(op, {})
    if "range" not in per_op:
        w = np.asarray(op.weight)
        per_op["range"] = (float(w.min()), float(w.max()))
    return per_op["range"]


def weight_part(op, part: str) -> np.ndarray:
    """The numpy array behind `Setup.weight`: "w", "pos", "neg" or "pn", "T" for the table."""
    w = np.asarray(op.weight)
    base = part[:-1] if part.endswith("T") else part
    if base == "pn":  # both parts stacked along the output axis, per group (conv)
        groups = int(getattr(op, "groups", 1))
        parts = [p.reshape(groups, -1, *w.shape[1:])
                 for p in (np.maximum(w, 0), np.minimum(w, 0))]
        w = np.stack(parts, axis=1).reshape(2 * w.shape[0], *w.shape[1:])
    else:
        w = {"w": w, "pos": np.maximum(w, 0), "neg": np.minimum(w, 0)}[base]
    if part.endswith("T"):  # (n_in, n_out) rows, the table of a sparse product
        w = np.ascontiguousarray(w.reshape(w.shape[0], -1).T)
    return w


class Kernel:
    spiking = False

    def __init__(self, op: Op, setup: Setup):
        self.op = op
        self.setup = setup

    def reset(self, batch: int) -> None:
        pass

    def step(self, x: torch.Tensor, t: int) -> torch.Tensor:
        raise NotImplementedError


class WeightKernel(Kernel):
    """Affine and convolution: an exact integer product in integer mode."""

    def __init__(self, op, setup):
        super().__init__(op, setup)
        self.shift = int(op.shift)
        self.bias = None if op.bias is None else setup.tensor(op.bias)
        self.paths: Counter = Counter()  # steps per product path ("dense", "gather", "int8")
        if setup.integer:
            self.in_lo, self.in_hi = setup.input_bounds[op.name]
            _, _, self.acc_bound = weight_intervals(op, self.in_lo, self.in_hi)
            self.cdtype = matmul_dtype(self.acc_bound, setup.device, op.name, setup.source)
            self.w = setup.weight(op, "w", self.cdtype)
        else:
            self.w = setup.weight(op, "w", setup.fdtype)

    def product(self, x, w) -> torch.Tensor:
        raise NotImplementedError

    def exact(self, x: torch.Tensor, part: str = "w", shift: int = 0) -> torch.Tensor:
        """The product with op.weight ("w"), its positive or negative part ("pos", "neg") or both
        stacked along the output axis ("pn"), times 2**shift (shift >= 0), exact, as integers in
        the carrier."""
        self.paths["dense"] += 1
        w = self.w if part == "w" else self.setup.weight(self.op, part, self.cdtype)
        return self.to_carrier(self.product(x.to(self.cdtype), w), shift)

    def to_carrier(self, y: torch.Tensor, shift: int) -> torch.Tensor:
        """``y * 2**shift`` (shift >= 0) in the carrier, in one pass where the types allow."""
        vdtype = self.setup.vdtype
        if shift and vdtype.is_floating_point:  # an exact integer times a power of two
            scaled = torch.mul(y, float(1 << shift))
            return scaled if scaled.dtype == vdtype else scaled.to(vdtype)
        y = y.to(vdtype)
        return y.mul_(1 << shift) if shift else y

    def step(self, x, t):
        x = x.reshape(x.shape[0], *self.op.in_shape)
        if not self.setup.integer:
            y = self.product(x, self.w)
            if self.bias is not None:
                y = y + self._bias_view(self.bias)
            return y * (2.0 ** self.shift) if self.shift else y
        y = self.exact(x)
        if self.bias is not None:
            y = y + self._bias_view(self.bias)
        return shift_int(y, self.shift)

    def _bias_view(self, b):
        return b.reshape(b.shape[0], *([1] * (len(self.op.out_shape) - 1)))

    # --- the ordered (per-event saturating) path of BitShiftLIF: `ordered.accumulate` -------
    def signed_parts(self, x: torch.Tensor):
        """(P, N): per output, the sums of positive and of negative contributions (x 2**shift)."""
        x = x.reshape(x.shape[0], *self.op.in_shape)
        if self.in_lo < 0 and bool((x < 0).any()):
            xp, xn = x.clamp(min=0), x.clamp(max=0)
            pos = self.exact(xp, "pos", self.shift) + self.exact(xn, "neg", self.shift)
            neg = self.exact(xp, "neg", self.shift) + self.exact(xn, "pos", self.shift)
            return pos, neg
        # spike counts: the positive part comes from the positive weights only
        both = self.exact(x, "pn", self.shift)  # (B, groups, 2, per group, ...) along axis 1
        groups = int(getattr(self.op, "groups", 1))
        both = both.reshape(both.shape[0], groups, 2, -1)
        return tuple(both[:, :, i].reshape(both.shape[0], *self.op.out_shape) for i in (0, 1))


class AffineKernel(WeightKernel):
    """Integer mode: per step the cheapest exact product (`products.py`): a GEMM in the carrier,
    an int8 GEMM, or, for a sparse input (spikes), an embedding-bag sum of the weight rows of its
    non-zero entries (cost proportional to the events)."""

    def __init__(self, op, setup):
        super().__init__(op, setup)
        self.int8 = None  # how int8 GEMMs compute the product (`products.int8_split`)
        if setup.integer:
            if setup.device.type == "cpu" and np.size(op.weight) > 0 and int8_engine():
                self.int8 = int8_split(*weight_range(op), self.in_lo, self.in_hi,
                                       op.in_shape[0], self.acc_bound)
            pieces = 2 if self.int8 == "bytes" else 1
            self.gemm_ps = ((FLOAT_GEMM_PS, FLOAT_WEIGHT_PS) if self.int8 is None
                            else (INT8_GEMM_PS * pieces, INT8_WEIGHT_PS * pieces))
            self.gather_ok = setup.device.type == "cpu" and self.cdtype != torch.int64

    def product(self, x, w):
        return x.reshape(x.shape[0], -1) @ w.T

    def exact(self, x, part="w", shift=0):
        x2 = x.reshape(x.shape[0], -1)
        path = self.choose(x2)
        if path == "gather":
            self.paths[path] += 1
            return self.to_carrier(self._gather(x2, part), shift)
        if path == "int8":
            self.paths[path] += 1
            tables, offset = self.setup.int8_tables(self.op, part, self.int8)
            return self.to_carrier(int8_product(x2, tables, offset), shift)
        return super().exact(x2, part, shift)

    def choose(self, x2) -> str:
        """"gather" when this step's input density is below `gather_below`, else "int8" or
        "dense" (docs/equations/torch_exactness.md, "Sparse spikes")."""
        gemm = "dense" if self.int8 is None else "int8"
        below = (gather_below(*self.gemm_ps, self.op.out_shape[0], x2.shape[0])
                 if self.gather_ok else 0.0)
        if below <= 0 or x2.numel() == 0:
            return gemm
        # spike counts (non-negative): Σx >= the number of non-zeros, in one reduction
        events = float(x2.sum()) if self.in_lo >= 0 else float(torch.count_nonzero(x2))
        return "gather" if events < below * x2.numel() else gemm

    def _gather(self, x2, part):
        n_out = self.op.out_shape[0] * (2 if part == "pn" else 1)
        nz = x2.bool().nonzero()  # faster on the CPU than nonzero of the numbers
        if nz.shape[0] == 0:
            return torch.zeros((x2.shape[0], n_out), dtype=self.cdtype, device=x2.device)
        b, j = nz[:, 0], nz[:, 1]
        per_sample = torch.bincount(b, minlength=x2.shape[0])
        offsets = torch.cumsum(per_sample, 0) - per_sample
        table = self.setup.weight(self.op, part + "T", self.cdtype)
        binary = 0 <= self.in_lo and self.in_hi <= 1
        counts = None if binary else x2[b, j].to(self.cdtype)  # 0/1 inputs need no weights
        return F.embedding_bag(j, table, offsets, mode="sum", per_sample_weights=counts)


class ConvKernel(WeightKernel):
    def __init__(self, op, setup):
        super().__init__(op, setup)
        self.nd = len(op.stride)
        if self.nd not in (1, 2):
            raise Unsupported(f"{self.nd}-D convolution", file=setup.source, node=op.name,
                              field="weight")
        self.fn = F.conv1d if self.nd == 1 else F.conv2d

    def product(self, x, w):
        o = self.op
        return self.fn(x, w, None, o.stride, o.padding, o.dilation, o.groups)


class InputKernel(Kernel):
    def step(self, x, t):
        return self.data[t].to(self.setup.vdtype)

    def bind(self, data: torch.Tensor) -> None:
        self.data = data


class PassKernel(Kernel):
    """Flatten, Output and pass-through nodes."""

    def step(self, x, t):
        return x.reshape(x.shape[0], *self.op.out_shape)


class ScaleKernel(Kernel):
    def __init__(self, op, setup):
        super().__init__(op, setup)
        scale = np.broadcast_to(np.asarray(op.scale, dtype=np.float64), op.in_shape)
        if setup.integer and not np.all(scale == np.rint(scale)):
            raise Unsupported("integer mode needs an integer Scale", file=setup.source,
                              node=op.name, field="scale")
        self.scale = setup.tensor(scale)

    def step(self, x, t):
        return x.reshape(x.shape[0], *self.op.in_shape) * self.scale


class PoolKernel(Kernel):
    """Sum pooling as a sum of shifted slices (exact for integers on every device); average pooling
    (float mode only) divides by the kernel size, padding counting as zeros."""

    def __init__(self, op, setup):
        super().__init__(op, setup)
        if setup.integer and op.mode == "avg":
            raise Unsupported("average pooling has no integer form: write it as SumPool2d and "
                              "fold 1/k^2 into the next weights", file=setup.source,
                              node=op.name, field="type")
        # integers carried in float32: torch's pooling kernel with divisor 1 is the window sum,
        # every partial sum an integer below 2**24 (exact); one pass instead of k*k slices
        self.native = (setup.integer and setup.vdtype.is_floating_point and _native_pool_ok(op))

    def step(self, x, t):
        o = self.op
        x = x.reshape(x.shape[0], *o.in_shape)
        (ph, pw), (kh, kw), (sh, sw) = o.padding, o.kernel, o.stride
        if self.native:
            return F.avg_pool2d(x, (kh, kw), (sh, sw), (ph, pw), divisor_override=1)
        if ph or pw:
            x = F.pad(x, (pw, pw, ph, ph))
        ho, wo = o.out_shape[1:]
        y = None
        for i in range(kh):
            for j in range(kw):
                part = x[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw]
                y = part if y is None else y + part
        if o.mode == "avg":
            y = y / (kh * kw)
        return y


def _native_pool_ok(op) -> bool:
    """Whether ``F.avg_pool2d`` takes this window and gives exactly ``op.out_shape``."""
    (ph, pw), (kh, kw), (sh, sw) = op.padding, op.kernel, op.stride
    if ph > kh // 2 or pw > kw // 2 or len(op.in_shape) != 3:
        return False
    c, h, w = op.in_shape
    return tuple(op.out_shape) == (c, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)


class DelayKernel(Kernel):
    """y_t = x_{t - steps} per element, from a ring buffer of the last max(steps)+1 inputs."""

    def __init__(self, op, setup):
        super().__init__(op, setup)
        steps = np.broadcast_to(np.asarray(op.steps, dtype=np.int64), op.in_shape)
        self.length = int(steps.max(initial=0)) + 1
        self.steps = setup.tensor(steps, torch.int64)

    def reset(self, batch):
        self.ring = torch.zeros((self.length, batch, *self.op.in_shape), dtype=self.setup.vdtype,
                                device=self.setup.device)

    def step(self, x, t):
        x = x.reshape(x.shape[0], *self.op.in_shape)
        self.ring[t % self.length] = x
        src = t - self.steps
        idx = torch.remainder(src, self.length).unsqueeze(0).unsqueeze(0)
        idx = idx.expand(1, x.shape[0], *self.op.in_shape)
        y = self.ring.gather(0, idx)[0]
        return torch.where(src >= 0, y, torch.zeros_like(y))


class ThresholdKernel(Kernel):
    spiking = True

    def __init__(self, op, setup):
        super().__init__(op, setup)
        th = np.broadcast_to(np.asarray(op.threshold, dtype=np.float64), op.in_shape)
        self.threshold = setup.tensor(th, torch.float64 if setup.integer else setup.fdtype)

    def step(self, x, t):
        x = x.reshape(x.shape[0], *self.op.in_shape)
        xs = x.to(torch.float64) if self.setup.integer else x
        s = xs > self.threshold if self.op.compare == ">" else xs >= self.threshold
        return s.to(self.setup.vdtype)


class NeuronKernel(Kernel):
    """A neuron population: its `State`, stepped with the summed input (or, for an "ordered"
    BitShiftLIF, with each edge's events in order: `step_events`)."""

    def __init__(self, op: NeuronOp, setup: Setup):
        super().__init__(op, setup)
        self.state = make_state(op, setup)
        self.spiking = bool(self.state.spiking)
        self.ordered = bool(getattr(self.state, "ordered", False))
        self.input_event_cap = op.neuron.input_event_cap if self.ordered else UNLIMITED

    def reset(self, batch):
        self.state.reset(batch)

    def step(self, x, t):
        return self.state.step(x)

    def step_events(self, events, t):
        return self.state.step_events(events)


KERNELS: dict[type, type] = {
    InputOp: InputKernel,
    OutputOp: PassKernel,
    FlattenOp: PassKernel,
    AffineOp: AffineKernel,
    ConvOp: ConvKernel,
    PoolOp: PoolKernel,
    ScaleOp: ScaleKernel,
    DelayOp: DelayKernel,
    ThresholdOp: ThresholdKernel,
    NeuronOp: NeuronKernel,
}

STATES: dict[type, type] = {
    NeuronFloat: FloatState,
    SpeckIAF: SpeckState,
    BitShiftLIF: BitShiftState,
    LoihiCubaLIF: LoihiState,
    Float32LIF: Float32State,
}


def make_kernel(op: Op, setup: Setup) -> Kernel:
    kernel_class = KERNELS.get(type(op))
    if kernel_class is None:
        raise Unsupported(f"op {type(op).__name__} is not supported by the torch backend",
                          file=setup.source, node=op.name, field="type")
    return kernel_class(op, setup)


def make_state(op: NeuronOp, setup: Setup):
    """The per-run `State` of a neuron op's population (one per record type, `STATES`)."""
    rec = op.neuron
    state_class = STATES.get(type(rec))
    if state_class is None:
        raise Unsupported(f"neuron record {type(rec).__name__} is not supported",
                          file=setup.source, node=op.name, field="neuron")
    if setup.integer == isinstance(rec, NeuronFloat):
        raise Unsupported(f"{type(rec).__name__} in a {setup.program.mode} program",
                          file=setup.source, node=op.name, field="neuron")
    return state_class(op, setup)
