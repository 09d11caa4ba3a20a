"""Helpers for the torch backend tests: tiny Programs built straight from the records."""
from __future__ import annotations

import numpy as np
import pytest

from nirconv.equations.program import AffineOp, Edge, InputOp, NeuronOp, OutputOp, Program


def single_neuron_program(record, n_in=None, weight=None, shift=0, delay=0, mode="int",
                          family="generic"):
    """Input -> (Affine) -> neuron -> Output; without ``weight`` the input drives the neuron."""
    shape = tuple(record.shape)
    n_in = n_in or int(np.prod(shape))
    ops = [InputOp(name="in", inputs=(), in_shape=(n_in,), out_shape=(n_in,))]
    src = "in"
    if weight is not None:
        ops.append(AffineOp(name="fc", inputs=(Edge("in"),), in_shape=(n_in,), out_shape=shape,
                            weight=np.asarray(weight), bias=None, shift=shift))
        src = "fc"
    ops.append(NeuronOp(name="n", inputs=(Edge(src, delay),), in_shape=shape, out_shape=shape,
                        neuron=record))
    ops.append(OutputOp(name="out", inputs=(Edge("n"),), in_shape=shape, out_shape=shape))
    return Program(ops=tuple(ops), inputs=("in",), outputs=("out",), mode=mode,
                   family=None if mode == "float" else family)


@pytest.fixture
def make_program():
    return single_neuron_program
