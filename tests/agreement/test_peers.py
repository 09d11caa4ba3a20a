"""Agreement with the peers' own simulators.

1. Golden files (tests/golden/<tool>/, made by scripts/golden/make_<tool>.py in each tool's own
   venv): the file loaded with that tool's dialect and run by ``nirconv.simulate(...,
   backend="event" | "torch", dtype=torch.float64)`` reproduces the tool's output spikes. Measure, per step
   t over all samples b and output neurons n, with spike counts ``o`` (ours) and ``g`` (tool)::

       agreement_t = sum_{b,n} min(o[t,b,n], g[t,b,n]) / max(sum_{b,n} o[t], sum_{b,n} g[t])
                     (1.0 when both are silent at t)

   and ``min_t agreement_t >= 0.99``: at every step at least 99% of the tool's spikes are ours and
   at most 1% of ours are not the tool's.
2. A dense numpy re-statement of the `NeuronFloat` equations (below, independent of both
   backends) reproduces the same files: the dialect records are right whatever the simulator.
3. Random LIF / CubaLIF / IF graphs: our float mode with the norse dialect equals
   ``norse.torch.from_nir`` (run live, float64) spike for spike.
4. A nirconv-saved graph with every type norse imports loads in norse's ``from_nir`` and runs the
   same as our simulation of it.
"""
from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import pytest
import torch

import nirconv
from nirconv.equations import program as P
from nirconv.equations.neurons import NeuronFloat
from nirconv.simulation import to_program

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CASES = sorted(GOLDEN.glob("*/*.nir"))
IDS = [f"{p.parent.name}/{p.stem}" for p in CASES]


def golden(path: Path):
    data = np.load(path.with_suffix(".npz"), allow_pickle=False)
    return data["input"], data["output"], float(data["dt"]), str(data["tool"])


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

def dense_neuron(rec: NeuronFloat, xs: np.ndarray) -> np.ndarray:
    """`NeuronFloat` stepped densely over (T, B, *shape) input, as its docstring states."""
    steps, batch = xs.shape[:2]
    v = np.broadcast_to(rec.v_init, (batch, *rec.shape)).astype(np.float64).copy()
    i = np.zeros_like(v)
    s_prev = np.zeros_like(v)
    out = np.zeros((steps, batch, *rec.shape))
    for t in range(steps):
        x = xs[t]
        if rec.alpha_syn is not None:
            i_new = rec.alpha_syn * i + rec.beta_syn * x
            u, i = (i if rec.current_delay else i_new), i_new
        else:
            u = x
        v_prev = v
        if not rec.reset_after_decay and rec.reset == "zero":
            v_prev = np.where(s_prev > 0, rec.v_reset, v)
        v = rec.alpha_mem * v_prev + rec.beta_mem * u + rec.bias
        if rec.v_threshold is None:
            out[t] = v
            continue
        if not rec.reset_after_decay and rec.reset == "subtract":
            v = v - rec.v_threshold * s_prev
        fire = v >= rec.v_threshold if rec.compare == ">=" else v > rec.v_threshold
        if rec.max_spikes == 1:
            n = fire.astype(np.float64)
        else:
            n = np.where(fire, np.maximum(1.0, np.floor(v / rec.v_threshold)), 0.0)
            if rec.max_spikes is not None:
                n = np.minimum(n, rec.max_spikes)
        if rec.reset_after_decay:
            v = v - rec.v_threshold * n if rec.reset == "subtract" else np.where(n > 0, rec.v_reset, v)
        if rec.v_min is not None:
            v = np.maximum(v, rec.v_min)
        s_prev = n
        out[t] = n
    return out


def dense_run(program: P.Program, x: np.ndarray) -> np.ndarray:
    """The program run layer by layer over all steps (feed-forward programs only)."""
    import torch.nn.functional as F

    values: dict = {}
    steps, batch = x.shape[:2]
    for op in program.ops:
        if isinstance(op, P.InputOp):
            values[op.name] = x
            continue
        if any(e.delay for e in op.inputs):
            pytest.skip("the dense reference runs feed-forward programs only")
        a = sum(values[e.src] for e in op.inputs)
        flat = a.reshape(steps * batch, *op.in_shape)
        if isinstance(op, P.AffineOp):
            y = flat.reshape(steps * batch, -1) @ op.weight.T + (0 if op.bias is None else op.bias)
        elif isinstance(op, P.ConvOp):
            y = F.conv2d(torch.from_numpy(flat), torch.from_numpy(op.weight),
                         None if op.bias is None else torch.from_numpy(op.bias), op.stride,
                         op.padding, op.dilation, op.groups).numpy()
        elif isinstance(op, P.PoolOp):
            y = F.avg_pool2d(torch.from_numpy(flat), op.kernel, op.stride, op.padding).numpy()
            y = y * (np.prod(op.kernel) if op.mode == "sum" else 1)
        elif isinstance(op, (P.FlattenOp, P.OutputOp)):
            y = flat
        elif isinstance(op, P.NeuronOp):
            y = dense_neuron(op.neuron, a.reshape(steps, batch, *op.out_shape))
        else:
            pytest.skip(f"the dense reference has no {type(op).__name__}")
        values[op.name] = np.asarray(y).reshape(steps, batch, *op.out_shape)
    return values[program.outputs[0]]


