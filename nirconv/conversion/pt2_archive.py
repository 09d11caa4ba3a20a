"""A ``.pt2`` checked before torch sees it: the first of two defences (docs/model_files.md).

``torch.export.load`` unpickles entries that ``*_weights_config.json`` / ``*_constants_config.json``
mark ``use_pickle`` (with ``weights_only=False``), unpickles custom and opaque objects, retries the
sample inputs with ``weights_only=False`` when the restricted unpickler refuses them, loads compiled
AOTInductor libraries, and turns strings of ``models/model.json`` into code. So we open the zip
ourselves (never extracting anything), read each entry's declared size before reading it, parse the
JSON configs, and refuse every entry or string torch would run. What passes is rebuilt, in memory,
into a new archive holding only the entries we checked, with the sample inputs (a pickle, not
needed to convert a model) left empty and the user's ``extra/`` files left out: torch reads exactly
what we read.
"""
from __future__ import annotations

import io
import json
import posixpath
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from . import pt2_text

MAX_ARCHIVE_BYTES = 1 << 30  # all entries together, uncompressed; chip-sized models are far smaller
MAX_JSON_BYTES = 64 << 20    # one JSON entry
MAX_SMALL_BYTES = 4096       # archive_format, archive_version, byteorder, .data/*
MAX_ENTRIES = 100_000
MODEL = "model"              # torch.export.save writes the one program as models/model.json

WEIGHTS_DIR = "data/weights/"
CONSTANTS_DIR = "data/constants/"
PROGRAM = f"models/{MODEL}.json"
WEIGHTS_CONFIG = f"{WEIGHTS_DIR}{MODEL}_weights_config.json"
CONSTANTS_CONFIG = f"{CONSTANTS_DIR}{MODEL}_constants_config.json"
SAMPLE_INPUTS = f"data/sample_inputs/{MODEL}.pt"
EXTRA_DIR = "extra/"
SMALL_ENTRIES = ("archive_format", "archive_version", "byteorder", ".data/version",
                 ".data/serialization_id")

# Entries that would run code if torch read them, and why (the first match names the entry).
_DANGEROUS = (
    ("data/aotinductor/", "compiled AOTInductor code, which torch would load and run"),
    ("data/executorch/", "an ExecuTorch program, not a torch.export program"),
    ("data/mtia", "compiled device code, which torch would load"),
    ("xl_model_weights/", "weights stored outside the torch.export format"),
    (f"{WEIGHTS_DIR}{MODEL}.pt", "weights in the legacy format, which torch unpickles"),
    (f"{CONSTANTS_DIR}{MODEL}.pt", "constants in the legacy format, which torch unpickles"),
    ("serialized_", "an archive in the pre-2.8 format, which torch unpickles; re-save it with "
                    "torch.export.save"),
)


@dataclass(frozen=True)
class _Archive:
    """The zip as we read it: its root folder and its entries by name below the root."""

    path: Path
    zf: zipfile.ZipFile
    root: str
    entries: dict

    def where(self, name: str) -> str:
        return f"archive entry {self.root}/{name}"

    def read(self, name: str, limit: int) -> bytes:
        info = self.entries[name]
        if info.file_size > limit:
            raise BadInput(f"declares {info.file_size} bytes, more than the {limit} allowed",
                           file=self.path, field=self.where(name))
        try:
            with self.zf.open(info) as f:
                data = f.read(limit + 1)
        except Exception as e:  # CRC errors, bad compression, encrypted entries
            raise BadInput(f"cannot be read ({type(e).__name__}: {_first_line(e)})",
                           file=self.path, field=self.where(name)) from None
        if len(data) > limit:
            raise BadInput(f"holds more than the {limit} bytes allowed", file=self.path,
                           field=self.where(name))
        return data

    def json(self, name: str):
        if name not in self.entries:
            raise BadInput("is missing (not a torch.export.save archive)", file=self.path,
                           field=self.where(name))
        try:
            return json.loads(self.read(name, MAX_JSON_BYTES))
        except (ValueError, RecursionError) as e:
            raise BadInput(f"is not valid JSON ({type(e).__name__})", file=self.path,
                           field=self.where(name)) from None


