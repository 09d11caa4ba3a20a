"""Convert a small CNN trained on scikit-learn digits into a spiking network and export it to NIR.

    python examples/convert_digits.py [OUT.nir]

Trains the embedded default model (a few seconds on a CPU), converts it with the default
normalization ("calibrated", here for T = 8 steps), compares ANN and SNN accuracy, writes the NIR
file and reads it back.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch

import nirconv
from nirconv.demo.digits import accuracy, trained_digits_cnn


def main(out: Path, epochs: int = 15, timesteps: int = 8) -> dict:
    torch.set_num_threads(1)
    model, data = trained_digits_cnn(seed=0, epochs=epochs)
    snn = nirconv.convert(model, data.x_train, timesteps=timesteps)
    out_steps = snn(data.x_test, timesteps=timesteps)  # (T, B, 10) per-step readout input
    snn_acc = float((out_steps.sum(0).argmax(-1) == data.y_test).float().mean())
    ann_acc = accuracy(model, data.x_test, data.y_test)
    graph = nirconv.to_nir(snn)
    nirconv.save(graph, out)
    back = nirconv.load(out)
    print(f"ANN accuracy {100 * ann_acc:.2f} %, SNN accuracy at T={timesteps} "
          f"{100 * snn_acc:.2f} %")
    print(f"wrote {out}: {', '.join(f'{k} ({type(v).__name__})' for k, v in back.nodes.items())}")
    return {"ann": ann_acc, "snn": snn_acc, "nodes": list(back.nodes)}


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "digits.nir"
    main(target)
