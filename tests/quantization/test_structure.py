"""The structure of a Program (nirconv/equations/topology.py) and the integer program's op order
and edge delays (nirconv/quantization/structure.py): a cycle keeps its one-step delay where a
reader of the deployed file puts it, even when the float reader moved it."""
from __future__ import annotations

import nir
import numpy as np

from nirconv.equations.topology import Topology, cyclic_ops
from nirconv.quantization import InputRange, quantize
from nirconv.reading import lower
from nirconv.targets import load
from ..fixtures.paper import braille_rnn
from nirconv.writing import to_nir


def test_topology_of_a_recurrent_network():
    topo = Topology.of(lower(braille_rnn()))
    assert topo.back == {("fc_rec", "lif1")}
    assert topo.incoming_weights("lif1") == ["fc_in", "fc_rec"]
    assert topo.consumers("lif1") == ["fc_out", "fc_rec"]
    assert [topo.on_cycle(n) for n in ("fc_in", "lif1", "fc_rec", "lif2")] == \
        [False, True, True, False]
    assert topo.of_kind("neuron") == ["lif1", "lif2"]


def test_cycles_are_found_at_any_depth():
    n = 20_000  # deeper than Python's recursion limit
    succs = {i: (i + 1,) for i in range(n)}
    succs[n - 1] = (0,)
    assert len(cyclic_ops(range(n), succs)) == n
    succs[n - 1] = ()
    assert not cyclic_ops(range(n), succs)


def _biased_recurrence() -> nir.NIRGraph:
    """A recurrent Affine with bias: the float reader moves the cycle's delay onto the edge
    leaving the neuron (the bias acts from step 0, as snnTorch's RLeaky)."""
    g = braille_rnn()
    g.nodes["fc_rec"] = nir.Affine(weight=g.nodes["fc_rec"].weight, bias=np.full(40, 0.05))
    return g


def test_an_integer_program_keeps_the_delay_where_its_file_reader_does():
    float_program = lower(_biased_recurrence())
    delayed = {(e.src, op.name) for op in float_program.ops for e in op.inputs if e.delay}
    assert delayed == {("lif1", "fc_rec")}  # moved by the float reader
    assert Topology.of(float_program).back == {("fc_rec", "lif1")}
    program = quantize(float_program, load("generic"), InputRange())
    delayed = {(e.src, op.name) for op in program.ops for e in op.inputs if e.delay}
    assert delayed == {("fc_rec", "lif1")}
    order = [op.name for op in program.ops]
    assert order.index("lif1") < order.index("fc_rec")  # fc_rec reads lif1 of the same step
    again = lower(to_nir(program, float_program), mode="int")
    assert {(e.src, op.name) for op in again.ops for e in op.inputs if e.delay} == delayed
