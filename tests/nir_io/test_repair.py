"""nirconv.load reads the files peers write (repairs), and refuses what cannot be inferred with a
one-line BadInput naming file, node and field (through nirconv.load + nirconv.reading.lower)."""
from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest

import nirconv
from nirconv.errors import BadInput, NirconvError, Unsupported
from nirconv.reading import lower
from nirconv.nir_io.repair import read_dict, repair_dict

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def write_raw(path, nodes, edges, metadata=None):
    """A file written by nir.write as a peer would, type check off (peers' graphs fail it)."""
    graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata or {}, type_check=False)
    nir.write(str(path), graph)
    return path


def small(path, input_shape=(5,)):
    rng = np.random.default_rng(0)
    return write_raw(path, {
        "input": nir.Input(input_type=np.array(input_shape)),
        "a": nir.Affine(weight=rng.normal(size=(3, 5)), bias=np.zeros(3)),
        "lif": nir.LIF(tau=np.full(3, 0.01), r=np.ones(3), v_leak=np.zeros(3),
                       v_threshold=np.ones(3)),
        "output": nir.Output(output_type=np.array([3])),
    }, [("input", "a"), ("a", "lif"), ("lif", "output")])


def edit(path, fn):
    with h5py.File(path, "r+") as f:
        fn(f["node"])
    return path


def one_line(err: NirconvError, *parts):
    text = str(err)
    assert "\n" not in text
    for part in parts:
        assert part in text, (part, text)


# ------------------------------------------------------------------ peers' files

