"""Target TOML files are hostile input: every field has a type and a range (its FieldSpec), a bad
value is exit 2 with one line naming the field, and no file can crash the parser (issue 11)."""
from __future__ import annotations

import json
import math
import os
import tomllib
from pathlib import Path

import nir
import numpy as np
import pytest

import nirconv
from nirconv.cli import main
from nirconv.errors import BadInput
from nirconv.targets import BUILTIN, FIELDS, load, path_of
from nirconv.targets.schema import LAYER_TYPES, MAX_FILE_BYTES, NEURON_TYPES, markdown_table

DOCS = Path(__file__).resolve().parents[2] / "docs" / "equations" / "targets.md"


# ------------------------------------------------------------------ writing target files

def _literal(value) -> str:
    """A Python value as a TOML literal (enough for target files)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value == math.inf else
                                                "-inf" if value == -math.inf else repr(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_literal(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def _dump(data: dict) -> str:
    lines = [f"{k} = {_literal(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for section, table in data.items():
        if isinstance(table, dict):
            lines.append(f"[{section}]")
            lines += [f"{k} = {_literal(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def target_with(tmp_path, key: str, value, base: str = "generic") -> Path:
    """A copy of a built-in target whose field ``key`` holds ``value``."""
    data = tomllib.loads(path_of(base).read_text())
    section, name = key.split(".")
    data.setdefault(section, {})[name] = {"value": value, "source": "test"}
    path = tmp_path / f"{key}.toml"
    path.write_text(_dump(data))
    return path


# ------------------------------------------------------------------ one bad value per field

WRONG_TYPE = {"int": "8", "limit": "many", "limits": ["x"], "float": "fast", "bool": "yes",
              "str": 5, "choice": 5, "strs": "IF", "ints": ["a"], "table": 5}


def _out_of_range(spec):
    """Values of the right type that the field must refuse."""
    kind = spec.kind.partition(":")[0]
    if kind in ("int", "limit", "limits"):
        return [spec.lo - 1, spec.hi + 1]
    if kind == "float":
        return [spec.lo - 1.0 if spec.lo == 0 else spec.lo / 10, spec.hi * 2, math.nan]
    if kind == "ints":
        return [[spec.lo - 1]]
    if kind == "choice":
        return ["nonsense"]
    if kind == "strs":
        return [["Nonsense"]]
    if kind == "str":
        return [""]
    if kind == "table":
        return [{"subtract": 5}]
    return [1]  # bool


CASES = [(spec.key, WRONG_TYPE[spec.kind.partition(":")[0]]) for spec in FIELDS]
CASES += [(spec.key, value) for spec in FIELDS for value in _out_of_range(spec)]


@pytest.fixture(scope="module")
def graph_file(tmp_path_factory):
    nodes = {"input": nir.Input(input_type=np.array([3])),
             "fc": nir.Affine(weight=np.ones((2, 3)), bias=np.zeros(2)),
             "if": nir.IF(r=np.ones(2), v_threshold=np.ones(2)),
             "output": nir.Output(output_type=np.array([2]))}
    graph = nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "if"), ("if", "output")])
    path = tmp_path_factory.mktemp("graph") / "g.nir"
    nirconv.save(graph, path)
    return path


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("key,value", CASES, ids=[f"{k}={v!r}" for k, v in CASES])
def test_every_field_refuses_a_bad_value_with_exit_2(tmp_path, capsys, graph_file, key, value):
    path = target_with(tmp_path, key, value)
    assert main(["check", str(graph_file), "--target", str(path)]) == 2
    err = _one_error_line(capsys)
    assert f"field '{key}'" in err and str(path) in err


def test_every_number_has_a_range():
    for spec in FIELDS:
        if spec.kind.partition(":")[0] in ("int", "limit", "limits", "float", "ints"):
            assert spec.lo is not None and spec.hi is not None, spec.key
            assert spec.hi != math.inf, spec.key


def test_negative_input_bits_is_refused_by_export(tmp_path, capsys, graph_file):
    """The issue's example: io.input_bits = -3 exported and then crashed the simulator."""
    path = target_with(tmp_path, "io.input_bits", -3)
    out = tmp_path / "dep.nir"
    assert main(["export", str(graph_file), "--target", str(path), "-o", str(out)]) == 2
    err = _one_error_line(capsys)
    assert "field 'io.input_bits'" in err and "2..32" in err and "-3" in err
    assert not out.exists()


