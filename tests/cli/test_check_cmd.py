"""`nirconv check GRAPH.nir --target NAME [--json]`: exit 0 fits, 1 does not, 2 bad input."""
from __future__ import annotations

import json

import pytest

import nirconv
from nirconv.cli import main
from nirconv.targets import path_of
from ..fixtures.paper import braille_rnn, nmnist_cnn


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("check")
    nirconv.save(nmnist_cnn(), d / "cnn.nir")
    nirconv.save(braille_rnn(), d / "rnn.nir")
    return d


def test_fits_exit_0_with_contract_json(files, capsys):
    assert main(["check", str(files / "rnn.nir"), "--target", "xylo", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fits"] is True and out["target"] == "xylo" and out["violations"] == []
    assert {"cores_used", "cores_available", "neurons", "synapses"} <= set(out["resources"])


def test_does_not_fit_exit_1_lists_every_violation(files, capsys):
    assert main(["check", str(files / "cnn.nir"), "--target", "xylo", "--json"]) == 1
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["fits"] is False and len(out["violations"]) >= 5
    assert all({"node", "rule", "value", "limit"} <= set(v) for v in out["violations"])
    assert "does not fit xylo" in captured.err and len(captured.err.strip().splitlines()) == 1


def test_table_output(files, capsys):
    assert main(["check", str(files / "cnn.nir"), "--target", "speck"]) == 0
    assert "fits" in capsys.readouterr().out


def test_unknown_target_exit_2(files, capsys):
    assert main(["check", str(files / "rnn.nir"), "--target", "tpu"]) == 2
    assert "target" in capsys.readouterr().err


def test_malformed_target_file_exit_2_names_the_field(files, tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(path_of("xylo").read_text().replace("value = 1000,", "value = -1000,"))
    assert main(["check", str(files / "rnn.nir"), "--target", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "neurons.hidden_max" in err and str(bad) in err


def test_custom_target_file_by_path(files, tmp_path, capsys):
    small = tmp_path / "small.toml"
    small.write_text(path_of("xylo").read_text().replace('name = "xylo"', 'name = "xylo-small"')
                     .replace("value = 1000,", "value = 20,"))
    assert main(["check", str(files / "rnn.nir"), "--target", str(small), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["target"] == "xylo-small"
    assert [v["rule"] for v in out["violations"]] == ["hidden_neurons"]


def test_missing_or_corrupt_graph_exit_2(tmp_path, capsys):
    assert main(["check", str(tmp_path / "none.nir"), "--target", "xylo"]) == 2
    junk = tmp_path / "junk.nir"
    junk.write_bytes(b"not hdf5")
    assert main(["check", str(junk), "--target", "xylo"]) == 2
    assert "junk.nir" in capsys.readouterr().err


def test_missing_dt_exit_2(tmp_path, capsys):
    g = braille_rnn()
    g.metadata = {"dialect": "nirconv"}
    nirconv.save(g, tmp_path / "nodt.nir")
    assert main(["check", str(tmp_path / "nodt.nir"), "--target", "xylo"]) == 2
    assert "dt" in capsys.readouterr().err
    assert main(["check", str(tmp_path / "nodt.nir"), "--target", "xylo", "--dt", "1e-4"]) == 0
