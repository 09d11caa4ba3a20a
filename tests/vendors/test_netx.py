"""lava-dl netx HDF5: the layout lava-dl 0.6.0's reader expects, field by field, and a round trip
(write -> read as lava-dl + lava would run it -> same spikes in both simulators)."""
from __future__ import annotations

import dataclasses
import importlib

import h5py
import numpy as np
import pytest

from nirconv.equations.neurons import LoihiCubaLIF
from nirconv.equations.program import AffineOp, Edge, InputOp, NeuronOp, OutputOp, Program
from nirconv.errors import BadInput, Unsupported
from nirconv.vendors.netx import NEVER_FIRES_VTH, netx_weights, read_netx, write_netx


def _lif(n, du, dv, vth, bias_mant):
    full = lambda v: np.full(n, v, np.int64)
    return LoihiCubaLIF(shape=(n,), du=full(du), dv=full(dv), vth=None if vth is None else full(vth),
                        bias_mant=np.asarray(bias_mant, np.int64), bias_exp=full(6))


def _program(rng, recurrent=True):
    """input 20 -> dense (mixed int8, shift 0) -> CUBA 30 (+ recurrent) -> dense (excitatory, shift 1)
    -> CUBA 5 membrane readout."""
    w1 = rng.integers(-128, 128, (30, 20))
    w_rec = rng.integers(-60, 60, (30, 30))
    w2 = rng.integers(0, 100, (5, 30))
    l1_inputs = (Edge("w1", 1),) + ((Edge("w_rec", 1),) if recurrent else ())
    ops = [InputOp(name="input", inputs=(), in_shape=(20,), out_shape=(20,)),
           AffineOp(name="w1", inputs=(Edge("input"),), in_shape=(20,), out_shape=(30,),
                    weight=w1, bias=None, shift=0),
           NeuronOp(name="l1", inputs=l1_inputs, in_shape=(30,), out_shape=(30,),
                    neuron=_lif(30, 1000, 300, 150, rng.integers(-20, 20, 30)))]
    if recurrent:
        ops.append(AffineOp(name="w_rec", inputs=(Edge("l1"),), in_shape=(30,), out_shape=(30,),
                            weight=w_rec, bias=None, shift=0))
    ops += [AffineOp(name="w2", inputs=(Edge("l1"),), in_shape=(30,), out_shape=(5,), weight=w2,
                     bias=None, shift=1),
            NeuronOp(name="l2", inputs=(Edge("w2", 1),), in_shape=(5,), out_shape=(5,),
                     neuron=_lif(5, 4095, 200, None, np.zeros(5))),
            OutputOp(name="output", inputs=(Edge("l2"),), in_shape=(5,), out_shape=(5,))]
    return Program(ops=tuple(ops), inputs=("input",), outputs=("output",), mode="int",
                   family="loihi2")


def _netdict(g, key):
    """lava-dl 0.6.0 netx/utils.py NetDict.__getitem__: how the reader sees each key."""
    if key == "type":  # str_keys
        value = g[key]
        value = value[0] if len(value.shape) > 0 else value[()]
        return value.decode("ascii")
    if key in ("weight", "weight_rec", "bias"):  # copy_keys
        return g[key][()].astype(int).copy()
    return g[key][()]  # array_keys


def test_layout_field_by_field(tmp_path):
    rng = np.random.default_rng(0)
    program = _program(rng)
    path = tmp_path / "net.net"
    write_netx(program, path)
    with h5py.File(path, "r") as f:
        layers = f["layer"]
        assert sorted(layers.keys()) == ["0", "1", "2"]
        assert _netdict(layers["0"], "type") == "input"
        assert layers["0"]["type"].dtype == np.dtype("S10") and layers["0"]["type"].shape == (1,)
        assert tuple(_netdict(layers["0"], "shape")[::-1]) == (20,)
        assert "neuron" not in layers["0"]  # hdf5.py l.596: shape only -> Network.input_shape
        for key, kind, w_name, rec_name, neuron_name in (("1", "dense_rec", "w1", "w_rec", "l1"),
                                                         ("2", "dense", "w2", None, "l2")):
            g = layers[key]
            assert _netdict(g, "type") == kind
            n = program.op(neuron_name).out_shape[0]
            assert int(np.prod(_netdict(g, "shape"))) == n  # create_dense: shape = prod(shape)
            op = program.op(w_name)
            assert g["inFeatures"][()] == op.in_shape[0] and g["outFeatures"][()] == n
            np.testing.assert_array_equal(_netdict(g, "weight"), op.weight << op.shift)
            if rec_name:
                np.testing.assert_array_equal(_netdict(g, "weight_rec"), program.op(rec_name).weight)
            # get_neuron_params (hdf5.py l.144-159): what lava's LIF is built with
            neuron = g["neuron"]
            assert _netdict(neuron, "type") == "CUBA"
            rec = program.op(neuron_name).neuron
            assert _netdict(neuron, "iDecay") - 1 == rec.du[0]  # du = iDecay - 1
            assert _netdict(neuron, "vDecay") == rec.dv[0]  # dv = vDecay
            vth = NEVER_FIRES_VTH if rec.vth is None else rec.vth[0]
            assert _netdict(neuron, "vThMant") == vth  # vth = vThMant
            assert _netdict(neuron, "refDelay") == 1 and not neuron["gradedSpike"][()]
            bias = _netdict(g, "bias") if "bias" in g else np.zeros(n, int)
            np.testing.assert_array_equal(bias << 6, rec.bias_mant << rec.bias_exp)  # bias_exp 6