@pytest.mark.parametrize("key,value,words", [
    ("io.input_bits", 24, "at most state.bits"),  # generic: 16-bit state
    ("state.threshold_bits", 17, "at most state.bits"),
    ("state.bias_bits", 20, "at most state.bits"),
    ("weights.shift_max", 9, "more than state.bits"),  # 8-bit weights << 9 > 16 bits
    ("neurons.decay_bits", 5, "1..4"),  # generic decays are bit shifts
    ("state.headroom_bits", 15, "state.bits - 2"),
])
def test_fields_consistent_with_the_state_width(tmp_path, key, value, words):
    with pytest.raises(BadInput) as e:
        load(str(target_with(tmp_path, key, value)))
    assert e.value.field == key and words in e.value.message


@pytest.mark.parametrize("base,key,value,words", [
    ("loihi2", "neurons.decay_bits", 8, "fraction12 decays are 12 bits"),
    ("loihi2", "state.threshold_bits", 18, "at most 17"),  # LoihiCubaLIF: vth unsigned 17-bit
    ("loihi2", "state.bits", 32, "at most 24"),
    ("loihi2", "chip.family", "xylo", "stores decays as bitshift"),  # xylo equations, no shifts
    ("xylo", "neurons.decay_encoding", "fraction12", "stores decays as bitshift"),
])
def test_what_the_family_equations_fix(tmp_path, base, key, value, words):
    with pytest.raises(BadInput) as e:
        load(str(target_with(tmp_path, key, value, base=base)))
    assert words in e.value.message and e.value.field in (key, "neurons.decay_encoding")


def test_the_range_bounds_themselves_load(tmp_path):
    """Inclusive bounds: a few fields at their extremes (where the other fields allow it)."""
    for key, value in (("cores.count", 1), ("io.max_input_events", 65535),
                       ("time.dt_default_s", 1e-9), ("time.dt_default_s", 3600.0),
                       ("neurons.max_spikes_hidden", 2 ** 31 - 1), ("weights.bits", 2),
                       ("layers.recurrent_weights_max", 0)):
        assert load(str(target_with(tmp_path, key, value)))[key] == value


# ------------------------------------------------------------------ files that attack the parser

@pytest.mark.parametrize("nesting", [
    "a = " + "[" * 5000 + "]" * 5000,
    "a = " + "{ b = " * 5000 + "1" + " }" * 5000,
], ids=["arrays", "inline-tables"])
def test_deeply_nested_toml_is_bad_input(tmp_path, capsys, graph_file, nesting):
    path = tmp_path / "deep.toml"
    path.write_text(nesting + "\n")
    assert main(["check", str(graph_file), "--target", str(path)]) == 2
    err = _one_error_line(capsys)
    assert "nested too deeply" in err and str(path) in err


def test_a_large_file_is_refused_before_parsing(tmp_path):
    path = tmp_path / "big.toml"
    path.write_text(path_of("generic").read_text() + "#" * (MAX_FILE_BYTES + 1) + "\n")
    with pytest.raises(BadInput, match="larger than"):
        load(str(path))


def test_huge_integers_and_long_values_give_short_messages(tmp_path):
    with pytest.raises(BadInput) as e:
        load(str(target_with(tmp_path, "cores.layers_per_core", 10 ** 30)))
    assert e.value.field == "cores.layers_per_core"
    with pytest.raises(BadInput) as e:
        load(str(target_with(tmp_path, "weights.bits", list(range(100_000)))))
    assert len(e.value.one_line()) < 300


def test_a_fifo_or_folder_as_target_is_refused_without_blocking(tmp_path, capsys, graph_file):
    fifo = tmp_path / "chip.toml"
    os.mkfifo(fifo)
    assert main(["check", str(graph_file), "--target", str(fifo)]) == 2  # returns: no open()
    assert "not a regular file" in _one_error_line(capsys)
    folder = tmp_path / "dir.toml"
    folder.mkdir()
    assert main(["check", str(graph_file), "--target", str(folder)]) == 2
    assert "not a regular file" in _one_error_line(capsys)


def test_binary_junk_is_bad_input(tmp_path):
    path = tmp_path / "junk.toml"
    path.write_bytes(b"\xff\xfe\x00garbage" * 10)
    with pytest.raises(BadInput, match="not a text"):
        load(str(path))


# ------------------------------------------------------------------ the schema as data

def test_docs_table_is_the_schema():
    assert markdown_table() in DOCS.read_text(), (
        "docs/equations/targets.md: paste nirconv.targets.schema.markdown_table()")


def test_name_lists_match_what_the_lowering_builds():
    from nirconv.reading.ops import BUILDERS

    neurons = {t.__name__ for t in BUILDERS} & set(NEURON_TYPES)
    assert neurons == set(NEURON_TYPES)
    others = {t.__name__ for t in BUILDERS} - set(NEURON_TYPES) - {"Output"}
    assert others <= set(LAYER_TYPES)


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_targets_are_within_their_ranges(name):
    load(str(path_of(name)))  # by path: the same checks as a user's file
