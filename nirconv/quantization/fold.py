"""Fold every Scale op that directly follows a weight op into that op's output rows (exact):
``s·(W x + b) = (s·W) x + s·b``. Chips have no Scale layer; the checker and the quantizer both see
the folded program (docs/equations/targets.md). A Scale elsewhere (after pooling, on a residual
branch, or varying inside one conv output channel) is left for the checker to report.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..equations.program import AffineOp, ConvOp, Edge, Program, ScaleOp

WEIGHT_OPS = (AffineOp, ConvOp)


def fold_scales(program: Program) -> Program:
    """``program`` with its foldable Scale ops folded (a chain of them too); the same object when
    there is none (the input is never modified). The folded weight op keeps its name, and its NIR
    node says ``folded_scale`` (node metadata kept in its `OpInfo`)."""
    while True:
        folded = _fold_once(program)
        if folded is program:
            return program
        program = folded


def _fold_once(program: Program) -> Program:
    ops = {op.name: op for op in program.ops}
    consumers: dict = {}
    for op in program.ops:
        for e in op.inputs:
            consumers.setdefault(e.src, []).append(op.name)
    folded: dict = {}  # scale op -> (weight op, the delay of its edge)
    for op in program.ops:
        found = _foldable(op, ops, consumers)
        if found is not None:
            weight, per_row = found
            ops[weight.name] = _scaled(ops[weight.name], per_row)
            folded[op.name] = (weight.name, op.inputs[0].delay)
    if not folded:
        return program
    out = []
    for op in program.ops:
        if op.name in folded:
            continue
        op = ops[op.name]
        if any(e.src in folded for e in op.inputs):
            op = dataclasses.replace(op, inputs=tuple(_rewired(e, folded) for e in op.inputs))
        out.append(op)
    return dataclasses.replace(program, ops=tuple(out))


def _foldable(op, ops: dict, consumers: dict):
    """(weight op, per-row factor) when Scale op ``op`` folds into the one weight op it reads,
    whose only consumer it is; else None."""
    if not isinstance(op, ScaleOp) or len(op.inputs) != 1:
        return None
    weight = ops[op.inputs[0].src]
    if not isinstance(weight, WEIGHT_OPS) or consumers.get(weight.name) != [op.name]:
        return None
    per_row = _per_row(np.asarray(op.scale, dtype=np.float64), weight.weight.shape[0])
    return None if per_row is None else (weight, per_row)


def _per_row(scale: np.ndarray, c_out: int):
    """One factor per output row (channel), or None when the scale varies inside a channel."""
    if scale.size == 1:
        return np.full(c_out, float(scale.ravel()[0]))
    if scale.ndim >= 1 and scale.shape[0] == c_out:
        flat = scale.reshape(c_out, -1)
        if (flat == flat[:, :1]).all():
            return flat[:, 0]
    return None


def _scaled(op, per_row: np.ndarray):
    w = np.asarray(op.weight, dtype=np.float64)
    bias = None
    if op.bias is not None:
        bias = np.broadcast_to(np.asarray(op.bias, dtype=np.float64), (w.shape[0],)) * per_row
    info = dataclasses.replace(op.info, extra=dict(op.info.extra, folded_scale=True))
    return dataclasses.replace(op, weight=w * per_row.reshape(-1, *([1] * (w.ndim - 1))),
                               bias=bias, info=info)


def _rewired(e: Edge, folded: dict) -> Edge:
    """An edge from a folded Scale op, now from its weight op (the two edges' delays add up)."""
    if e.src not in folded:
        return e
    weight, delay = folded[e.src]
    return Edge(weight, delay + e.delay)
