"""Writing is the inverse of reading: read(write(P)) is P, for float and deployed programs."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings

from nirconv.equations.neurons import NeuronFloat
from nirconv.reading import lower
from nirconv.deploy import quantize_graph
from nirconv.targets.paper import braille_rnn, nmnist_cnn
from nirconv.writing import to_nir

from ..agreement.strategies import cases

SKIP = ("metadata", "extra", "source", "provenance")
# fields of a non-spiking float neuron that its equations never read
MEANINGLESS = ("reset", "compare", "max_spikes", "v_reset", "v_min", "reset_after_decay")


def same(a, b, path="", exact=True, skip=SKIP):
    """Programs equal op by op (by name), records field by field, arrays value by value."""
    if hasattr(a, "ops") and hasattr(b, "ops"):
        ops_a, ops_b = {o.name: o for o in a.ops}, {o.name: o for o in b.ops}
        assert set(ops_a) == set(ops_b), (path, set(ops_a) ^ set(ops_b))
        for name in ops_a:
            same(ops_a[name], ops_b[name], f"{path}.{name}", exact, skip)
        for f in ("inputs", "outputs", "mode", "family", "dt", "encoding", "deployment",
                  "timesteps"):
            same(getattr(a, f), getattr(b, f), f"{path}.{f}", exact, skip)
    elif dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), (path, type(a), type(b))
        ignore = MEANINGLESS if isinstance(a, NeuronFloat) and not a.spiking else ()
        for f in dataclasses.fields(a):
            if f.name not in skip and f.name not in ignore:
                same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}", exact, skip)
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), (path, a, b)
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}[{i}]", exact, skip)
    elif (a is None) != (b is None):  # a missing bias reads back as zeros
        assert not np.any(np.asarray(a if b is None else b)), (path, a, b)
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        x, y = np.broadcast_arrays(np.asarray(a), np.asarray(b))
        assert np.array_equal(x, y) if exact else np.allclose(x, y, rtol=1e-12, atol=1e-12), \
            (path, a, b)
    else:
        assert a == b, (path, a, b)


PAPER = [(braille_rnn, "xylo"), (braille_rnn, "loihi2"), (braille_rnn, "generic"),
         (nmnist_cnn, "speck"), (nmnist_cnn, "loihi2"), (nmnist_cnn, "spinnaker2"),
         (nmnist_cnn, "generic")]


@pytest.mark.parametrize("make,target", PAPER)
def test_deployed_programs_survive_write_and_read(make, target):
    dep = quantize_graph(make(), target)
    int_program = lower(dep, mode="int")
    float_program = lower(dep, mode="float")  # its float view
    written = to_nir(int_program, float_program)
    same(int_program, lower(written, mode="int"), f"int {target}")
    same(float_program, lower(written, mode="float"), f"float view {target}")


@pytest.mark.parametrize("make", [braille_rnn, nmnist_cnn])
def test_float_programs_survive_write_and_read(make):
    program = lower(make(), mode="float")
    same(program, lower(to_nir(program), mode="float"), "float", exact=False)


@settings(max_examples=30, deadline=None)
@given(cases(families=("float",)))
def test_random_float_programs_survive_write_and_read(case):
    program = dataclasses.replace(case.program, dt=1e-3)
    # Built directly: its ops have no NIR type to keep (OpInfo), and its edge delays are arbitrary
    # (a written graph's delays follow from its cycles): the arithmetic must survive.
    same(program, lower(to_nir(program), mode="float", dialect="nirconv"), "float", exact=False,
         skip=SKIP + ("info", "model", "delay"))


@pytest.mark.parametrize("make,target", PAPER)
def test_float_view_of_a_deployed_graph_is_the_float_program(make, target):
    graph = make()
    dep = quantize_graph(graph, target)
    float_program = lower(dep, mode="float")  # read from the float record, no dialect
    same(float_program, lower(graph, mode="float"), f"float view {target}")
    written = to_nir(lower(dep, mode="int"), float_program)
    same(float_program, lower(written, mode="float"), f"float view of the rewrite {target}")
