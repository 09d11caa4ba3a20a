"""`nirconv audit` end to end: a .pt2 model, a deployed .nir, .npy data; exit codes 0 / 1 / 2."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import nirconv
from nirconv.cli import main

T = 8
TARGET = "loihi2"  # resets to zero and drops v_init: the deployed SNN loses a little accuracy


def _digits_cnn():
    path = Path(__file__).resolve().parents[1] / "fidelity" / "conftest.py"
    spec = importlib.util.spec_from_file_location("fidelity_digits_conftest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.train_digits_cnn()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """model.pt2, dep.nir, and data on which the deployed SNN is strictly worse than the float."""
    import torch

    model, x, y = _digits_cnn()
    tmp = tmp_path_factory.mktemp("audit_cli")
    dep = nirconv.export(model, target=TARGET, calibration=torch.from_numpy(x[:100]),
                         normalize="percentile")
    pool = nirconv.audit(model, dep, x, y, timesteps=T, progress=False)
    f_out = nirconv.simulate(dep, x, timesteps=T, mode="float")  # its float view.numpy()
    q_out = nirconv.simulate(dep, x, timesteps=T + pool.latency_steps, mode="int").numpy()
    f_ok = f_out[T - 1].argmax(-1) == y  # membrane readout: the last step decides
    q_ok = q_out[T - 1 + pool.output_shift_steps].argmax(-1) == y
    worse = np.flatnonzero(f_ok & ~q_ok)
    assert worse.size, "the deployed SNN should lose some samples at T=8"
    pick = np.concatenate([worse[:3], np.flatnonzero(f_ok & q_ok)[:13]])
    exported = torch.export.export(model, (torch.from_numpy(x[:2]),))
    paths = {"model": tmp / "model.pt2", "dep": tmp / "dep.nir", "x": tmp / "x.npy",
             "y": tmp / "y.npy", "dir": tmp}
    torch.export.save(exported, str(paths["model"]))
    nirconv.save(dep, paths["dep"])
    np.save(paths["x"], x[pick])
    np.save(paths["y"], y[pick])
    drop = 100.0 * min(3, worse.size) / pick.size
    return paths, drop


def _args(p, *extra):
    return ["audit", str(p["model"]), str(p["dep"]), "--data", str(p["x"]), "--labels",
            str(p["y"]), "--timesteps", str(T), "--no-progress", *extra]


def test_tolerance_flips_the_exit_code_and_reports_are_written(files, capsys):
    p, drop = files
    j, h = p["dir"] / "r.json", p["dir"] / "r.html"
    assert main(_args(p, "--tolerance", str(drop + 0.5), "--json", str(j), "--report",
                      str(h))) == 0
    report = json.loads(j.read_text())
    assert report["passed"] is True
    assert report["snn_accuracy"] - report["deployed_accuracy"] == pytest.approx(drop / 100)
    assert report["target"] == TARGET and report["timesteps"] == T
    assert h.read_text().count("data:image/png;base64,") == 3
    assert "float SNN" in capsys.readouterr().out  # the summary table
    j.unlink()
    assert main(_args(p, "--tolerance", str(drop - 0.5), "--json", str(j))) == 1
    err = capsys.readouterr().err
    assert "points below the float SNN" in err and "Traceback" not in err
    assert json.loads(j.read_text())["passed"] is False  # the report is still written


def test_json_to_stdout(files, capsys):
    p, drop = files
    assert main(_args(p, "--tolerance", "100", "--json", "-")) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"timesteps", "ann_accuracy", "snn_accuracy", "deployed_accuracy", "passed",
            "layers", "first_divergence"} <= set(out)


@pytest.mark.parametrize("case", ["missing_data", "labels_shape", "corrupt_deployed",
                                  "no_folder", "model_not_pt2"])
def test_bad_input_exits_2_with_one_line(files, case, capsys):
    p, _ = files
    args = _args(p)
    if case == "missing_data":
        args[args.index("--data") + 1] = str(p["dir"] / "nope.npy")
    elif case == "labels_shape":
        bad = p["dir"] / "bad_labels.npy"
        np.save(bad, np.zeros((3, 2), np.int64))
        args[args.index("--labels") + 1] = str(bad)
    elif case == "corrupt_deployed":
        bad = p["dir"] / "corrupt.nir"
        bad.write_bytes(b"not hdf5")
        args[2] = str(bad)
    elif case == "no_folder":
        args += ["--report", str(p["dir"] / "missing" / "r.html")]
    elif case == "model_not_pt2":
        args[1] = str(p["y"])
    assert main(args) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("nirconv: error: ") and "Traceback" not in err
    assert not (p["dir"] / "missing").exists()
