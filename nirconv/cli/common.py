"""Helpers shared by the subcommands: JSON output, loading inputs with one-line errors."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click
import numpy as np

from ..errors import BadInput


def echo_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, default=_default))


def _default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def load_npy(path, what: str = "array") -> np.ndarray:
    """np.load without pickles; one-line errors naming the file."""
    p = Path(path)
    if not p.exists():
        raise BadInput("file not found", file=p)
    try:
        arr = np.load(p, allow_pickle=False)
    except ValueError as e:
        raise BadInput(f"not a plain .npy {what} ({e})", file=p) from None
    except Exception as e:
        raise BadInput(f"cannot read .npy {what} ({type(e).__name__})", file=p) from None
    if not isinstance(arr, np.ndarray):
        raise BadInput(f"expected one .npy array, found an archive", file=p)
    if arr.dtype.kind not in "biuf":
        raise BadInput(f"{what} must be numeric, has dtype {arr.dtype}", file=p)
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise BadInput(f"{what} contains NaN or infinite values", file=p)
    return arr


def write_json_file(obj, path) -> None:
    """Write JSON atomically ('-' means stdout)."""
    if str(path) == "-":
        echo_json(obj)
        return
    from ..nir_io.atomic import atomic_write_text
    atomic_write_text(path, json.dumps(obj, indent=2, default=_default))


# Control characters (newline, CR, ESC, DEL, C1) and bidirectional overrides in user text would
# break the one-line errors or drive the terminal; they are shown as escapes instead.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def plain(value) -> str:
    r"""User text (names, metadata, paths, messages) as one line that prints literally: a newline
    is shown as ``\n``, ESC as ``\x1b``. Markup is left as is; `console` never parses it."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(value))


def console(**kwargs):
    """A rich Console for tables that prints every string literally: no markup (``[/oops]`` in a
    node name is text, not a tag), no emoji codes, control characters escaped (`plain`). Style
    goes through `rich.text.Text`. Width: the terminal's, or 160 columns when piped (rich would
    otherwise squeeze tables into 80 and cut names and paths)."""
    from rich.console import Console

    class LiteralConsole(Console):
        def render_str(self, text, **options):
            options.update(markup=False, emoji=False)
            return super().render_str(plain(text), **options)

    stream = kwargs.get("file") or sys.stdout
    width = None if getattr(stream, "isatty", lambda: False)() else 160
    return LiteralConsole(width=width, markup=False, emoji=False, **kwargs)
