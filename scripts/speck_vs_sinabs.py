"""The demo CNN exported for Speck: our speck integer mode vs Sinabs, spike for spike.

    NIRCONV_SINABS_PYTHON=/work/venvs/sinabs/bin/python python scripts/speck_vs_sinabs.py \
        [--samples 64] [--timesteps 32] [--seed 0]

Trains the embedded digits CNN (nirconv.demo.digits), converts it (spike readout), exports it
for speck (``nirconv.export``), writes it for nir 1.0.4, loads it in Sinabs (``sinabs.from_nir`` in
Sinabs' own venv; IAF with the integer thresholds and initial membranes, multi-spike, subtractive
reset, min_v_mem = -32768) and compares the output spikes of every step and sample with our event
and torch integer modes. Exit 1 on any difference.

Two interoperability fixes are applied to the converted float graph before export, each exact, until
the converter emits them itself (see docs/equations/vendors.md): a ``Scale`` node between an Affine
and the readout neuron is folded into that Affine (Speck has no Scale layer), and a ``Flatten``
written with torch's ``start_dim=1`` (batch counted) is rewritten as NIR's ``start_dim=0`` (Sinabs
adds the batch axis itself, so ``1`` would flatten only H and W).
"""
from __future__ import annotations

import argparse
import copy
import sys

import numpy as np


def interop_fixes(graph):
    """The converted graph with Scale folded into its producing Affine and full Flattens at
    start_dim 0 (both exact); the input graph is not modified."""
    import nir

    nodes, edges = dict(graph.nodes), list(graph.edges)
    for name, node in list(nodes.items()):
        if isinstance(node, nir.Scale):
            producers = [s for s, d in edges if d == name]
            if len(producers) != 1 or not isinstance(nodes[producers[0]], nir.Affine):
                continue
            src = producers[0]
            affine = copy.copy(nodes[src])
            scale = np.asarray(node.scale, dtype=np.float64).reshape(-1)
            affine.weight = np.asarray(affine.weight) * scale[:, None]
            affine.bias = np.asarray(affine.bias) * scale
            nodes[src] = affine
            del nodes[name]
            targets = [d for s, d in edges if s == name]
            edges = [(s, d) for s, d in edges if name not in (s, d)] + [(src, d) for d in targets]
        elif isinstance(node, nir.Flatten) and int(node.start_dim) == 1 and int(node.end_dim) == -1:
            flat = copy.copy(node)
            flat.start_dim = 0
            shape = np.asarray(node.input_type["input"])
            flat.output_type = {"output": np.array([int(np.prod(shape))])}
            nodes[name] = flat
    fixed = copy.copy(graph)
    fixed.nodes, fixed.edges = nodes, edges
    return fixed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--timesteps", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import nirconv
    from nirconv.demo.digits import trained_digits_cnn
    from nirconv.reading import to_program
    from nirconv.vendors import registry

    fn, reason = registry.vendor_simulator("speck")
    if fn is None:
        print(f"skipped: {reason}")
        return 0
    model, data = trained_digits_cnn(seed=args.seed)
    calibration = data.x_train[:256]
    snn = nirconv.convert(model, calibration, readout="spikes")
    graph = interop_fixes(nirconv.to_nir(snn))
    dep = nirconv.export(graph, target="speck", calibration=calibration)
    x_static = data.x_test[:args.samples].numpy()
    x = to_program(dep, mode="int").check_input(x_static, args.timesteps)
    labels = data.y_test[:args.samples].numpy()
    theirs = fn(dep, x)
    ok = True
    print(f"demo CNN (digits) exported for speck, {args.samples} test samples, "
          f"T = {args.timesteps}, {int(x.sum())} input events")
    print("| simulator | output spikes | accuracy | identical to Sinabs |")
    print("|---|---|---|---|")
    print(f"| Sinabs 3.1.3 | {int(theirs.sum())} | "
          f"{(theirs.sum(0).argmax(-1) == labels).mean():.3f} | - |")
    for backend in ("event", "torch"):
        ours = nirconv.simulate(dep, x, backend=backend, mode="int").numpy()
        same = bool(np.array_equal(ours, theirs))
        ok &= same
        print(f"| nirconv {backend} integer | {int(ours.sum())} | "
              f"{(ours.sum(0).argmax(-1) == labels).mean():.3f} | {same} |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
