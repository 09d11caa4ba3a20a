"""Agreement with the peers' own simulators.

1. Golden files (tests/golden/<tool>/, made by scripts/golden/make_<tool>.py in each tool's own
   venv): the file loaded with that tool's dialect and run by ``nirconv.simulate(...,
   backend="event" | "torch", dtype=torch.float64)`` reproduces the tool's output spikes.
   Measure, per step t over all samples b and output neurons n, with spike counts ``o`` (ours)
   and ``g`` (tool)::

       agreement_t = sum_{b,n} min(o[t,b,n], g[t,b,n]) / max(sum_{b,n} o[t], sum_{b,n} g[t])
                     (1.0 when both are silent at t)

   and ``min_t agreement_t >= 0.99``: at every step at least 99% of the tool's spikes are ours and
   at most 1% of ours are not the tool's.
2. A dense numpy re-statement of the `NeuronFloat` equations and the ops (below, stepped with
   the edge delays, independent of both backends) reproduces the same files: the dialect
   records are right whatever the simulator.
3. Random LIF / CubaLIF / IF graphs: our float mode with the norse dialect equals
   ``norse.torch.from_nir`` (run live, float64) spike for spike.
4. A nirconv-saved graph with every type norse imports loads in norse's ``from_nir`` and runs the
   same as our simulation of it.
"""
from __future__ import annotations

from nirconv.equations.limits import is_unlimited
from pathlib import Path

import nir
import numpy as np
import pytest
import torch

import nirconv
from nirconv.equations import program as P
from nirconv.equations.neurons import NeuronFloat
from nirconv.reading import to_program

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CASES = sorted(GOLDEN.glob("*/*.nir"))
IDS = [f"{p.parent.name}/{p.stem}" for p in CASES]


def golden(path: Path):
    data = np.load(path.with_suffix(".npz"), allow_pickle=False)
    return data["input"], data["output"], float(data["dt"]), str(data["tool"])


def golden_reset(path: Path):
    """The --reset a file needs (snnTorch does not record reset_mechanism), or None."""
    data = np.load(path.with_suffix(".npz"), allow_pickle=False)
    return (str(data["reset"]) or None) if "reset" in data.files else None


def step_agreement(ours: np.ndarray, tool: np.ndarray) -> np.ndarray:
    """Per-step agreement of spike counts, see the module docstring. Arrays (T, B, n)."""
    o = ours.reshape(ours.shape[0], -1).astype(np.float64)
    g = tool.reshape(tool.shape[0], -1).astype(np.float64)
    both = np.minimum(o, g).sum(1)
    most = np.maximum(o.sum(1), g.sum(1))
    return np.where(most > 0, both / np.where(most > 0, most, 1.0), 1.0)


def dialect_dt(tool: str, dt: float):
    """The dt we pass: none for Rockpool (its dialect reads dt from r), the tool's otherwise."""
    return None if tool == "rockpool" else dt


# ------------------------------------------------------------------ dense reference

class DenseNeuron:
    """`NeuronFloat` stepped densely over (B, *shape) inputs, as its docstring states."""

    def __init__(self, rec: NeuronFloat, batch: int):
        self.rec = rec
        self.v = np.broadcast_to(rec.v_init, (batch, *rec.shape)).astype(np.float64).copy()
        self.i = np.zeros_like(self.v)
        self.s_prev = np.zeros_like(self.v)

    def step(self, x: np.ndarray) -> np.ndarray:
        rec = self.rec
        if rec.alpha_syn is not None:
            i_new = rec.alpha_syn * self.i + rec.beta_syn * x
            u, self.i = (self.i if rec.current_delay else i_new), i_new
        else:
            u = x
        v_prev = self.v
        if not rec.reset_after_decay and rec.reset == "zero":
            v_prev = np.where(self.s_prev > 0, rec.v_reset, self.v)
        v = rec.alpha_mem * v_prev + rec.beta_mem * u + rec.bias
        if rec.v_threshold is None:
            self.v = v
            return v
        if not rec.reset_after_decay and rec.reset == "subtract":
            v = v - rec.v_threshold * self.s_prev
        fire = v >= rec.v_threshold if rec.compare == ">=" else v > rec.v_threshold
        if rec.max_spikes == 1:
            n = fire.astype(np.float64)
        else:
            n = np.where(fire, np.maximum(1.0, np.floor(v / rec.v_threshold)), 0.0)
            if not is_unlimited(rec.max_spikes):
                n = np.minimum(n, rec.max_spikes)
        if rec.reset_after_decay:
            v = (v - rec.v_threshold * n if rec.reset == "subtract"
                 else np.where(n > 0, rec.v_reset, v))
        if rec.v_min is not None:
            v = np.maximum(v, rec.v_min)
        self.s_prev, self.v = n, v
        return n


