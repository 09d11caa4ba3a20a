"""Deep and long graphs never exhaust the stack (README, "Security and untrusted files"): every walk
over subgraphs and chains is iterative; subgraphs nest at most 64 deep (a clean exit 2 beyond);
long chains load, inspect, check and simulate."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import nir
import numpy as np
import pytest

import nirconv
from nirconv.reading import lower
from nirconv.nir_io.limits import MAX_NESTING

_spec = importlib.util.spec_from_file_location("security_nir_hostile",
                                               Path(__file__).with_name("nir_hostile.py"))
H = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(H)


def nested(depth: int) -> nir.NIRGraph:
    """The small graph inside ``depth`` subgraphs, each Input -> g -> Output."""
    inner = H.small_graph(metadata={})
    for _ in range(depth):
        inner = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([H.WIDTH])),
                                    "g": inner,
                                    "output": nir.Output(output_type=np.array([3]))},
                             edges=[("input", "g"), ("g", "output")], metadata={},
                             type_check=False)
    inner.metadata = {"dt": 1e-3}
    return inner


def chain(n_nodes: int) -> nir.NIRGraph:
    """Input -> (Affine -> IF) x n/2 -> Output, width 4."""
    nodes = {"input": nir.Input(input_type=np.array([H.WIDTH]))}
    edges, prev = [], "input"
    for i in range(n_nodes // 2):
        nodes[f"fc{i}"] = nir.Affine(weight=np.eye(H.WIDTH), bias=np.zeros(H.WIDTH))
        nodes[f"if{i}"] = nir.IF(r=np.ones(H.WIDTH), v_threshold=np.ones(H.WIDTH))
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"if{i}")]
        prev = f"if{i}"
    nodes["output"] = nir.Output(output_type=np.array([H.WIDTH]))
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": 1e-3}, type_check=False)


def test_200_nested_subgraphs_are_refused_in_one_line(tmp_path, capsys):
    path = H.write(tmp_path / "deep.nir", nested(200))
    for name, (args, out) in H.commands(path, tmp_path).items():
        H.refused(args, capsys, str(path), f"subgraphs nested more than {MAX_NESTING} deep")
        assert out is None or not out.exists(), name
    with pytest.raises(nirconv.BadInput, match="nested more than"):
        nirconv.load(path)


def test_subgraphs_nested_to_the_limit_are_read_and_run(tmp_path, capsys):
    path = H.write(tmp_path / "deep.nir", nested(MAX_NESTING))
    for name, (args, out) in H.commands(path, tmp_path).items():
        H.accepted(args, capsys)
        assert out is None or out.exists(), name
    deepest = "g." * MAX_NESTING + "fc"
    assert deepest in H.accepted(["inspect", path, "--json"], capsys)


def test_a_graph_in_memory_that_contains_itself_is_refused():
    graph = H.small_graph()
    graph.nodes["self"] = graph
    with pytest.raises(nirconv.BadInput, match="nested more than"):
        lower(graph)


def test_1500_node_chain_loads_inspects_checks_and_runs(tmp_path, capsys):
    path = H.write(tmp_path / "chain.nir", chain(1500))
    for name, (args, out) in H.commands(path, tmp_path).items():
        if name == "export":
            continue  # check runs the same quantization; writing 1500 nodes only costs time
        H.accepted(args, capsys)
        assert out is None or out.exists(), name
    graph = nirconv.load(path)
    assert len(graph.nodes) == 1502
    assert len(lower(graph, source=str(path)).ops) == 1502