def checked_archive(path: Path) -> io.BytesIO:
    """The ``.pt2`` at ``path`` rebuilt from checked entries only, ready for ``torch.export.load``.

    Raises `BadInput` naming the archive entry (and what is wrong with it) for anything torch would
    unpickle or run, and for zips that are empty, truncated, oversized or not torch.export archives.
    """
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise BadInput(f"not a zip archive, or a truncated one ({_first_line(e)})", file=path,
                       field="model") from None
    except (OSError, ValueError, EOFError, NotImplementedError) as e:
        raise BadInput(f"cannot open the archive ({type(e).__name__}: {_first_line(e)})",
                       file=path, field="model") from None
    with zf:
        archive = _open(path, zf)
        _refuse_code_entries(archive)
        _check_format(archive)
        weights = _checked_payload_config(archive, WEIGHTS_CONFIG, WEIGHTS_DIR, "weight_")
        constants = _checked_payload_config(archive, CONSTANTS_CONFIG, CONSTANTS_DIR, "tensor_")
        program = archive.json(PROGRAM)
        check_program(program, path, archive.where(PROGRAM))
        _check_no_other_entries(archive, weights | constants)
        return _rebuilt(archive, program, weights, constants)


def _open(path: Path, zf: zipfile.ZipFile) -> _Archive:
    infos = zf.infolist()
    if not infos:
        raise BadInput("an empty zip archive, not a torch.export program", file=path,
                       field="model")
    if len(infos) > MAX_ENTRIES:
        raise BadInput(f"{len(infos)} archive entries, more than the {MAX_ENTRIES} allowed",
                       file=path, field="model")
    total = sum(info.file_size for info in infos)
    if total > MAX_ARCHIVE_BYTES:
        raise BadInput(f"its entries declare {total} bytes, more than the {MAX_ARCHIVE_BYTES} "
                       "allowed", file=path, field="model")
    roots = {info.filename.split("/", 1)[0] for info in infos}
    entries = {}
    for info in infos:
        _check_entry_name(path, info.filename)
        if len(roots) != 1 or "/" not in info.filename:
            raise BadInput("entries must all lie in one folder, as torch.export.save writes them",
                           file=path, field=f"archive entry {info.filename}")
        name = info.filename.split("/", 1)[1]
        if name in entries:
            raise BadInput("appears twice in the archive", file=path,
                           field=f"archive entry {info.filename}")
        if info.flag_bits & 0x1:
            raise BadInput("is encrypted", file=path, field=f"archive entry {info.filename}")
        entries[name] = info
    return _Archive(path, zf, roots.pop(), entries)


def _check_entry_name(path: Path, filename: str) -> None:
    parts = filename.split("/")
    if (filename.startswith("/") or "\\" in filename or "\x00" in filename or ":" in parts[0]
            or any(part in ("..", ".") for part in parts)
            or posixpath.normpath(filename) != filename.rstrip("/")):
        raise BadInput("is not a plain relative path inside the archive", file=path,
                       field=f"archive entry {filename!r}")


def _refuse_code_entries(archive: _Archive) -> None:
    for name, reason in _DANGEROUS:
        for entry in archive.entries:
            if entry.startswith(name):
                raise BadInput(f"refused: {reason}", file=archive.path, field=archive.where(entry))


