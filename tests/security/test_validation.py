"""Issue 11, items 4 and 6: empty batches, bad timesteps, out-of-range labels and non-positive
thresholds are bad input (exit 2, one line naming the field, no output file) in the API and the
CLI; ``simulate`` and ``check`` give the same verdict on a non-positive ``v_threshold``."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

import nirconv

_spec = importlib.util.spec_from_file_location("security_hostile",
                                               Path(__file__).with_name("hostile.py"))
H = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(H)

DIALECTS = ("auto", "nirconv", "norse", "snntorch", "sinabs", "rockpool")


@pytest.fixture
def files(tmp_path):
    graph = tmp_path / "g.nir"
    nirconv.save(H.small_graph(), graph)
    x = tmp_path / "x.npy"
    np.save(x, H.static_input())
    return tmp_path, graph, x


@pytest.fixture(scope="module")
def audit_files(tmp_path_factory):
    """m.pt2 (Linear 3 -> 4), dep.nir (the small graph for `generic`), x.npy, y.npy."""
    tmp = tmp_path_factory.mktemp("audit_validation")
    x = H.static_input(6)
    torch.export.save(torch.export.export(H.model(), (torch.from_numpy(x),)),
                      str(tmp / "m.pt2"))
    nirconv.save(H.deployed(), tmp / "dep.nir")
    np.save(tmp / "x.npy", x)
    np.save(tmp / "y.npy", np.arange(6) % H.N_OUT)
    return tmp


def _audit_args(tmp, labels=None, data=None, *extra):
    return ["audit", tmp / "m.pt2", tmp / "dep.nir", "--data", data or tmp / "x.npy",
            "--labels", labels or tmp / "y.npy", "--timesteps", 4, "--no-progress", *extra]


# ---------------------------------------------------------------- empty batches (item 4)

@pytest.mark.parametrize("shape,timesteps", [((0, H.N_IN), 4), ((4, 0, H.N_IN), None),
                                             ((0, 2, H.N_IN), None)])
@pytest.mark.parametrize("backend", ["event", "torch"])
def test_cli_simulate_empty_input_exits_2(files, capsys, shape, timesteps, backend):
    tmp, graph, _ = files
    x = tmp / "empty.npy"
    np.save(x, np.zeros(shape, np.float32))
    out = tmp / "out.npy"
    args = ["simulate", graph, "--input", x, "--backend", backend, "-o", out]
    args += ["--timesteps", timesteps] if timesteps else []
    H.cli_error(capsys, args, str(x), "'input'", output=out)


def test_cli_simulate_empty_conv_batch_of_the_issue(tmp_path, capsys):
    """The issue's case: a (0, 1, 8, 8) batch for a convolutional graph."""
    import nir

    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([1, 8, 8])),
               "conv": nir.Conv2d(input_shape=(8, 8), weight=np.ones((2, 1, 3, 3)), stride=1,
                                  padding=1, dilation=1, groups=1, bias=np.zeros(2)),
               "if": nir.IF(r=np.ones((2, 8, 8)), v_threshold=np.ones((2, 8, 8))),
               "output": nir.Output(output_type=np.array([2, 8, 8]))},
        edges=[("input", "conv"), ("conv", "if"), ("if", "output")],
        metadata={"nirconv_version": nirconv.__version__})
    nirconv.save(graph, tmp_path / "conv.nir")
    np.save(tmp_path / "x.npy", np.zeros((0, 1, 8, 8), np.float32))
    out = tmp_path / "out.npy"
    H.cli_error(capsys, ["simulate", tmp_path / "conv.nir", "--input", tmp_path / "x.npy",
                         "--timesteps", 8, "-o", out], "'input'", "batch 0", output=out)


def test_cli_audit_empty_data_exits_2(audit_files, capsys):
    tmp = audit_files
    np.save(tmp / "x0.npy", np.zeros((0, H.N_IN), np.float32))
    np.save(tmp / "y0.npy", np.zeros(0, np.int64))
    H.cli_error(capsys, _audit_args(tmp, tmp / "y0.npy", tmp / "x0.npy"), "x0.npy", "'data'")


def test_cli_export_and_convert_empty_calibration_exit_2(files, capsys):
    tmp, graph, _ = files
    calib = tmp / "c0.npy"
    np.save(calib, np.zeros((0, H.N_IN), np.float32))
    out = tmp / "dep.nir"
    H.cli_error(capsys, ["export", graph, "--target", "generic", "--calibration", calib,
                         "-o", out], "'calibration'", output=out)
    model = tmp / "m.pt2"
    torch.export.save(torch.export.export(H.model(), (torch.zeros(2, H.N_IN),)), str(model))
    H.cli_error(capsys, ["convert", model, "--calibration", calib, "-o", out], "'calibration'",
                output=out)


# ---------------------------------------------------------------- timesteps (item 3)

@pytest.mark.parametrize("value", ["0", "-4", "2.5", "abc", "true"])
def test_cli_simulate_timesteps_must_be_a_positive_int(files, capsys, value):
    tmp, graph, x = files
    out = tmp / "out.npy"
    H.cli_error(capsys, ["simulate", graph, "--input", x, "--timesteps", value, "-o", out],
                "--timesteps", output=out)


@pytest.mark.parametrize("value", ["0", "-1e-3", "inf", "nan", "abc"])
def test_cli_simulate_dt_must_be_positive_and_finite(files, capsys, value):
    tmp, graph, x = files
    out = tmp / "out.npy"
    H.cli_error(capsys, ["simulate", graph, "--input", x, "--timesteps", 4, "--dt", value,
                         "-o", out], "dt", output=out)


