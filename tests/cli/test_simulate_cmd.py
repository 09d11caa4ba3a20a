"""`nirconv simulate` through `nirconv.cli.main`: outputs, JSON, and one-line errors (exit 2)."""
from __future__ import annotations

import json
import shutil

import h5py
import nir
import numpy as np
import pytest

import nirconv
from nirconv.cli import main


def small_graph(dt=1e-3, n_in=3, threshold=None, leaky=True):
    threshold = np.full(4, 0.5) if threshold is None else threshold
    rng = np.random.default_rng(0)
    neuron = (nir.LIF(tau=np.full(4, 5e-3), r=np.ones(4), v_leak=np.zeros(4),
                      v_threshold=threshold, metadata={"reset": "subtract"}) if leaky else
              nir.IF(r=np.ones(4), v_threshold=threshold, metadata={"reset": "subtract"}))
    nodes = {"input": nir.Input(input_type=np.array([n_in])),
             "fc": nir.Affine(weight=rng.normal(2, 1, (4, n_in)), bias=np.zeros(4)),
             "lif": neuron, "output": nir.Output(output_type=np.array([4]))}
    meta = {"nirconv_version": nirconv.__version__}
    if dt is not None:
        meta["dt"] = dt
    return nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")],
                        metadata=meta)


@pytest.fixture
def files(tmp_path):
    graph = tmp_path / "g.nir"
    nirconv.save(small_graph(), graph)
    x = tmp_path / "x.npy"
    np.save(x, (np.random.default_rng(1).random((20, 2, 3)) < 0.5).astype(np.float32))
    return tmp_path, graph, x


def simulate(*args):
    return main(["simulate", *map(str, args)])


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    return err


def test_writes_output_and_json(files, capsys):
    tmp, graph, x = files
    out = tmp / "out.npy"
    assert simulate(graph, "--input", x, "-o", out, "--json") == 0
    stats = json.loads(capsys.readouterr().out)
    assert {"backend", "device", "timesteps", "batch", "spikes_per_node", "synops",
            "seconds"} <= set(stats)
    assert stats["backend"] == "event" and stats["timesteps"] == 20 and stats["batch"] == 2
    y = np.load(out, allow_pickle=False)
    assert y.shape == (20, 2, 4)
    want = nirconv.simulate(graph, np.load(x), full=True)
    np.testing.assert_array_equal(y, want.output)
    assert stats["spikes_per_node"] == {"lif": int(y.sum())} and stats["synops"] == want.synops


def test_static_input_needs_timesteps(files, capsys):
    tmp, graph, _ = files
    static = tmp / "s.npy"
    np.save(static, np.ones((5, 3)))
    assert simulate(graph, "--input", static, "-o", tmp / "o.npy", "--timesteps", 7) == 0
    assert np.load(tmp / "o.npy").shape == (7, 5, 4)
    capsys.readouterr()
    assert simulate(graph, "--input", static, "-o", tmp / "p.npy") == 2
    assert "timesteps" in one_error_line(capsys)
    assert not (tmp / "p.npy").exists()


def test_reset_and_dt_options_change_the_run(files, capsys):
    tmp, graph, x = files
    runs = {}
    for opts in ([], ["--reset", "zero"], ["--dt", "2e-3"]):
        out = tmp / f"o{len(runs)}.npy"
        assert simulate(graph, "--input", x, "-o", out, *opts) == 0
        runs[tuple(opts)] = np.load(out)
    assert not np.array_equal(runs[()], runs[("--reset", "zero")])
    assert not np.array_equal(runs[()], runs[("--dt", "2e-3")])


def test_table_without_json(files, capsys):
    tmp, graph, x = files
    assert simulate(graph, "--input", x, "-o", tmp / "o.npy") == 0
    out = capsys.readouterr().out
    assert "lif" in out and "SynOps" in out


# ---------------------------------------------------------------- bad input: exit 2, one line

def _expect_error(capsys, code, args, *words, tmp=None):
    out = tmp / "never.npy"
    assert simulate(*args, "-o", out) == code
    line = one_error_line(capsys)
    for w in words:
        assert w in line, line
    assert not out.exists()
    return line


def test_corrupt_hdf5(files, capsys):
    tmp, _, x = files
    bad = tmp / "corrupt.nir"
    bad.write_bytes(b"not hdf5 at all" * 10)
    _expect_error(capsys, 2, [bad, "--input", x], str(bad), tmp=tmp)


def test_missing_graph_file(files, capsys):
    tmp, _, x = files
    _expect_error(capsys, 2, [tmp / "nope.nir", "--input", x], "nope.nir", tmp=tmp)


def test_unknown_node_type(files, capsys):
    tmp, graph, x = files
    bad = tmp / "unknown.nir"
    shutil.copy(graph, bad)
    with h5py.File(bad, "r+") as f:
        del f["node/nodes/lif/type"]
        f["node/nodes/lif/type"] = b"Quux"
    _expect_error(capsys, 2, [bad, "--input", x], str(bad), "lif", "type", tmp=tmp)


def test_shape_mismatch_along_an_edge(files, capsys):
    tmp, graph, x = files
    bad = tmp / "mismatch.nir"
    shutil.copy(graph, bad)
    with h5py.File(bad, "r+") as f:
        del f["node/nodes/fc/weight"]
        f["node/nodes/fc/weight"] = np.ones((4, 5))
    _expect_error(capsys, 2, [bad, "--input", x], str(bad), "fc", "mismatch", tmp=tmp)


def test_nan_parameter(files, capsys):
    tmp, _, x = files
    bad = tmp / "nan.nir"
    nirconv.save(small_graph(threshold=np.array([0.5, np.nan, 0.5, 0.5])), bad)
    _expect_error(capsys, 2, [bad, "--input", x], str(bad), "lif", "v_threshold", tmp=tmp)


def test_input_of_the_wrong_shape(files, capsys):
    tmp, graph, _ = files
    x = tmp / "wrong.npy"
    np.save(x, np.zeros((20, 2, 5)))
    _expect_error(capsys, 2, [graph, "--input", x], str(x), "input", "(20, 2, 5)", tmp=tmp)


def test_missing_dt_for_leaky_neurons(files, capsys):
    tmp, _, x = files
    bad = tmp / "nodt.nir"
    nirconv.save(small_graph(dt=None), bad)
    _expect_error(capsys, 2, [bad, "--input", x], str(bad), "lif", "'dt'", "--dt", tmp=tmp)
    assert simulate(bad, "--input", x, "-o", tmp / "ok.npy", "--dt", "1e-3") == 0


def test_if_graph_needs_no_dt(files, capsys):
    tmp, _, x = files
    g = tmp / "if.nir"
    nirconv.save(small_graph(dt=None, leaky=False), g)
    assert simulate(g, "--input", x, "-o", tmp / "ok.npy") == 0


def test_integer_mode_on_a_float_graph_is_refused(files, capsys):
    tmp, graph, x = files
    _expect_error(capsys, 2, [graph, "--input", x, "--mode", "int"], "arithmetic", tmp=tmp)


def test_pickled_input_is_refused(files, capsys):
    tmp, graph, _ = files
    x = tmp / "obj.npy"
    np.save(x, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    _expect_error(capsys, 2, [graph, "--input", x], str(x), tmp=tmp)


def test_output_folder_must_exist(files, capsys):
    tmp, graph, x = files
    assert simulate(graph, "--input", x, "-o", tmp / "no" / "out.npy") == 2
    assert "output folder" in one_error_line(capsys)
