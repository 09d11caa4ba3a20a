"""Helpers for the event backend tests: hand-built Programs (no lowering involved)."""
from __future__ import annotations

import numpy as np
import pytest

from nirconv.equations.program import AffineOp, Edge, InputOp, NeuronOp, OutputOp, Program


def neuron_program(record, mode: str, n_in: int | None = None, weight=None) -> Program:
    """Input -> [Affine weight] -> Neuron -> Output (the input drives the neuron directly when
    ``weight`` is None)."""
    shape = tuple(record.shape)
    ops = []
    if weight is None:
        ops.append(InputOp(name="in", inputs=(), in_shape=shape, out_shape=shape))
        src = "in"
    else:
        weight = np.asarray(weight)
        ops.append(InputOp(name="in", inputs=(), in_shape=(weight.shape[1],),
                           out_shape=(weight.shape[1],)))
        ops.append(AffineOp(name="w", inputs=(Edge("in"),), in_shape=(weight.shape[1],),
                            out_shape=(weight.shape[0],), weight=weight))
        src = "w"
    ops.append(NeuronOp(name="n", inputs=(Edge(src),), in_shape=shape, out_shape=shape,
                        neuron=record))
    ops.append(OutputOp(name="out", inputs=(Edge("n"),), in_shape=shape, out_shape=shape))
    return Program(ops=tuple(ops), inputs=("in",), outputs=("out",), mode=mode)


@pytest.fixture
def make_program():
    """`neuron_program` as a fixture (test modules cannot import conftest under importlib)."""
    return neuron_program


@pytest.fixture
def trajectory():
    """Run one neuron (shape (1,)) on a list of per-step inputs; the output per step as a list."""
    from nirconv.backends.event import run

    def go(record, xs, mode="float"):
        program = neuron_program(record, mode)
        dtype = np.int64 if mode == "int" else np.float64
        x = np.asarray(xs, dtype=dtype).reshape(len(xs), 1, 1)
        return run(program, x).output[:, 0, 0].tolist()

    return go