@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*/*.nir")),
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_golden_file_loads_and_lowers(path):
    graph = nirconv.load(path)
    program = lower(graph, dialect=path.parent.name, dt=None if path.parent.name == "rockpool"
                    else float(np.load(path.with_suffix(".npz"))["dt"]), source=str(path))
    x = np.load(path.with_suffix(".npz"))["input"]
    assert program.input_shape == x.shape[2:]


def test_norse_and_rockpool_files_fail_nir_read_but_load():
    for path in (GOLDEN / "norse" / "ff_lif.nir", GOLDEN / "rockpool" / "ff_cubalif.nir"):
        with pytest.raises(Exception):
            nir.read(str(path))
        graph = nirconv.load(path)
        assert tuple(graph.nodes["input"].input_type["input"]) in ((10,), (12,))


def test_batch_axis_on_the_input_is_dropped(tmp_path):
    path = small(tmp_path / "batch.nir", input_shape=(1, 5))
    with pytest.raises(Exception):
        nir.read(str(path))
    program = lower(nirconv.load(path), dialect="norse", source=str(path))
    assert program.input_shape == (5,)


def test_input_without_shape_is_inferred_from_its_consumer(tmp_path):
    path = edit(small(tmp_path / "noshape.nir"), lambda g: g["nodes"]["input"].__delitem__("shape"))
    assert lower(nirconv.load(path), dialect="norse").input_shape == (5,)


def test_conv_input_without_shape_cannot_be_inferred(tmp_path):
    path = write_raw(tmp_path / "conv.nir", {
        "input": nir.Input(input_type=np.array([1, 6, 6])),
        "c": nir.Conv2d(input_shape=np.array([6, 6]), weight=np.ones((2, 1, 3, 3)), stride=1,
                        padding=0, dilation=1, groups=1, bias=np.zeros(2)),
        "output": nir.Output(output_type=np.array([2, 4, 4])),
    }, [("input", "c"), ("c", "output")])
    edit(path, lambda g: g["nodes"]["input"].__delitem__("shape"))
    with pytest.raises(BadInput) as e:
        nirconv.load(path)
    one_line(e.value, str(path), "node 'input'", "field 'shape'")


def test_unset_conv_input_shape_is_inferred_along_edges(tmp_path):
    """Sinabs leaves Conv2d.input_shape unset: the lowering takes it from the edge."""
    path = write_raw(tmp_path / "conv.nir", {
        "input": nir.Input(input_type=np.array([1, 6, 6])),
        "c": nir.Conv2d(input_shape=np.array([6, 6]), weight=np.ones((2, 1, 3, 3)), stride=1,
                        padding=1, dilation=1, groups=1, bias=np.zeros(2)),
        "if": nir.IF(r=np.ones((2, 6, 6)), v_threshold=np.ones((2, 6, 6))),
        "output": nir.Output(output_type=np.array([2, 6, 6])),
    }, [("input", "c"), ("c", "if"), ("if", "output")])
    edit(path, lambda g: g["nodes"]["c"].__delitem__("input_shape"))
    program = lower(nirconv.load(path), dialect="sinabs")
    assert program.op("if").out_shape == (2, 6, 6)


def test_old_files_without_v_reset_and_w_in_read_as_nir_does(tmp_path):
    path = write_raw(tmp_path / "old.nir", {
        "input": nir.Input(input_type=np.array([2])),
        "n": nir.CubaLIF(tau_syn=np.ones(2), tau_mem=np.ones(2), r=np.ones(2), v_leak=np.zeros(2),
                         v_threshold=np.ones(2), w_in=np.full(2, 2.0)),
        "output": nir.Output(output_type=np.array([2])),
    }, [("input", "n"), ("n", "output")])

    def strip(g):
        del g["nodes"]["n"]["v_reset"]
        del g["nodes"]["n"]["w_in"]
        g["nodes"]["n"]["type"][...] = b"CubaLIF"

    edit(path, strip)
    node = nirconv.load(path).nodes["n"]
    np.testing.assert_array_equal(np.asarray(node.v_reset), 0.0)
    np.testing.assert_array_equal(np.asarray(node.w_in), 1.0)


def test_mixed_parameter_shapes_are_broadcast(tmp_path):
    """snnTorch writes v_threshold as (1,) beside tau of (n,); nir 1.0.8 asserts equal shapes."""
    path = small(tmp_path / "mixed.nir")

    def shrink(g):
        del g["nodes"]["lif"]["v_threshold"]
        g["nodes"]["lif"].create_dataset("v_threshold", data=np.array([0.5]))

    edit(path, shrink)
    with pytest.raises(Exception):
        nir.read(str(path))
    node = nirconv.load(path).nodes["lif"]
    np.testing.assert_array_equal(node.v_threshold, [0.5, 0.5, 0.5])


def test_nested_subgraph_with_recurrent_edge_survives(tmp_path):
    rng = np.random.default_rng(1)
    inner = nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([4])),
        "lif": nir.CubaLIF(tau_syn=np.full(4, 0.005), tau_mem=np.full(4, 0.01), r=np.ones(4),
                           v_leak=np.zeros(4), v_threshold=np.ones(4), w_in=np.ones(4)),
        "w_rec": nir.Linear(weight=rng.normal(size=(4, 4))),
        "output": nir.Output(output_type=np.array([4])),
    }, edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
        type_check=False)
    path = write_raw(tmp_path / "nested.nir", {
        "input": nir.Input(input_type=np.array([1, 3])),  # with a batch axis, as norse writes
        "a": nir.Linear(weight=rng.normal(size=(4, 3))),
        "rec": inner,
        "output": nir.Output(output_type=np.array([4])),
    }, [("input", "a"), ("a", "rec"), ("rec", "output")])
    graph = nirconv.load(path)
    assert isinstance(graph.nodes["rec"], nir.NIRGraph)
    program = lower(graph, dialect="nirconv", dt=1e-3)
    delayed = [(op.name, e.src) for op in program.ops for e in op.inputs if e.delay]
    assert delayed == [("rec.lif", "rec.w_rec")]
    assert program.input_shape == (3,)


def test_load_mutates_neither_file_nor_dicts(tmp_path):
    path = small(tmp_path / "batch.nir", input_shape=(1, 5))
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    raw = read_dict(path)
    kept = copy.deepcopy(raw)
    repair_dict(raw, str(path))
    assert raw.keys() == kept.keys()
    assert np.array_equal(raw["nodes"]["input"]["shape"], kept["nodes"]["input"]["shape"])
    nirconv.load(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


# ------------------------------------------------------------------ bad input

def test_corrupt_hdf5_is_bad_input(tmp_path):
    path = tmp_path / "corrupt.nir"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(200)))
    with pytest.raises(BadInput) as e:
        nirconv.load(path)
    one_line(e.value, str(path))


def test_truncated_nir_file_is_bad_input(tmp_path):
    path = small(tmp_path / "cut.nir")
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(BadInput) as e:
        nirconv.load(path)
    one_line(e.value, str(path))


def test_unknown_node_type_names_node_and_field(tmp_path):
    path = edit(small(tmp_path / "unknown.nir"),
                lambda g: g["nodes"]["lif"]["type"].__setitem__(..., b"Hodgkin"))
    with pytest.raises(BadInput) as e:
        nirconv.load(path)
    one_line(e.value, str(path), "node 'lif'", "field 'type'", "Hodgkin")


def test_missing_field_names_node_and_field(tmp_path):
    path = edit(small(tmp_path / "missing.nir"), lambda g: g["nodes"]["a"].__delitem__("weight"))
    with pytest.raises(BadInput) as e:
        nirconv.load(path)
    one_line(e.value, str(path), "node 'a'", "field 'weight'")


def test_field_unknown_to_nir_is_refused(tmp_path):
    path = edit(small(tmp_path / "extra.nir"),
                lambda g: g["nodes"]["lif"].create_dataset("v_rest", data=np.zeros(3)))
    with pytest.raises(Unsupported) as e:
        nirconv.load(path)
    one_line(e.value, str(path), "node 'lif'", "field 'v_rest'")


def test_nan_parameter_names_node_and_field(tmp_path):
    path = small(tmp_path / "nan.nir")

    def poison(g):
        g["nodes"]["lif"]["tau"][1] = np.nan

    edit(path, poison)
    graph = nirconv.load(path)
    with pytest.raises(BadInput) as e:
        lower(graph, dialect="norse", source=str(path))
    one_line(e.value, str(path), "node 'lif'", "field 'tau'", "NaN")


def test_parameters_that_do_not_broadcast_name_the_field(tmp_path):
    path = small(tmp_path / "shapes.nir")

    def bad(g):
        del g["nodes"]["lif"]["v_threshold"]
        g["nodes"]["lif"].create_dataset("v_threshold", data=np.ones(2))

    edit(path, bad)
    with pytest.raises(BadInput) as e:
        nirconv.load(path)
    one_line(e.value, str(path), "node 'lif'", "do not broadcast")


def test_edge_to_missing_node_is_bad_input(tmp_path):
    path = small(tmp_path / "edge.nir")

    def rewire(g):
        del g["edges"]
        g.create_dataset("edges", data=np.array([[b"input", b"a"], [b"a", b"ghost"]]))

    edit(path, rewire)
    with pytest.raises(BadInput) as e:
        lower(nirconv.load(path), dialect="norse", source=str(path))
    one_line(e.value, str(path), "ghost")


def test_dotted_node_names_are_kept_when_repairing(tmp_path):
    """nirtorch writes recurrent layers as flat nodes named '1.lif', '1.w_rec' (snnTorch files):
    the repair path must accept them, here with a batch axis on the Input as well."""
    src = GOLDEN / "snntorch" / "rec_rleaky.nir"
    path = tmp_path / "rec.nir"
    path.write_bytes(src.read_bytes())

    def add_batch(g):
        shape = g["nodes"]["input"]["shape"][()]
        del g["nodes"]["input"]["shape"]
        g["nodes"]["input"].create_dataset("shape", data=np.concatenate([[1], shape]))

    edit(path, add_batch)
    with pytest.raises(Exception):
        nir.read(str(path))
    graph = nirconv.load(path)
    assert "1.lif" in graph.nodes
    program = lower(graph, dialect="snntorch")
    assert program.input_shape == (12,)
    assert any(e.delay for op in program.ops for e in op.inputs)


def test_in_memory_peer_graph_is_repaired_without_mutation():
    """A graph straight from norse's to_nir (torch tensors, Input type with the batch axis)."""
    import torch
    import norse.torch as nt
    from norse.torch.module.iaf import IAFCell, IAFParameters

    from nirconv.nir_io.repair import repair_graph

    torch.manual_seed(0)
    net = nt.SequentialState(torch.nn.Linear(6, 4), IAFCell(IAFParameters(v_th=torch.ones(4))))
    graph = nt.to_nir(net, torch.zeros(1, 6))
    assert tuple(graph.nodes["input"].input_type["input"]) == (1, 6)
    fixed, notes = repair_graph(graph)
    assert tuple(graph.nodes["input"].input_type["input"]) == (1, 6)  # not mutated
    assert any("batch axis" in n for n in notes)
    assert lower(fixed, dialect="norse").input_shape == (6,)
