"""A dense model exports to Loihi 2 as netx in one command (the default quantization is netx-safe:
weight exponent 0 and bias exponent >= 6, so every format holds the same integers)."""
from __future__ import annotations

import h5py
import numpy as np
import torch

from nirconv.cli import main


def test_mlp_model_exports_to_netx(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 24), torch.nn.ReLU(),
                                torch.nn.Linear(24, 5)).eval()
    x = torch.rand(200, 16)
    torch.export.save(torch.export.export(model, (x[:2],)), str(tmp_path / "mlp.pt2"))
    np.save(tmp_path / "cal.npy", x.numpy())
    nir_out, netx_out = tmp_path / "mlp.nir", tmp_path / "mlp.net"
    common = [str(tmp_path / "mlp.pt2"), "--calibration", str(tmp_path / "cal.npy"),
              "--target", "loihi2", "--normalize", "percentile"]
    assert main(["export", *common, "-o", str(nir_out)]) == 0
    assert main(["export", *common, "--format", "netx", "-o", str(netx_out)]) == 0
    with h5py.File(netx_out, "r") as f:
        assert "layer" in f and len(f["layer"]) >= 2  # (input layer +) the two dense layers
