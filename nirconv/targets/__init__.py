"""Chip targets as data: one TOML file per chip in this folder, loaded into a frozen `Target`.

    target = load("speck")            # a built-in name
    target = load("my_chip.toml")     # or a path to a file of the same format

Adding a chip is adding a file here (or passing your own file by path). See `schema.py` for the
format and docs/equations/targets.md for the figures and their sources.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..errors import BadInput
from .schema import FIELDS, INF, SPEC, Target, from_dict, load_file

FOLDER = Path(__file__).resolve().parent
BUILTIN = ("speck", "xylo", "loihi2", "spinnaker2", "generic")


def path_of(name: str) -> Path:
    return FOLDER / f"{name}.toml"


@lru_cache(maxsize=None)
def _builtin(name: str) -> Target:
    return load_file(path_of(name))


def load(name_or_path) -> Target:
    """A `Target` from a built-in name or a path to a TOML file (errors name file and field)."""
    if isinstance(name_or_path, Target):
        return name_or_path
    text = str(name_or_path)
    if text in BUILTIN:
        return _builtin(text)
    p = Path(text)
    if p.suffix == ".toml" or p.exists() or "/" in text:
        return load_file(p)
    raise BadInput(f"unknown target {text!r}: choose one of {', '.join(BUILTIN)} or give the "
                   "path of a target file (.toml)", field="target")


def builtins() -> list[Target]:
    return [_builtin(n) for n in BUILTIN]


__all__ = ["BUILTIN", "FIELDS", "INF", "SPEC", "Target", "builtins", "from_dict", "load",
           "load_file", "path_of"]
