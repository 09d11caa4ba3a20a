"""`nirconv export MODEL_OR_NIR --target NAME -o OUT [--force] [--json]`."""
from __future__ import annotations

import json

import numpy as np
import pytest

import nirconv
from nirconv.cli import main
from nirconv.deploy import quantize_graph

from ..fixtures.paper import braille_rnn, nmnist_cnn


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("export")
    nirconv.save(nmnist_cnn(), d / "cnn.nir")
    nirconv.save(braille_rnn(), d / "rnn.nir")
    return d


def test_export_fits_writes_a_quantized_graph(files, tmp_path, capsys):
    out = tmp_path / "dep.nir"
    assert main(["export", str(files / "rnn.nir"), "--target", "xylo", "-o", str(out),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["fits"] is True and {"target", "violations", "warnings", "resources"} <= set(report)
    dep = nirconv.load(out)
    assert dep.metadata["arithmetic"] == "xylo" and dep.metadata["target"] == "xylo"
    x = (np.random.default_rng(0).random((20, 2, 12)) < 0.3).astype(np.int64)
    assert nirconv.simulate(dep, x).numpy().dtype.kind == "i"  # auto -> integer mode


def test_does_not_fit_exit_1_and_no_file(files, tmp_path, capsys):
    out = tmp_path / "dep.nir"
    assert main(["export", str(files / "cnn.nir"), "--target", "xylo", "-o", str(out)]) == 1
    assert not out.exists() and not list(tmp_path.iterdir())
    assert "does not fit xylo" in capsys.readouterr().err


def test_force_writes_and_still_exits_1(files, tmp_path, capsys):
    small = tmp_path / "tiny.toml"
    from nirconv.targets import path_of
    small.write_text(path_of("loihi2").read_text().replace("count = { value = 128,",
                                                           "count = { value = 2,"))
    out = tmp_path / "dep.nir"
    args = ["export", str(files / "cnn.nir"), "--target", str(small), "-o", str(out)]
    assert main(args) == 1 and not out.exists()
    assert main(args + ["--force", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["fits"] is False and report["violations"][0]["rule"] == "cores"
    assert out.exists() and nirconv.load(out).metadata["fits"] in (0, False)


def test_bad_inputs_exit_2(files, tmp_path, capsys):
    out = tmp_path / "dep.nir"
    assert main(["export", str(tmp_path / "missing.nir"), "--target", "xylo", "-o", str(out)]) == 2
    assert main(["export", str(files / "rnn.nir"), "--target", "nochip", "-o", str(out)]) == 2
    assert main(["export", str(files / "rnn.nir"), "--target", "xylo", "--format", "netx",
                 "-o", str(out)]) == 2
    assert not out.exists()


def test_calibration_sets_the_input_scale(files, tmp_path):
    cal = tmp_path / "cal.npy"
    np.save(cal, np.random.default_rng(0).random((16, 2, 34, 34)).astype(np.float32) * 4.0)
    out = tmp_path / "dep.nir"
    assert main(["export", str(files / "cnn.nir"), "--target", "speck", "--calibration", str(cal),
                 "-o", str(out)]) == 0
    meta = nirconv.load(out).metadata
    assert meta["input_encoding"] == "rate" and meta["max_events"] == 1
    assert meta["input_scale"] == pytest.approx(4.0, rel=1e-3)


def test_one_command_from_a_model_to_a_deployable_file(tmp_path, capsys):
    """A torch.export program (.pt2) + calibration -> convert -> quantize -> check -> file."""
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 16), torch.nn.ReLU(),
                                torch.nn.Linear(16, 10)).eval()
    x = torch.rand(32, 1, 8, 8)
    torch.export.save(torch.export.export(model, (x[:2],)), tmp_path / "model.pt2")
    np.save(tmp_path / "cal.npy", x.numpy())
    out = tmp_path / "dep.nir"
    rc = main(["export", str(tmp_path / "model.pt2"), "--target", "generic", "--calibration",
               str(tmp_path / "cal.npy"), "--readout", "membrane", "-o", str(out), "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert json.loads(captured.out)["fits"] is True
    dep = nirconv.load(out)
    assert dep.metadata["arithmetic"] == "generic"
    assert nirconv.simulate(dep, x.numpy()[:4], timesteps=8).shape == (8, 4, 10)


def test_a_model_without_calibration_is_bad_input(tmp_path):
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(4, 2)).eval()
    torch.export.save(torch.export.export(model, (torch.rand(1, 4),)), tmp_path / "m.pt2")
    assert main(["export", str(tmp_path / "m.pt2"), "--target", "generic", "-o",
                 str(tmp_path / "o.nir")]) == 2


@pytest.mark.parametrize("target,fmt,suffix", [("xylo", "rockpool", ".npz"), ("loihi2", "netx", ".h5")])
def test_vendor_formats(files, tmp_path, target, fmt, suffix):
    out = tmp_path / f"dep{suffix}"
    assert main(["export", str(files / "rnn.nir"), "--target", target, "--format", fmt,
                 "-o", str(out)]) == 0
    assert out.exists() and out.stat().st_size > 0
    if fmt == "rockpool":
        with np.load(out, allow_pickle=False) as z:
            dep = quantize_graph(nirconv.load(files / "rnn.nir"), "xylo")
            rec = np.asarray(z["weights_rec"])
            np.testing.assert_array_equal(rec.reshape(40, 40, -1)[..., 0].T
                                          if rec.ndim == 3 else rec.T,
                                          np.asarray(dep.nodes["fc_rec"].weight))
    else:
        import h5py
        with h5py.File(out, "r") as f:
            assert "layer" in f
