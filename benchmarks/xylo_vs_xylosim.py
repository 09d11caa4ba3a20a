"""Our torch integer simulator on the xylo target vs SynSense's xylosim (bit-exact C++ engine).

    OMP_NUM_THREADS=1 python benchmarks/xylo_vs_xylosim.py [--hidden 1000] [--steps 1000]
        [--batch 256] [--vendor-samples 16] [--device cpu] [--threads 1]

A XyloAudio 2-shaped network (16 inputs, 1000 recurrent hidden neurons with fan-out <= 64, 8 outputs,
int8 weights, bit-shift decays), random input events (up to 15 per channel and step), T = 1000.
xylosim runs one sample at a time (it is not batched): timed on --vendor-samples samples; ours runs
--batch samples at once. Both outputs are compared on the samples xylosim ran (must be identical).
Prints samples/s of each and the ratio side by side, the dense-GEMM limit (float32 products of the
three weight matrices alone, same batch and T) and the run's peak memory (max RSS). ``--clock cpu``
times the process's CPU time (fairer on a shared machine).
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


REGIMES = {
    # name: (hidden threshold range, (shift_in, shift_rec, shift_out), input event density)
    "unsaturated": ((2000, 6000), (1, 0, 2), 0.1),  # few partial sums can leave 16 bits
    "typical": ((16000, 30000), (4, 0, 4), 0.1),
    "saturating": ((1500, 4000), (4, 2, 3), 0.2),
}


def xylo_network(rng, n_in=16, n_hid=1000, n_out=8, fan_out=64, regime="typical"):
    from nirconv.vendors.xylo import XyloSpec

    (th_lo, th_hi), shifts, _ = REGIMES[regime]
    w_in = rng.integers(-128, 128, (n_in, n_hid)) * (rng.random((n_in, n_hid)) < 0.25)
    w_rec = np.zeros((n_hid, n_hid), np.int64)
    w_out = np.zeros((n_hid, n_out), np.int64)
    for pre in range(n_hid):
        targets = rng.choice(n_hid + n_out, size=fan_out, replace=False)
        weights = rng.integers(-128, 128, fan_out)
        rec = targets < n_hid
        w_rec[pre, targets[rec]] = weights[rec]
        w_out[pre, targets[~rec] - n_hid] = weights[~rec]
    z = lambda m: np.stack([m, np.zeros_like(m)], axis=2).astype(np.int64)
    return XyloSpec(weights_in=z(w_in), weights_rec=z(w_rec), weights_out=w_out,
                    dash_mem=rng.integers(2, 6, n_hid), dash_mem_out=np.full(n_out, 3),
                    dash_syn=rng.integers(1, 4, n_hid), dash_syn_2=np.zeros(n_hid, np.int64),
                    dash_syn_out=np.full(n_out, 2), threshold=rng.integers(th_lo, th_hi, n_hid),
                    threshold_out=np.full(n_out, 3000), bias=np.zeros(n_hid, np.int64),
                    bias_out=np.zeros(n_out, np.int64), weight_shift_in=shifts[0],
                    weight_shift_rec=shifts[1], weight_shift_out=shifts[2], dt=1e-3)


def gemm_limit(program, batch, steps, clock) -> float:
    """Seconds of float32 products of the program's weight matrices alone, ``steps`` times."""
    import torch

    from nirconv.equations.program import AffineOp

    ws = [torch.as_tensor(np.asarray(op.weight), dtype=torch.float32) for op in program.ops
          if isinstance(op, AffineOp)]
    xs = [torch.rand(batch, w.shape[1]) for w in ws]
    with torch.inference_mode():
        start = clock()
        for _ in range(steps):
            for x, w in zip(xs, ws):
                torch.nn.functional.linear(x, w)
        return clock() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--vendor-samples", type=int, default=16)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                    help="wall time, or the process's CPU time")
    ap.add_argument("--regime", choices=sorted(REGIMES), default="typical",
                    help="unsaturated: ~0.07 hidden spikes/neuron/step, input sums mostly within "
                         "16 bits; typical: ~0.1, large input weights (shift 4) whose sums often "
                         "may saturate; saturating: several spikes per step and many saturating "
                         "16-bit sums (the agreement tests' regime)")
    args = ap.parse_args()

    import torch

    from nirconv.backends.torch import run
    from nirconv.vendors.xylo import XyloSimLayer, program_from_spec

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    spec = xylo_network(rng, n_hid=args.hidden, regime=args.regime)
    program = program_from_spec(spec)
    density = REGIMES[args.regime][2]
    x = (rng.integers(1, 16, (args.steps, args.batch, 16))
         * (rng.random((args.steps, args.batch, 16)) < density)).astype(np.int64)

    clock = CLOCKS[args.clock]
    run(program, x[:20], device=args.device)  # warm-up (kernel selection, caches, allocations)
    t0 = clock()
    ours = run(program, x, device=args.device)
    t_ours = clock() - t0
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    out = np.asarray(ours.outputs["output"])
    t_limit = gemm_limit(program, args.batch, args.steps, clock)

    sim = XyloSimLayer(spec)
    n_vendor = min(args.vendor_samples, args.batch)
    t0 = clock()
    vendor = sim.run(x[:, :n_vendor])
    t_vendor = clock() - t0
    sim.evolve(x[:, 0])
    hidden = sim.hidden_spikes()

    exact = np.array_equal(out[:, :n_vendor], vendor)
    ours_sps = args.batch / t_ours
    vendor_sps = n_vendor / t_vendor
    print(f"network 16-{args.hidden}-8, fan-out 64, T = {args.steps}, regime {args.regime}; "
          f"device {args.device}, torch threads {args.threads}, {args.clock} clock")
    print(f"activity: hidden spikes/neuron/step {hidden.mean():.3f}, max count in a step "
          f"{hidden.max()}, output spikes/sample {vendor.sum() / n_vendor:.1f}")
    print(f"| simulator | samples | seconds | samples/s |")
    print(f"|---|---|---|---|")
    print(f"| nirconv torch integer (batch {args.batch}) | {args.batch} | {t_ours:.2f} | "
          f"{ours_sps:.1f} |")
    print(f"| xylosim 0.1.3 (one sample at a time) | {n_vendor} | {t_vendor:.2f} | "
          f"{vendor_sps:.1f} |")
    print(f"| dense-GEMM limit (float32 products only, batch {args.batch}) | {args.batch} | "
          f"{t_limit:.2f} | {args.batch / t_limit:.1f} |")
    print(f"ratio ours / xylosim: {ours_sps / vendor_sps:.1f}x   ours / GEMM limit: "
          f"{ours_sps * t_limit / args.batch:.2f}   outputs identical on the {n_vendor} shared "
          f"samples: {exact}   peak memory (max RSS) {peak_gib:.2f} GiB")
    if not exact:
        raise SystemExit("MISMATCH between nirconv and xylosim")


if __name__ == "__main__":
    main()