@pytest.mark.parametrize("value", ["0", "-4", "2.5", "abc"])
def test_cli_audit_timesteps_must_be_a_positive_int(audit_files, capsys, value):
    args = _audit_args(audit_files)
    args[args.index("--timesteps") + 1] = value
    H.cli_error(capsys, args, "timesteps")


# ---------------------------------------------------------------- audit labels (item 6)

@pytest.mark.parametrize("labels", [np.array([0, 1, 2, 3, 4, 0]), np.array([0, 1, 2, 3, 0, 99]),
                                    np.array([0, -1, 2, 3, 0, 1]),
                                    np.array([0.0, 1.5, 2, 3, 0, 1]),
                                    np.array([0.0, 1.0, 2, 3, 0, 7.0])])
def test_cli_audit_labels_outside_the_classes_exit_2(audit_files, capsys, labels):
    tmp = audit_files
    bad = tmp / "bad_y.npy"
    np.save(bad, labels)
    report = tmp / "never.json"
    H.cli_error(capsys, _audit_args(tmp, bad, None, "--json", report), "bad_y.npy", "'labels'",
                output=report)


def test_api_audit_labels_name_the_range(audit_files):
    dep = nirconv.load(audit_files / "dep.nir")
    with pytest.raises(nirconv.BadInput) as e:
        nirconv.audit(H.model(), dep, H.static_input(2), np.array([0, H.N_OUT]), timesteps=4,
                      progress=False)
    H.assert_api_error(e, "labels")
    assert f"[0, {H.N_OUT})" in str(e.value) and "sample 1" in str(e.value)


def test_api_audit_accepts_every_class(audit_files):
    dep = nirconv.load(audit_files / "dep.nir")
    result = nirconv.audit(H.model(), dep, H.static_input(H.N_OUT), np.arange(H.N_OUT),
                           timesteps=4, progress=False)
    assert result.samples == H.N_OUT


# ---------------------------------------------------------------- thresholds (item 6)

@pytest.mark.parametrize("threshold", [0.0, -1.0])
@pytest.mark.parametrize("leaky", [False, True])
@pytest.mark.parametrize("dialect", DIALECTS)
def test_simulate_and_check_give_the_same_verdict(threshold, leaky, dialect):
    graph = H.small_graph(threshold=np.full(H.N_OUT, threshold), leaky=leaky)
    verdicts = []
    for call in (lambda: nirconv.simulate(graph, H.static_input(), timesteps=4, dialect=dialect),
                 lambda: nirconv.check(graph, target="generic", dialect=dialect),
                 lambda: nirconv.export(graph, target="generic", dialect=dialect,
                                        calibration=H.static_input())):
        with pytest.raises(nirconv.BadInput) as e:
            call()
        verdicts.append((e.value.node, e.value.field, e.value.one_line()))
    line = "<memory>: node 'lif': field 'v_threshold': threshold must be positive"
    assert verdicts[0] == verdicts[1] == verdicts[2] == ("lif", "v_threshold", line)


def test_one_non_positive_threshold_among_positive_ones_is_refused():
    graph = H.small_graph(threshold=[0.5, 0.5, 0.0, 0.5])
    with pytest.raises(nirconv.BadInput) as e:
        nirconv.simulate(graph, H.static_input(), timesteps=4, backend="torch")
    H.assert_api_error(e, "v_threshold")


@pytest.mark.parametrize("threshold", ["0", "-0.5"])
def test_cli_simulate_and_check_print_the_same_line(tmp_path, capsys, threshold):
    graph = tmp_path / "zero.nir"
    nirconv.save(H.small_graph(threshold=np.full(H.N_OUT, float(threshold))), graph)
    x = tmp_path / "x.npy"
    np.save(x, H.static_input())
    out = tmp_path / "out.npy"
    simulated = H.cli_error(capsys, ["simulate", graph, "--input", x, "--timesteps", 4, "-o", out],
                            str(graph), "node 'lif'", "'v_threshold'", output=out)
    checked = H.cli_error(capsys, ["check", graph, "--target", "generic"])
    assert simulated == checked


@pytest.mark.parametrize("target,key", [("generic", "threshold_int"), ("speck", "threshold_int"),
                                        ("spinnaker2", "threshold_f32")])
def test_a_deployed_graph_with_a_zero_integer_threshold_is_refused(target, key):
    """A hostile quantized file: a Speck or Xylo neuron would fire v / 0 times."""
    import nir

    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([2])),
               "fc": nir.Affine(weight=np.ones((2, 2)), bias=np.zeros(2)),
               "lif": nir.IF(r=np.ones(2), v_threshold=np.ones(2)),
               "output": nir.Output(output_type=np.array([2]))},
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")],
        metadata={"nirconv_version": nirconv.__version__, "dt": 1e-3})
    dep = nirconv.export(graph, target=target, calibration=np.ones((4, 2), np.float32),
                         force=True)
    assert key in dep.nodes["lif"].metadata
    dep.nodes["lif"].metadata[key] = np.zeros(2)
    for backend in ("event", "torch"):
        with pytest.raises(nirconv.BadInput) as e:
            nirconv.simulate(dep, np.ones((4, 1, 2)), backend=backend)
        H.assert_api_error(e, f"metadata.{key}")
        assert e.value.node == "lif"
