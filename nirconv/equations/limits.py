""""Unlimited", in one encoding: ``UNLIMITED = math.inf``.

A target figure that has no limit (``inf`` in a target file, or the key left out), a neuron that
may emit any number of spikes per step (``max_spikes``) and an input channel without an event cap
all hold ``UNLIMITED`` in memory. Comparisons need no special case (``n > UNLIMITED`` is False).
Files written by nirconv 0.1 spelled it ``-1`` (``max_spikes``) or left it out; `as_limit` reads
those spellings, and is the only place that knows them.
"""
from __future__ import annotations

import math

UNLIMITED = math.inf


def is_unlimited(value) -> bool:
    return value is None or (isinstance(value, float) and math.isinf(value) and value > 0)


def as_limit(value, *, legacy_unlimited=(-1,)) -> float | int:
    """A count limit from any spelling: None, ``inf`` or a legacy value (-1) -> UNLIMITED, a whole
    number -> int. Raises ValueError for anything else (the reader turns it into BadInput)."""
    if value is None:
        return UNLIMITED
    if isinstance(value, bool):
        raise ValueError(f"a limit must be a whole number or inf, is {value!r}")
    if isinstance(value, float):
        if math.isinf(value) and value > 0:
            return UNLIMITED
        if not value.is_integer():
            raise ValueError(f"a limit must be a whole number or inf, is {value!r}")
        value = int(value)
    if not isinstance(value, int):
        try:
            value = int(value)  # numpy integers
        except (TypeError, ValueError):
            raise ValueError(f"a limit must be a whole number or inf, is {value!r}") from None
    if value in legacy_unlimited:
        return UNLIMITED
    if value < 0:
        raise ValueError(f"a limit must be >= 0 or inf, is {value}")
    return value