def dense_op(op, a: np.ndarray, neurons: dict) -> np.ndarray:
    """One step of a stateless op (or a neuron's step) on the summed input a (B, *in_shape)."""
    import torch.nn.functional as F

    batch = a.shape[0]
    if isinstance(op, P.AffineOp):
        return a.reshape(batch, -1) @ op.weight.T + (0 if op.bias is None else op.bias)
    if isinstance(op, P.ConvOp):
        return F.conv2d(torch.from_numpy(a), torch.from_numpy(op.weight),
                        None if op.bias is None else torch.from_numpy(op.bias), op.stride,
                        op.padding, op.dilation, op.groups).numpy()
    if isinstance(op, P.PoolOp):
        y = F.avg_pool2d(torch.from_numpy(a), op.kernel, op.stride, op.padding).numpy()
        return y * (np.prod(op.kernel) if op.mode == "sum" else 1)
    if isinstance(op, (P.FlattenOp, P.OutputOp)):
        return a
    if isinstance(op, P.NeuronOp):
        return neurons[op.name].step(a.reshape(batch, *op.out_shape))
    pytest.skip(f"the dense reference has no {type(op).__name__}")


def dense_run(program: P.Program, x: np.ndarray) -> np.ndarray:
    """The program stepped densely: every op at every step, delayed edges read from history."""
    steps, batch = x.shape[:2]
    hist = {op.name: np.zeros((steps, batch, *op.out_shape)) for op in program.ops}
    neurons = {op.name: DenseNeuron(op.neuron, batch) for op in program.neuron_ops}
    for t in range(steps):
        for op in program.ops:
            if isinstance(op, P.InputOp):
                hist[op.name][t] = x[t]
                continue
            a = np.zeros((batch, *op.in_shape))
            for e in op.inputs:
                if t - e.delay >= 0:
                    a = a + hist[e.src][t - e.delay].reshape(batch, *op.in_shape)
            hist[op.name][t] = np.asarray(dense_op(op, a, neurons)).reshape(batch, *op.out_shape)
    return hist[program.outputs[0]]


# ------------------------------------------------------------------ golden files

@pytest.mark.parametrize("backend", ["event", "torch"])
@pytest.mark.parametrize("path", CASES, ids=IDS)
def test_golden_backend_reproduces_tool(path, backend):
    x, want, dt, tool = golden(path)
    got = nirconv.simulate(path, x, backend=backend, dtype=torch.float64, dialect=tool,
                           dt=dialect_dt(tool, dt), reset=golden_reset(path))
    got = np.asarray(got).reshape(want.shape)
    per_step = step_agreement(got, want)
    assert want.sum() > 0
    assert per_step.min() >= 0.99, (f"step {int(per_step.argmin())}: agreement "
                                    f"{per_step.min():.3f}; ours {got.sum()}, tool {want.sum()}")


@pytest.mark.parametrize("path", CASES, ids=IDS)
def test_golden_dense_reference_reproduces_tool(path):
    x, want, dt, tool = golden(path)
    program = to_program(nirconv.load(path), dialect=tool, dt=dialect_dt(tool, dt),
                         reset=golden_reset(path))
    got = dense_run(program, x.astype(np.float64))
    assert step_agreement(got.reshape(want.shape), want).min() >= 0.99


def test_golden_files_are_small_and_complete():
    assert {p.parent.name for p in CASES} == {"norse", "snntorch", "sinabs", "rockpool"}
    for path in CASES:
        assert path.stat().st_size < 200_000, path
        x, y, dt, tool = golden(path)
        assert x.shape[:2] == y.shape[:2] and dt > 0 and tool == path.parent.name
    recurrent = [p for p in CASES if p.stem.startswith("rec_")]
    assert recurrent, "a recurrent golden file (snnTorch RLeaky / RSynaptic) is expected"


def test_paper_recurrent_graph_has_a_cycle_through_state():
    program = to_program(nirconv.load(GOLDEN / "snntorch" / "rec_paper.nir"), dialect="snntorch")
    delayed = [(op.name, e.src) for op in program.ops for e in op.inputs if e.delay]
    assert len(delayed) == 1
    neurons = {op.name: op.out_shape for op in program.neuron_ops}
    assert sorted(neurons.values()) == [(7,), (40,)]


# ------------------------------------------------------------------ norse live

def _norse_run(graph, x, dt):
    import norse.torch as nt

    module = nt.from_nir(graph, dt=dt).double()
    state, out = None, []
    with torch.no_grad():
        for t in range(x.shape[0]):
            y, state = module(torch.from_numpy(x[t]), state)
            out.append(y.reshape(y.shape[0], -1).detach().numpy())
    return np.stack(out)


