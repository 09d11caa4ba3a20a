"""The ANN side of the audit: hooked activations (modules and exported programs), λ per neuron."""
from __future__ import annotations

import numpy as np
import pytest

from nirconv.equations.neurons import NeuronFloat
from nirconv.equations.program import Edge, NeuronOp, OutputOp, Program
from nirconv.equations.records import OpInfo
from nirconv.fidelity.model_map import ann_activations, layer_modules, layer_scales


def _if(name, shape, inputs=(), **info):
    """An IF neuron op with the given OpInfo fields."""
    neuron = NeuronFloat(shape=shape, alpha_mem=np.ones(shape), beta_mem=np.ones(shape),
                         bias=np.zeros(shape), v_threshold=np.ones(shape), v_reset=np.zeros(shape),
                         v_init=np.zeros(shape))
    return NeuronOp(name=name, inputs=inputs, in_shape=shape, out_shape=shape, neuron=neuron,
                    info=OpInfo(nir_type="IF", **info))


def _program(*ops, provenance=None):
    return Program(ops=ops, inputs=(), outputs=tuple(o.name for o in ops
                                                     if isinstance(o, OutputOp)),
                   mode="float", provenance=provenance or {})


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
    g = _program(_if("a", (2,), module="1"), _if("b", (2,), module="features.9"))
    assert layer_modules(g, g, model) == {"a": "1"}


def test_scales_broadcast_per_channel_and_only_from_converted_graphs():
    node = _if("n", (2, 1, 2), act_scale=np.array([1.0, 2.0]))
    g = _program(node, provenance={"normalization": "max"})
    assert layer_scales(g, {"n": (2, 1, 2)})["n"].tolist() == [1.0, 1.0, 2.0, 2.0]
    g = _program(node)
    assert layer_scales(g, {"n": (2, 1, 2)}) == {}


def test_a_model_that_cannot_run_is_bad_input():
    from nirconv.errors import BadInput
    import torch

    with pytest.raises(BadInput, match="cannot run"):
        ann_activations(torch.nn.Linear(3, 2), np.zeros((4, 5), np.float32), {})


def test_a_spiking_readout_stands_for_the_logits(digits_cnn):
    import torch

    model, x, _ = digits_cnn
    g = _program(_if("readout", (10,)),
                 OutputOp(name="output", inputs=(Edge("readout"),), in_shape=(10,),
                          out_shape=(10,)))
    mods = layer_modules(g, g, model)
    assert mods == {"readout": "<output>"}
    logits, acts = ann_activations(model, x[:3], mods)
    with torch.no_grad():
        assert np.allclose(acts["readout"], model(torch.from_numpy(x[:3])).numpy())
