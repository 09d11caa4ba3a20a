"""The ANN side of the audit: hooked activations (modules and exported programs), λ per neuron."""
from __future__ import annotations

import nir
import numpy as np
import pytest

from nirconv.fidelity.model_map import ann_activations, layer_modules, layer_scales


def test_activations_of_module_and_fixed_batch_export_agree(digits_cnn):
    import torch

    model, x, _ = digits_cnn
    mods = {"relu_a": "1", "relu_b": "4"}
    logits, acts = ann_activations(model, x[:5], mods)
    with torch.no_grad():
        assert np.allclose(logits, model(torch.from_numpy(x[:5])).numpy())
        assert np.allclose(acts["relu_a"], model[:2](torch.from_numpy(x[:5])).numpy())
    exported = torch.export.export(model, (torch.from_numpy(x[:2]),))  # batch fixed at 2
    logits2, acts2 = ann_activations(exported, x[:5], mods)  # 5 = 2 + 2 + 1 (padded)
    assert logits2.shape == (5, 10) and np.allclose(logits, logits2, atol=1e-5)
    assert np.allclose(acts["relu_b"], acts2["relu_b"], atol=1e-5)


def test_modules_missing_from_the_model_are_ignored(digits_cnn):
    model, _, _ = digits_cnn
    g = nir.NIRGraph(nodes={"a": nir.IF(r=np.ones(2), v_threshold=np.ones(2), v_reset=np.zeros(2),
                                        metadata={"module": "1"}),
                            "b": nir.IF(r=np.ones(2), v_threshold=np.ones(2), v_reset=np.zeros(2),
                                        metadata={"module": "features.9"})},
                     edges=[], type_check=False)
    assert layer_modules(g, g, model) == {"a": "1"}


def test_scales_broadcast_per_channel_and_only_from_converted_graphs():
    meta = {"scale": np.array([1.0, 2.0])}
    node = nir.IF(r=np.ones((2, 1, 2)), v_threshold=np.ones((2, 1, 2)),
                  v_reset=np.zeros((2, 1, 2)), metadata=meta)
    g = nir.NIRGraph(nodes={"n": node}, edges=[], metadata={"normalization": "max"},
                     type_check=False)
    assert layer_scales(g, {"n": (2, 1, 2)})["n"].tolist() == [1.0, 1.0, 2.0, 2.0]
    g.metadata = {}
    assert layer_scales(g, {"n": (2, 1, 2)}) == {}


def test_a_model_that_cannot_run_is_bad_input():
    from nirconv.errors import BadInput
    import torch

    with pytest.raises(BadInput, match="cannot run"):
        ann_activations(torch.nn.Linear(3, 2), np.zeros((4, 5), np.float32), {})


def test_a_spiking_readout_stands_for_the_logits(digits_cnn):
    import torch

    model, x, _ = digits_cnn
    if_node = nir.IF(r=np.ones(10), v_threshold=np.ones(10), v_reset=np.zeros(10))
    g = nir.NIRGraph(nodes={"readout": if_node,
                            "output": nir.Output(output_type={"output": np.array([10])})},
                     edges=[("readout", "output")], type_check=False)
    mods = layer_modules(g, g, model)
    assert mods == {"readout": "<output>"}
    logits, acts = ann_activations(model, x[:3], mods)
    with torch.no_grad():
        assert np.allclose(acts["readout"], model(torch.from_numpy(x[:3])).numpy())
