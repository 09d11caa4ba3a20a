"""SynOps: Σ over delivered spikes of the synapses each one touches (count × fan-out); for an
analog input, the non-zero values × fan-out.

Counted where the synapses are, at every weight op (Affine, Conv): per step,
``Σ_i a_i · fanout_i`` with ``fanout_i`` the number of synapses leaving input element ``i`` (the
wiring: a zero weight in a dense matrix or kernel is still a synapse), and ``a_i = x_i`` (a count)
when the weight op's input carries spike counts (every source upstream through reshapes, sum
pools and delays is a spiking op, or the Input of an integer graph whose ``input_encoding`` is
"rate" or "spikes"), else ``a_i = [x_i != 0]``.
"""
from __future__ import annotations

import weakref

import numpy as np
import torch
import torch.nn.functional as F

from nirconv.equations.program import (AffineOp, ConvOp, DelayOp, FlattenOp, InputOp, OutputOp,
                                       PoolOp, Program)
from nirconv.equations.roles import op_is_spiking

PASS_THROUGH = (FlattenOp, PoolOp, DelayOp, OutputOp)


def _spiking_op(op, program: Program) -> bool:
    """A spiking op (`op_is_spiking`), or the Input of an integer graph whose encoding streams
    event counts ("rate", "spikes")."""
    if isinstance(op, InputOp):
        return program.mode == "int" and program.encoding.kind in ("rate", "spikes")
    return op_is_spiking(op)


def carries_spikes(program: Program, name: str, seen=None) -> bool:
    """Whether every value arriving at op ``name`` is a spike count (walked upstream through
    pass-through ops with an explicit stack: chains of any length)."""
    seen = set() if seen is None else seen
    results = []
    stack = [name]
    while stack:
        current = stack.pop()
        found = False
        for e in program.op(current).inputs:
            if e.src in seen:
                continue
            seen.add(e.src)
            found = True
            src = program.op(e.src)
            if isinstance(src, PoolOp) and src.mode == "avg":
                results.append(False)  # averaged spikes are no longer counts
            elif isinstance(src, PASS_THROUGH):
                stack.append(e.src)
            else:
                results.append(_spiking_op(src, program))
        if not found and current != name:
            results.append(False)  # a pass-through that brings nothing new
    return all(results) and bool(results)


_FAN_OUT: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def fan_out(op) -> np.ndarray:
    """Number of synapses leaving each input element, shaped like ``op.in_shape`` (cached)."""
    if op not in _FAN_OUT:
        _FAN_OUT[op] = _fan_out(op)
    return _FAN_OUT[op]


def _fan_out(op) -> np.ndarray:
    wiring = np.ones(np.shape(op.weight), dtype=np.float64)
    if isinstance(op, AffineOp):
        return np.full(op.in_shape, float(np.shape(op.weight)[0]))
    fn = F.conv1d if len(op.stride) == 1 else F.conv2d
    with torch.inference_mode(False), torch.enable_grad():  # the run is in inference mode
        x = torch.zeros((1, *op.in_shape), dtype=torch.float64, requires_grad=True)
        fn(x, torch.as_tensor(wiring), None, op.stride, op.padding, op.dilation,
           op.groups).sum().backward()
    return np.rint(x.grad[0].numpy())


class SynopCounter:
    """Per weight op, the per-element totals of ``a`` over steps and samples (float64); the
    fan-outs multiply them once, in `total`. A step's sum over the batch is taken in the carrier's
    own type when it is provably exact there (an integer below 2**24 in float32; integer types
    always), so no per-step float64 copy of the input is made."""

    def __init__(self, program: Program, setup, batch: int):
        self.setup = setup
        self.batch = batch
        self.fan = {}
        self.counts = {}
        self.native = {}
        self.sums = {}
        for op in program.ops:
            if isinstance(op, (AffineOp, ConvOp)):
                self.fan[op.name] = torch.as_tensor(fan_out(op), dtype=torch.float64,
                                                    device=setup.device)
                self.counts[op.name] = carries_spikes(program, op.name)
                self.native[op.name] = self._native_sum_exact(op)
                self.sums[op.name] = None

    def _native_sum_exact(self, op) -> bool:
        if not self.setup.integer:
            return False
        if not self.setup.vdtype.is_floating_point:
            return True
        lo, hi = self.setup.input_bounds[op.name]
        return self.batch * max(-lo, hi) < float(1 << 24)

    def add(self, name: str, x: torch.Tensor) -> None:
        fan = self.fan.get(name)
        if fan is None:
            return
        x = x.reshape(x.shape[0], *fan.shape)
        if self.counts[name]:
            step = x.sum(0) if self.native[name] else x.sum(0, dtype=torch.float64)
        else:
            step = x.bool().sum(0)  # [x != 0]; .bool() is much faster than != on the CPU
        acc = self.sums[name]
        if acc is None:
            self.sums[name] = step.to(torch.float64)
        else:
            acc += step

    def total(self) -> int:
        acc = torch.zeros((), dtype=torch.float64, device=self.setup.device)
        for name, sums in self.sums.items():
            if sums is not None:
                acc += (sums * self.fan[name]).sum()
        return int(round(float(acc)))
