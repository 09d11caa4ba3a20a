"""The event simulator on whole graphs, against an independent dense numpy re-statement."""
from __future__ import annotations

import nir
import numpy as np
import pytest

import nirconv
from nirconv.equations.records import InputEncoding
from nirconv.backends.event import run
from nirconv.backends.event import kernels as event_kernels
from nirconv.equations.neurons import LoihiCubaLIF, SpeckIAF
from nirconv.equations.program import (AffineOp, DelayOp, Edge, InputOp, NeuronOp, OutputOp,
                                       Program, ThresholdOp)
from nirconv.errors import BadInput

DT = 1e-3


# ---------------------------------------------------------------- random feed-forward graphs

def random_layers(rng, n_in):
    layers, n = [], n_in
    for _ in range(int(rng.integers(1, 4))):
        m = int(rng.integers(3, 30))
        kind = str(rng.choice(["LIF", "CubaLIF", "IF"]))
        p = dict(kind=kind, w=rng.normal(0, 1.5, (m, n)), b=rng.normal(0, 0.1, m),
                 tau=rng.uniform(2e-3, 20e-3, m), tau_syn=rng.uniform(2e-3, 10e-3, m),
                 v_leak=rng.normal(0, 0.05, m), r=rng.uniform(0.5, 2, m),
                 th=rng.uniform(0.2, 1.0, m), v_reset=rng.uniform(-0.2, 0.1, m),
                 w_in=rng.uniform(0.5, 2, m), reset=str(rng.choice(["zero", "subtract"])))
        layers.append(p)
        n = m
    return layers


def to_graph(layers, n_in):
    nodes = {"input": nir.Input(input_type=np.array([n_in]))}
    edges, prev = [], "input"
    for i, p in enumerate(layers):
        meta = {"reset": p["reset"]}
        nodes[f"fc{i}"] = nir.Affine(weight=p["w"], bias=p["b"])
        if p["kind"] == "LIF":
            nodes[f"n{i}"] = nir.LIF(tau=p["tau"], r=p["r"], v_leak=p["v_leak"],
                                     v_threshold=p["th"], v_reset=p["v_reset"], metadata=meta)
        elif p["kind"] == "IF":
            nodes[f"n{i}"] = nir.IF(r=p["r"], v_threshold=p["th"], v_reset=p["v_reset"],
                                    metadata=meta)
        else:
            nodes[f"n{i}"] = nir.CubaLIF(tau_syn=p["tau_syn"], tau_mem=p["tau"], r=p["r"],
                                         v_leak=p["v_leak"], v_threshold=p["th"],
                                         v_reset=p["v_reset"], w_in=p["w_in"], metadata=meta)
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"n{i}")]
        prev = f"n{i}"
    nodes["output"] = nir.Output(output_type=np.array([layers[-1]["w"].shape[0]]))
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": DT})


def dense_reference(layers, x):
    """Forward-Euler nirconv dialect, written out again: matmul per layer, loop over steps."""
    steps, batch, _ = x.shape
    state = [dict(v=np.zeros((batch, p["w"].shape[0])), i=np.zeros((batch, p["w"].shape[0])))
             for p in layers]
    spikes = [0] * len(layers)
    synops = 0
    out = []
    for t in range(steps):
        s = x[t]
        for li, (p, st) in enumerate(zip(layers, state)):
            synops += int(np.count_nonzero(s)) * p["w"].shape[0]
            a = s @ p["w"].T + p["b"]
            if p["kind"] == "IF":
                v = st["v"] + p["r"] * a
            elif p["kind"] == "LIF":
                v = st["v"] + DT / p["tau"] * (p["v_leak"] - st["v"] + p["r"] * a)
            else:
                st["i"] = st["i"] + DT / p["tau_syn"] * (-st["i"] + p["w_in"] * a)
                v = st["v"] + DT / p["tau"] * (p["v_leak"] - st["v"] + p["r"] * st["i"])
            z = v > p["th"]
            v = np.where(z, v - p["th"], v) if p["reset"] == "subtract" else \
                np.where(z, p["v_reset"], v)
            st["v"] = v
            spikes[li] += int(z.sum())
            s = z.astype(float)
        out.append(s)
    return np.stack(out), spikes, synops


