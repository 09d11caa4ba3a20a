"""Limits for reading files from strangers (README, "Security and untrusted files").

A `.nir` file is small on disk but may declare arrays of any size: a gzip dataset of 10⁹ zeros is
32 KB, an Input of 100000 × 100000 is one short array. Nothing is materialized before its size is
known and checked against one cap, `max_array_bytes()`:

- every dataset's declared ``shape × itemsize``, and their running total per file, before it is
  read;
- every node shape the reader or the lowering derives (an Input's shape, a conv's output after its
  padding, a neuron population) at 8 bytes per element, before anything is allocated from it.

The cap defaults to 1 GiB and is raised (or lowered) with the environment variable
``NIRCONV_MAX_ARRAY_BYTES`` (an integer number of bytes). Subgraphs may be nested `MAX_NESTING`
deep, arrays may have `MAX_RANK` axes.
"""
from __future__ import annotations

import math
import os

from ..errors import BadInput

ENV_MAX_ARRAY_BYTES = "NIRCONV_MAX_ARRAY_BYTES"
DEFAULT_MAX_ARRAY_BYTES = 1 << 30  # 1 GiB
MAX_NESTING = 64  # subgraphs inside subgraphs
MAX_RANK = 8  # axes of any array in a file (a Conv3d weight has 5)
ELEMENT_BYTES = 8  # what one element of a derived shape costs (float64 / int64)


def max_array_bytes() -> int:
    """The cap in bytes: ``NIRCONV_MAX_ARRAY_BYTES`` when set, else 1 GiB."""
    raw = os.environ.get(ENV_MAX_ARRAY_BYTES)
    if raw is None or not raw.strip():
        return DEFAULT_MAX_ARRAY_BYTES
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        raise BadInput(f"must be an integer number of bytes, is {raw!r}",
                       field=ENV_MAX_ARRAY_BYTES) from None
    if value <= 0:
        raise BadInput(f"must be a positive number of bytes, is {value}",
                       field=ENV_MAX_ARRAY_BYTES)
    return value


def human_bytes(n: float) -> str:
    """``1073741824`` -> ``'1.0 GiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def too_big(nbytes: int, cap: int, what: str, *, file=None, node=None, field=None) -> BadInput:
    """The one-line error for ``nbytes`` above ``cap``: the figures and how to raise the cap."""
    return BadInput(f"{what}{human_bytes(nbytes)} declared, above the {human_bytes(cap)} cap "
                    f"(raise it with {ENV_MAX_ARRAY_BYTES})", file=file, node=node, field=field)


def check_shape(shape, *, file=None, node=None, field=None, cap: int | None = None,
                what: str = "shape") -> tuple:
    """``shape`` as a tuple of ints when every axis is a non-negative integer and the elements
    fit the cap at `ELEMENT_BYTES` each; otherwise a BadInput naming node and field."""
    try:
        dims = tuple(int(d) for d in shape)
    except (TypeError, ValueError, OverflowError):
        raise BadInput(f"{what} must be integers, is {shape!r}", file=file, node=node,
                       field=field) from None
    if any(d < 0 for d in dims):
        raise BadInput(f"{what} has a negative axis: {dims}", file=file, node=node, field=field)
    if len(dims) > MAX_RANK:
        raise BadInput(f"{what} has {len(dims)} axes, at most {MAX_RANK} are supported",
                       file=file, node=node, field=field)
    cap = max_array_bytes() if cap is None else cap
    nbytes = math.prod(dims) * ELEMENT_BYTES
    if nbytes > cap:
        text = " x ".join(str(d) for d in dims)
        raise too_big(nbytes, cap, f"{what} ({text}) of {ELEMENT_BYTES}-byte values: ", file=file,
                      node=node, field=field)
    return dims
