"""Targets as data: the built-in files load, every figure has a source, bad files name the field."""
from __future__ import annotations

import math
import tomllib

import pytest

from nirconv.errors import BadInput
from nirconv.targets import BUILTIN, FIELDS, INF, builtins, load, path_of


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_loads_and_every_figure_has_a_source(name):
    t = load(name)
    assert t.name == name and t.path == path_of(name)
    data = tomllib.loads(path_of(name).read_text())
    for section, table in data.items():
        if not isinstance(table, dict):
            continue
        for key, entry in table.items():
            assert entry.get("source"), f"{name}: {section}.{key} has no source"
            assert f"{section}.{key}" in t.sources
    assert set(t.values) == {f.key for f in FIELDS}  # defaults filled in


def test_figures_from_the_vendors():
    speck, xylo, loihi, s2 = (load(n) for n in ("speck", "xylo", "loihi2", "spinnaker2"))
    assert speck["cores.count"] == 9
    assert speck["cores.kernel_memory_words"] == [16384] * 3 + [32768] * 2 + [65536] * 2 + [16384] * 2
    assert speck["cores.neuron_memory_words"] == [65536] * 3 + [32768] * 2 + [16384] * 4
    assert (xylo["neurons.hidden_max"], xylo["neurons.output_max"], xylo["io.input_channels_max"],
            xylo["weights.fan_out_max"]) == (1000, 8, 16, 64)
    assert loihi["state.bits"] == 24 and loihi["neurons.compare"] == ">"
    assert loihi["neurons.reset_substitute"] == {"subtract": "zero"}
    assert s2["cores.count"] == 152 and s2["cores.neurons_per_core"] == 250
    assert load("generic")["cores.count"] == INF
    assert "cores.neurons_per_core" in loihi.assumptions  # derived figure, marked as ours


def test_summary_is_json_safe():
    import json

    rows = [t.summary() for t in builtins()]
    text = json.dumps(rows, allow_nan=False)
    assert all(k in rows[0] for k in ("name", "path", "cores", "neurons_per_core", "weight_bits"))
    assert '"inf"' in text


def _write(tmp_path, text, name="chip.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_a_user_file_by_path_works_like_a_builtin(tmp_path):
    text = path_of("loihi2").read_text().replace('name = "loihi2"', 'name = "tiny"').replace(
        "count = { value = 128,", "count = { value = 2,")
    t = load(str(_write(tmp_path, text)))
    assert t.name == "tiny" and t["cores.count"] == 2 and t.family == "loihi2"


@pytest.mark.parametrize("edit,field", [
    (lambda s: s.replace('bits = { value = 8, source = "nirconv: int8" }', ""), "weights.bits"),
    (lambda s: s.replace('bits = { value = 8, source = "nirconv: int8" }',
                         'bits = { value = "eight", source = "x" }'), "weights.bits"),
    (lambda s: s.replace('bits = { value = 8, source = "nirconv: int8" }',
                         'bits = { value = 8 }'), "weights.bits"),
    (lambda s: s.replace('[weights]', '[weights]\nbogus = { value = 1, source = "x" }'),
     "weights.bogus"),
    (lambda s: s.replace('value = "generic", source = "nirconv/equations',
                         'value = "tpu", source = "nirconv/equations'), "chip.family"),
    (lambda s: s.replace('count = { value = inf,', 'count = { value = -3,'), "cores.count"),
    (lambda s: s.replace('reset_modes = { value = ["subtract", "zero"]',
                         'reset_modes = { value = ["sometimes"]'), "neurons.reset_modes"),
])
def test_malformed_target_names_the_field(tmp_path, edit, field):
    p = _write(tmp_path, edit(path_of("generic").read_text()))
    with pytest.raises(BadInput) as e:
        load(str(p))
    assert e.value.field == field
    assert str(p) in e.value.one_line()


def test_per_core_list_must_match_the_core_count(tmp_path):
    text = path_of("speck").read_text().replace("count = { value = 9,", "count = { value = 8,")
    with pytest.raises(BadInput) as e:
        load(str(_write(tmp_path, text)))
    assert e.value.field == "cores.kernel_memory_words"


def test_not_toml_and_missing_file_and_unknown_name(tmp_path):
    with pytest.raises(BadInput, match="TOML"):
        load(str(_write(tmp_path, "name = [unclosed")))
    with pytest.raises(BadInput, match="not found"):
        load(str(tmp_path / "nope.toml"))
    with pytest.raises(BadInput) as e:
        load("tpu9000")
    assert e.value.field == "target"


def test_inf_and_lists_are_read():
    t = load("speck")
    assert t.per_core("cores.bias_memory_words") == [1024] * 9
    assert math.isinf(t["neurons.max_spikes_hidden"])