@pytest.mark.parametrize("seed", range(8))
def test_random_graphs_equal_dense_restatement(seed):
    rng = np.random.default_rng(seed)
    n_in = int(rng.integers(4, 20))
    layers = random_layers(rng, n_in)
    for p in layers:  # make them fire
        p["w"] *= 30.0 if p["kind"] != "IF" else 1.0
    x = (rng.random((40, 3, n_in)) < rng.uniform(0.05, 0.5)).astype(float)
    want, spikes, synops = dense_reference(layers, x)
    result = nirconv.simulate(to_graph(layers, n_in), x, full=True, dialect="nirconv")
    np.testing.assert_array_equal(result.output, want)
    assert [result.spikes_per_node[f"n{i}"] for i in range(len(layers))] == spikes
    assert result.synops == synops


def test_analog_dense_path_equals_event_path(monkeypatch):
    rng = np.random.default_rng(5)
    layers = random_layers(rng, 6)
    graph = to_graph(layers, 6)
    x = rng.normal(1.0, 1.0, (30, 2, 6))  # a dense analog current: the dense path
    dense = nirconv.simulate(graph, x, full=True, dialect="nirconv")
    monkeypatch.setattr(event_kernels, "DENSE_ABOVE", 2.0)
    sparse = nirconv.simulate(graph, x, full=True, dialect="nirconv")
    np.testing.assert_array_equal(dense.output, sparse.output)
    assert dense.synops == sparse.synops == dense_reference(layers, x)[2]


# ---------------------------------------------------------------- recurrence