@pytest.mark.parametrize("backend", ["event", "torch"])
@pytest.mark.parametrize("recurrent", [False, True])
def test_round_trip_gives_the_same_spikes(tmp_path, backend, recurrent):
    rng = np.random.default_rng(1)
    program = _program(rng, recurrent)
    path = tmp_path / "net.net"
    write_netx(program, path)
    back = read_netx(path)
    x = (rng.random((60, 3, 20)) < 0.3).astype(np.int64)
    mod = importlib.import_module(f"nirconv.backends.{backend}")
    ours = mod.run(program, x).outputs["output"]
    theirs = mod.run(back, x).outputs["output"]
    assert np.abs(ours).max() > 0
    np.testing.assert_array_equal(ours, theirs)


def test_netx_weight_processing_is_exact_for_int8_and_lava_legal_sets():
    rng = np.random.default_rng(2)
    for w in (rng.integers(-128, 128, (8, 8)), rng.integers(0, 256, (8, 8)),
              -rng.integers(0, 256, (8, 8)), 2 * rng.integers(-128, 128, (8, 8)),
              np.array([[3, -5]]), np.zeros((2, 2), int)):
        np.testing.assert_array_equal(netx_weights(w).effective(), w)
    # lava-dl clips mixed weights to [-256, 254]; lava clips INHIBITORY to [-255, 0]
    assert netx_weights(np.array([[255, -3]])).effective().tolist() == [[254, -3]]  # 9 bits: no truncation
    assert netx_weights(np.array([[-256, -3]])).effective().tolist() == [[-255, -3]]


def test_refusals_name_the_op_and_leave_no_file(tmp_path):
    rng = np.random.default_rng(3)
    program = _program(rng, recurrent=False)
    path = tmp_path / "bad.net"

    def replace(name, **changes):
        op = program.op(name)
        new = dataclasses.replace(op, **changes)
        return dataclasses.replace(program, ops=tuple(new if o.name == name else o
                                                      for o in program.ops))

    w = program.op("w1").weight.copy()
    w[0, 0], w[0, 1] = 255, -3  # mixed with 255: lava-dl clips to 254
    with pytest.raises(Unsupported, match="w1|l1"):
        write_netx(replace("w1", weight=w), path)
    l1 = program.op("l1").neuron
    with pytest.raises(Unsupported, match="du"):
        write_netx(replace("l1", neuron=dataclasses.replace(l1, du=np.arange(30))), path)
    with pytest.raises(Unsupported, match="bias_mant"):
        write_netx(replace("l1", neuron=dataclasses.replace(l1, bias_exp=np.zeros(30, np.int64),
                                                             bias_mant=np.ones(30, np.int64))),
                   path)
    with pytest.raises(Unsupported, match="delay"):
        write_netx(replace("l2", inputs=(Edge("w2", 0),)), path)
    with pytest.raises(Unsupported, match="metadata.arithmetic"):
        write_netx(dataclasses.replace(program, family="xylo"), path)
    assert not path.exists()
    with pytest.raises(BadInput):
        read_netx(tmp_path / "missing.net")
    (tmp_path / "text.net").write_text("not hdf5")
    with pytest.raises(BadInput):
        read_netx(tmp_path / "text.net")


def test_exported_float_network_writes_and_reads_back(tmp_path):
    """float CubaLIF graph -> nirconv.export(target="loihi2") -> netx -> read back: same spikes."""
    import nir
    import torch

    import nirconv
    from nirconv.reading import lower

    rng = np.random.default_rng(4)

    def cuba(n):
        return nir.CubaLIF(tau_syn=np.full(n, 4e-3), tau_mem=np.full(n, 8e-3), r=np.ones(n),
                           v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n),
                           w_in=np.ones(n), metadata={"reset": "zero"})

    nodes = {"input": nir.Input(input_type={"input": np.array([20])}),
             "w1": nir.Linear(weight=rng.normal(0, 1.0, (30, 20))), "l1": cuba(30),
             "w2": nir.Linear(weight=rng.normal(0, 0.5, (5, 30))), "l2": cuba(5),
             "output": nir.Output(output_type={"output": np.array([5])})}
    edges = [("input", "w1"), ("w1", "l1"), ("l1", "w2"), ("w2", "l2"), ("l2", "output")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": 1e-3, "dialect": "nirconv"})
    x = ((rng.random((80, 3, 20)) < 0.3) * 100).astype(np.int64)
    dep = nirconv.export(graph, target="loihi2", calibration=torch.from_numpy(x[:, 0] * 1.0))
    write_netx(dep, tmp_path / "net.net")
    program = lower(dep, mode="int")
    back = read_netx(tmp_path / "net.net")
    for backend in ("event", "torch"):
        mod = importlib.import_module(f"nirconv.backends.{backend}")
        ours = mod.run(program, x).outputs[program.outputs[0]]
        assert ours.sum() > 0
        np.testing.assert_array_equal(ours, mod.run(back, x).outputs["output"], err_msg=backend)
