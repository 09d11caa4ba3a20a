"""`nirconv inspect`: nodes, edges, metadata and the facts that decide how a file is simulated."""
from __future__ import annotations

import json

import nir
import numpy as np

import nirconv
from nirconv.cli import main


def recurrent_graph(meta):
    n = 5
    nodes = {"input": nir.Input(input_type=np.array([3])),
             "fc": nir.Affine(weight=np.ones((n, 3)), bias=np.zeros(n)),
             "lif": nir.CubaLIF(tau_syn=np.full(n, 2e-3), tau_mem=np.full(n, 5e-3), r=np.ones(n),
                                v_leak=np.zeros(n), v_threshold=np.ones(n), w_in=np.ones(n),
                                metadata={"reset": "subtract", "compare": ">=",
                                          "float_weights": np.arange(40.0)}),
             "rec": nir.Linear(weight=np.eye(n)),
             "if": nir.IF(r=np.ones(n), v_threshold=np.ones(n)),
             "output": nir.Output(output_type=np.array([n]))}
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "if"),
             ("if", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def inspect_json(path, capsys):
    assert main(["inspect", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_shape_and_facts(tmp_path, capsys):
    path = tmp_path / "g.nir"
    nirconv.save(recurrent_graph({"nirconv_version": "0.1.0", "dt": 1e-3}), path)
    rep = inspect_json(path, capsys)
    assert set(rep) >= {"nodes", "edges", "metadata"}
    assert rep["nodes"]["lif"]["type"] == "CubaLIF" and rep["nodes"]["lif"]["shape"] == [5]
    assert rep["nodes"]["fc"]["shape"] == [5] and rep["nodes"]["input"]["shape"] == [3]
    assert rep["nodes"]["lif"]["metadata"]["reset"] == "subtract"
    assert rep["nodes"]["lif"]["metadata"]["float_weights"]["array_shape"] == [40]
    assert ["rec", "lif"] in rep["edges"] and rep["metadata"]["dt"] == 1e-3
    facts = rep["facts"]
    assert facts["dialect"] == "nirconv" and facts["writer"].startswith("nirconv")
    assert facts["dt_present"] and not facts["needs_dt"]
    assert facts["reset"] == {"lif": "subtract", "if": "unstated"}
    assert facts["compare"]["lif"] == ">="
    assert facts["recurrent_edges"] == [["rec", "lif"]]
    assert facts["quantized"] is False and facts["target"] is None


def test_missing_dt_and_quantized_target_are_reported(tmp_path, capsys):
    path = tmp_path / "q.nir"
    nirconv.save(recurrent_graph({"writer": "norse", "target": "loihi2",
                                  "arithmetic": "loihi2"}), path)
    facts = inspect_json(path, capsys)["facts"]
    assert facts["needs_dt"] and not facts["dt_present"] and facts["leaky_nodes"] == ["lif"]
    assert facts["quantized"] is True and facts["target"] == "loihi2"
    assert facts["dialect"] == "norse"


def test_nested_subgraph_uses_dotted_names(tmp_path, capsys):
    inner = nir.NIRGraph(nodes={"i": nir.Input(input_type=np.array([2])),
                                "w": nir.Linear(weight=np.eye(2)),
                                "o": nir.Output(output_type=np.array([2]))},
                         edges=[("i", "w"), ("w", "o")])
    outer = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([2])), "sub": inner,
                                "output": nir.Output(output_type=np.array([2]))},
                         edges=[("input", "sub"), ("sub", "output")])
    path = tmp_path / "n.nir"
    nirconv.save(outer, path)
    rep = inspect_json(path, capsys)
    assert "sub.w" in rep["nodes"] and ["sub.i", "sub.w"] in rep["edges"]


def test_table_output(tmp_path, capsys):
    path = tmp_path / "g.nir"
    nirconv.save(recurrent_graph({"dt": 1e-3}), path)
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "CubaLIF" in out and "recurrent_edges" in out


def test_corrupt_file_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"\x89HDF junk")
    assert main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert str(bad) in err and "\n" not in err
