"""Helpers shared by the subcommands: JSON output, loading inputs with one-line errors."""
from __future__ import annotations

import json
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


def console(**kwargs):
    """A rich Console for tables: the terminal's width, or 160 columns when piped (rich would
    otherwise squeeze tables into 80 and cut names and paths)."""
    import sys

    from rich.console import Console

    stream = kwargs.get("file") or sys.stdout
    width = None if getattr(stream, "isatty", lambda: False)() else 160
    return Console(width=width, **kwargs)
