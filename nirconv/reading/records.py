"""Typed records from a NIR graph's metadata: the one place that parses them (writing stores them).

    encoding   = input_encoding(meta, source)     # InputEncoding
    deployment = deployment(meta, source)         # Deployment or None (a float graph)
    info       = op_info(node, deployed)          # OpInfo of one node

Every value read from a file is checked; a wrong type is a `BadInput` naming the file and the
metadata key (docs/equations/targets.md has the meaning of each key).
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ..equations.records import Deployment, InputEncoding, OpInfo, TargetWarning
from ..errors import BadInput, NirconvError
from ..nir_io.metadata import KEYS

# node metadata keys that become typed fields (the rest of a node's metadata is kept in
# OpInfo.extra, unread by any pass, and written back as it came)
INFO_KEYS = ("module", "pooling")
NODE_KEYS = frozenset(k.name for k in KEYS.values() if "node" in k.level)  # nirconv's own keys


def _number(meta: dict, key: str, source, kind=float, default=None):
    value = meta.get(key, default)
    if value is None:
        return None
    try:
        a = np.asarray(value)
        if a.size != 1 or a.dtype.kind not in "biuf":
            raise ValueError
        x = a.reshape(-1)[0].item()
        if kind is int:
            if not float(x).is_integer():
                raise ValueError
            return int(x)
        x = float(x)
        if not math.isfinite(x):
            raise ValueError
        return x
    except (TypeError, ValueError, OverflowError):
        raise BadInput(f"must be a single {'whole ' if kind is int else ''}number, is "
                       f"{value!r}"[:160], file=source, field=f"metadata.{key}") from None


def _text(meta: dict, key: str, source, default=None) -> Optional[str]:
    value = meta.get(key, default)
    if value is None or isinstance(value, str):
        return value
    raise BadInput(f"must be a string, is {value!r}"[:160], file=source, field=f"metadata.{key}")


def input_encoding(meta: dict, source: str = "<memory>", *, deployed: bool = False
                   ) -> InputEncoding:
    """The graph's InputEncoding. A float graph presents a static input as itself (current,
    scale 1); a deployed one as its metadata says."""
    if not deployed:
        return InputEncoding()
    try:
        return InputEncoding(kind=_text(meta, "input_encoding", source, "current"),
                             scale=_number(meta, "input_scale", source, default=1.0),
                             bits=_number(meta, "input_bits", source, int),
                             max_events=_number(meta, "max_events", source, int),
                             input_max=_number(meta, "input_max", source))
    except NirconvError as e:
        raise e.at(file=source) from None


def float_view_encoding(meta: dict, source: str = "<memory>") -> InputEncoding:
    """The float view of a deployed graph presents a static input as itself (current, scale 1)
    and keeps the calibration range it was quantized with (``input_max``), so that quantizing it
    again without calibration data gives the same numbers."""
    try:
        return InputEncoding(input_max=_number(meta, "input_max", source))
    except NirconvError as e:
        raise e.at(file=source) from None


def deployment(meta: dict, source: str = "<memory>") -> Optional[Deployment]:
    """The Deployment of a graph quantized for a target (metadata ``arithmetic``), else None."""
    family = _text(meta, "arithmetic", source)
    if not family:
        return None
    warnings = meta.get("warnings", [])
    if isinstance(warnings, str):
        warnings = [warnings]
    if not isinstance(warnings, (list, tuple)) or not all(isinstance(w, str) for w in warnings):
        raise BadInput("must be a list of strings", file=source, field="metadata.warnings")
    fits = meta.get("fits")
    try:
        return Deployment(target=_text(meta, "target", source, family), family=family,
                          weight_bits=_number(meta, "weight_bits", source, int, 8),
                          state_bits=_number(meta, "state_bits", source, int, 16),
                          warnings=tuple(TargetWarning.parse(w) for w in warnings),
                          fits=None if fits is None else bool(fits))
    except NirconvError as e:
        raise e.at(file=source) from None


def calibrated_timesteps(meta: dict, source: str = "<memory>") -> Optional[int]:
    t = _number(meta, "timesteps", source, int)
    if t is not None and t < 1:
        raise BadInput(f"must be >= 1, is {t}", file=source, field="metadata.timesteps")
    return t


def _act_scale(value):
    """λ when the value is a positive finite number or array, else None (kept in ``extra``)."""
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if a.size == 0 or not np.all(np.isfinite(a)) or np.any(a <= 0):
        return None
    return float(a.reshape(-1)[0]) if a.size == 1 else a


def op_info(node, *, deployed: bool = False) -> OpInfo:
    """A node's OpInfo: its NIR type, torch module, the conversion's λ (``scale`` on a float
    graph, ``float_scale`` on a deployed one) and whether a Conv1d stands for sum pooling. Of a
    deployed graph's node, ``extra`` keeps only keys nirconv does not write itself (the deployed
    record is read into typed fields; a new deployment writes its own)."""
    meta = dict(node.metadata or {})
    module = meta.get("module")
    scale_key = "float_scale" if deployed else "scale"
    act = _act_scale(meta[scale_key]) if scale_key in meta else None
    extra = {k: v for k, v in meta.items()
             if k not in INFO_KEYS and not (k == scale_key and act is not None)
             and not (deployed and k in NODE_KEYS)}
    return OpInfo(nir_type=type(node).__name__,
                  module=module if isinstance(module, str) and module else None,
                  act_scale=act, pooling=meta.get("pooling") == "sum", extra=extra)