def _check_format(archive: _Archive) -> None:
    """``archive_format`` is ``pt2`` and ``archive_version`` the one this torch reads."""
    if "archive_format" not in archive.entries:
        raise BadInput("not a torch.export program (no archive_format entry; a state_dict "
                       "needs --arch module:callable)", file=archive.path, field="model")
    expected = {"archive_format": b"pt2", "archive_version": _archive_version()}
    for name, value in expected.items():
        if name not in archive.entries or archive.read(name, MAX_SMALL_BYTES).strip() != value:
            raise BadInput(f"is not {value.decode()!r} (not a torch.export archive this torch "
                           "reads)", file=archive.path, field=archive.where(name))
    for name in SMALL_ENTRIES:
        if name in archive.entries:
            archive.read(name, MAX_SMALL_BYTES)


def _archive_version() -> bytes:
    from torch.export.pt2_archive.constants import ARCHIVE_VERSION_VALUE
    return ARCHIVE_VERSION_VALUE.encode()


def _checked_payload_config(archive: _Archive, config_name: str, folder: str,
                            prefix: str) -> set[str]:
    """The entries a weights/constants config refers to; refuses pickled ones, by entry."""
    config = archive.json(config_name)
    where = archive.where(config_name)
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise BadInput("has no 'config' mapping", file=archive.path, field=where)
    used = set()
    for fqn, meta in config["config"].items():
        if not isinstance(meta, dict) or not isinstance(meta.get("path_name"), str):
            raise BadInput(f"entry {fqn!r} has no path_name", file=archive.path, field=where)
        entry = folder + meta["path_name"]
        if meta.get("use_pickle") is not False:
            raise BadInput(f"refused: {fqn!r} is stored as a pickle (use_pickle), which torch "
                           "would unpickle", file=archive.path, field=archive.where(entry))
        number = meta["path_name"][len(prefix):]
        if not meta["path_name"].startswith(prefix) or not number.isdigit():
            raise BadInput(f"refused: {fqn!r} is not a plain tensor (custom or opaque objects "
                           "are unpickled)", file=archive.path, field=archive.where(entry))
        problem = pt2_text.fqn_problem(fqn)
        if problem or not isinstance(meta.get("tensor_meta"), dict):
            raise BadInput(problem or f"{fqn!r} has no tensor_meta", file=archive.path,
                           field=where)
        if entry not in archive.entries:
            raise BadInput(f"is missing (named by {config_name})", file=archive.path,
                           field=archive.where(entry))
        check_strings(meta["tensor_meta"], archive.path, where)
        used.add(entry)
    return used


def _check_no_other_entries(archive: _Archive, payloads: set[str]) -> None:
    known = set(SMALL_ENTRIES) | {PROGRAM, WEIGHTS_CONFIG, CONSTANTS_CONFIG, SAMPLE_INPUTS}
    for name in archive.entries:
        if name.startswith(EXTRA_DIR) or name.endswith("/"):
            continue  # the user's extra files (plain text) and folders: nirconv reads neither
        if name not in known and name not in payloads:
            raise BadInput("refused: an entry torch.export.save does not write for a model "
                           "(only the program, its configs and the tensors they name are read)",
                           file=archive.path, field=archive.where(name))


def _rebuilt(archive: _Archive, program, weights: set[str], constants: set[str]) -> io.BytesIO:
    out = io.BytesIO()
    root = "archive"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as new:
        for name in SMALL_ENTRIES:
            if name in archive.entries:
                new.writestr(f"{root}/{name}", archive.read(name, MAX_SMALL_BYTES))
        for name in sorted(weights | constants):
            new.writestr(f"{root}/{name}", archive.read(name, MAX_ARCHIVE_BYTES))
        for name in (WEIGHTS_CONFIG, CONSTANTS_CONFIG):
            new.writestr(f"{root}/{name}", json.dumps(archive.json(name)))
        new.writestr(f"{root}/{PROGRAM}", json.dumps(program))
        new.writestr(f"{root}/{SAMPLE_INPUTS}", b"")  # a pickle: never read, not needed
    out.seek(0)
    return out


# --- models/model.json -------------------------------------------------------------------------

