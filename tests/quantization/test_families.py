"""Each arithmetic family's rules and warnings (nirconv/quantization/families/), and the generic
rules of the passes, on small float programs: every note fires where the target forces a change,
every refusal names the node and field, and a broken postcondition is an internal error."""
from __future__ import annotations

import nir
import numpy as np
import pytest

from nirconv.equations.neurons import BitShiftLIF, Float32LIF, LoihiCubaLIF, SpeckIAF
from nirconv.equations.program import AffineOp
from nirconv.errors import InternalError, Unsupported
from nirconv.passes import PassFailed
from nirconv.quantization import FAMILIES, InputRange, quantize
from nirconv.quantization.families import family_of
from nirconv.reading import lower
from nirconv.targets import load, path_of
from ..fixtures.paper import braille_rnn, nmnist_cnn
from nirconv.targets.schema import FAMILIES as SCHEMA_FAMILIES


def chain(neuron, *, n_in=3, n_out=4, weight=None, bias=None, dt=1e-3) -> nir.NIRGraph:
    """Input -> Affine -> ``neuron`` -> Output."""
    rng = np.random.default_rng(0)
    w = rng.normal(0, 1.0, (n_out, n_in)) if weight is None else weight
    b = np.zeros(n_out) if bias is None else bias
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([n_in])}),
               "fc": nir.Affine(weight=w, bias=b), "n": neuron,
               "output": nir.Output(output_type={"output": np.array([n_out])})},
        edges=[("input", "fc"), ("fc", "n"), ("n", "output")], type_check=False,
        metadata={"dt": dt, "dialect": "nirconv"})


def if_(n=4, v_init=0.0, reset="subtract", v_reset=0.0):
    return nir.IF(r=np.ones(n), v_threshold=np.ones(n), v_reset=np.full(n, v_reset),
                  metadata={"reset": reset, "compare": ">=", "v_init": v_init})


def readout(n=4):
    return nir.I(r=np.ones(n))


def cuba(n=4, v_init=0.0):
    return nir.CubaLIF(tau_syn=np.full(n, 2e-3), tau_mem=np.full(n, 4e-3), r=np.ones(n),
                       v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n),
                       w_in=np.ones(n), metadata={"reset": "subtract", "v_init": v_init})


def run(graph, target, calibration=None):
    return quantize(lower(graph), load(target), calibration or InputRange())


def rules(program, node=None) -> set:
    return {w.rule for w in program.deployment.warnings if node is None or w.node == node}


def test_every_family_of_the_target_schema_has_a_module():
    assert set(FAMILIES) == set(SCHEMA_FAMILIES)
    for name, family in FAMILIES.items():
        assert family.name == name and family_of(load(name)) is family


# ------------------------------------------------------------------ speck

def test_speck_refuses_a_leak_and_a_membrane_readout():
    with pytest.raises(Unsupported) as e:
        run(braille_rnn(), "speck")
    assert (e.value.node, e.value.field) == ("lif1", "tau")
    with pytest.raises(Unsupported) as e:
        run(chain(readout()), "speck")
    assert (e.value.node, e.value.field) == ("n", "type")


def test_speck_neurons_are_integrate_and_fire_in_the_state_range():
    program = run(chain(if_(v_init=0.5)), "speck")
    r = program.op("n").neuron
    assert isinstance(r, SpeckIAF) and (r.v_min, r.v_max) == (-(1 << 15), (1 << 15) - 1)
    assert np.all(np.abs(r.v_init - r.threshold / 2) <= 1)  # half a threshold, kept
    assert not rules(program)


# ------------------------------------------------------------------ xylo

def test_xylo_notes_what_it_models_differently():
    program = run(chain(if_(v_init=0.5)), "xylo")
    assert rules(program, "n") == {"no_leak", "no_synapse", "v_init_dropped"}
    r = program.op("n").neuron
    assert isinstance(r, BitShiftLIF) and r.accumulate == "ordered"
    assert np.all(r.dash_mem == 15) and np.all(r.dash_syn == 1) and np.all(r.v_init == 0)
    assert r.input_event_cap == load("xylo")["io.max_input_events"]


def test_xylo_drops_weight_biases_and_orders_a_neurons_inputs():
    g = braille_rnn()
    g.nodes["fc_in"] = nir.Affine(weight=g.nodes["fc_in"].weight, bias=np.full(40, 0.1))
    program = run(g, "xylo")
    assert rules(program) == {"bias_dropped"}
    assert np.all(program.op("fc_in").bias == 0)
    assert [e.src for e in program.op("lif1").inputs] == ["fc_in", "fc_rec"]
    assert program.op("fc_out").inputs[0].delay == 1  # hidden spikes reach the readout later


# ------------------------------------------------------------------ generic

def test_generic_keeps_no_state_it_does_not_need_and_notes_nothing():
    program = run(chain(if_(v_init=0.5)), "generic")
    r = program.op("n").neuron
    assert isinstance(r, BitShiftLIF) and r.accumulate == "sum"
    assert r.dash_mem is None and r.dash_syn is None and np.all(r.v_init > 0)
    assert not rules(program)


