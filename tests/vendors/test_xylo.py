"""Xylo: the Rockpool .npz and agreement with SynSense's bit-exact simulator (xylosim).

Our event and torch integer modes must give exactly xylosim's output spikes at every step for every
sample, on random XyloAudio 2-shaped networks (16 inputs, recurrent hidden layer with fan-out <= 64,
<= 8 outputs, several events per input per step, hidden neurons firing several spikes per step,
saturating 16-bit sums) and on the NIR paper's braille-shaped net (12 -> 40 recurrent -> 7, dt 0.1 ms).
"""
from __future__ import annotations

import gc
import importlib

import numpy as np
import pytest

from nirconv.errors import BadInput, Unsupported
from nirconv.vendors import xylo
from nirconv.vendors.xylo import (XyloSimLayer, program_from_spec, read_rockpool_npz,
                                  spec_from_program, write_rockpool_npz)

BACKENDS = ["event", "torch"]


def _ours(backend, spec, x):
    mod = importlib.import_module(f"nirconv.backends.{backend}")
    return np.asarray(mod.run(program_from_spec(spec), x).outputs["output"])


# --------------------------------------------------------------------------- format

def test_npz_round_trip_keys_and_dtypes(tmp_path, xylo_helpers):
    spec = xylo_helpers["random_spec"](np.random.default_rng(0), n_hid=40, bias=True, dt=1e-4)
    path = tmp_path / "net.npz"
    written = write_rockpool_npz(program_from_spec(spec), path)
    with np.load(path, allow_pickle=False) as data:
        assert set(data.files) == set(xylo.KEYS)
        for key in data.files:
            if key == "dt":
                assert data[key].dtype == np.float64 and data[key] == 1e-4
            elif key == "output_mode":
                assert str(data[key]) == "Spike"
            else:
                assert np.issubdtype(data[key].dtype, np.integer), key
        assert data["weights_in"].shape == (16, 40, 2)
        assert data["weights_rec"].shape == (40, 40, 2)
        assert data["weights_out"].shape == (40, 8)
        assert data["aliases"].shape == (40, 1) and np.all(data["aliases"] == -1)
    back = read_rockpool_npz(path)
    for key, value in spec.arrays().items():
        np.testing.assert_array_equal(back.arrays()[key], value, err_msg=key)
        np.testing.assert_array_equal(written.arrays()[key], value, err_msg=key)


def test_config_from_specification_spelling(xylo_helpers):
    spec = xylo_helpers["random_spec"](np.random.default_rng(1), n_hid=10)
    kwargs = xylo.config_kwargs(spec)
    assert "bias_hidden" in kwargs and "bias" not in kwargs
    assert "dt" not in kwargs and "output_mode" not in kwargs
    assert kwargs["aliases"] == [[] for _ in range(10)]


def test_reader_never_unpickles_and_names_the_field(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, weights_in=np.array([object()], dtype=object), weights_out=np.zeros((1, 1)))
    with pytest.raises(BadInput) as err:
        read_rockpool_npz(path)
    assert str(path) in str(err.value)
    ok = tmp_path / "extra.npz"
    np.savez(ok, weights_in=np.zeros((2, 3, 2), np.int64), weights_out=np.zeros((3, 1), np.int64),
             colour=np.zeros(1))
    with pytest.raises(Unsupported, match="colour"):
        read_rockpool_npz(ok)
    bad = tmp_path / "range.npz"
    np.savez(bad, weights_in=np.full((2, 3, 2), 300), weights_out=np.zeros((3, 1), np.int64))
    with pytest.raises(BadInput, match="weights_in"):
        read_rockpool_npz(bad)
    with pytest.raises(BadInput, match="not found"):
        read_rockpool_npz(tmp_path / "missing.npz")


def test_write_refuses_what_xylo_cannot_express(tmp_path, xylo_helpers):
    spec = xylo_helpers["random_spec"](np.random.default_rng(2), n_hid=12)
    program = program_from_spec(spec)
    import dataclasses
    hidden = program.op("hidden")
    bad = dataclasses.replace(hidden, neuron=dataclasses.replace(hidden.neuron, reset="zero"))
    ops = tuple(bad if op.name == "hidden" else op for op in program.ops)
    with pytest.raises(Unsupported) as err:
        write_rockpool_npz(dataclasses.replace(program, ops=ops), tmp_path / "x.npz")
    assert "hidden" in str(err.value) and "reset" in str(err.value)
    assert not (tmp_path / "x.npz").exists()
    with pytest.raises(Unsupported, match="metadata.arithmetic"):
        spec_from_program(dataclasses.replace(program, family="generic"))


