"""`nirconv convert`: success paths and every bad input -> one line, exit 2, no output file."""
from __future__ import annotations

import pickle
import textwrap

import numpy as np
import pytest
import torch

import nirconv
from nirconv.cli import main

ARCH = textwrap.dedent("""
    import torch
    from torch import nn

    def tiny():
        return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(),
                             nn.AvgPool2d(2), nn.Flatten(), nn.Linear(3 * 16, 4))

    def with_maxpool():
        return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(3 * 16, 4))
""")


class Payload:
    """Unpickling this runs code: it must never happen."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    (tmp_path / "user_models.py").write_text(ARCH)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    import user_models  # noqa: F401  (fresh per test dir)
    torch.manual_seed(0)
    model = __import__("user_models").tiny().eval()
    torch.save(model.state_dict(), tmp_path / "tiny.pt")
    x = np.random.default_rng(0).random((32, 1, 8, 8)).astype(np.float32)
    np.save(tmp_path / "calib.npy", x)
    torch.export.save(torch.export.export(model, (torch.from_numpy(x[:2]),)),
                      tmp_path / "tiny.pt2")
    return tmp_path


def _fails(args, capsys, out, *words):
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, (w, err)
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(out.name)]


def test_convert_pt2(workdir, capsys):
    out = workdir / "snn.nir"
    code = main(["convert", "tiny.pt2", "--calibration", "calib.npy", "--timesteps", "8",
                 "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    graph = nirconv.load(out)
    assert graph.metadata["normalization"] == "calibrated"
    assert graph.metadata["source_model"] == "tiny.pt2"


def test_convert_state_dict_with_arch_and_options(workdir, capsys):
    out = workdir / "snn.nir"
    code = main(["convert", "tiny.pt", "--arch", "user_models:tiny", "--calibration",
                 "calib.npy", "--normalize", "percentile", "--percentile", "99",
                 "--layer-wise", "--readout", "spikes", "--nir-version", "1.0.4", "-o", str(out),
                 "--json"])
    assert code == 0, capsys.readouterr().err
    graph = nirconv.load(out)
    assert graph.metadata["readout"] == "spikes" and graph.metadata["granularity"] == "layer"


def test_missing_model_file(workdir, capsys):
    _fails(["convert", "nope.pt2", "--calibration", "calib.npy", "-o", "snn.nir"], capsys,
           workdir / "snn.nir", "nope.pt2", "not found")


def test_missing_calibration_file(workdir, capsys):
    _fails(["convert", "tiny.pt2", "--calibration", "nope.npy", "-o", "snn.nir"], capsys,
           workdir / "snn.nir", "nope.npy")


def test_file_that_is_not_a_model(workdir, capsys):
    (workdir / "notes.pt2").write_text("hello")
    _fails(["convert", "notes.pt2", "--calibration", "calib.npy", "-o", "snn.nir"], capsys,
           workdir / "snn.nir", "notes.pt2")
    (workdir / "notes.pt").write_text("hello")
    _fails(["convert", "notes.pt", "--arch", "user_models:tiny", "--calibration", "calib.npy",
            "-o", "snn.nir"], capsys, workdir / "snn.nir", "notes.pt")


def test_pickle_is_never_unpickled(workdir, capsys):
    marker = workdir / "pwned"
    for name in ("evil.pt", "evil.pt2"):
        with open(workdir / name, "wb") as f:
            pickle.dump({"weight": Payload(marker)}, f)
        torch.save({"x": Payload(marker)}, workdir / ("zip_" + name))
    pickle.loads(pickle.dumps(0))  # the payload class itself works (sanity of the test)
    for name in ("evil.pt", "zip_evil.pt"):
        _fails(["convert", name, "--arch", "user_models:tiny", "--calibration", "calib.npy",
                "-o", "snn.nir"], capsys, workdir / "snn.nir", name)
    for name in ("evil.pt2", "zip_evil.pt2"):
        _fails(["convert", name, "--calibration", "calib.npy", "-o", "snn.nir"], capsys,
               workdir / "snn.nir", name)
    assert not marker.exists()


def test_unsupported_layer(workdir, capsys):
    torch.save(__import__("user_models").with_maxpool().state_dict(), workdir / "mp.pt")
    _fails(["convert", "mp.pt", "--arch", "user_models:with_maxpool", "--calibration",
            "calib.npy", "-o", "snn.nir"], capsys, workdir / "snn.nir", "MaxPool2d", "'2'")


def test_nan_weights(workdir, capsys):
    state = torch.load(workdir / "tiny.pt", weights_only=True)
    state["5.weight"][0, 0] = float("nan")
    torch.save(state, workdir / "nan.pt")
    _fails(["convert", "nan.pt", "--arch", "user_models:tiny", "--calibration", "calib.npy",
            "-o", "snn.nir"], capsys, workdir / "snn.nir", "NaN", "weight")


def test_wrong_calibration_shape(workdir, capsys):
    np.save(workdir / "bad.npy", np.zeros((4, 3), dtype=np.float32))
    _fails(["convert", "tiny.pt2", "--calibration", "bad.npy", "-o", "snn.nir"], capsys,
           workdir / "snn.nir", "bad.npy", "calibration")


def test_bad_arch(workdir, capsys):
    _fails(["convert", "tiny.pt", "--arch", "user_models", "--calibration", "calib.npy",
            "-o", "snn.nir"], capsys, workdir / "snn.nir", "arch")
    _fails(["convert", "tiny.pt", "--arch", "no_such_module:f", "--calibration", "calib.npy",
            "-o", "snn.nir"], capsys, workdir / "snn.nir", "no_such_module")
