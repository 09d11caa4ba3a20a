"""The built-in targets are the TOML files found in the targets folder: adding a chip is adding a
file (nirconv/targets/__init__.py)."""
from __future__ import annotations

import json
import shutil

import pytest

import nirconv.targets as targets
from nirconv.cli import main
from nirconv.errors import BadInput

TODAY = ["speck", "xylo", "loihi2", "spinnaker2", "generic"]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A copy of the built-in folder that `nirconv.targets` reads instead of its own."""
    copy = tmp_path / "targets"
    copy.mkdir()
    for f in targets.FOLDER.glob("*.toml"):
        shutil.copy(f, copy / f.name)
    monkeypatch.setattr(targets, "FOLDER", copy)
    return copy


def _chip(folder, name, order_line):
    text = (targets.FOLDER / "loihi2.toml").read_text()
    text = text.replace('name = "loihi2"', f'name = "{name}"')
    lines = [line for line in text.splitlines() if not line.startswith("order =")]
    if order_line:
        lines.insert(lines.index(f'name = "{name}"') + 1, order_line)
    (folder / f"{name}.toml").write_text("\n".join(lines) + "\n")


def test_the_builtins_are_listed_by_order_then_name():
    assert list(targets.names()) == TODAY == list(targets.BUILTIN)
    assert [t.name for t in targets.builtins()] == TODAY


def test_a_file_added_to_the_folder_is_a_builtin_target(folder, capsys):
    _chip(folder, "tiny", "order = 25")
    assert list(targets.names()) == ["speck", "xylo", "tiny", "loihi2", "spinnaker2", "generic"]
    assert targets.load("tiny").path == folder / "tiny.toml"
    assert main(["targets", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(targets.names())
    assert rows[2]["path"] == str(folder / "tiny.toml")


def test_a_file_without_order_comes_last(folder):
    _chip(folder, "aaa", None)
    assert list(targets.names()) == TODAY + ["aaa"]


@pytest.mark.parametrize("value", ['"first"', "-1", "true", "1.5"])
def test_a_bad_order_names_the_file_and_field(folder, value):
    _chip(folder, "tiny", f"order = {value}")
    with pytest.raises(BadInput) as e:
        targets.load(str(folder / "tiny.toml"))
    assert e.value.field == "order" and "tiny.toml" in e.value.one_line()
