"""Bad input to `nirconv.audit` is a one-line BadInput naming the field, before any simulation."""
from __future__ import annotations

import nir
import numpy as np
import pytest

import nirconv
from nirconv.errors import BadInput


def _float_graph():
    w = np.eye(3)
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([3])}),
               "fc": nir.Affine(weight=w, bias=np.zeros(3)),
               "lif": nir.IF(r=np.ones(3), v_threshold=np.ones(3), v_reset=np.zeros(3)),
               "output": nir.Output(output_type={"output": np.array([3])})},
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")], type_check=False)


@pytest.fixture
def model():
    import torch
    return torch.nn.Linear(3, 3)


@pytest.mark.parametrize("data,labels,timesteps,tolerance,field", [
    (np.full((4, 3), np.nan), np.zeros(4, int), 8, 1.0, "data"),
    (np.zeros((4, 3)), np.zeros(5, int), 8, 1.0, "labels"),
    (np.zeros((4, 3)), np.full(4, 0.5), 8, 1.0, "labels"),
    (np.zeros((4, 3)), np.zeros(4, int), 0, 1.0, "timesteps"),
    (np.zeros((4, 3)), np.zeros(4, int), 2.5, 1.0, "timesteps"),
    (np.zeros((4, 3)), np.zeros(4, int), 8, float("nan"), "tolerance"),
    (np.zeros((0, 3)), np.zeros(0, int), 8, 1.0, "data"),
    (np.array(["a", "b"]), np.zeros(2, int), 8, 1.0, "data"),
])
def test_bad_arguments_name_their_field(model, data, labels, timesteps, tolerance, field):
    with pytest.raises(BadInput) as e:
        nirconv.audit(model, _float_graph(), data, labels, timesteps=timesteps,
                      tolerance=tolerance, progress=False)
    assert e.value.field == field


def test_a_float_graph_cannot_be_audited_without_the_snn(model):
    with pytest.raises(BadInput, match="snn") as e:
        nirconv.audit(model, _float_graph(), np.zeros((2, 3)), np.zeros(2, int), timesteps=4)
    assert e.value.field == "snn"


def test_a_missing_deployed_file_names_the_file(model, tmp_path):
    with pytest.raises(BadInput) as e:
        nirconv.audit(model, tmp_path / "none.nir", np.zeros((2, 3)), np.zeros(2, int))
    assert "none.nir" in str(e.value)


def test_deployed_must_be_a_graph(model):
    with pytest.raises(BadInput, match="NIR graph") as e:
        nirconv.audit(model, 42, np.zeros((2, 3)), np.zeros(2, int))
    assert e.value.field == "deployed"