_NAME_KEYS = frozenset({"name", "as_name", "user_input_name"})
_FQN_KEYS = frozenset({"parameter_name", "buffer_name", "tensor_constant_name", "fqn"})
_VALUE_TABLES = frozenset({"tensor_values", "sym_int_values", "sym_bool_values",
                           "sym_float_values"})
_REFUSED_KEYS = {
    "custom_obj_values": "custom objects, which torch unpickles",
    "as_custom_obj": "a custom object, which torch unpickles",
    "custom_obj": "a custom object, which torch unpickles",
    "class_fqn": "a custom object, which torch unpickles",
    "custom_obj_name": "a custom object, which torch unpickles",
}


def check_program(program, path, where: str) -> None:
    """Every string of ``models/model.json`` that torch turns into code has a safe form."""
    if not isinstance(program, dict) or not isinstance(program.get("graph_module"), dict):
        raise BadInput("has no graph_module (not a torch.export program)", file=path, field=where)
    for guard in program.get("guards_code") or []:
        problem = pt2_text.guard_problem(guard)
        if problem:
            raise BadInput(f"refused guards_code: {problem}", file=path, field=where)
    for key in program.get("range_constraints") or {}:
        _refuse(pt2_text.sympy_problem(key), path, where, "range_constraints")
    check_strings(program["graph_module"], path, where)


def check_strings(tree, path, where: str) -> None:
    """Walk a parsed JSON tree (iteratively: crafted nesting cannot exhaust the stack)."""
    stack = [(tree, "")]
    while stack:
        node, key = stack.pop()
        if isinstance(node, list):
            if key == "forward_arg_names":
                for name in node:
                    _refuse(pt2_text.identifier_problem(name), path, where, key)
            stack.extend((item, key) for item in node)
        elif isinstance(node, dict):
            _check_object(node, path, where)
            stack.extend((value, k) for k, value in node.items())


def _check_object(obj: dict, path, where: str) -> None:
    for key, value in obj.items():
        if key in _REFUSED_KEYS and value:
            raise BadInput(f"refused: holds {_REFUSED_KEYS[key]}", file=path, field=where)
        if key in _NAME_KEYS and value is not None:
            _refuse(pt2_text.identifier_problem(value), path, where, key)
        elif key in _FQN_KEYS:
            _refuse(pt2_text.fqn_problem(value), path, where, key)
        elif key == "expr_str":
            _refuse(pt2_text.sympy_problem(value), path, where, key)
        elif key == "as_operator":
            _refuse(pt2_text.op_target_problem(value), path, where, key)
        elif key in _VALUE_TABLES and isinstance(value, dict):
            for name in value:
                _refuse(pt2_text.identifier_problem(name), path, where, key)
        elif key == "nn_module_stack" and isinstance(value, str):
            _refuse(module_stack_problem(value), path, where, key)
    if "target" in obj and "inputs" in obj:  # a graph node
        _refuse(pt2_text.op_target_problem(obj["target"]), path, where, "target")


def module_stack_problem(text: str) -> str | None:
    """``key,path,type;...``: the path of each module is written into code by unflatten."""
    for item in text.split(";"):
        parts = _split_outside_brackets(item)
        if len(parts) != 3:
            return f"{item[:60]!r} is not 'key,path,type'"
        problem = pt2_text.fqn_problem(parts[1])
        if problem:
            return problem
    return None


def _split_outside_brackets(item: str) -> list[str]:
    """Split at commas outside () and [], as torch's deserializer does (``metadata_split``)."""
    parts, start, depth = [], 0, 0
    for i, char in enumerate(item):
        if char in "[(":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(item[start:i])
            start = i + 1
    return parts + [item[start:]]


def _refuse(problem: str | None, path, where: str, key: str) -> None:
    if problem:
        raise BadInput(f"refused {key}: {problem}", file=path, field=where)


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return " ".join(text[0].split())[:200] if text else ""
