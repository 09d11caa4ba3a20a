"""Exit 3 means a bug, never a verdict on a file: `.nir` files mutated at random (fields deleted or
replaced by strings, NaN, empty or oddly shaped arrays, other node types; bytes flipped) make every
reading command exit 0, 1 or 2, with one line on stderr when they fail. Seeds are fixed."""
from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import h5py
import numpy as np
import pytest

from nirconv.cli import main

_spec = importlib.util.spec_from_file_location("security_nir_hostile",
                                               Path(__file__).with_name("nir_hostile.py"))
H = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(H)

VALUES = [lambda: "abc", lambda: np.array([]), lambda: np.float64("nan"), lambda: -1.0,
          lambda: 0, lambda: 10**12, lambda: np.zeros((2, 2, 2)), lambda: np.int8(1),
          lambda: np.array([b"a", b"b"]), lambda: np.array([b"\xff\xfe"]), lambda: b"\xff",
          lambda: np.ones((1,)), lambda: np.full(3, np.inf),
          lambda: np.array([[1, 2]]), lambda: np.array([-5, 3]), lambda: "NIRGraph",
          lambda: "Affine", lambda: "IF", lambda: np.zeros((0, 4)), lambda: np.ones((4, 3)),
          lambda: 1e-3]


def mutate(path: Path, rng: random.Random) -> None:
    with h5py.File(path, "r+") as f:
        names: list = []
        f["node"].visit(names.append)
        for _ in range(rng.randint(1, 3)):
            name = "node/" + rng.choice(names)
            if name not in f:
                continue
            is_group = isinstance(f[name], h5py.Group)
            if rng.random() < 0.2:
                del f[name]
            elif is_group and rng.random() < 0.3:
                f[f"{name}/metadata/dt"] = rng.choice(VALUES)()
            elif not is_group or rng.random() < 0.3:
                del f[name]
                f[name] = rng.choice(VALUES)()


def outcome(args, capsys) -> tuple[int, str]:
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    return code, err


@pytest.mark.parametrize("seed", range(40))
def test_mutated_graph_never_exits_3(tmp_path, capsys, seed):
    path = H.small_file(tmp_path / "g.nir")
    mutate(path, random.Random(seed))
    x = H.static_input(tmp_path)
    for args in (["inspect", path], ["check", path, "--target", "generic"],
                 ["simulate", path, "--input", x, "--timesteps", 2, "-o", tmp_path / "o.npy"]):
        code, err = outcome(args, capsys)
        assert code in (0, 1, 2), (args[0], err)
        assert "internal error" not in err and "Traceback" not in err, err
        if code == 2:
            assert len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("seed", range(10))
def test_flipped_bytes_never_exit_3(tmp_path, capsys, seed):
    path = H.small_file(tmp_path / "g.nir")
    data = bytearray(path.read_bytes())
    rng = random.Random(seed)
    for _ in range(rng.randint(1, 30)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    path.write_bytes(bytes(data))
    code, err = outcome(["check", path, "--target", "generic"], capsys)
    assert code in (0, 1, 2) and "internal error" not in err, err
