"""Helpers for the hostile-`.nir` tests: small valid graphs to start from, h5py edits that make them
hostile, and the CLI check every hostile file must pass (exit 2, one stderr line, no output file).

Loaded by the test files of this folder with importlib (there is no conftest.py here).
"""
from __future__ import annotations

from pathlib import Path

import h5py
import nir
import numpy as np

from nirconv.cli import main

WIDTH = 4


def small_graph(metadata=None) -> nir.NIRGraph:
    """Input(4) -> Affine 'fc' (3x4) -> IF 'lif' -> Output(3), dt = 1 ms."""
    rng = np.random.default_rng(0)
    return nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([WIDTH])),
        "fc": nir.Affine(weight=rng.normal(size=(3, WIDTH)), bias=np.zeros(3)),
        "lif": nir.IF(r=np.ones(3), v_threshold=np.ones(3)),
        "output": nir.Output(output_type=np.array([3]))},
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")],
        metadata={"dt": 1e-3} if metadata is None else metadata)


def write(path: Path, graph: nir.NIRGraph) -> Path:
    """The graph as a peer would write it: nir.write, no nirconv in between."""
    nir.write(str(path), graph)
    return path


def small_file(path: Path, metadata=None) -> Path:
    return write(path, small_graph(metadata))


def replace_dataset(path: Path, name: str, make) -> Path:
    """Delete dataset ``name`` (a path in the file) and let ``make(group, leaf)`` put something
    else there."""
    with h5py.File(path, "r+") as f:
        parent, _, leaf = name.rpartition("/")
        del f[name]
        make(f[parent], leaf)
    return path


def static_input(tmp_path: Path, shape=(2, WIDTH)) -> Path:
    x = tmp_path / "x.npy"
    np.save(x, np.ones(shape, dtype=np.float32))
    return x


def refused(args, capsys, *parts) -> str:
    """Run the CLI in-process: exit 2, exactly one stderr line naming every one of ``parts``,
    no traceback. Returns the line."""
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (code, err)
    assert len(lines) == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    for part in parts:
        assert part in lines[0], (part, lines[0])
    return lines[0]


def accepted(args, capsys) -> str:
    """Run the CLI in-process: exit 0 and nothing on stderr. Returns stdout."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert code == 0, (code, err)
    assert "Traceback" not in err and "internal error" not in err, err
    return out


def commands(path: Path, tmp_path: Path, x_shape=(2, WIDTH)) -> dict:
    """The commands that read a .nir, with an output path each: {name: (args, output or None)}."""
    x = static_input(tmp_path, x_shape)
    out_nir, out_npy = tmp_path / "out.nir", tmp_path / "out.npy"
    return {
        "inspect": (["inspect", path], None),
        "check": (["check", path, "--target", "generic"], None),
        "export": (["export", path, "--target", "generic", "-o", out_nir], out_nir),
        "simulate": (["simulate", path, "--input", x, "--timesteps", 3, "-o", out_npy], out_npy),
    }
