"""The facade's explicit parameters reach their implementations (nirconv/__init__.py)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import nirconv


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
                                torch.nn.Linear(8, 3)).eval()
    return model, torch.rand(64, 4)


def test_to_nir_metadata_adds_and_replaces_entries_without_changing_the_network(tiny):
    model, x = tiny
    snn = nirconv.convert(model, x, normalize="max")
    graph = nirconv.to_nir(snn, metadata={"note": "hello", "normalization": "mine"})
    assert graph.metadata["note"] == "hello" and graph.metadata["normalization"] == "mine"
    assert snn.metadata["normalization"] == "max" and "note" not in snn.metadata
    assert nirconv.to_nir(snn).metadata["normalization"] == "max"


@pytest.mark.parametrize("bad", [["note"], {1: "x"}, "note=1"])
def test_to_nir_refuses_bad_metadata(tiny, bad):
    model, x = tiny
    snn = nirconv.convert(model, x, normalize="max")
    with pytest.raises(nirconv.BadInput) as e:
        nirconv.to_nir(snn, metadata=bad)
    assert e.value.field == "metadata"


def test_export_passes_the_conversion_options_to_convert(tiny):
    model, x = tiny
    dep = nirconv.export(model, target="generic", calibration=x, normalize="max",
                         readout="spikes", v_init=0.25)
    assert dep.metadata["normalization"] == "max" and dep.metadata["readout"] == "spikes"
    with pytest.raises(nirconv.BadInput) as e:
        nirconv.export(model, target="generic", calibration=x, normalize="none-such")
    assert e.value.field == "normalize"


def test_simulate_keyword_options(tiny):
    model, x = tiny
    graph = nirconv.to_nir(nirconv.convert(model, x, normalize="max", readout="spikes"))
    first = next(n for n, node in graph.nodes.items() if type(node).__name__ == "IF")
    result = nirconv.simulate(graph, x[:5].numpy(), timesteps=4, reset="zero", record=[first],
                              full=True)
    assert np.asarray(result.recorded[first]).shape[:2] == (4, 5)
    with pytest.raises(nirconv.BadInput) as e:
        nirconv.simulate(graph, x[:5].numpy(), timesteps=4, reset="sometimes")
    assert e.value.field == "reset"


def test_unknown_keywords_are_refused_by_the_signature(tiny):
    model, x = tiny
    with pytest.raises(TypeError):
        nirconv.convert(model, x, normalise="max")  # a typo is not silently ignored