def _neuron(kind, n, rng):
    """A neuron node of ``kind`` with parameters exact in float32 (tau powers of two, dt 2**-10)
    so that norse's float32 parameters and our float64 ones are the same numbers."""
    tau = lambda: 2.0 ** -rng.integers(4, 8, n)  # noqa: E731
    th = rng.choice([0.5, 0.75, 1.0, 1.25], n)
    if kind == "IF":
        return nir.IF(r=np.ones(n), v_threshold=th)
    if kind == "LIF":
        return nir.LIF(tau=tau(), r=np.ones(n), v_leak=rng.choice([0.0, 0.125, -0.25], n),
                       v_threshold=th)
    return nir.CubaLIF(tau_syn=tau(), tau_mem=tau(), r=rng.choice([0.5, 1.0, 2.0], n),
                       v_leak=rng.choice([0.0, 0.25], n), v_threshold=th,
                       w_in=rng.choice([1.0, 1.5], n))


@pytest.mark.parametrize("seed", range(6))
def test_random_graphs_equal_norse_from_nir_spike_for_spike(seed):
    rng = np.random.default_rng(seed)
    kinds = ["IF", "LIF", "CubaLIF"]
    sizes = [int(rng.integers(4, 10)) for _ in range(3)]
    nodes = {"input": nir.Input(input_type=np.array([sizes[0]]))}
    edges, prev = [], "input"
    for layer, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        w = rng.normal(0, 3.0, (n_out, n_in)).astype(np.float32)
        if layer == 0:
            bias = rng.normal(0, 0.2, n_out).astype(np.float32)
            nodes[f"w{layer}"] = nir.Affine(weight=w, bias=bias)
        else:
            nodes[f"w{layer}"] = nir.Linear(weight=w)
        nodes[f"n{layer}"] = _neuron(kinds[(seed + layer) % 3], n_out, rng)
        edges += [(prev, f"w{layer}"), (f"w{layer}", f"n{layer}")]
        prev = f"n{layer}"
    nodes["output"] = nir.Output(output_type=np.array([sizes[-1]]))
    edges.append((prev, "output"))
    graph = nir.NIRGraph(nodes=nodes, edges=edges)
    dt = 2.0 ** -10
    x = (rng.random((30, 3, sizes[0])) < 0.4).astype(np.float64)
    want = _norse_run(graph, x, dt)
    got = np.asarray(nirconv.simulate(graph, x, backend="event", dtype=torch.float64,
                                      dialect="norse", dt=dt)).reshape(want.shape)
    assert want.sum() > 0
    np.testing.assert_array_equal(got, want)


def test_nirconv_export_loads_in_norse_from_nir(tmp_path):
    """Every type norse 1.1 imports, saved by nirconv.save, read by nir.read + norse.from_nir."""
    rng = np.random.default_rng(7)
    f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
    nodes = {
        "input": nir.Input(input_type=np.array([1, 8, 8])),
        "conv": nir.Conv2d(input_shape=np.array([8, 8]),
                           weight=f32(rng.normal(0.3, 1.5, (3, 1, 3, 3))), stride=1,
                           padding=1, dilation=1, groups=1, bias=f32(np.zeros(3))),
        "if": nir.IF(r=np.ones((3, 8, 8)), v_threshold=np.full((3, 8, 8), 0.75)),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0])),
        # norse builds torch.nn.Flatten(start_dim, end_dim) on (B, C, H, W): NIR's batch-free
        # start_dim=0 would flatten the batch, so norse needs start_dim=1 (which nir's own type
        # check reads as (3, 16): files like this one are read with type_check=False).
        "flat": nir.Flatten(input_type={"input": np.array([3, 4, 4])}, start_dim=1, end_dim=-1),
        "aff": nir.Affine(weight=f32(rng.normal(0.2, 2.0, (10, 48))),
                          bias=f32(rng.normal(0, .1, 10))),
        "cuba": nir.CubaLIF(tau_syn=np.full(10, 2.0 ** -6), tau_mem=np.full(10, 2.0 ** -5),
                            r=np.full(10, 2.0), v_leak=np.zeros(10), v_threshold=np.full(10, 0.25),
                            w_in=np.ones(10)),
        "lin": nir.Linear(weight=f32(rng.normal(1.0, 2.0, (4, 10)))),
        "lif": nir.LIF(tau=np.full(4, 2.0 ** -5), r=np.ones(4), v_leak=np.zeros(4),
                       v_threshold=np.full(4, 0.125)),
        "output": nir.Output(output_type=np.array([4])),
    }
    order = list(nodes)
    graph = nir.NIRGraph(nodes=nodes, edges=list(zip(order, order[1:])), type_check=False)
    path = nirconv.save(graph, tmp_path / "all_norse_types.nir")
    read = nir.read(str(path), type_check=False)
    dt = 2.0 ** -10
    x = (rng.random((25, 2, 1, 8, 8)) < 0.5).astype(np.float64)
    want = _norse_run(read, x, dt)
    got = np.asarray(nirconv.simulate(path, x, backend="event", dtype=torch.float64,
                                      dialect="norse", dt=dt)).reshape(want.shape)
    assert want.sum() > 0
    np.testing.assert_array_equal(got, want)
