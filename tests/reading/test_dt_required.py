"""A leaky graph without dt needs --dt or a dialect that fixes it (contract, "Time")."""
from __future__ import annotations

import nir
import numpy as np
import pytest

import nirconv
from nirconv.errors import BadInput


def _plain_lif_graph() -> nir.NIRGraph:  # what nir.write users produce: no metadata at all
    n = 4
    return nir.NIRGraph(
        nodes={"input": nir.Input(np.array([3])), "w": nir.Affine(np.ones((n, 3)), np.zeros(n)),
               "lif": nir.LIF(tau=np.full(n, 0.01), r=np.ones(n), v_leak=np.zeros(n),
                              v_threshold=np.ones(n)),
               "output": nir.Output(np.array([n]))},
        edges=[("input", "w"), ("w", "lif"), ("lif", "output")])


def test_auto_dialect_does_not_guess_dt(tmp_path):
    path = tmp_path / "plain.nir"
    nir.write(str(path), _plain_lif_graph())
    with pytest.raises(BadInput, match="dt"):
        nirconv.simulate(path, np.ones((2, 3)), timesteps=5)


def test_cli_names_dt_and_exits_2(tmp_path, capsys):
    from nirconv.cli import main
    path = tmp_path / "plain.nir"
    nir.write(str(path), _plain_lif_graph())
    np.save(tmp_path / "x.npy", np.ones((2, 3)))
    out = tmp_path / "y.npy"
    code = main(["simulate", str(path), "--input", str(tmp_path / "x.npy"), "--timesteps", "5",
                 "-o", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "'dt'" in err and len(err.splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("how", ["--dt", "--dialect"])
def test_dt_or_explicit_dialect_make_it_run(tmp_path, how):
    from nirconv.cli import main
    path = tmp_path / "plain.nir"
    nir.write(str(path), _plain_lif_graph())
    np.save(tmp_path / "x.npy", np.ones((2, 3)))
    extra = ["--dt", "0.001"] if how == "--dt" else ["--dialect", "norse"]
    out = tmp_path / "y.npy"
    assert main(["simulate", str(path), "--input", str(tmp_path / "x.npy"), "--timesteps", "5",
                 "-o", str(out), *extra]) == 0
    assert np.load(out).shape == (5, 2, 4)


def test_usage_errors_are_one_line(capsys):
    from nirconv.cli import main
    assert main(["simulate", "--no-such-option"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("nirconv: error:")


def test_float_mode_returns_float32_unless_asked(tmp_path):
    import torch
    g = _plain_lif_graph()
    g.metadata = {"dt": 1e-3}
    for backend in ("event", "torch"):
        assert nirconv.simulate(g, np.ones((2, 3)), timesteps=4, backend=backend).dtype == torch.float32
        out = nirconv.simulate(g, np.ones((2, 3)), timesteps=4, backend=backend, dtype=torch.float64)
        assert out.dtype == torch.float64
