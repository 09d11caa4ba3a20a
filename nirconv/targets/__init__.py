"""Chip targets as data: one TOML file per chip in this folder, loaded into a frozen `Target`.

    target = load("speck")            # a built-in name
    target = load("my_chip.toml")     # or a path to a file of the same format
    names()                           # the built-in names: ('speck', 'xylo', ...)

The built-in targets are the ``*.toml`` files found in `FOLDER`: a file's name (without ``.toml``)
is the target's name. They are listed (``nirconv targets``, the demo's fit table) sorted by the
file's top-level ``order`` (an integer; files without one come after those with one), then by name.
Adding a chip is adding a file here (or passing your own file by path). See `schema.py` for the
format and docs/equations/targets.md for the figures and their sources.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..errors import BadInput
from .schema import FIELDS, INF, SPEC, Target, from_dict, load_file

FOLDER = Path(__file__).resolve().parent


def path_of(name: str) -> Path:
    return FOLDER / f"{name}.toml"


@lru_cache(maxsize=None)
def _load_cached(path: Path) -> Target:
    return load_file(path)


def names() -> tuple[str, ...]:
    """The built-in target names: the TOML files in `FOLDER`, by ``order`` then name."""
    files = sorted(FOLDER.glob("*.toml"))
    targets = {f.stem: _load_cached(f) for f in files}

    def place(name):
        order = targets[name].order
        return (order is None, order or 0, name)

    return tuple(sorted(targets, key=place))


def load(name_or_path) -> Target:
    """A `Target` from a built-in name or a path to a TOML file (errors name file and field)."""
    if isinstance(name_or_path, Target):
        return name_or_path
    text = str(name_or_path)
    builtin = names()
    if text in builtin:
        return _load_cached(path_of(text))
    p = Path(text)
    if p.suffix == ".toml" or p.exists() or "/" in text:
        return load_file(p)
    raise BadInput(f"unknown target {text!r}: choose one of {', '.join(builtin)} or give the "
                   "path of a target file (.toml)", field="target")


def builtins() -> list[Target]:
    """Every built-in `Target`, in the order of `names`."""
    return [_load_cached(path_of(n)) for n in names()]


BUILTIN = names()  # the built-in names when nirconv was imported (see `names`)

__all__ = ["BUILTIN", "FIELDS", "FOLDER", "INF", "SPEC", "Target", "builtins", "from_dict", "load",
           "load_file", "names", "path_of"]
