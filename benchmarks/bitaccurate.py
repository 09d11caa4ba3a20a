"""Samples per second: the torch backend vs the event backend (integer mode) vs norse.

    OMP_NUM_THREADS=1 python benchmarks/bitaccurate.py [--device cpu|cuda] [--batches 1,32,256]
                                                      [--timesteps 16] [--nets cnn,lif3x1024]
                                                      [--threads N]

Two graphs, each as a quantized integer Program (run by both nirconv backends, checked equal bit
for bit on every run) and as the float NIR graph of the same weights (``norse.torch.from_nir``):

* ``cnn``: the demo's digits CNN on 8x8 inputs (conv 16 - pool - conv 32 - pool - fc 64 - fc 10),
  exported for Speck through nirconv's pipeline when that works; otherwise an equivalent quantized
  Speck network with the same layer sizes is built here (the script says which it ran).
* ``lif3x1024``: 1024 inputs -> 3 x (Linear 1024x1024 -> LIF), BitShiftLIF (generic target).

Reports the ratios side by side, and the *dense-GEMM limit* of each graph measured in the same run:
the samples/s of a float32 run that only does the graph's weight products (``F.linear`` /
``F.conv2d`` on inputs of the same shapes, batch and T, nothing else) — what any simulator that
multiplies dense float32 matrices at every step cannot beat. ``torch/limit`` is the torch
backend's fraction of it (above 1: the torch backend skips work a dense GEMM does, or uses int8
matrix units). Times are the best of ``--repeat`` runs after a warm-up at the same batch;
``--clock cpu`` times the process's CPU time (fairer on a shared machine).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

os.environ.setdefault("OMP_NUM_THREADS", "1")

from nirconv.equations.neurons import BitShiftLIF, SpeckIAF  # noqa: E402
from nirconv.equations.program import (AffineOp, ConvOp, Edge, FlattenOp, InputOp,  # noqa: E402
                                       NeuronOp, OutputOp, PoolOp, Program)

DT = 1e-3


# ------------------------------------------------------------------------------------------------
# graphs: (integer Program, float NIR graph for norse, input maker)

def _conv_out(n, k, s, p):
    return (n + 2 * p - k) // s + 1


class NetBuilder:
    """Builds the integer Program and the float NIR graph of the same layers side by side."""

    def __init__(self, in_shape, family):
        import nir
        self.nir = nir
        self.family = family
        self.shape = tuple(in_shape)
        self.ops = [InputOp(name="input", inputs=(), in_shape=self.shape, out_shape=self.shape)]
        self.nodes = {"input": nir.Input(np.array(self.shape))}
        self.edges = []
        self.last = "input"

    def _add(self, op, node):
        self.ops.append(op)
        self.nodes[op.name] = node
        self.edges.append((self.last, op.name))
        self.last, self.shape = op.name, tuple(op.out_shape)

    def conv(self, name, weight):
        c_out, _, k, _ = weight.shape
        out = (c_out, _conv_out(self.shape[1], k, 1, 1), _conv_out(self.shape[2], k, 1, 1))
        self._add(ConvOp(name=name, inputs=(Edge(self.last),), in_shape=self.shape, out_shape=out,
                         weight=weight, bias=None, stride=(1, 1), padding=(1, 1),
                         dilation=(1, 1), groups=1),
                  self.nir.Conv2d(input_shape=self.shape[1:], weight=weight.astype(float),
                                  stride=1, padding=1, dilation=1, groups=1,
                                  bias=np.zeros(c_out)))

    def pool(self, name):
        out = (self.shape[0], self.shape[1] // 2, self.shape[2] // 2)
        self._add(PoolOp(name=name, inputs=(Edge(self.last),), in_shape=self.shape, out_shape=out,
                         kernel=(2, 2), stride=(2, 2), padding=(0, 0), mode="sum"),
                  self.nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                     padding=np.array([0, 0])))

    def flatten(self, name):
        n = int(np.prod(self.shape))
        self._add(FlattenOp(name=name, inputs=(Edge(self.last),), in_shape=self.shape,
                            out_shape=(n,)),
                  # norse applies torch's Flatten to (B, ...): start_dim=1 (read untyped)
                  self.nir.Flatten(input_type={"input": np.array(self.shape)}, start_dim=1,
                                   end_dim=-1))

    def linear(self, name, weight):
        self._add(AffineOp(name=name, inputs=(Edge(self.last),), in_shape=self.shape,
                           out_shape=(weight.shape[0],), weight=weight, bias=None),
                  self.nir.Linear(weight=weight.astype(float)))

    def neuron(self, name, record, node):
        self._add(NeuronOp(name=name, inputs=(Edge(self.last),), in_shape=self.shape,
                           out_shape=self.shape, neuron=record), node)

    def finish(self):
        self.ops.append(OutputOp(name="output", inputs=(Edge(self.last),), in_shape=self.shape,
                                 out_shape=self.shape))
        self.nodes["output"] = self.nir.Output(np.array(self.shape))
        self.edges.append((self.last, "output"))
        program = Program(ops=tuple(self.ops), inputs=("input",), outputs=("output",),
                          mode="int", family=self.family, dt=DT)
        graph = self.nir.NIRGraph(nodes=self.nodes, edges=self.edges, metadata={"dt": DT},
                                  type_check=False)
        return program, graph


def speck_if(shape, threshold, builder):
    rec = SpeckIAF(shape=shape, threshold=np.full(shape, threshold, dtype=np.int64),
                   bias=np.zeros(shape, np.int64), v_init=np.zeros(shape, np.int64))
    node = builder.nir.IF(r=np.ones(shape), v_threshold=np.full(shape, float(threshold)))
    return rec, node


def calibrate(make, inputs, layers, rate=0.1, steps=16, batch=8, rounds=4, th_max=1 << 40):
    """Thresholds giving each layer about ``rate`` spikes per neuron and step, layer by layer
    (so that the event backend sees a realistic, not a silent or saturated, network); each
    threshold at most ``th_max`` (the neuron record's largest legal one)."""
    from nirconv.backends.torch import run
    rng = np.random.default_rng(123)
    x = inputs(batch, steps, rng)
    th = [th_max] * len(layers)
    legal = lambda v: int(min(max(1, v), th_max))  # noqa: E731
    for i, (weight_name, neuron_name) in enumerate(layers):
        program, _ = make(th)
        drive = run(program, x, record=(weight_name,)).recorded[weight_name]
        th[i] = legal(np.maximum(drive.mean(axis=(0, 1)), 0).mean() / rate)
        for _ in range(rounds):
            program, _ = make(th)
            got = run(program, x, record=(neuron_name,)).recorded[neuron_name].mean()
            th[i] = legal(th[i] * float(np.clip(got / rate, 0.25, 4.0)))
    return make(th)


def equivalent_cnn(seed=0):
    """The demo CNN's layer sizes, int8 weights, thresholds calibrated to ~10 % activity."""
    rng = np.random.default_rng(seed)
    weights = [rng.integers(-50, 80, (16, 1, 3, 3)), rng.integers(-60, 70, (32, 16, 3, 3)),
               rng.integers(-60, 70, (64, 128)), rng.integers(-80, 90, (10, 64))]

    def make(th):
        b = NetBuilder((1, 8, 8), "speck")
        for i in range(2):
            b.conv(f"conv{i + 1}", weights[i])
            b.neuron(f"if{i + 1}", *speck_if(b.shape, th[i], b))
            b.pool(f"pool{i + 1}")
        b.flatten("flat")
        for i in range(2):
            b.linear(f"fc{i + 1}", weights[2 + i])
            b.neuron(f"if{i + 3}", *speck_if(b.shape, th[2 + i], b))
        return b.finish()

    def inputs(batch, steps, rng):  # digits-like images as an integer current (0..16)
        img = rng.integers(0, 17, (batch, 1, 8, 8)) * (rng.random((batch, 1, 8, 8)) < 0.5)
        return np.broadcast_to(img, (steps, *img.shape)).astype(np.int64).copy()

    layers = [("conv1", "if1"), ("conv2", "if2"), ("fc1", "if3"), ("fc2", "if4")]
    program, graph = calibrate(make, inputs, layers)
    return "cnn (equivalent, speck)", program, graph, inputs


def demo_cnn():
    """The demo's trained CNN through convert -> to_nir -> export(speck), if the pipeline works."""
    import nirconv
    from nirconv.demo.digits import trained_digits_cnn
    from nirconv.reading import to_program
    model, data = trained_digits_cnn(seed=0)
    snn = nirconv.convert(model, data.x_train[:256], readout="spikes")
    graph = nirconv.to_nir(snn)
    from nirconv.errors import DoesNotFit
    for target in ("speck", "generic"):  # Speck's layer rules are strict; generic takes any
        try:
            deployed = nirconv.export(graph, target=target, calibration=data.x_train[:256])
            break
        except DoesNotFit as e:
            print(f"  demo CNN does not fit {target} ({str(e)[:100]})")
    else:
        raise RuntimeError("the demo CNN fits no target")
    program = to_program(deployed)
    pool = data.x_test.numpy()

    def inputs(batch, steps, rng):
        idx = rng.integers(0, len(pool), batch)
        return program.check_input(pool[idx], steps)

    return f"cnn (demo, {target})", program, graph, inputs


def lif3x1024(seed=0, n=1024):
    rng = np.random.default_rng(seed)
    weights = [rng.integers(-128, 128, (n, n)) + 8 for _ in range(3)]
    dash = 3  # tau = dt * 2**dash in BitShiftLIF terms

    def make(th):
        b = NetBuilder((n,), "generic")
        for i in range(3):
            b.linear(f"fc{i + 1}", weights[i])
            rec = BitShiftLIF(shape=(n,), threshold=np.full(n, th[i]), bias=np.zeros(n, np.int64),
                              v_init=np.zeros(n, np.int64), dash_mem=np.full(n, dash),
                              dash_syn=None)
            node = b.nir.LIF(tau=np.full(n, DT * 2 ** dash), r=np.full(n, 2.0 ** dash),
                             v_leak=np.zeros(n), v_threshold=np.full(n, float(th[i])))
            b.neuron(f"lif{i + 1}", rec, node)
        return b.finish()

    def inputs(batch, steps, rng):  # Poisson-like input spikes, 10 % per step
        return (rng.random((steps, batch, n)) < 0.1).astype(np.int64)

    layers = [(f"fc{i + 1}", f"lif{i + 1}") for i in range(3)]
    program, graph = calibrate(make, inputs, layers, th_max=(1 << 15) - 1)  # 16-bit state
    return "lif 3x1024 (generic)", program, graph, inputs


# ------------------------------------------------------------------------------------------------
# runners

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter  # set by --clock


def best_of(repeat, fn):
    """(best seconds, first result) of ``repeat`` calls of ``fn() -> (seconds, result)``."""
    runs = [fn() for _ in range(max(1, repeat))]
    return min(r[0] for r in runs), runs[0][1]


def time_event(program, x):
    from nirconv.backends.event import run
    start = clock()
    result = run(program, x)
    return clock() - start, result


def time_torch(program, x, device):
    from nirconv.backends.torch import run
    if device == "cuda":
        torch.cuda.synchronize()
    start = clock()
    result = run(program, x, device=device)
    return clock() - start, result


def time_gemm_limit(program, batch, steps, device):
    """Seconds of the graph's weight products alone: float32 ``F.linear`` / ``F.conv2d`` of every
    weight op on an input of its shape, ``steps`` times (the dense-GEMM limit)."""
    import torch.nn.functional as F
    from nirconv.equations.program import AffineOp as A, ConvOp as C
    products = []
    for op in program.ops:
        if isinstance(op, (A, C)):
            w = torch.as_tensor(np.asarray(op.weight), dtype=torch.float32, device=device)
            x = torch.rand((batch, *op.in_shape), device=device)
            if isinstance(op, A):
                products.append(lambda x=x, w=w: F.linear(x, w))
            else:
                products.append(lambda x=x, w=w, o=op: F.conv2d(x, w, None, o.stride, o.padding,
                                                                o.dilation, o.groups))
    with torch.inference_mode():
        for p in products:
            p()
        if device == "cuda":
            torch.cuda.synchronize()
        start = clock()
        for _ in range(steps):
            for p in products:
                p()
        if device == "cuda":
            torch.cuda.synchronize()
    return clock() - start


def norse_module(graph, device):
    import norse.torch as nt
    return nt.from_nir(graph, dt=DT).to(device)


def time_norse(module, x, device):
    xs = torch.as_tensor(x, dtype=torch.float32, device=device)
    if device == "cuda":
        torch.cuda.synchronize()
    start = clock()
    with torch.no_grad():
        state = None
        for t in range(xs.shape[0]):
            _, state = module(xs[t], state)
    if device == "cuda":
        torch.cuda.synchronize()
    return clock() - start


def measure(name, program, graph, inputs, batches, steps, device, skip_event_above, repeat):
    rng = np.random.default_rng(1)
    try:
        norse = norse_module(graph, device)
    except Exception as e:  # a peer that cannot load the graph is reported, not fatal
        print(f"  norse cannot run {name}: {type(e).__name__}: {e}")
        norse = None
    rows = []
    for batch in batches:
        x = inputs(batch, steps, rng)
        time_torch(program, x, device)  # warm-up at this batch (allocator, kernels, caches)
        t_torch, r_torch = best_of(repeat, lambda: time_torch(program, x, device))
        t_event = r_event = None
        if batch <= skip_event_above:
            t_event, r_event = best_of(repeat, lambda: time_event(program, x))
        t_norse = None
        if norse is not None:
            try:
                time_norse(norse, x, device)
                t_norse = min(time_norse(norse, x, device) for _ in range(max(1, repeat)))
            except RuntimeError as e:  # a peer that cannot run the graph is reported
                print(f"  norse cannot run {name}: {str(e)[:100]}")
                norse = None
        t_limit = min(time_gemm_limit(program, batch, steps, device)
                      for _ in range(max(1, repeat)))
        exact = "n/a" if r_event is None else (
            "yes" if all(np.array_equal(r_torch.outputs[k], r_event.outputs[k])
                         for k in r_torch.outputs)
            and r_torch.spikes_per_node == r_event.spikes_per_node else "NO")
        spikes = sum(r_torch.spikes_per_node.values())
        rows.append(dict(net=name, batch=batch, event=t_event and batch / t_event,
                         torch=batch / t_torch, norse=t_norse and batch / t_norse,
                         limit=batch / t_limit, exact=exact, spikes=spikes / batch))
        print_row(rows[-1])
    return rows


def fmt(v, digits=1):
    return "-" if v is None else f"{v:,.{digits}f}"


HEADER = (f"{'graph':<24} {'batch':>5} {'event/s':>10} {'torch/s':>10} {'norse/s':>10} "
          f"{'GEMM limit/s':>12} {'torch/event':>11} {'torch/norse':>11} {'torch/limit':>11} "
          f"{'bit-exact':>9} {'spikes/sample':>13}")


def print_row(r):
    ratio_e = r["torch"] / r["event"] if r["event"] else None
    ratio_n = r["torch"] / r["norse"] if r["norse"] else None
    print(f"{r['net']:<24} {r['batch']:>5} {fmt(r['event']):>10} {fmt(r['torch']):>10} "
          f"{fmt(r['norse']):>10} {fmt(r['limit']):>12} {fmt(ratio_e, 2):>11} "
          f"{fmt(ratio_n, 2):>11} {fmt(r['torch'] / r['limit'], 2):>11} {r['exact']:>9} "
          f"{fmt(r['spikes'], 0):>13}", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--batches", default="1,32,200,256")
    ap.add_argument("--timesteps", type=int, default=16)
    ap.add_argument("--nets", default="cnn,lif3x1024")
    ap.add_argument("--equivalent-cnn", action="store_true",
                    help="skip the demo pipeline; use the equivalent quantized CNN")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch intra-op threads for the torch and norse runs (default: "
                         "torch's own choice, which follows OMP_NUM_THREADS)")
    ap.add_argument("--skip-event-above", type=int, default=10 ** 9,
                    help="do not run the (slow) event backend above this batch size")
    ap.add_argument("--repeat", type=int, default=2, help="best of this many runs")
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                    help="wall time, or the process's CPU time")
    args = ap.parse_args(argv)
    global clock
    clock = CLOCKS[args.clock]
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: torch sees no CUDA GPU")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    batches = [int(b) for b in args.batches.split(",")]
    print(f"torch {torch.__version__}, device {args.device}"
          f"{' (' + torch.cuda.get_device_name() + ')' if args.device == 'cuda' else ''}, "
          f"threads {torch.get_num_threads()}, T = {args.timesteps}, {args.clock} clock, best of "
          f"{args.repeat}; samples per second")
    nets = []
    for name in args.nets.split(","):
        if name == "cnn":
            try:
                if args.equivalent_cnn:
                    raise RuntimeError("--equivalent-cnn")
                nets.append(demo_cnn())
            except Exception as e:  # the demo pipeline is built in parallel: say why, fall back
                print(f"  demo CNN pipeline not used ({type(e).__name__}: {str(e)[:120]}); "
                      "running the equivalent quantized CNN")
                nets.append(equivalent_cnn())
        elif name == "lif3x1024":
            nets.append(lif3x1024())
        else:
            sys.exit(f"unknown net {name!r}")
    print(HEADER)
    rows = []
    for net in nets:
        rows += measure(*net, batches, args.timesteps, args.device, args.skip_event_above,
                        args.repeat)
    return rows


if __name__ == "__main__":
    main()