def test_generic_adds_the_bias_in_the_weight_op():
    program = run(chain(if_(), bias=np.full(4, 0.5)), "generic")
    fc = program.op("fc")
    assert fc.bias.dtype == np.int64 and np.all(fc.bias > 0)
    assert fc.weight.dtype == np.int64 and np.abs(fc.weight).max() == 127
    assert fc.scales.sign_mode == "signed" and not rules(program)


# ------------------------------------------------------------------ loihi2

def test_loihi2_notes_reset_v_init_and_bias_and_delays_every_dense():
    program = run(chain(if_(v_init=0.5, v_reset=0.2), bias=np.full(4, 1e4)), "loihi2")
    assert rules(program, "n") == {"reset_substituted", "v_reset", "v_init_dropped",
                                   "bias_saturation"}
    r = program.op("n").neuron
    assert isinstance(r, LoihiCubaLIF) and np.all(r.bias_exp == load("loihi2")["state.bias_exp"])
    assert np.all(program.op("fc").bias == 0)  # the bias is the neuron's
    assert program.op("n").inputs[0].delay == 1


def test_loihi2_moves_a_bias_into_a_synaptic_neuron_with_a_note():
    g = braille_rnn()
    g.nodes["fc_in"] = nir.Affine(weight=g.nodes["fc_in"].weight, bias=np.full(40, 0.1))
    program = run(g, "loihi2")
    assert "bias_moved" in rules(program, "fc_in")
    assert np.any(program.op("lif1").neuron.bias_mant != 0)


def test_a_loihi2_target_that_keeps_weight_biases_is_refused_at_the_dense(tmp_path):
    text = path_of("loihi2").read_text().replace('name = "loihi2"', 'name = "loihi-wb"').replace(
        'bias = { value = "neuron"', 'bias = { value = "weight"')
    (tmp_path / "wb.toml").write_text(text)
    with pytest.raises(Unsupported) as e:
        quantize(lower(chain(if_(), bias=np.full(4, 0.5))), load(tmp_path / "wb.toml"))
    assert (e.value.node, e.value.field) == ("fc", "bias")


# ------------------------------------------------------------------ spinnaker2

def test_spinnaker2_notes_a_synapse_and_v_init():
    program = run(chain(cuba(v_init=0.5)), "spinnaker2")
    assert rules(program, "n") == {"no_integer_simulation", "v_init_dropped"}
    r = program.op("n").neuron
    assert isinstance(r, Float32LIF) and r.threshold.dtype == np.float32
    assert r.weight_scale == program.op("fc").scales.unit_rows  # one float32 factor


def test_spinnaker2_refuses_a_readout_and_an_inexact_float32_sum():
    with pytest.raises(Unsupported) as e:
        run(chain(readout()), "spinnaker2")
    assert (e.value.node, e.value.field) == ("n", "type")
    n_in = 140_000  # 127 * 140,000 > 2**24
    with pytest.raises(Unsupported) as e:
        run(chain(if_(1), n_in=n_in, n_out=1, weight=np.ones((1, n_in))), "spinnaker2")
    assert (e.value.node, e.value.field) == ("fc", "weight")


# ------------------------------------------------------------------ the generic passes

def test_dialect_switches_the_chip_lacks_are_noted():
    g = chain(if_())
    g.nodes["n"].metadata.update(current_delay=True, reset_after_decay=False, max_spikes=3,
                                 v_min=-1.0)
    assert {"current_delay", "reset_after_decay", "max_spikes", "v_min"} <= \
        rules(run(g, "generic"), "n")


def test_refusals_name_the_node_and_field():
    g = nmnist_cnn()
    g.nodes["if1"] = nir.IF(r=np.linspace(0.5, 1.5, 16 * 16 * 16).reshape(16, 16, 16),
                            v_threshold=np.ones((16, 16, 16)),
                            metadata={"reset": "subtract", "compare": ">="})
    with pytest.raises(Unsupported) as e:
        run(g, "generic")
    assert (e.value.node, e.value.field) == ("if1", "gain")
    with pytest.raises(Unsupported) as e:
        run(chain(if_(reset="zero")), "xylo")  # xylo resets by subtraction only
    assert (e.value.node, e.value.field) == ("n", "metadata.reset")


def test_the_input_is_not_modified_and_calibration_sets_the_input_scale():
    program = lower(chain(if_()))
    before = [op.weight.copy() for op in program.ops if isinstance(op, AffineOp)]
    out = quantize(program, load("generic"), InputRange(max_abs=2.0, min=0.0, events=False))
    assert [op.weight for op in program.ops if isinstance(op, AffineOp)][0].tolist() == \
        before[0].tolist()
    assert out.encoding.scale == 2.0 / 127 and out.encoding.input_max == 2.0
    assert out.op("fc").scales.weight_bits == 8 and program.mode == "float"


def test_a_broken_postcondition_is_an_internal_error(monkeypatch):
    generic = FAMILIES["generic"]

    class Broken(type(generic)):
        record = Float32LIF  # what its neurons are not

    broken = Broken()
    monkeypatch.setitem(FAMILIES, "generic", broken)
    with pytest.raises(PassFailed) as e:
        run(chain(if_()), "generic")
    assert isinstance(e.value, InternalError) and e.value.exit_code == 3
    assert "'neurons' broke its postcondition" in str(e.value)