# ------------------------------------------------------------------ golden files

def _multi_spike_supported(backend: str) -> bool:
    """Whether ``backend`` implements NeuronFloat.max_spikes and v_min (added for Sinabs and
    Rockpool): one neuron, inputs 2.5, -5, 2 thresholds must give counts 2, 0 (v stops at v_min
    = -1), 1."""
    from nirconv.simulation import run_program

    shape = (1,)
    ones, zeros = np.ones(shape), np.zeros(shape)
    rec = NeuronFloat(shape=shape, alpha_mem=ones, beta_mem=ones, bias=zeros, v_threshold=ones,
                      v_reset=zeros, v_init=zeros, compare=">=", max_spikes=None,
                      v_min=-ones)
    ops = (P.InputOp(name="in", inputs=(), in_shape=shape, out_shape=shape),
           P.NeuronOp(name="n", inputs=(P.Edge("in"),), in_shape=shape, out_shape=shape,
                      neuron=rec),
           P.OutputOp(name="out", inputs=(P.Edge("n"),), in_shape=shape, out_shape=shape))
    prog = P.Program(ops=ops, inputs=("in",), outputs=("out",), mode="float")
    x = np.array([[[2.5]], [[-5.0]], [[2.0]]])
    try:
        y = run_program(prog, x, backend=backend, dtype=torch.float64).outputs["out"]
    except Exception:
        return False
    return np.asarray(y).ravel().tolist() == [2.0, 0.0, 1.0]


@pytest.mark.parametrize("backend", ["event", "torch"])
@pytest.mark.parametrize("path", CASES, ids=IDS)
def test_golden_backend_reproduces_tool(path, backend):
    x, want, dt, tool = golden(path)
    if tool in ("sinabs", "rockpool") and not _multi_spike_supported(backend):
        pytest.skip(f"the {backend} backend does not implement NeuronFloat.max_spikes / v_min "
                    "yet (multi-spike Sinabs and Rockpool neurons); the dense reference test "
                    "checks these files meanwhile")
    got = nirconv.simulate(path, x, backend=backend, dtype=torch.float64, dialect=tool,
                           dt=dialect_dt(tool, dt))
    got = np.asarray(got).reshape(want.shape)
    per_step = step_agreement(got, want)
    assert want.sum() > 0
    assert per_step.min() >= 0.99, (f"step {int(per_step.argmin())}: agreement "
                                    f"{per_step.min():.3f}; ours {got.sum()}, tool {want.sum()}")


@pytest.mark.parametrize("path", CASES, ids=IDS)
def test_golden_dense_reference_reproduces_tool(path):
    x, want, dt, tool = golden(path)
    program = to_program(nirconv.load(path), dialect=tool, dt=dialect_dt(tool, dt))
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
        nodes[f"w{layer}"] = nir.Affine(weight=w, bias=rng.normal(0, 0.2, n_out).astype(np.float32)) \
            if layer == 0 else nir.Linear(weight=w)
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
        "conv": nir.Conv2d(input_shape=np.array([8, 8]), weight=f32(rng.normal(0.3, 1.5, (3, 1, 3, 3))),
                           stride=1, padding=1, dilation=1, groups=1, bias=f32(np.zeros(3))),
        "if": nir.IF(r=np.ones((3, 8, 8)), v_threshold=np.full((3, 8, 8), 0.75)),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0])),
        # norse builds torch.nn.Flatten(start_dim, end_dim) on (B, C, H, W): NIR's batch-free
        # start_dim=0 would flatten the batch, so norse needs start_dim=1 (which nir's own type
        # check reads as (3, 16): files like this one are read with type_check=False).
        "flat": nir.Flatten(input_type={"input": np.array([3, 4, 4])}, start_dim=1, end_dim=-1),
        "aff": nir.Affine(weight=f32(rng.normal(0.2, 2.0, (10, 48))), bias=f32(rng.normal(0, .1, 10))),
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