def paper_graph(rng):
    """12 inputs -> Affine -> CubaLIF(40) with a recurrent Affine 40->40 -> Affine -> CubaLIF(7)."""
    def cuba(n):
        return nir.CubaLIF(tau_syn=np.full(n, 5e-3), tau_mem=np.full(n, 10e-3), r=np.ones(n),
                           v_leak=np.zeros(n), v_threshold=np.ones(n), w_in=np.ones(n),
                           metadata={"reset": "subtract"})
    w1, wr, w2 = rng.normal(0, 8, (40, 12)), rng.normal(0, 3, (40, 40)), rng.normal(0, 6, (7, 40))
    nodes = {"input": nir.Input(input_type=np.array([12])),
             "fc1": nir.Affine(weight=w1, bias=np.zeros(40)), "lif1": cuba(40),
             "rec": nir.Affine(weight=wr, bias=np.zeros(40)),
             "fc2": nir.Affine(weight=w2, bias=np.zeros(7)), "lif2": cuba(7),
             "output": nir.Output(output_type=np.array([7]))}
    edges = [("input", "fc1"), ("fc1", "lif1"), ("lif1", "rec"), ("rec", "lif1"),
             ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": DT}), (w1, wr, w2)


def test_paper_recurrent_graph_simulates_with_one_step_recurrence():
    rng = np.random.default_rng(0)
    graph, (w1, wr, w2) = paper_graph(rng)
    x = (rng.random((60, 2, 12)) < 0.3).astype(float)
    result = nirconv.simulate(graph, x, full=True, dialect="nirconv")
    k_syn, k_mem = DT / 5e-3, DT / 10e-3
    i1, v1, i2, v2 = (np.zeros((2, 40)), np.zeros((2, 40)), np.zeros((2, 7)), np.zeros((2, 7)))
    s1, outs = np.zeros((2, 40)), []
    for t in range(60):
        a1 = x[t] @ w1.T + s1 @ wr.T  # the recurrent edge reads the previous step's spikes
        i1 = i1 + k_syn * (a1 - i1)
        v1 = v1 + k_mem * (i1 - v1)
        s1 = (v1 > 1).astype(float)
        v1 = v1 - s1
        i2 = i2 + k_syn * (s1 @ w2.T - i2)
        v2 = v2 + k_mem * (i2 - v2)
        s2 = (v2 > 1).astype(float)
        v2 = v2 - s2
        outs.append(s2)
    np.testing.assert_array_equal(result.output, np.stack(outs))
    assert result.spikes_per_node["lif1"] > 0 and result.spikes_per_node["lif2"] > 0


def test_unstated_cycle_without_state_is_a_clear_error():
    nodes = {"input": nir.Input(input_type=np.array([3])),
             "a": nir.Affine(weight=np.eye(3), bias=np.zeros(3)),
             "b": nir.Affine(weight=np.eye(3), bias=np.zeros(3)),
             "output": nir.Output(output_type=np.array([3]))}
    edges = [("input", "a"), ("a", "b"), ("b", "a"), ("b", "output")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": DT})
    with pytest.raises(BadInput, match="cycle without a stateful node") as e:
        nirconv.simulate(graph, np.zeros((5, 1, 3)))
    assert e.value.field == "edges" and "\n" not in str(e.value)


# ---------------------------------------------------------------- stateless ops, delays

def _op(cls, name, src, shape, **kw):
    inputs = tuple(Edge(s, d) for s, d in src)
    return cls(name=name, inputs=inputs, in_shape=shape, out_shape=shape, **kw)


def test_delay_op_and_threshold_op():
    shape = (3,)
    ops = (_op(InputOp, "in", [], shape),
           _op(DelayOp, "d", [("in", 0)], shape, steps=np.array([0, 1, 3])),
           _op(ThresholdOp, "th", [("d", 0)], shape, threshold=np.array([0.5, 0.5, 0.5]),
               compare=">="),
           _op(OutputOp, "out", [("th", 0)], shape))
    program = Program(ops=ops, inputs=("in",), outputs=("out",), mode="float")
    x = np.zeros((6, 1, 3))
    x[0] = 1.0
    x[2, 0, 1] = 0.5
    result = run(program, x, record=("d",))
    want = np.zeros((6, 3))
    want[0, 0], want[1, 1], want[3, 1], want[3, 2] = 1, 1, 1, 1
    np.testing.assert_array_equal(result.output[:, 0], want)
    assert result.recorded["d"][3, 0].tolist() == [0, 0.5, 1]
    assert result.spikes_per_node == {"th": 4}


def test_edge_delay_reads_earlier_steps():
    shape = (2,)
    ops = (_op(InputOp, "in", [], shape), _op(OutputOp, "out", [("in", 0), ("in", 2)], shape))
    program = Program(ops=ops, inputs=("in",), outputs=("out",), mode="float")
    x = np.arange(10, dtype=float).reshape(5, 1, 2)
    out = run(program, x).output[:, 0]
    want = x[:, 0].copy()
    want[2:] += x[:-2, 0]
    np.testing.assert_array_equal(out, want)


# ---------------------------------------------------------------- integer programs

def test_integer_weight_shift_floor_and_counted_synops():
    w = np.array([[3, -5], [7, 1]], dtype=np.int64)
    rec = SpeckIAF(shape=(2,), threshold=np.array([4, 4]), bias=np.array([0, 0]),
                   v_init=np.array([0, 0]))
    for shift in (2, -1):
        ops = (_op(InputOp, "in", [], (2,)),
               AffineOp(name="w", inputs=(Edge("in"),), in_shape=(2,), out_shape=(2,), weight=w,
                        bias=np.array([1, 0]), shift=shift),
               _op(NeuronOp, "n", [("w", 0)], (2,), neuron=rec),
               _op(OutputOp, "out", [("w", 0)], (2,)))
        program = Program(ops=ops, inputs=("in",), outputs=("out",), mode="int",
                          family="speck", encoding=InputEncoding(kind="spikes"))
        x = np.array([[[2, 1]], [[0, 3]]], dtype=np.int64)
        result = run(program, x)
        a = np.einsum("tbi,oi->tbo", x, w) + np.array([1, 0])
        want = a << shift if shift > 0 else a >> -shift  # floor for negative shifts
        np.testing.assert_array_equal(result.output, want)
        assert result.output.dtype == np.int64
        assert result.synops == (2 + 1 + 3) * 2  # spike counts x fan-out


def test_loihi_dense_delay_on_edges():
    rec = LoihiCubaLIF(shape=(1,), du=np.array([0]), dv=np.array([2048]), vth=None,
                       bias_mant=np.array([0]), bias_exp=np.array([0]))
    ops = (_op(InputOp, "in", [], (1,)),
           AffineOp(name="w", inputs=(Edge("in"),), in_shape=(1,), out_shape=(1,),
                    weight=np.array([[64]]), shift=1),
           _op(NeuronOp, "n", [("w", 1)], (1,), neuron=rec),
           _op(OutputOp, "out", [("n", 0)], (1,)))
    program = Program(ops=ops, inputs=("in",), outputs=("out",), mode="int", family="loihi2")
    x = np.zeros((4, 1, 1), dtype=np.int64)
    x[0] = 1
    assert run(program, x).output[:, 0, 0].tolist() == [0, 8192, 12286, 14331]


# ---------------------------------------------------------------- errors and options

def _identity_program(mode="float"):
    ops = (_op(InputOp, "in", [], (2,)), _op(OutputOp, "out", [("in", 0)], (2,)))
    return Program(ops=ops, inputs=("in",), outputs=("out",), mode=mode, source="g.nir")


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(BadInput, match=r"g.nir: node 'in': field 'input'"):
        run(_identity_program(), np.zeros((3, 1, 5)))
    with pytest.raises(BadInput, match="field 'record'"):
        run(_identity_program(), np.zeros((3, 1, 2)), record=("nope",))
    with pytest.raises(BadInput, match="integer inputs"):
        run(_identity_program("int"), np.full((3, 1, 2), 0.5))
    with pytest.raises(BadInput, match="NaN"):
        run(_identity_program(), np.full((3, 1, 2), np.nan))


def test_dtype_casts_float_outputs_and_progress_runs():
    import torch
    x = np.ones((3, 1, 2))
    out = run(_identity_program(), x, dtype=torch.float32, progress=True).output
    assert out.dtype == np.float32
    result = run(_identity_program(), x)
    assert result.backend == "event" and result.device == "cpu" and result.seconds > 0


def test_propagation_strategies_agree(monkeypatch):
    """The conv/pooling stencil and the fan-out lists (gather + bincount) give the same result,
    and the batched Affine row sums equal torch."""
    import torch

    rng = np.random.default_rng(2)
    conv = nir.Conv2d(input_shape=(6, 6), weight=rng.normal(0, 3, (4, 2, 3, 3)), stride=1,
                      padding=1, dilation=1, groups=1, bias=np.zeros(4))
    lif = nir.LIF(tau=np.full((4, 6, 6), 5e-3), r=np.ones((4, 6, 6)), v_leak=np.zeros((4, 6, 6)),
                  v_threshold=np.ones((4, 6, 6)), metadata={"reset": "subtract"})
    pool = nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                         padding=np.array([0, 0]))
    flat = nir.Flatten(input_type={"input": np.array([4, 3, 3])}, start_dim=0)
    fc = nir.Affine(weight=rng.normal(0, 1, (5, 36)), bias=np.zeros(5))
    out_lif = nir.IF(r=np.ones(5), v_threshold=np.ones(5), metadata={"reset": "zero"})
    nodes = {"input": nir.Input(input_type=np.array([2, 6, 6])), "conv": conv, "lif": lif,
             "pool": pool, "flat": flat, "fc": fc, "if": out_lif,
             "output": nir.Output(output_type=np.array([5]))}
    order = list(nodes)
    graph = nir.NIRGraph(nodes=nodes, edges=list(zip(order, order[1:])), metadata={"dt": DT},
                         type_check=False)
    x = (rng.random((30, 3, 2, 6, 6)) < 0.3).astype(float)
    results = []
    for stencil in (True, False):
        monkeypatch.setattr(event_kernels, "STENCIL_PATH", stencil)
        results.append(nirconv.simulate(graph, x, full=True, record=("conv", "pool"),
                                        dialect="nirconv"))
    a, b = results
    np.testing.assert_allclose(a.recorded["conv"], b.recorded["conv"], atol=1e-12)
    np.testing.assert_array_equal(a.recorded["pool"], b.recorded["pool"])
    np.testing.assert_array_equal(a.output, b.output)
    assert a.synops == b.synops and a.spikes_per_node == b.spikes_per_node
    assert a.spikes_per_node["lif"] > 0
    # batched = one sample at a time, bit for bit (events of all samples propagate together)
    for sample in range(x.shape[1]):
        alone = nirconv.simulate(graph, x[:, sample:sample + 1], full=True, record=("conv",),
                                 dialect="nirconv")
        np.testing.assert_array_equal(alone.recorded["conv"][:, 0], a.recorded["conv"][:, sample])
        np.testing.assert_array_equal(alone.output[:, 0], a.output[:, sample])
    ref = torch.nn.functional.conv2d(torch.from_numpy(x[0]), torch.from_numpy(conv.weight),
                                     padding=1).numpy()
    np.testing.assert_allclose(a.recorded["conv"][0], ref, atol=1e-12)


def test_scale_op_float_and_integer():
    from nirconv.equations.program import ScaleOp
    from nirconv.errors import Unsupported

    def program(scale, mode):
        ops = (_op(InputOp, "in", [], (3,)),
               _op(ScaleOp, "s", [("in", 0)], (3,), scale=np.asarray(scale)),
               _op(OutputOp, "out", [("s", 0)], (3,)))
        return Program(ops=ops, inputs=("in",), outputs=("out",), mode=mode)

    x = np.array([[[1, -2, 3]], [[4, 0, -1]]])
    out = run(program([0.5, 2.0, -1.0], "float"), x.astype(float)).output
    np.testing.assert_array_equal(out[:, 0], [[0.5, -4, -3], [2, 0, 1]])
    out = run(program([3, -2, 1], "int"), x).output
    assert out.dtype == np.int64 and out[:, 0].tolist() == [[3, 4, 3], [12, 0, -1]]
    with pytest.raises(Unsupported, match="integer Scale"):
        run(program([0.5, 1, 1], "int"), x)


def test_conv1d_and_avgpool_in_a_float_graph():
    import torch
    from nirconv.equations.program import ConvOp, PoolOp

    rng = np.random.default_rng(4)
    w = rng.normal(size=(3, 2, 3))
    ops = (_op(InputOp, "in", [], (2, 9)),
           ConvOp(name="c", inputs=(Edge("in"),), in_shape=(2, 9), out_shape=(3, 4), weight=w,
                  bias=np.array([0.1, 0.2, 0.3]), stride=(2,), padding=(0,), dilation=(1,)),
           _op(OutputOp, "out", [("c", 0)], (3, 4)))
    program = Program(ops=ops, inputs=("in",), outputs=("out",), mode="float")
    x = (rng.random((4, 2, 2, 9)) < 0.5) * 1.0
    want = torch.nn.functional.conv1d(torch.from_numpy(x.reshape(8, 2, 9)), torch.from_numpy(w),
                                      torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64),
                                      stride=2).numpy().reshape(4, 2, 3, 4)
    np.testing.assert_allclose(run(program, x).output, want, atol=1e-12)
    ops = (_op(InputOp, "in", [], (1, 4, 4)),
           PoolOp(name="p", inputs=(Edge("in"),), in_shape=(1, 4, 4), out_shape=(1, 2, 2),
                  kernel=(2, 2), stride=(2, 2), padding=(0, 0), mode="avg"),
           _op(OutputOp, "out", [("p", 0)], (1, 2, 2)))
    x = np.arange(16.0).reshape(1, 1, 1, 4, 4)
    out = run(Program(ops=ops, inputs=("in",), outputs=("out",), mode="float"), x).output
    assert out[0, 0, 0].tolist() == [[2.5, 4.5], [10.5, 12.5]]
    with pytest.raises(Exception, match="SumPool2d"):
        run(Program(ops=ops, inputs=("in",), outputs=("out",), mode="int"), x.astype(np.int64))


