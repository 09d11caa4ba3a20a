"""Event-driven simulator vs norse's `from_nir` module on the same NIR graph and input.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/simulate.py [--quick] [--threads N]

Networks: a 3-layer fully connected LIF network with 1024 neurons per layer (1024 inputs), and a
conv net (2x32x32 -> Conv 16 -> LIF -> SumPool 2 -> Conv 32 -> LIF -> SumPool 2 -> Affine 10 ->
LIF). Inputs: Bernoulli spikes at 1%, 5% and 20% density, T = 100, batch 1 and 32.

Both simulators run the same graph with the same semantics (forward-Euler LIF without synaptic
current, dt = 1 ms, reset to 0, spike on v > threshold: our nirconv dialect with reset "zero" and
norse's LIFBox), so their output spikes are compared: the table's "agree" column is the fraction of
output (sample, step, neuron) entries that are equal (norse runs in float32, we in float64, so a
membrane that lands within float32 rounding of the threshold may differ). norse is driven by a loop
over steps carrying its state, as its stateful modules need. By default both run on one thread
(`torch.set_num_threads(1)`; numpy's BLAS is limited by OMP_NUM_THREADS=1 set below); `--threads N`
gives torch N threads. Wall time per configuration is the best of `--repeat` runs; `--clock cpu`
times the process's CPU time instead (fairer on a shared, oversubscribed machine, where a wall
clock also counts the time other processes hold the core; both simulators are single-threaded).

Two event columns: "event s" runs a Program lowered once (the fan-out lists are built on its
first run and cached per op), "simulate s" is what a user of ``nirconv.simulate(graph, x)`` on
the in-memory NIR graph pays per call: lowering, fan-out lists and the run. norse's ``from_nir``
is timed once, separately (its module is reused).
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import nir  # noqa: E402
import numpy as np  # noqa: E402

DT = 1e-3
CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter  # set by --clock
TAU = 1e-2
CONV_GAIN0, CONV_GAIN1, CONV_GAIN2 = 25.0, 10.0, 15.0  # moderate hidden activity (see table)


def lif(n_or_shape):
    shape = (n_or_shape,) if isinstance(n_or_shape, int) else tuple(n_or_shape)
    return nir.LIF(tau=np.full(shape, TAU), r=np.ones(shape), v_leak=np.zeros(shape),
                   v_threshold=np.ones(shape), v_reset=np.zeros(shape),
                   metadata={"reset": "zero", "compare": ">"})


def fc_graph(rng, width=1024, layers=3, gain=(40.0, 15.0, 15.0), mean=0.0):
    nodes = {"input": nir.Input(input_type=np.array([width]))}
    edges, prev = [], "input"
    for i in range(layers):
        w = rng.normal(mean, 1.0, (width, width)) * gain[i] / np.sqrt(width)
        nodes[f"fc{i}"] = nir.Affine(weight=w.astype(np.float32),
                                     bias=np.zeros(width, np.float32))
        nodes[f"lif{i}"] = lif(width)
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"lif{i}")]
        prev = f"lif{i}"
    nodes["output"] = nir.Output(output_type=np.array([width]))
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": DT}), (width,)


def conv_graph(rng, gain=(CONV_GAIN0, CONV_GAIN1, CONV_GAIN2)):
    def conv(c_in, c_out, size, gain):
        w = rng.normal(0.0, 1.0, (c_out, c_in, 3, 3)) * gain / np.sqrt(9 * c_in)
        return nir.Conv2d(input_shape=(size, size), weight=w.astype(np.float32), stride=1,
                          padding=1, dilation=1, groups=1, bias=np.zeros(c_out, np.float32))
    nodes = {"input": nir.Input(input_type=np.array([2, 32, 32])),
             "conv0": conv(2, 16, 32, gain[0]), "lif0": lif((16, 32, 32)),
             "pool0": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                    padding=np.array([0, 0])),
             "conv1": conv(16, 32, 16, gain[1]), "lif1": lif((32, 16, 16)),
             "pool1": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                    padding=np.array([0, 0])),
             "flat": nir.Flatten(input_type={"input": np.array([32, 8, 8])}, start_dim=1,
                                 end_dim=-1),
             "fc": nir.Affine(weight=(rng.normal(0.0, 1.0, (10, 2048)) * gain[2] /
                                      np.sqrt(2048)).astype(np.float32),
                              bias=np.zeros(10, np.float32)),
             "lif2": lif(10), "output": nir.Output(output_type=np.array([10]))}
    order = ["input", "conv0", "lif0", "pool0", "conv1", "lif1", "pool1", "flat", "fc", "lif2",
             "output"]
    # Flatten(start_dim=1) in torch's convention (the batch axis counts), as norse needs it;
    # nir's own type check reads start_dim without the batch axis, so it is skipped here.
    return nir.NIRGraph(nodes=nodes, edges=list(zip(order, order[1:])), metadata={"dt": DT},
                        type_check=False), (2, 32, 32)


def run_event(program, x):
    from nirconv.backends.event import run

    start = clock()
    result = run(program, x)
    return clock() - start, result.output.reshape(x.shape[0], x.shape[1], -1), result


def _to_program(graph):
    from nirconv.reading import to_program
    return to_program(graph, mode="float", dialect="nirconv")


def setup_seconds(graph) -> float:
    """Lowering plus the first build of the fan-out lists (cached on the Program's ops after)."""
    from nirconv.backends.event import run

    start = time.perf_counter()
    program = _to_program(graph)
    run(program, np.zeros((1, 1, *program.input_shape)))
    return time.perf_counter() - start, program


def run_api(graph, x):
    """``nirconv.simulate(graph, x)`` end to end: lowering, fan-out lists, run."""
    import nirconv

    start = clock()
    output = nirconv.simulate(graph, x, backend="event")  # a tensor (T, B, n)
    return clock() - start, np.asarray(output).reshape(x.shape[0], x.shape[1], -1)


def run_norse(module, x):
    import torch

    xs = torch.from_numpy(x.astype(np.float32))
    outs, state = [], None
    start = clock()
    with torch.no_grad():
        for t in range(xs.shape[0]):
            out, state = module(xs[t], state)
            outs.append(out)
    seconds = clock() - start
    return seconds, torch.stack(outs).reshape(x.shape[0], x.shape[1], -1).numpy()


def best_of(fn, repeat):
    results = [fn() for _ in range(repeat)]
    return min(r[0] for r in results), results[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="T = 20, batch 1 and 4 only")
    parser.add_argument("--densities", default="0.01,0.05,0.2")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for norse")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--nets", default="fc,conv")
    parser.add_argument("--clock", choices=sorted(CLOCK), default="wall",
                        help="wall time, or the process's CPU time")
    args = parser.parse_args(argv)
    global clock
    clock = CLOCK[args.clock]
    import torch

    torch.set_num_threads(args.threads)
    steps = 20 if args.quick else 100
    batches = (1, 4) if args.quick else (1, 32)
    rng = np.random.default_rng(0)
    nets = {"fc1024x3": fc_graph, "conv": conv_graph}
    wanted = args.nets.split(",")
    print(f"T = {steps}, norse: torch {torch.__version__} with {args.threads} thread(s); "
          f"event: numpy, one thread; {args.clock} clock")
    header = (f"{'network':<9} {'density':>7} {'batch':>5} {'event s':>8} {'simulate s':>10} "
              f"{'norse s':>8} {'norse/event':>11} {'norse/simulate':>14} {'agree':>7} "
              f"{'hidden spikes/neuron/step':>26} {'SynOps':>11}")
    print(header)
    print("-" * len(header))
    for name, build in nets.items():
        if not any(name.startswith(w) for w in wanted):
            continue
        import norse.torch as nt

        graph, shape = build(np.random.default_rng(1))
        setup, program = setup_seconds(graph)
        start = time.perf_counter()
        module = nt.from_nir(graph, dt=DT)
        norse_setup = time.perf_counter() - start
        print(f"{name}: setup (not in the times below) event {setup:.3f} s "
              f"(lowering + fan-out lists), norse {norse_setup:.3f} s (from_nir)")
        n_neurons = None
        for density in map(float, args.densities.split(",")):
            for batch in batches:
                x = (rng.random((steps, batch, *shape)) < density).astype(np.float64)
                t_ev, (_, y_ev, res) = best_of(lambda: run_event(program, x), args.repeat)
                t_api, (_, y_api) = best_of(lambda: run_api(graph, x), args.repeat)
                t_no, (_, y_no) = best_of(lambda: run_norse(module, x), args.repeat)
                agree = float(np.mean(y_ev == y_no))
                assert np.array_equal(y_api, y_ev), "nirconv.simulate differs from the backend"
                if n_neurons is None:
                    n_neurons = sum(int(np.prod(o.out_shape)) for o in program.neuron_ops)
                rate = sum(res.spikes_per_node.values()) / (n_neurons * steps * batch)
                print(f"{name:<9} {density:>7.0%} {batch:>5} {t_ev:>8.3f} {t_api:>10.3f} "
                      f"{t_no:>8.3f} {t_no / t_ev:>10.2f}x {t_no / t_api:>13.2f}x "
                      f"{agree:>7.4f} {rate:>26.4f} {res.synops:>11}", flush=True)


if __name__ == "__main__":
    main()
