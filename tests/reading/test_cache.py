"""reading.to_program keeps an in-memory graph's lowering while the graph is unchanged."""
from __future__ import annotations

import gc

import nir
import numpy as np

from nirconv.reading import cache, to_program


def _graph():
    rng = np.random.default_rng(0)
    return nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([4])}),
        "fc": nir.Affine(weight=rng.normal(size=(3, 4)), bias=np.zeros(3)),
        "lif": nir.LIF(tau=np.full(3, 0.01), r=np.ones(3), v_leak=np.zeros(3),
                       v_threshold=np.ones(3)),
        "output": nir.Output(output_type={"output": np.array([3])})},
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")],
        metadata={"dt": 1e-3}, type_check=False)


def test_the_same_graph_gives_the_same_program():
    g = _graph()
    assert to_program(g) is to_program(g)
    assert to_program(g, dt=2e-3) is not to_program(g)  # other options: another lowering


def test_a_changed_graph_is_lowered_again():
    g = _graph()
    first = to_program(g)
    g.nodes["fc"].weight = g.nodes["fc"].weight * 2.0  # a new array
    second = to_program(g)
    assert second is not first and np.allclose(second.op("fc").weight, 2 * first.op("fc").weight)
    g.nodes["fc"].weight[0, 0] += 1.0  # edited in place
    third = to_program(g)
    assert third is not second and third.op("fc").weight[0, 0] == g.nodes["fc"].weight[0, 0]
    g.metadata["dt"] = 2e-3
    assert to_program(g).dt == 2e-3
    mark = cache.fingerprint(g)
    g.edges = list(reversed(g.edges))  # the edge list is part of the fingerprint
    assert cache.fingerprint(g) != mark


def test_entries_go_with_their_graph():
    cache._ENTRIES.clear()
    g = _graph()
    to_program(g)
    assert len(cache._ENTRIES) == 1
    del g
    gc.collect()
    assert not cache._ENTRIES
    graphs = [_graph() for _ in range(cache.SIZE + 3)]
    for g in graphs:
        to_program(g)
    assert len(cache._ENTRIES) == cache.SIZE  # bounded


def test_paths_are_not_cached(tmp_path):
    import nirconv
    g = _graph()
    nirconv.save(g, tmp_path / "g.nir")
    assert to_program(tmp_path / "g.nir") is not to_program(tmp_path / "g.nir")