def test_readout_delay_must_be_one_step(xylo_helpers):
    import dataclasses
    program = program_from_spec(xylo_helpers["random_spec"](np.random.default_rng(3), n_hid=12))
    readout = program.op("readout")
    same_step = dataclasses.replace(readout, inputs=(dataclasses.replace(readout.inputs[0], delay=0),))
    ops = tuple(same_step if op.name == "readout" else op for op in program.ops)
    with pytest.raises(Unsupported, match="delay"):
        spec_from_program(dataclasses.replace(program, ops=ops))


# --------------------------------------------------------------------------- the spec vs xylosim

@pytest.mark.parametrize("seed,bias,max_events", [(0, False, 15), (1, True, 15), (2, True, 40)])
def test_equations_docstring_equals_xylosim(need_xylosim, xylo_helpers, seed, bias, max_events):
    """The BitShiftLIF docstring, transcribed (conftest.reference_run), equals xylosim at every
    step: output spikes and hidden spike counts (inputs above 15 events are clipped to 15)."""
    rng = np.random.default_rng(seed)
    spec = xylo_helpers["random_spec"](rng, n_hid=80, bias=bias)
    x = xylo_helpers["random_events"](rng, 150, 3, 16, max_events=max_events)
    sim = XyloSimLayer(spec)
    expected, hidden = xylo_helpers["reference_run"](spec, x, record_hidden=True)
    np.testing.assert_array_equal(sim.run(x), expected)
    sim.evolve(x[:, 2])
    np.testing.assert_array_equal(sim.hidden_spikes(), hidden[:, 2])
    assert hidden.max() == 31 and (hidden > 1).mean() > 0.05  # several spikes per step


def test_saturation_order_is_observable(need_xylosim, xylo_helpers):
    """The test networks do saturate: summing a step's events before saturating (instead of
    saturating after each event in xylosim's order) changes xylosim's hidden spikes."""
    rng = np.random.default_rng(4)
    spec = xylo_helpers["random_spec"](rng, n_hid=80)
    x = xylo_helpers["random_events"](rng, 100, 1, 16)
    sim = XyloSimLayer(spec)
    sim.evolve(x[:, 0])
    ordered = sim.hidden_spikes()
    w_in = spec.weights_in[:, :, 0] << spec.weight_shift_in
    isyn_sum = np.abs(x[:, 0] @ w_in)  # |unsaturated input sums| of step t alone
    assert (isyn_sum > 32767).any(), "no 16-bit saturation in the test network"
    unordered = _unordered_hidden(spec, x[:, 0])
    assert not np.array_equal(ordered, unordered)


def _unordered_hidden(spec, raster):
    """Hidden spikes with 'sum all events, then saturate once' (what a plain matmul would do)."""
    sat = lambda a: np.clip(a, -32768, 32767)
    decay = lambda a, d: np.where(((a >> d) == 0) & (a != 0), np.sign(a), a >> d)
    w_in = spec.weights_in[:, :, 0] << spec.weight_shift_in
    w_rec = spec.weights_rec[:, :, 0] << spec.weight_shift_rec
    v = np.zeros(spec.n_hidden, np.int64)
    i = np.zeros(spec.n_hidden, np.int64)
    prev = np.zeros(spec.n_hidden, np.int64)
    out = []
    for t in range(raster.shape[0]):
        i = sat(i + np.minimum(raster[t], 15) @ w_in + prev @ w_rec)
        i = i - decay(i, spec.dash_syn)
        v = sat(v + sat(-decay(v, spec.dash_mem) + i))
        n = np.zeros_like(v)
        for _ in range(31):
            f = v >= spec.threshold
            n += f
            v = v - spec.threshold * f
        prev = n
        out.append(n)
    return np.stack(out)


def test_layer_keeps_its_synapses_alive(need_xylosim, xylo_helpers):
    """xylosim's XyloLayer does not own its XyloSynapse lists: ours holds them."""
    spec = xylo_helpers["random_spec"](np.random.default_rng(5), n_hid=30)
    x = xylo_helpers["random_events"](np.random.default_rng(6), 50, 1, 16)
    sim = XyloSimLayer(spec)
    first = sim.run(x)
    gc.collect()
    _ = [object() for _ in range(10000)]  # churn the allocator
    np.testing.assert_array_equal(sim.run(x), first)


