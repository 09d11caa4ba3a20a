"""`nirconv targets [--json]`."""
from __future__ import annotations

import json
from pathlib import Path

from nirconv.cli import main


def test_targets_json(capsys):
    assert main(["targets", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["speck", "xylo", "loihi2", "spinnaker2", "generic"]
    for r in rows:
        assert {"name", "path", "cores", "neurons_per_core", "weight_bits"} <= set(r)
        assert Path(r["path"]).is_file() and r["path"].endswith(".toml")


def test_targets_table(capsys):
    assert main(["targets"]) == 0
    out = capsys.readouterr().out
    assert "speck" in out and "loihi2" in out
