"""Hostile ``.pt2`` files: nothing in them is unpickled or run (docs/model_files.md).

Every payload is a real ``torch.export.save`` archive rewritten the way an attacker would: a
pickle whose ``__reduce__`` creates a marker file where torch unpickles, or code where torch
``eval``s / ``exec``s strings. Each test asserts the marker never appears, the exit code, exactly
one stderr line, and that no output file was created or an existing one left byte-identical.
"""
from __future__ import annotations

import io
import json
import pickle
import struct
import zipfile

import numpy as np
import pytest
import torch
from torch import nn

from nirconv.cli import main
from nirconv.conversion import load_guard, pt2_archive
from nirconv.conversion.model_io import load_model
from nirconv.errors import BadInput

MARKER = "PWNED"


class Payload:
    """Unpickling this creates the marker file: it must never happen."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _torch_pickle(marker) -> bytes:
    buffer = io.BytesIO()
    torch.save(Payload(marker), buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The entries of an honest ``torch.export.save`` archive of a small model, and its inputs."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).eval()
    x = torch.rand(16, 6)
    folder = tmp_path_factory.mktemp("honest")
    path = folder / "m.pt2"
    torch.export.save(torch.export.export(model, (x[:2],)), path)
    with zipfile.ZipFile(path) as zf:
        entries = {info.filename: zf.read(info) for info in zf.infolist()}
    return entries, x.numpy(), model


@pytest.fixture()
def work(tmp_path, monkeypatch, saved):
    monkeypatch.chdir(tmp_path)
    entries, x, _ = saved
    np.save(tmp_path / "calib.npy", x)
    np.save(tmp_path / "labels.npy", np.zeros(len(x), dtype=np.int64))
    (tmp_path / "dep.nir").write_bytes(b"")  # never read: the model fails first
    return tmp_path, dict(entries)


def _write(path, entries, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def _json(entries, suffix):
    name = next(n for n in entries if n.endswith(suffix))
    return name, json.loads(entries[name])


def _edit_program(entries, edit):
    name, program = _json(entries, "models/model.json")
    edit(program)
    entries[name] = json.dumps(program).encode()
    return entries


# --- crafted archives: each returns (entries, words the error must contain) --------------------

def weights_use_pickle(entries, marker):
    name, config = _json(entries, "weights/model_weights_config.json")
    meta = next(iter(config["config"].values()))
    meta["use_pickle"] = True
    entries[name] = json.dumps(config).encode()
    payload = name.rsplit("/", 1)[0] + "/" + meta["path_name"]
    entries[payload] = _torch_pickle(marker)
    return entries, ["archive entry", f"weights/{meta['path_name']}", "use_pickle"]


def constant_use_pickle(entries, marker):
    name, config = _json(entries, "constants/model_constants_config.json")
    meta = dict(next(iter(_json(entries, "model_weights_config.json")[1]["config"].values())))
    config["config"]["evil"] = {**meta, "path_name": "tensor_0", "use_pickle": True}
    entries[name] = json.dumps(config).encode()
    entries[name.rsplit("/", 1)[0] + "/tensor_0"] = _torch_pickle(marker)
    return entries, ["archive entry", "constants/tensor_0", "use_pickle"]


def opaque_constant(entries, marker):
    name, config = _json(entries, "constants/model_constants_config.json")
    config["config"]["evil"] = {"path_name": "opaque_obj_0", "is_param": False,
                                "use_pickle": True, "tensor_meta": None}
    entries[name] = json.dumps(config).encode()
    entries[name.rsplit("/", 1)[0] + "/opaque_obj_0"] = pickle.dumps(Payload(marker))
    return entries, ["archive entry", "constants/opaque_obj_0"]


def custom_object_constant(entries, marker):
    name, config = _json(entries, "constants/model_constants_config.json")
    config["config"]["evil"] = {"path_name": "custom_obj_0", "is_param": False,
                                "use_pickle": True, "tensor_meta": None}
    entries[name] = json.dumps(config).encode()
    entries[name.rsplit("/", 1)[0] + "/custom_obj_0"] = pickle.dumps(Payload(marker))
    return entries, ["archive entry", "constants/custom_obj_0"]


def legacy_weights(entries, marker):
    root = next(iter(entries)).split("/", 1)[0]
    entries[f"{root}/data/weights/model.pt"] = _torch_pickle(marker)
    return entries, ["archive entry", "data/weights/model.pt", "unpickles"]


def compiled_code(entries, marker):
    root = next(iter(entries)).split("/", 1)[0]
    entries[f"{root}/data/aotinductor/model/model.so"] = b"\x7fELF"
    return entries, ["archive entry", "aotinductor", "run"]


def sympy_expression(entries, marker):
    def edit(program):
        values = program["graph_module"]["graph"]["tensor_values"]
        first = next(iter(values.values()))
        first["sizes"][0] = {"as_expr": {"expr_str": f"__import__('os').open('{marker}', 65)",
                                         "hint": {"as_int": 8}}}
    return _edit_program(entries, edit), ["archive entry", "models/model.json", "expr_str"]


def name_injection(entries, marker):
    """A placeholder name that FX would write as a default argument of generated code."""
    evil = f"x=open('{marker}', 'w')"
    name, _ = _json(entries, "models/model.json")
    text = entries[name].decode()
    user_input = json.loads(text)["graph_module"]["graph"]["inputs"][-1]["as_tensor"]["name"]
    text = text.replace('{"name": "%s"}' % user_input, '{"name": %s}' % json.dumps(evil))
    text = text.replace('"%s": {"dtype"' % user_input, '%s: {"dtype"' % json.dumps(evil))
    entries[name] = text.encode()
    return entries, ["archive entry", "models/model.json", "identifier"]


def module_path_injection(entries, marker):
    """A parameter path with a quote: FX writes each part as ``getattr(self, "<part>")``."""
    evil = f'0") and open("{marker.name}","w") and ("'  # no '.': torch splits paths at dots
    name, config = _json(entries, "model_weights_config.json")
    fqn = next(iter(config["config"]))
    config["config"][evil + fqn[1:]] = config["config"].pop(fqn)
    entries[name] = json.dumps(config).encode()

    def edit(program):
        for spec in program["graph_module"]["signature"]["input_specs"]:
            if spec.get("parameter", {}).get("parameter_name") == fqn:
                spec["parameter"]["parameter_name"] = evil + fqn[1:]
    return _edit_program(entries, edit), ["archive entry", "module path"]


def guards_code(entries, marker):
    def edit(program):
        program["guards_code"] = [f"open('{marker}', 'w') is not None"]
    return _edit_program(entries, edit), ["archive entry", "models/model.json", "guards_code"]


def dotdot_entry(entries, marker):
    root = next(iter(entries)).split("/", 1)[0]
    entries[f"{root}/../{MARKER}"] = b""
    return entries, ["archive entry", ".."]


def not_an_export_archive(entries, marker):
    return {"notes/readme.txt": b"hello"}, ["not a torch.export program"]


CRAFTED = [weights_use_pickle, constant_use_pickle, opaque_constant, custom_object_constant,
           legacy_weights, compiled_code, sympy_expression, name_injection,
           module_path_injection, guards_code, dotdot_entry, not_an_export_archive]


def _empty_zip(path):
    return _write(path, {}), ["empty zip"]


def _truncated_zip(path, entries):
    whole = _write(path, entries).read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    return path, ["zip"]


def _zip_bomb(path, entries):
    """models/model.json declares 100 MB in the central directory (it holds far fewer)."""
    data = bytearray(_write(path, entries).read_bytes())
    name = next(n for n in entries if n.endswith("models/model.json")).encode()
    at = data.index(b"PK\x01\x02")  # the central directory: what zipfile trusts
    while True:
        at = data.index(b"PK\x01\x02", at)
        length = struct.unpack_from("<H", data, at + 28)[0]
        if bytes(data[at + 46: at + 46 + length]) == name:
            break
        at += 4
    struct.pack_into("<I", data, at + 24, 100_000_000)
    path.write_bytes(bytes(data))
    return path, ["archive entry", "models/model.json", "declares 100000000 bytes"]


# --- what must hold --------------------------------------------------------------------------

def _assert_one_line_exit_2(code, capsys, words):
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, (word, err)


def _cli(command, model, out):
    if command == "convert":
        return ["convert", str(model), "--calibration", "calib.npy", "-o", str(out)]
    if command == "export":
        return ["export", str(model), "--target", "generic", "--calibration", "calib.npy",
                "-o", str(out)]
    return ["audit", str(model), "dep.nir", "--data", "calib.npy", "--labels", "labels.npy",
            "--no-progress", "--json", str(out)]


@pytest.mark.parametrize("craft", CRAFTED, ids=lambda f: f.__name__)
def test_api_refuses_crafted_pt2(work, craft):
    folder, entries = work
    marker = folder / MARKER
    crafted, words = craft(entries, marker)
    model = _write(folder / "evil.pt2", crafted)
    with pytest.raises(BadInput) as error:
        load_model(model)
    text = str(error.value)
    assert len(text.splitlines()) == 1
    for word in words:
        assert word in text, (word, text)
    assert not marker.exists()


@pytest.mark.parametrize("command", ["convert", "export", "audit"])
@pytest.mark.parametrize("craft", CRAFTED, ids=lambda f: f.__name__)
def test_cli_refuses_crafted_pt2(work, capsys, command, craft):
    folder, entries = work
    marker = folder / MARKER
    crafted, words = craft(entries, marker)
    model = _write(folder / "evil.pt2", crafted)
    out = folder / ("out.json" if command == "audit" else "out.nir")
    _assert_one_line_exit_2(main(_cli(command, model, out)), capsys, words)
    assert not marker.exists()
    assert not out.exists()
    assert sorted(p.name for p in folder.iterdir()) == [
        "calib.npy", "dep.nir", "evil.pt2", "labels.npy"]


@pytest.mark.parametrize("command", ["convert", "export", "audit"])
def test_cli_leaves_an_existing_output_unchanged(work, capsys, command):
    folder, entries = work
    marker = folder / MARKER
    crafted, words = weights_use_pickle(entries, marker)
    model = _write(folder / "evil.pt2", crafted)
    out = folder / ("out.json" if command == "audit" else "out.nir")
    out.write_bytes(b"the user's earlier result\x00\x01")
    _assert_one_line_exit_2(main(_cli(command, model, out)), capsys, words)
    assert not marker.exists()
    assert out.read_bytes() == b"the user's earlier result\x00\x01"


@pytest.mark.parametrize("kind", ["empty", "truncated", "bomb", "not_zip", "deflated_bomb"])
@pytest.mark.parametrize("command", ["convert", "export", "audit"])
def test_broken_zips_are_one_line(work, capsys, command, kind):
    folder, entries = work
    path = folder / "evil.pt2"
    if kind == "empty":
        path, words = _empty_zip(path)
    elif kind == "truncated":
        path, words = _truncated_zip(path, entries)
    elif kind == "bomb":
        path, words = _zip_bomb(path, entries)
    elif kind == "deflated_bomb":  # 80 MB of zeros compress to about 80 kB
        name = next(n for n in entries if n.endswith("models/model.json"))
        path = _write(path, {**entries, name: bytes(80_000_000)}, zipfile.ZIP_DEFLATED)
        words = ["archive entry", "models/model.json", "allowed"]
    else:
        path.write_bytes(b"just some text, not a zip")
        words = ["evil.pt2", "zip"]
    out = folder / ("out.json" if command == "audit" else "out.nir")
    _assert_one_line_exit_2(main(_cli(command, path, out)), capsys, words)
    assert not out.exists()


def test_a_program_torch_cannot_read_is_one_line_with_its_cause(work, capsys):
    """torch logs the real error with a traceback, then raises a generic one: we show the cause."""
    folder, entries = work
    name, _ = _json(entries, "models/model.json")
    entries[name] = entries[name].replace(b"torch.ops.aten.relu.default",
                                          b"torch.ops.aten.no_such_op.default")
    model = _write(folder / "bad.pt2", entries)
    out = folder / "out.nir"
    code = main(["convert", str(model), "--calibration", "calib.npy", "-o", str(out)])
    _assert_one_line_exit_2(code, capsys, ["bad.pt2", "no_such_op"])
    assert not out.exists()


def test_sample_inputs_are_skipped_not_unpickled(work, capsys):
    """torch retries sample inputs with weights_only=False; we never read them, the model loads."""
    folder, entries = work
    marker = folder / MARKER
    name = next(n for n in entries if n.endswith("sample_inputs/model.pt"))
    entries[name] = _torch_pickle(marker)
    model = _write(folder / "m.pt2", entries)
    out = folder / "snn.nir"
    code = main(["convert", str(model), "--calibration", "calib.npy", "--timesteps", "4",
                 "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    assert out.exists()
    assert not marker.exists()


def test_honest_archive_loads_with_its_weights(work, saved):
    folder, entries = work
    program = load_model(_write(folder / "m.pt2", entries))
    assert isinstance(program, torch.export.ExportedProgram)
    x = torch.from_numpy(saved[1][:2])  # exported with a static batch of 2
    assert torch.equal(program.module()(x), saved[2](x))


def test_dynamic_batch_and_nested_modules_load(tmp_path):
    """Shape symbols, constants, buffers, nested module paths and extra files pass the check."""

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4)])
            self.heads = nn.ModuleDict({"left-eye": nn.Linear(4, 4)})  # no identifier: quoted
            self.register_buffer("gain", torch.ones(4))
            self.offset = torch.full((4,), 0.5)  # a lifted tensor constant

        def forward(self, x):
            for layer in self.layers:
                x = torch.relu(layer(x))
            return self.heads["left-eye"](x) * self.gain + self.offset

    model = nn.Sequential(Block(), nn.Linear(4, 2)).eval()
    batch = torch.export.Dim("batch", min=1, max=1024)
    program = torch.export.export(model, (torch.rand(3, 4),), dynamic_shapes=({0: batch},))
    torch.export.save(program, tmp_path / "nested.pt2", extra_files={"notes.txt": "v1"})
    loaded = load_model(tmp_path / "nested.pt2")
    x = torch.rand(5, 4)
    assert torch.allclose(loaded.module()(x), model(x))
    assert torch.allclose(torch.export.unflatten(loaded)(x), model(x))


# --- the second defence alone: the inspection bypassed ---------------------------------------

@pytest.mark.parametrize("craft", [weights_use_pickle, constant_use_pickle, opaque_constant,
                                   custom_object_constant, sympy_expression, name_injection],
                         ids=lambda f: f.__name__)
def test_guard_alone_stops_what_the_inspection_would(work, monkeypatch, craft):
    folder, entries = work
    marker = folder / MARKER
    crafted, _ = craft(entries, marker)
    model = _write(folder / "evil.pt2", crafted)
    monkeypatch.setattr(pt2_archive, "checked_archive", lambda path: io.BytesIO(path.read_bytes()))
    with pytest.raises(BadInput, match="refused"):
        load_model(model)
    assert not marker.exists()


def test_guard_alone_refuses_pickled_sample_inputs(work, monkeypatch):
    folder, entries = work
    marker = folder / MARKER
    name = next(n for n in entries if n.endswith("sample_inputs/model.pt"))
    entries[name] = _torch_pickle(marker)
    model = _write(folder / "evil.pt2", entries)
    monkeypatch.setattr(pt2_archive, "checked_archive", lambda path: io.BytesIO(path.read_bytes()))
    with pytest.raises(BadInput, match="weights_only=False"):
        load_model(model)
    assert not marker.exists()


def test_loaded_program_check_refuses_guards_the_inspection_missed(work, monkeypatch):
    folder, entries = work
    marker = folder / MARKER
    crafted, _ = guards_code(entries, marker)
    model = _write(folder / "evil.pt2", crafted)
    monkeypatch.setattr(pt2_archive, "checked_archive", lambda path: io.BytesIO(path.read_bytes()))
    with pytest.raises(BadInput, match="guards_code"):
        load_model(model)
    assert not marker.exists()


def test_guard_restores_everything_it_patched():
    import logging

    import sympy
    import torch.fx.graph_module as fx_graph_module

    export_logger = logging.getLogger("torch.export")
    logging_before = (list(export_logger.handlers), export_logger.propagate)

    before = (torch.load, pickle.loads, pickle.load, pickle.Unpickler, torch._C._pickle_load_obj,
              sympy.sympify, fx_graph_module._exec_with_source)
    with pytest.raises(load_guard.Refused):
        with load_guard.no_code_from_files():
            assert torch.load is not before[0]
            pickle.loads(pickle.dumps(1))
    after = (torch.load, pickle.loads, pickle.load, pickle.Unpickler, torch._C._pickle_load_obj,
             sympy.sympify, fx_graph_module._exec_with_source)
    assert after == before
    assert (export_logger.handlers, export_logger.propagate) == logging_before
    assert pickle.loads(pickle.dumps([1, 2])) == [1, 2]
