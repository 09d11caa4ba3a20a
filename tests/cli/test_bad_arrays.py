"""Bad .npy arrays and NaN models are bad input (exit 2, one line) in every command that reads them."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nirconv.cli import main


class _Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x)


@pytest.fixture
def nan_model(tmp_path):
    m = _Tiny().eval()
    with torch.no_grad():
        m.fc.weight[0, 0] = float("nan")
    path = tmp_path / "nan.pt2"
    torch.export.save(torch.export.export(m, (torch.zeros(2, 4),)), str(path))
    return path


@pytest.mark.parametrize("bad", ["strings", "nan"])
def test_bad_calibration_arrays(tmp_path, capsys, bad):
    m = _Tiny().eval()
    model = tmp_path / "m.pt2"
    torch.export.save(torch.export.export(m, (torch.zeros(2, 4),)), str(model))
    cal = tmp_path / "cal.npy"
    np.save(cal, np.array([["a"] * 4] * 3) if bad == "strings" else np.full((3, 4), np.nan))
    out = tmp_path / "snn.nir"
    assert main(["convert", str(model), "--calibration", str(cal), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cal.npy" in err
    assert not out.exists()


def test_audit_refuses_nan_model(tmp_path, capsys, nan_model):
    np.save(tmp_path / "x.npy", np.zeros((2, 4), dtype=np.float32))
    np.save(tmp_path / "y.npy", np.zeros(2, dtype=np.int64))
    dep = tmp_path / "dep.nir"
    dep.write_bytes(b"")  # never reached: the model is checked first
    code = main(["audit", str(nan_model), str(dep), "--data", str(tmp_path / "x.npy"),
                 "--labels", str(tmp_path / "y.npy")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "NaN" in err
