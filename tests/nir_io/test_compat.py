"""save(..., nir_version="1.0.4") writes what nir 1.0.4 reads; load restores what was moved.

The field table (`FIELDS_1_0_4`) is nir 1.0.4's own; the live check runs nir 1.0.4's reader in a
separate interpreter when one is available (``NIRCONV_NIR104_PYTHON`` or the Sinabs / Rockpool
venvs of scripts/golden/), and is skipped otherwise.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest

import nirconv
from nirconv.errors import Unsupported
from nirconv.nir_io.compat import FIELDS_1_0_4


def full_graph():
    rng = np.random.default_rng(3)
    return nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([1, 6, 6]), metadata={"note": "pixels"}),
        "conv": nir.Conv2d(input_shape=np.array([6, 6]), weight=rng.normal(size=(2, 1, 3, 3)),
                           stride=1, padding=1, dilation=1, groups=1, bias=np.zeros(2),
                           metadata={"shift": 1}),
        "if": nir.IF(r=np.ones((2, 6, 6)), v_threshold=np.ones((2, 6, 6)),
                     v_reset=np.full((2, 6, 6), -0.25), metadata={"reset": "zero"}),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([2, 3, 3])}, start_dim=0, end_dim=-1),
        "lin": nir.Linear(weight=rng.normal(size=(4, 18)), metadata={"weight_bits": 8}),
        "cuba": nir.CubaLIF(tau_syn=np.full(4, 0.005), tau_mem=np.full(4, 0.01), r=np.ones(4),
                            v_leak=np.zeros(4), v_threshold=np.ones(4), w_in=np.ones(4)),
        "output": nir.Output(output_type=np.array([4])),
    }, edges=[("input", "conv"), ("conv", "if"), ("if", "pool"), ("pool", "flat"),
              ("flat", "lin"), ("lin", "cuba"), ("cuba", "output")],
        metadata={"dt": 1e-3, "nirconv_version": "0.1.0"})


def test_1_0_4_file_holds_only_1_0_4_fields(tmp_path):
    path = nirconv.save(full_graph(), tmp_path / "g.nir", nir_version="1.0.4")
    with h5py.File(path) as f:
        assert f["version"][()] == b"1.0.4"
        nodes = f["node"]["nodes"]
        for name, group in nodes.items():
            kind = group["type"][()].decode()
            allowed = FIELDS_1_0_4[kind] | {"type", "shape"}
            assert set(group.keys()) <= allowed, (name, set(group.keys()) - allowed)


def test_round_trip_restores_moved_fields(tmp_path):
    graph = full_graph()
    path = nirconv.save(graph, tmp_path / "g.nir", nir_version="1.0.4")
    back = nirconv.load(path)
    np.testing.assert_array_equal(back.nodes["if"].v_reset, graph.nodes["if"].v_reset)
    assert back.nodes["conv"].metadata == {"shift": 1}
    assert back.nodes["lin"].metadata == {"weight_bits": 8}
    assert back.nodes["input"].metadata == {"note": "pixels"}
    assert back.nodes["if"].metadata == {"reset": "zero"}
    assert "node_metadata" not in back.metadata and back.metadata["dt"] == 1e-3
    assert graph.nodes["if"].metadata == {"reset": "zero"}  # the input graph is not mutated


def test_cubali_is_refused_for_1_0_4(tmp_path):
    graph = nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([2])),
        "li": nir.CubaLI(tau_syn=np.ones(2), tau_mem=np.ones(2), r=np.ones(2), v_leak=np.zeros(2)),
        "output": nir.Output(output_type=np.array([2]))},
        edges=[("input", "li"), ("li", "output")])
    with pytest.raises(Unsupported) as e:
        nirconv.save(graph, tmp_path / "g.nir", nir_version="1.0.4")
    assert "node 'li'" in str(e.value) and not (tmp_path / "g.nir").exists()


def test_unknown_nir_version_is_refused(tmp_path):
    with pytest.raises(Unsupported):
        nirconv.save(full_graph(), tmp_path / "g.nir", nir_version="0.9")
    assert not list(tmp_path.iterdir())


def _nir104_python():
    candidates = [os.environ.get("NIRCONV_NIR104_PYTHON", ""), "/work/venvs/sinabs/bin/python",
                  "/work/venvs/rockpool/bin/python"]
    for exe in candidates:
        if exe and Path(exe).exists():
            out = subprocess.run([exe, "-c", "import nir, os; print(nir.version, flush=True); "
                                  "os._exit(0)"], capture_output=True, text=True, timeout=120)
            if out.stdout.strip() == "1.0.4":
                return exe
    return None


def test_nir_1_0_4_reads_the_file(tmp_path):
    exe = _nir104_python()
    if exe is None:
        pytest.skip("no interpreter with nir==1.0.4 (set NIRCONV_NIR104_PYTHON)")
    path = nirconv.save(full_graph(), tmp_path / "g.nir", nir_version="1.0.4")
    code = ("import nir, os, sys; g = nir.read(sys.argv[1]); "
            "print(sorted(type(n).__name__ for n in g.nodes.values()), flush=True); os._exit(0)")
    out = subprocess.run([exe, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "CubaLIF" in out.stdout and "Conv2d" in out.stdout
