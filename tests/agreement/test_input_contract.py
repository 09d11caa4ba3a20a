"""Both backends check their input through `Program.check_inputs`: the same bad input is the same
one-line `BadInput` on either, and a good input of any numeric dtype gives the same result."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nirconv.backends.event import run as event_run
from nirconv.backends.torch import run as torch_run
from nirconv.equations.program import AffineOp, Edge, InputOp, OutputOp, Program
from nirconv.errors import BadInput


def _program(mode):
    w = np.array([[1, 2, 0], [0, -1, 3]])
    ops = (InputOp(name="in", inputs=(), in_shape=(3,), out_shape=(3,)),
           AffineOp(name="fc", inputs=(Edge("in"),), in_shape=(3,), out_shape=(2,), weight=w),
           OutputOp(name="out", inputs=(Edge("fc"),), in_shape=(2,), out_shape=(2,)))
    return Program(ops=ops, inputs=("in",), outputs=("out",), mode=mode, source="g.nir")


BAD = [
    ("float", np.zeros((2, 1, 4)), "does not match"),
    ("float", np.full((2, 1, 3), np.nan), "NaN"),
    ("float", np.full((2, 1, 3), "a"), "not numeric"),
    ("int", np.full((2, 1, 3), 0.5), "integer inputs"),
    ("int", np.full((2, 1, 3), np.inf), "NaN or infinite"),
    ("int", np.zeros((2, 3)), "does not match"),
]


@pytest.mark.parametrize("mode,x,message", BAD)
def test_the_same_bad_input_is_the_same_error_on_both_backends(mode, x, message):
    errors = []
    for run in (event_run, torch_run):
        with pytest.raises(BadInput, match=message) as e:
            run(_program(mode), x)
        errors.append(str(e.value))
    assert errors[0] == errors[1]
    assert errors[0].startswith("g.nir: node 'in': field 'input'")


@pytest.mark.parametrize("mode", ["float", "int"])
def test_any_numeric_input_type_gives_the_same_result(mode):
    x = np.array([[[1, 0, 2]], [[0, 3, 1]]])
    want = event_run(_program(mode), x).output
    for variant in (x.astype(np.float32), x.astype(np.int32), x.astype(bool).astype(np.uint8) * x,
                    torch.as_tensor(x)):
        for run in (event_run, torch_run):
            np.testing.assert_array_equal(run(_program(mode), variant).output, want)
