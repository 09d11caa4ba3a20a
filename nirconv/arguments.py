"""Checks of the arguments the Python API receives, shared by every facade function.

Each check returns the value in the form the pipeline uses (an int, a float, a Path, a numeric
numpy array) or raises a one-line `BadInput` naming the argument, so that the API raises the same
errors as the CLI (see docs/memory.md, "The API's error guarantee") and never a raw ValueError,
TypeError or AttributeError from deeper code.
"""
from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy as np

from .errors import BadInput

NUMERIC_KINDS = "biuf"  # bool, signed and unsigned integers, floats (not complex, object, str)


def positive_int(value: Any, field: str) -> int:
    """An integer >= 1 (a Python or numpy integer); never a bool, a float or a string."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) \
            or int(value) < 1:
        raise BadInput(f"must be a positive integer, is {describe(value)}", field=field)
    return int(value)


def optional_positive_int(value: Any, field: str) -> Optional[int]:
    return None if value is None else positive_int(value, field)


def finite_float(value: Any, field: str, *, minimum: Optional[float] = None,
                 positive: bool = False) -> float:
    """A finite real number (``positive``: > 0; ``minimum``: >= minimum); never a bool."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise BadInput(f"must be a number, is {describe(value)}", field=field)
    number = float(value)
    if not math.isfinite(number):
        raise BadInput(f"must be finite, is {describe(value)}", field=field)
    if positive and not number > 0:
        raise BadInput(f"must be positive, is {describe(value)}", field=field)
    if minimum is not None and number < minimum:
        raise BadInput(f"must be at least {minimum:g}, is {describe(value)}", field=field)
    return number


def optional_positive_float(value: Any, field: str) -> Optional[float]:
    return None if value is None else finite_float(value, field, positive=True)


def choice(value: Any, options: Iterable[str], field: str, *, allow_none: bool = False):
    """One of ``options`` (strings), or None when ``allow_none``."""
    options = tuple(options)
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or value not in options:
        raise BadInput(f"must be one of {', '.join(options)}, is {describe(value)}", field=field)
    return value


def path(value: Any, field: str = "path") -> Path:
    """A file path: a str or an os.PathLike (not bytes, not a number, not empty)."""
    if isinstance(value, str) or (isinstance(value, os.PathLike)
                                  and isinstance(os.fspath(value), str)):
        if str(value) == "":
            raise BadInput("is an empty path", field=field)
        return Path(value)
    raise BadInput(f"must be a file path (str or pathlib.Path), is {describe(value)}", field=field)


def nir_graph(value: Any, field: str = "graph", *, allow_path: bool = True):
    """A ``nir.NIRGraph`` (returned as is) or, with ``allow_path``, a path to a .nir file."""
    import nir

    if isinstance(value, nir.NIRGraph):
        return value
    if allow_path and (isinstance(value, (str, os.PathLike))):
        return path(value, field)
    what = "a nir.NIRGraph or a .nir path" if allow_path else "a nir.NIRGraph"
    raise BadInput(f"must be {what}, is {describe(value)}", field=field)


def numeric_array(value: Any, field: str, *, min_ndim: int = 1, nonempty_axis0: bool = True,
                  finite: bool = True) -> np.ndarray:
    """A numeric numpy array (bool, int or float; a torch tensor is moved to the CPU) with at least
    ``min_ndim`` axes, a non-empty first axis (the batch) and, with ``finite``, no NaN or inf."""
    if value is None or isinstance(value, (str, bytes, dict)):
        raise BadInput(f"must be a numeric array, is {describe(value)}", field=field)
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value)
    except Exception as e:  # ragged lists and objects numpy refuses
        raise BadInput(f"is not an array ({type(e).__name__})", field=field) from None
    if arr.dtype.kind not in NUMERIC_KINDS:
        raise BadInput(f"must be numeric (bool, int or float), has dtype {arr.dtype}",
                       field=field)
    if arr.ndim < min_ndim:
        raise BadInput(f"needs at least {min_ndim} axes, has shape {arr.shape}", field=field)
    if nonempty_axis0 and arr.ndim and arr.shape[0] == 0:
        raise BadInput(f"is empty (shape {arr.shape}): no samples", field=field)
    if finite and arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise BadInput("contains NaN or infinite values", field=field)
    return arr


def describe(value: Any) -> str:
    """A short description of a bad value for a one-line message."""
    if isinstance(value, (int, float, str, bool, type(None))) or isinstance(value, np.generic):
        text = repr(value)
        return text if len(text) <= 40 else text[:37] + "..."
    return f"a {type(value).__name__}"