@pytest.mark.parametrize("density", [1.0, 0.2])  # dense path / event path
def test_integer_weight_ops_are_exact_beyond_float64(density):
    from nirconv.equations.program import ConvOp

    rng = np.random.default_rng(7)
    w = rng.integers(-2 ** 40, 2 ** 40, (4, 6))
    ops = (_op(InputOp, "in", [], (6,)),
           AffineOp(name="a", inputs=(Edge("in"),), in_shape=(6,), out_shape=(4,), weight=w),
           _op(OutputOp, "out", [("a", 0)], (4,)))
    x = rng.integers(-2 ** 19, 2 ** 19, (3, 2, 6)) * (rng.random((3, 2, 6)) < density)
    got = run(Program(ops=ops, inputs=("in",), outputs=("out",), mode="int"), x).output
    want = [[[sum(int(w[o, i]) * int(x[t, b, i]) for i in range(6)) for o in range(4)]
             for b in range(2)] for t in range(3)]
    assert got.tolist() == want
    wc = rng.integers(-2 ** 40, 2 ** 40, (2, 1, 3))
    ops = (_op(InputOp, "in", [], (1, 5)),
           ConvOp(name="c", inputs=(Edge("in"),), in_shape=(1, 5), out_shape=(2, 3), weight=wc,
                  stride=(1,), padding=(0,), dilation=(1,)),
           _op(OutputOp, "out", [("c", 0)], (2, 3)))
    xc = rng.integers(-2 ** 19, 2 ** 19, (2, 1, 1, 5)) * (rng.random((2, 1, 1, 5)) < density)
    got = run(Program(ops=ops, inputs=("in",), outputs=("out",), mode="int"), xc).output
    want = [[[[sum(int(wc[o, 0, k]) * int(xc[t, 0, 0, p + k]) for k in range(3))
               for p in range(3)] for o in range(2)]] for t in range(2)]
    assert got.tolist() == want
