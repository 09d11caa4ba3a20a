"""The demo CNN exported for Speck: our speck integer mode vs Sinabs, spike for spike.

    NIRCONV_SINABS_PYTHON=/work/venvs/sinabs/bin/python python scripts/speck_vs_sinabs.py \
        [--samples 64] [--timesteps 32] [--seed 0]

Trains the embedded digits CNN (nirconv.conversion.digits), exports it for speck
(``nirconv.export``), writes it for nir 1.0.4, loads it in Sinabs (``sinabs.from_nir`` in Sinabs'
own venv; IAF with integer thresholds, multi-spike, subtractive reset, min_v_mem = -32768) and
compares the output spikes of every step and sample with our event and torch integer modes.
Exit 1 on any difference.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--timesteps", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import nirconv
    from nirconv.conversion.digits import trained_digits_cnn
    from nirconv.equations.encoding import encode_static
    from nirconv.vendors import registry

    fn, reason = registry.vendor_simulator("speck")
    if fn is None:
        print(f"skipped: {reason}")
        return 0
    model, data = trained_digits_cnn(seed=args.seed)
    dep = nirconv.export(model, target="speck", calibration=data.x_train[:256])
    x_static = data.x_test[:args.samples].numpy()
    x = encode_static(x_static, args.timesteps, dict(dep.metadata), True)
    labels = data.y_test[:args.samples].numpy()
    theirs = fn(dep, x)
    ok = True
    print(f"demo CNN for speck, {args.samples} test samples, T = {args.timesteps}, "
          f"{int(x.sum())} input events")
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
