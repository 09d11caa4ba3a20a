"""Issue 11, item 7: the Python API raises the CLI's errors, never raw exceptions.

Every facade function (`convert`, `to_nir`, `export`, `check`, `simulate`, `audit`, `save`, `load`)
and the converted network's forward ``snn(x, timesteps=T)`` is fed hostile values: None, numbers
or strings where a graph, path or tensor is expected, object / complex arrays, wrong ndim, NaN and
inf, T <= 0 or of the wrong type, empty batches, unknown backend/device/mode/dialect names. Each
must raise a `NirconvError` subclass with exit code 2 whose message is one line naming the field.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import nirconv

_spec = importlib.util.spec_from_file_location("security_hostile",
                                               Path(__file__).with_name("hostile.py"))
H = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(H)

X = H.static_input()
OBJECT = np.array([[1, "a", None]] * 2, dtype=object)
COMPLEX = np.ones((2, H.N_IN)) + 1j
NAN = np.full((2, H.N_IN), np.nan)
INF = np.full((2, H.N_IN), np.inf)
LABELS = np.array([0, 1])


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api_errors")
    model = H.model()
    snn = nirconv.convert(model, torch.from_numpy(H.static_input(32)), normalize="percentile")
    return SimpleNamespace(g=H.small_graph(), dep=H.deployed(), model=model, snn=snn, tmp=tmp)


def _sim(e, x=X, **kw):
    return nirconv.simulate(e.g, x, **{"timesteps": 4, **kw})


def _audit(e, data=X, labels=LABELS, **kw):
    return nirconv.audit(e.model, e.dep, data, labels, **{"timesteps": 4, "progress": False, **kw})


def _convert(e, calibration=X, **kw):
    return nirconv.convert(e.model, calibration, **{"normalize": "max", **kw})


# (case id, field named, call)
CASES = [
    # simulate: graph, input, timesteps, options
    ("simulate-graph-None", "graph", lambda e: nirconv.simulate(None, X, timesteps=4)),
    ("simulate-graph-int", "graph", lambda e: nirconv.simulate(12345, X, timesteps=4)),
    ("simulate-graph-list", "graph", lambda e: nirconv.simulate([1, 2], X, timesteps=4)),
    ("simulate-x-None", "input", lambda e: _sim(e, None)),
    ("simulate-x-str", "input", lambda e: _sim(e, "abc")),
    ("simulate-x-object", "input", lambda e: _sim(e, OBJECT)),
    ("simulate-x-complex", "input", lambda e: _sim(e, COMPLEX)),
    ("simulate-x-ragged", "input", lambda e: _sim(e, [[1, 2, 3], [1]])),
    ("simulate-x-ndim-1", "input", lambda e: _sim(e, np.ones(H.N_IN))),
    ("simulate-x-ndim-4", "input", lambda e: _sim(e, np.ones((2, 2, 2, H.N_IN)))),
    ("simulate-x-nan", "input", lambda e: _sim(e, NAN)),
    ("simulate-x-inf", "input", lambda e: _sim(e, INF)),
    ("simulate-x-empty-batch", "input", lambda e: _sim(e, np.ones((0, H.N_IN)))),
    ("simulate-x-empty-batch-torch", "input",
     lambda e: _sim(e, np.ones((0, H.N_IN)), backend="torch")),
    ("simulate-x-no-steps", "input", lambda e: _sim(e, np.ones((0, 2, H.N_IN)), timesteps=None)),
    ("simulate-x-empty-batch-steps", "input",
     lambda e: _sim(e, np.ones((4, 0, H.N_IN)), backend="torch")),
    ("simulate-T-0", "timesteps", lambda e: _sim(e, timesteps=0)),
    ("simulate-T-negative", "timesteps", lambda e: _sim(e, timesteps=-3)),
    ("simulate-T-float", "timesteps", lambda e: _sim(e, timesteps=2.5)),
    ("simulate-T-whole-float", "timesteps", lambda e: _sim(e, timesteps=4.0)),
    ("simulate-T-bool", "timesteps", lambda e: _sim(e, timesteps=True)),
    ("simulate-T-str", "timesteps", lambda e: _sim(e, timesteps="8")),
    ("simulate-T-nan", "timesteps", lambda e: _sim(e, timesteps=float("nan"))),
    ("simulate-T-missing", "timesteps", lambda e: _sim(e, timesteps=None)),
    ("simulate-T-disagrees", "timesteps", lambda e: _sim(e, np.ones((3, 2, H.N_IN)))),
    ("simulate-backend", "backend", lambda e: _sim(e, backend="gpu")),
    ("simulate-backend-None", "backend", lambda e: _sim(e, backend=None)),
    ("simulate-device-event", "device", lambda e: _sim(e, device="cuda:7")),
    ("simulate-device-torch", "device", lambda e: _sim(e, backend="torch", device="tpu")),
    ("simulate-device-int", "device", lambda e: _sim(e, backend="torch", device=[0])),
    ("simulate-mode", "mode", lambda e: _sim(e, mode="fast")),
    ("simulate-mode-int-on-float", "metadata.arithmetic", lambda e: _sim(e, mode="int")),
    ("simulate-dialect", "dialect", lambda e: _sim(e, dialect="brian")),
    ("simulate-dialect-int", "dialect", lambda e: _sim(e, dialect=3)),
    ("simulate-dtype", "dtype", lambda e: _sim(e, dtype="int8")),
    ("simulate-dtype-half", "dtype", lambda e: _sim(e, dtype=torch.float16)),
    ("simulate-dt-str", "dt", lambda e: _sim(e, dt="1ms")),
    ("simulate-dt-negative", "dt", lambda e: _sim(e, dt=-1e-3)),
    ("simulate-dt-nan", "dt", lambda e: _sim(e, dt=float("nan"))),
    ("simulate-dt-inf", "dt", lambda e: _sim(e, dt=float("inf"))),
    ("simulate-dt-bool", "dt", lambda e: _sim(e, dt=True)),
    ("simulate-dialect-array", "dialect", lambda e: _sim(e, dialect=np.array([1, 2]))),
    ("simulate-reset", "reset", lambda e: _sim(e, reset="sometimes")),
    ("simulate-reset-array", "reset", lambda e: _sim(e, reset=np.array([1, 2]))),
    ("simulate-record-str", "record", lambda e: _sim(e, record="lif")),
    ("simulate-record-int", "record", lambda e: _sim(e, record=[5])),
    ("simulate-record-unknown", "record", lambda e: _sim(e, record=["nope"])),
    ("simulate-int-input-fraction", "input",
     lambda e: nirconv.simulate(e.dep, np.full((4, 2, H.N_IN), 0.5))),
    # the converted network's forward
    ("snn-T-0", "timesteps", lambda e: e.snn(X, timesteps=0)),
    ("snn-T-negative", "timesteps", lambda e: e.snn(X, timesteps=-1)),
    ("snn-T-float", "timesteps", lambda e: e.snn(X, timesteps=2.5)),
    ("snn-T-bool", "timesteps", lambda e: e.snn(X, timesteps=True)),
    ("snn-T-str", "timesteps", lambda e: e.snn(X, timesteps="4")),
    ("snn-T-missing", "timesteps", lambda e: e.snn(X)),
    ("snn-x-None", "input", lambda e: e.snn(None, timesteps=4)),
    ("snn-x-str", "input", lambda e: e.snn("abc", timesteps=4)),
    ("snn-x-object", "input", lambda e: e.snn(OBJECT, timesteps=4)),
    ("snn-x-complex", "input", lambda e: e.snn(torch.ones(2, H.N_IN, dtype=torch.cfloat), 4)),
    ("snn-x-nan", "input", lambda e: e.snn(torch.from_numpy(NAN), timesteps=4)),
    ("snn-x-wrong-shape", "input", lambda e: e.snn(np.ones((2, 5)), timesteps=4)),
    ("snn-x-empty-batch", "input", lambda e: e.snn(np.ones((0, H.N_IN)), timesteps=4)),
    ("snn-x-no-steps", "input", lambda e: e.snn(np.ones((0, 2, H.N_IN)))),
    ("snn-predict-T-0", "timesteps", lambda e: e.snn.predict(X, timesteps=0)),
    # convert
    ("convert-model-None", "model", lambda e: nirconv.convert(None, X)),
    ("convert-model-int", "model", lambda e: nirconv.convert(12345, X)),
    ("convert-model-path", "model", lambda e: nirconv.convert("model.pt2", X)),
    ("convert-calibration-None", "calibration", lambda e: _convert(e, None)),
    ("convert-calibration-str", "calibration", lambda e: _convert(e, "abc")),
    ("convert-calibration-int", "calibration", lambda e: _convert(e, 7)),
    ("convert-calibration-object", "calibration", lambda e: _convert(e, OBJECT)),
    ("convert-calibration-complex", "calibration", lambda e: _convert(e, COMPLEX)),
    ("convert-calibration-nan", "calibration", lambda e: _convert(e, NAN)),
    ("convert-calibration-1d", "calibration", lambda e: _convert(e, np.ones(H.N_IN))),
    ("convert-calibration-empty", "calibration", lambda e: _convert(e, np.ones((0, H.N_IN)))),
    ("convert-calibration-empty-loader", "calibration", lambda e: _convert(e, [])),
    ("convert-calibration-wrong-shape", "calibration", lambda e: _convert(e, np.ones((2, 5)))),
    ("convert-timesteps-0", "timesteps", lambda e: _convert(e, timesteps=0)),
    ("convert-timesteps-str", "timesteps", lambda e: _convert(e, timesteps="a")),
    ("convert-timesteps-float", "timesteps", lambda e: _convert(e, timesteps=2.5)),
    ("convert-timesteps-list", "timesteps", lambda e: _convert(e, timesteps=[4, -1])),
    ("convert-percentile-str", "percentile", lambda e: _convert(e, percentile="a")),
    ("convert-percentile-nan", "percentile", lambda e: _convert(e, percentile=float("nan"))),
    ("convert-percentile-0", "percentile", lambda e: _convert(e, percentile=0)),
    ("convert-scale-str", "scale", lambda e: _convert(e, normalize="scale", scale="a")),
    ("convert-scale-negative", "scale", lambda e: _convert(e, normalize="scale", scale=-1)),
    ("convert-normalize", "normalize", lambda e: _convert(e, normalize="best")),
    ("convert-normalize-int", "normalize", lambda e: _convert(e, normalize=3)),
    ("convert-readout", "readout", lambda e: _convert(e, readout="both")),
    ("convert-channel-wise", "channel_wise", lambda e: _convert(e, channel_wise="yes")),
    ("convert-v-init", "v_init", lambda e: _convert(e, v_init="half")),
    # to_nir
    ("to_nir-None", "snn", lambda e: nirconv.to_nir(None)),
    ("to_nir-graph", "snn", lambda e: nirconv.to_nir(e.g)),
    ("to_nir-int", "snn", lambda e: nirconv.to_nir(12345)),
    # export
    ("export-None", "model", lambda e: nirconv.export(None, target="generic")),
    ("export-int", "model", lambda e: nirconv.export(12345, target="generic")),
    ("export-target-None", "target", lambda e: nirconv.export(e.g, target=None)),
    ("export-target-int", "target", lambda e: nirconv.export(e.g, target=3)),
    ("export-target-unknown", "target", lambda e: nirconv.export(e.g, target="tpu")),
    ("export-model-no-calibration", "calibration", lambda e: nirconv.export(e.model)),
    ("export-calibration-object", "calibration",
     lambda e: nirconv.export(e.g, target="generic", calibration=OBJECT)),
    ("export-calibration-empty", "calibration",
     lambda e: nirconv.export(e.g, target="generic", calibration=np.ones((0, H.N_IN)))),
    ("export-model-calibration-empty", "calibration",
     lambda e: nirconv.export(e.model, target="generic", calibration=np.ones((0, H.N_IN)))),
    ("export-calibration-str", "calibration",
     lambda e: nirconv.export(e.g, target="generic", calibration="x.npy")),
    ("export-dialect", "dialect", lambda e: nirconv.export(e.g, target="generic", dialect="x")),
    ("export-dt", "dt", lambda e: nirconv.export(e.g, target="generic", dt=-1.0)),
    # check
    ("check-None", "graph", lambda e: nirconv.check(None)),
    ("check-int", "graph", lambda e: nirconv.check(12345)),
    ("check-model", "graph", lambda e: nirconv.check(e.model)),
    ("check-target-None", "target", lambda e: nirconv.check(e.g, target=None)),
    ("check-target-unknown", "target", lambda e: nirconv.check(e.g, target="tpu")),
    ("check-dt-str", "dt", lambda e: nirconv.check(e.g, target="generic", dt="x")),
    ("check-dialect", "dialect", lambda e: nirconv.check(e.g, target="generic", dialect="x")),
    ("check-calibration-object", "calibration",
     lambda e: nirconv.check(e.g, target="generic", calibration=OBJECT)),
    ("check-calibration-empty", "calibration",
     lambda e: nirconv.check(e.g, target="generic", calibration=np.ones((0, H.N_IN)))),
    # save / load
    ("save-graph-None", "graph", lambda e: nirconv.save(None, e.tmp / "a.nir")),
    ("save-graph-str", "graph", lambda e: nirconv.save("abc", e.tmp / "b.nir")),
    ("save-graph-snn", "graph", lambda e: nirconv.save(e.snn, e.tmp / "c.nir")),
    ("save-path-int", "path", lambda e: nirconv.save(e.g, 12345)),
    ("save-path-None", "path", lambda e: nirconv.save(e.g, None)),
    ("save-path-bytes", "path", lambda e: nirconv.save(e.g, b"d.nir")),
    ("save-path-empty", "path", lambda e: nirconv.save(e.g, "")),
    ("save-nir-version-number", "nir_version",
     lambda e: nirconv.save(e.g, e.tmp / "e.nir", nir_version=1.04)),
    ("save-nir-version-unknown", "nir_version",
     lambda e: nirconv.save(e.g, e.tmp / "f.nir", nir_version="0.1")),
    ("load-int", "path", lambda e: nirconv.load(12345)),
    ("load-None", "path", lambda e: nirconv.load(None)),
    ("load-graph", "path", lambda e: nirconv.load(e.g)),
    ("load-dialect-array", "dialect", lambda e: nirconv.load(e.tmp / "x.nir", dialect=[1])),
    ("load-dialect", "dialect", lambda e: nirconv.load(e.tmp / "x.nir", dialect="brian")),
    # audit
    ("audit-model-None", "model", lambda e: nirconv.audit(None, e.dep, X, LABELS)),
    ("audit-model-int", "model", lambda e: nirconv.audit(12345, e.dep, X, LABELS)),
    ("audit-deployed-None", "deployed", lambda e: nirconv.audit(e.model, None, X, LABELS)),
    ("audit-deployed-int", "deployed", lambda e: nirconv.audit(e.model, 12345, X, LABELS)),
    ("audit-snn-int", "snn", lambda e: _audit(e, snn=12345)),
    ("audit-data-None", "data", lambda e: _audit(e, None)),
    ("audit-data-object", "data", lambda e: _audit(e, OBJECT)),
    ("audit-data-complex", "data", lambda e: _audit(e, COMPLEX)),
    ("audit-data-nan", "data", lambda e: _audit(e, NAN)),
    ("audit-data-1d", "data", lambda e: _audit(e, np.ones(2))),
    ("audit-data-empty", "data", lambda e: _audit(e, np.ones((0, H.N_IN)), np.zeros(0, int))),
    ("audit-data-wrong-shape", "data", lambda e: _audit(e, np.ones((2, 5)))),
    ("audit-labels-None", "labels", lambda e: _audit(e, labels=None)),
    ("audit-labels-str", "labels", lambda e: _audit(e, labels=np.array(["a", "b"]))),
    ("audit-labels-fraction", "labels", lambda e: _audit(e, labels=np.array([0.5, 1.0]))),
    ("audit-labels-nan", "labels", lambda e: _audit(e, labels=np.array([np.nan, 1.0]))),
    ("audit-labels-bool", "labels", lambda e: _audit(e, labels=np.array([True, False]))),
    ("audit-labels-negative", "labels", lambda e: _audit(e, labels=np.array([0, -1]))),
    ("audit-labels-too-large", "labels", lambda e: _audit(e, labels=np.array([0, H.N_OUT]))),
    ("audit-labels-float-too-large", "labels", lambda e: _audit(e, labels=np.array([0.0, 9.0]))),
    ("audit-labels-length", "labels", lambda e: _audit(e, labels=np.array([0, 1, 2]))),
    ("audit-T-0", "timesteps", lambda e: _audit(e, timesteps=0)),
    ("audit-T-str", "timesteps", lambda e: _audit(e, timesteps="a")),
    ("audit-T-float", "timesteps", lambda e: _audit(e, timesteps=2.5)),
    ("audit-T-bool", "timesteps", lambda e: _audit(e, timesteps=True)),
    ("audit-tolerance-str", "tolerance", lambda e: _audit(e, tolerance="a")),
    ("audit-tolerance-negative", "tolerance", lambda e: _audit(e, tolerance=-1)),
    ("audit-tolerance-nan", "tolerance", lambda e: _audit(e, tolerance=float("nan"))),
    ("audit-batch-size-0", "batch_size", lambda e: _audit(e, batch_size=0)),
    ("audit-batch-size-str", "batch_size", lambda e: _audit(e, batch_size="a")),
    ("audit-backend", "backend", lambda e: _audit(e, backend="gpu")),
]


@pytest.mark.parametrize("field,call", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_value_raises_a_one_line_nirconv_error(env, field, call):
    with pytest.raises(nirconv.NirconvError) as excinfo:
        call(env)
    H.assert_api_error(excinfo, field)


def test_every_facade_function_and_the_forward_are_covered():
    covered = {case[0].split("-")[0] for case in CASES}
    assert covered == {"convert", "to_nir", "export", "check", "simulate", "audit", "save", "load",
                       "snn"}


def test_no_file_is_written_by_a_refused_save(env):
    for name in "abcdef":
        assert not (env.tmp / f"{name}.nir").exists()


def test_valid_values_still_work(env):
    """The checks refuse only what is wrong: numpy integers, bool spikes, torch dtypes, paths."""
    out = nirconv.simulate(env.g, X, timesteps=np.int64(4), dtype=torch.float64)
    assert out.shape == (4, 2, H.N_OUT) and out.dtype == torch.float64
    spikes = np.random.default_rng(0).random((5, 2, H.N_IN)) < 0.5
    as_bool = nirconv.simulate(env.g, spikes)
    np.testing.assert_array_equal(as_bool, nirconv.simulate(env.g, spikes.astype(np.float32)))
    assert env.snn(torch.from_numpy(X), timesteps=np.int32(3)).shape == (3, 2, H.N_OUT)
    path = nirconv.save(env.g, env.tmp / "ok.nir")
    assert set(nirconv.load(str(path)).nodes) == set(env.g.nodes)