# --------------------------------------------------------------------------- ours vs xylosim

NETS = {
    # name: (n_in, n_hid, n_out, fan_out, T, B, bias, dt)
    "xa2_small": (16, 64, 8, 64, 300, 4, False, 1e-3),
    "xa2_bias": (16, 200, 8, 64, 200, 3, True, 1e-3),
    "braille": (12, 40, 7, 47, 300, 4, False, 1e-4),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("net", sorted(NETS))
def test_ours_equals_xylosim(need_xylosim, xylo_helpers, backend, net):
    n_in, n_hid, n_out, fan_out, T, B, bias, dt = NETS[net]
    rng = np.random.default_rng(sorted(NETS).index(net) + 10)
    spec = xylo_helpers["random_spec"](rng, n_in=n_in, n_hid=n_hid, n_out=n_out, fan_out=fan_out,
                                       bias=bias, dt=dt)
    x = xylo_helpers["random_events"](rng, T, B, n_in)
    expected = XyloSimLayer(spec).run(x)
    assert expected.sum() > 0
    np.testing.assert_array_equal(_ours(backend, spec, x), expected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_ours_equals_xylosim_above_15_input_events(need_xylosim, xylo_helpers, backend):
    """xylosim delivers at most 15 events per input channel and step (MAX_NUM_INP_SPIKES)."""
    rng = np.random.default_rng(8)
    spec = xylo_helpers["random_spec"](rng, n_hid=40)
    x = xylo_helpers["random_events"](rng, 60, 2, 16, max_events=60)
    assert x.max() > 15
    np.testing.assert_array_equal(_ours(backend, spec, x), XyloSimLayer(spec).run(x))


@pytest.mark.parametrize("backend", BACKENDS)
def test_ours_equals_xylosim_membrane_readout(need_xylosim, xylo_helpers, backend):
    """Vmem readout (Rockpool's output_mode "Vmem"): the readout membranes at every step."""
    import dataclasses
    rng = np.random.default_rng(7)
    spec = xylo_helpers["random_spec"](rng, n_hid=50, weight_shift=(3, 2, 0), threshold=(8000, 20000))
    top = xylo.figures().vmem_readout_threshold
    spec = dataclasses.replace(spec, output_mode="Vmem", dash_mem_out=np.full(spec.n_out, 1),
                               threshold_out=np.full(spec.n_out, top))
    x = xylo_helpers["random_events"](rng, 120, 2, 16)
    expected = XyloSimLayer(spec).run(x)
    ours = _ours(backend, spec, x)
    # On Xylo a membrane readout still fires at its threshold (32767, the largest); our readout
    # does not. The two agree while the membrane stays below it, as here:
    assert ours.max() < top and np.abs(ours).max() > 1000
    np.testing.assert_array_equal(ours, expected)


# --------------------------------------------------------------------------- the real export path

def _float_xylo_graph(rng, n_in, n_hid, n_out, fan_out, dt, tau_syn, tau_mem, gain):
    """A float recurrent CubaLIF network within XyloAudio 2's limits (fan-out <= fan_out)."""
    import nir

    def cuba(n):
        return nir.CubaLIF(tau_syn=np.full(n, tau_syn), tau_mem=np.full(n, tau_mem), r=np.ones(n),
                           v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n),
                           w_in=np.ones(n), metadata={"reset": "subtract"})

    w_rec = np.zeros((n_hid, n_hid))
    for pre in range(n_hid):  # every hidden neuron reaches all readouts + (fan_out - n_out) hidden
        targets = rng.choice(n_hid, size=min(fan_out - n_out, n_hid), replace=False)
        w_rec[targets, pre] = rng.normal(0, gain / 4, targets.size)
    w_out = rng.normal(0, gain / 2, (n_out, n_hid))
    nodes = {"input": nir.Input(input_type={"input": np.array([n_in])}),
             "w_in": nir.Linear(weight=rng.normal(0, gain, (n_hid, n_in))),
             "hidden": cuba(n_hid), "w_rec": nir.Linear(weight=w_rec),
             "w_out": nir.Linear(weight=w_out), "readout": cuba(n_out),
             "output": nir.Output(output_type={"output": np.array([n_out])})}
    edges = [("input", "w_in"), ("w_in", "hidden"), ("hidden", "w_rec"), ("w_rec", "hidden"),
             ("hidden", "w_out"), ("w_out", "readout"), ("readout", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": dt, "dialect": "nirconv"})


FLOAT_NETS = {
    # name: (n_in, n_hid, n_out, fan_out, dt, tau_syn, tau_mem, gain, T, B)
    "xa2_random_a": (16, 120, 8, 64, 1e-3, 4e-3, 8e-3, 3.0, 300, 4),
    "xa2_random_b": (16, 250, 6, 64, 1e-3, 2e-3, 2e-2, 2.0, 200, 3),
    "braille_12_40_7": (12, 40, 7, 47, 1e-4, 5e-4, 2e-3, 3.0, 300, 4),
}


@pytest.mark.parametrize("net", sorted(FLOAT_NETS))
def test_exported_float_networks_equal_xylosim(need_xylosim, tmp_path, net):
    """float graph -> nirconv.export(target="xylo") -> Rockpool .npz -> xylosim, against our event
    and torch integer modes on the exported graph: identical output spikes at every step."""
    import torch

    import nirconv

    n_in, n_hid, n_out, fan_out, dt, tau_syn, tau_mem, gain, T, B = FLOAT_NETS[net]
    rng = np.random.default_rng(sorted(FLOAT_NETS).index(net))
    graph = _float_xylo_graph(rng, n_in, n_hid, n_out, fan_out, dt, tau_syn, tau_mem, gain)
    x = (rng.integers(1, 16, (T, B, n_in)) * (rng.random((T, B, n_in)) < 0.3)).astype(np.int64)
    dep = nirconv.export(graph, target="xylo", calibration=torch.from_numpy(x[:, 0].astype(np.float32)))
    path = tmp_path / f"{net}.npz"
    nirconv.save(dep, tmp_path / f"{net}.nir")
    spec = write_rockpool_npz(nirconv.load(tmp_path / f"{net}.nir"), path)
    assert spec.dt == dt and (spec.n_in, spec.n_hidden, spec.n_out) == (n_in, n_hid, n_out)
    sim = XyloSimLayer(read_rockpool_npz(path))
    expected = sim.run(x)
    sim.evolve(x[:, 0])
    hidden = sim.hidden_spikes()
    assert expected.sum() > 0 and hidden.max() > 1  # several spikes in one step
    for backend in BACKENDS:
        ours = nirconv.simulate(dep, x, backend=backend, mode="int").numpy()
        np.testing.assert_array_equal(ours, expected, err_msg=backend)


def test_minimal_rockpool_file_gets_rockpool_defaults(tmp_path, need_xylosim):
    """Keys left out take from_specification's defaults (zeros, no recurrence, no aliases); a 2-D
    weights_in means synapse 1 only; fewer weights_out rows are the last hidden neurons."""
    rng = np.random.default_rng(9)
    path = tmp_path / "min.npz"
    np.savez(path, weights_in=rng.integers(-128, 128, (16, 20)),
             weights_out=rng.integers(-128, 128, (12, 3)), threshold=np.full(20, 500),
             threshold_out=np.full(3, 800), dash_mem=np.full(20, 2), dash_syn=np.full(20, 1),
             dash_mem_out=np.full(3, 2), dash_syn_out=np.full(3, 1), weight_shift_in=3,
             weight_shift_out=2)
    spec = read_rockpool_npz(path)
    assert spec.weights_in.shape == (16, 20, 2) and not spec.weights_in[:, :, 1].any()
    assert spec.weights_rec.shape == (20, 20, 2) and not spec.weights_rec.any()
    assert spec.weights_out.shape == (20, 3) and not spec.weights_out[:8].any()
    assert spec.dt == 1e-3 and spec.alias_lists() == [[] for _ in range(20)]
    x = xylo_random_events(rng)
    np.testing.assert_array_equal(
        np.asarray(importlib.import_module("nirconv.backends.event").run(
            program_from_spec(spec), x).outputs["output"]),
        XyloSimLayer(spec).run(x))


def xylo_random_events(rng):
    return (rng.integers(1, 8, (50, 2, 16)) * (rng.random((50, 2, 16)) < 0.3)).astype(np.int64)
