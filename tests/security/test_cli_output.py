"""User strings reach the terminal literally (issue 11): node names, metadata values, target names
and file names are never parsed as rich markup (``[/oops]`` used to be exit 3) and never carry
control characters into the output (escaped), and an error stays one line."""
from __future__ import annotations

import tomllib

import nir
import numpy as np
import pytest

import nirconv
from nirconv.cli import main
from nirconv.cli.common import plain
from nirconv.targets import path_of

NODE = "[bold]x"  # HDF5 group names cannot hold '/', so the closing tags go into metadata
OTHER = "[red]n :smile:"
META = {"note": "[/oops]", "tag": "[bold]x[/bold]", "esc": "a\x1b[31mred\rb"}


def hostile_graph() -> nir.NIRGraph:
    nodes = {"input": nir.Input(input_type=np.array([3])),
             NODE: nir.Affine(weight=np.ones((2, 3)), bias=np.zeros(2), metadata=dict(META)),
             OTHER: nir.IF(r=np.ones(2), v_threshold=np.ones(2),
                           metadata={"reset": "subtract", **META}),
             "output": nir.Output(output_type=np.array([2]))}
    edges = [("input", NODE), (NODE, OTHER), (OTHER, "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": 1e-3, **META})


@pytest.fixture
def graph_file(tmp_path):
    path = tmp_path / "g.nir"
    nirconv.save(hostile_graph(), path)
    return path


def _assert_literal(out: str) -> None:
    for text in (NODE, OTHER, "[/oops]", "[bold]x[/bold]"):
        assert text in out, text
    assert "\x1b" not in out and "\r" not in out  # ESC and CR are shown escaped
    assert "a\\x1b[31mred\\rb" in out


def test_inspect_prints_names_and_metadata_literally(graph_file, capsys):
    assert main(["inspect", str(graph_file)]) == 0
    _assert_literal(capsys.readouterr().out)


def _target(tmp_path, name, **values):
    data = tomllib.loads(path_of("generic").read_text())
    text = path_of("generic").read_text().replace('name = "generic"', f"name = {name!r}")
    for key, value in values.items():
        section, field = key.split(".")
        text = text.replace(f"[{section}]\n",
                            f'[{section}]\n{field} = {{ value = {value}, source = "t" }}\n', 1)
    assert data["name"] == "generic"
    path = tmp_path / "chip.toml"
    path.write_text(text)
    return path


def test_check_prints_the_target_name_literally(graph_file, tmp_path, capsys):
    target = _target(tmp_path, "[/oops] chip")
    assert main(["check", str(graph_file), "--target", str(target)]) == 0
    assert "target [/oops] chip: fits" in capsys.readouterr().out


def test_check_violations_show_node_names_literally(graph_file, tmp_path, capsys):
    target = _target(tmp_path, "[bold]x[/bold]", **{"weights.fan_in_max": 1})
    assert main(["check", str(graph_file), "--target", str(target)]) == 1
    captured = capsys.readouterr()
    assert NODE in captured.out and "[bold]x[/bold]" in captured.out
    assert len(captured.err.splitlines()) == 1


def test_simulate_table_shows_node_names_literally(graph_file, tmp_path, capsys):
    x = tmp_path / "x.npy"
    np.save(x, np.ones((2, 3), np.float32))
    out = tmp_path / "[bold]o.npy"  # a file name cannot hold the "/" of a closing tag
    assert main(["simulate", str(graph_file), "--input", str(x), "--timesteps", "3", "-o",
                 str(out)]) == 0
    text = capsys.readouterr().out
    assert OTHER in text and "[bold]o.npy" in text


def test_an_error_naming_a_hostile_file_is_one_escaped_line(tmp_path, capsys):
    bad = tmp_path / "evil\n\x1b]0;title\x07[oops].nir"
    bad.write_bytes(b"not hdf5")
    assert main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("nirconv: error: ")
    assert "\x1b" not in err and "\x07" not in err and "evil\\n\\x1b]0;title\\x07[oops]" in err


def test_click_usage_errors_are_escaped_too(capsys):
    assert main(["export", "g.nir", "--target", "generic", "--format", "x\x1b[2J"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "\x1b" not in err and "x\\x1b[2J" in err


@pytest.mark.parametrize("text,shown", [("a\nb", "a\\nb"), ("\x1b[31m", "\\x1b[31m"),
                                        ("tab\there", "tab\\there"), ("\u202eevil", "\\u202eevil"),
                                        ("[/oops] ünïcode ok", "[/oops] ünïcode ok")])
def test_plain_escapes_control_characters_only(text, shown):
    assert plain(text) == shown
