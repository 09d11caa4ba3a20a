"""Records validate themselves; reading says where: a bad value of each record field in a file is a
one-line BadInput naming the file, the node (for node records) and ``metadata.<key>``."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import nirconv
from nirconv.errors import BadInput
from nirconv.deploy import quantize_graph as quantize
from nirconv.reading import to_program
from ..fixtures.paper import braille_rnn

# (node, key, bad value): node records of a deployed graph (read in integer mode)
DEPLOYED_NODE = [
    ("fc_in", "weight_scale", -1.0),  # WeightScales
    ("fc_in", "unit_rows", 0.0),
    ("fc_in", "sign_mode", "sideways"),
    ("fc_in", "weight_bits", 0),
    ("fc_in", "unit_rows", None),  # missing beside the other three
    ("lif1", "gain", np.array([np.inf])),  # NeuronScales
    ("lif1", "state_unit", -2.0),
    ("lif1", "scale", None),  # missing beside gain and state_unit
    ("lif1", "float_scale", -0.5),  # OpInfo: the conversion's λ, kept by the deployed graph
    ("lif1", "module", 7),  # OpInfo
]
# (node, key, bad value): node records of a float graph
FLOAT_NODE = [
    ("lif1", "scale", -1.0),  # OpInfo.act_scale
    ("lif1", "scale", "large"),
    ("fc_in", "pooling", "max"),  # OpInfo.pooling
    ("fc_in", "module", ["a"]),  # OpInfo.module
]
# (key, bad value): graph records of a deployed graph
DEPLOYED_GRAPH = [
    ("input_encoding", "morse"),  # InputEncoding
    ("input_scale", -1.0),
    ("input_bits", 1),
    ("max_events", 0),
    ("input_max", -3.0),
    ("weight_bits", 0),  # Deployment
    ("state_bits", 65),
    ("warnings", [1, 2]),
    ("timesteps", 0),
]


@pytest.fixture(scope="module")
def deployed():
    return quantize(braille_rnn(), "generic")


def _with(graph, node, key, value):
    g = copy.deepcopy(graph)
    meta = g.metadata if node is None else g.nodes[node].metadata
    if value is None:
        meta.pop(key)
    else:
        meta[key] = value
    return g


def _read_error(graph, tmp_path, mode) -> BadInput:
    path = tmp_path / "bad.nir"
    nirconv.save(graph, path)
    with pytest.raises(BadInput) as e:
        to_program(path, mode=mode)
    assert "\n" not in str(e.value)
    assert e.value.file == str(path)
    return e.value


@pytest.mark.parametrize("node,key,value", DEPLOYED_NODE)
def test_a_bad_deployed_node_record_names_node_and_key(deployed, tmp_path, node, key, value):
    error = _read_error(_with(deployed, node, key, value), tmp_path, "int")
    assert (error.node, error.field) == (node, f"metadata.{key}")


@pytest.mark.parametrize("node,key,value", FLOAT_NODE)
def test_a_bad_float_node_record_names_node_and_key(tmp_path, node, key, value):
    error = _read_error(_with(braille_rnn(), node, key, value), tmp_path, "float")
    assert (error.node, error.field) == (node, f"metadata.{key}")


@pytest.mark.parametrize("key,value", DEPLOYED_GRAPH)
def test_a_bad_graph_record_names_the_key(deployed, tmp_path, key, value):
    error = _read_error(_with(deployed, None, key, value), tmp_path, "int")
    assert error.field == f"metadata.{key}"


def test_deployed_records_are_read(deployed):
    program = to_program(deployed, mode="int")
    weights = {op.name: op for op in program.ops if op.name.startswith("fc_")}
    assert all(op.scales is not None and op.scales.weight_bits == 8 for op in weights.values())
    assert all(op.scales is not None for op in program.neuron_ops)
    assert program.deployment.target == "generic" and program.deployment.family == "generic"


def test_a_deployed_weight_without_its_float_weight_has_no_float_view(deployed, tmp_path):
    error = _read_error(_with(deployed, "fc_rec", "float_weight", None), tmp_path, "float")
    assert (error.node, error.field) == ("fc_rec", "metadata.float_weight")
