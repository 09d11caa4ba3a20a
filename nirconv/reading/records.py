"""Typed records from a NIR graph's metadata: the one place that parses them (writing stores them).

    encoding   = input_encoding(meta, source)     # InputEncoding
    deployment = deployment(meta, source)         # Deployment or None (a float graph)
    info       = op_info(node, deployed)          # OpInfo of one node
    scales     = weight_scales(node)              # WeightScales of a deployed weight node or None
    scales     = neuron_scales(node)              # NeuronScales of a deployed neuron node or None

Every value read from a file is checked, by the records themselves (`equations/records.py`) or
here; a wrong value is a `BadInput` naming the file, the node and the metadata key
(docs/equations/targets.md has the meaning of each key). Graph-level records name the file and
key; node-level ones leave the file and node to the reader (`lower`, which adds them).
"""
from __future__ import annotations

import math
from typing import Optional, Union

import numpy as np

from ..equations.roles import role
from ..equations.records import (Deployment, InputEncoding, NeuronScales, OpInfo, TargetWarning,
                                 WeightScales)
from ..errors import BadInput, NirconvError
from ..nir_io.metadata import KEYS

Number = Union[float, np.ndarray]
WEIGHT_SCALE_KEYS = ("weight_scale", "unit_rows", "sign_mode", "weight_bits")
NEURON_SCALE_KEYS = ("gain", "state_unit", "scale")


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


def _act_scale(value, key):
    """λ: one positive finite value (a float) or an array of them (per channel or per neuron)."""
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise BadInput(f"must be a positive number or an array of them, is {value!r}"[:160],
                       field=f"metadata.{key}") from None
    if a.size == 0:
        raise BadInput("must be a positive number or an array of them, is empty",
                       field=f"metadata.{key}")
    return float(a.reshape(-1)[0]) if a.size == 1 else a


def op_info(node, *, deployed: bool = False) -> OpInfo:
    """A node's OpInfo: its NIR type, torch module, the conversion's λ (``scale`` on a float
    graph, ``float_scale`` on a deployed one) and whether a Conv1d stands for sum pooling. Keys
    nirconv does not interpret (not in ``nir_io/metadata.py``) are kept in ``extra``."""
    meta = dict(node.metadata or {})
    module = meta.get("module")
    if module is not None and not isinstance(module, str):
        raise BadInput(f"must be a string, is {module!r}"[:160], field="metadata.module")
    pooling = meta.get("pooling")
    if pooling is not None and pooling != "sum":
        raise BadInput(f"must be 'sum', is {pooling!r}"[:160], field="metadata.pooling")
    key = "float_scale" if deployed else "scale"
    act = _act_scale(meta[key], key) if key in meta and _is_neuron(node) else None
    try:
        return OpInfo(nir_type=type(node).__name__, module=module or None, act_scale=act,
                      pooling=pooling == "sum",
                      extra={k: v for k, v in meta.items() if k not in KEYS})
    except BadInput as e:
        if e.field == "metadata.scale":
            e.field = f"metadata.{key}"
        raise e.at() from None


def _is_neuron(node) -> bool:
    return role(type(node).__name__) == "neuron"


def _present(meta: dict, keys: tuple) -> bool:
    """All of ``keys`` (True), none (False), or a BadInput naming the first missing one."""
    found = [k for k in keys if k in meta]
    if found and len(found) < len(keys):
        missing = next(k for k in keys if k not in meta)
        raise BadInput(f"missing beside {', '.join(found)}", field=f"metadata.{missing}")
    return bool(found)


def _values(meta: dict, key: str) -> Number:
    """A float or a float array from node metadata, else BadInput naming the key."""
    try:
        a = np.asarray(meta[key], dtype=np.float64)
    except (TypeError, ValueError):
        raise BadInput(f"must be a number or an array of numbers, is {meta[key]!r}"[:160],
                       field=f"metadata.{key}") from None
    return float(a.reshape(-1)[0]) if a.size == 1 else a


def weight_scales(node) -> Optional[WeightScales]:
    """The WeightScales of a deployed weight node (``weight_scale``, ``unit_rows``,
    ``sign_mode``, ``weight_bits``), None when it carries none."""
    meta = node.metadata or {}
    if role(type(node).__name__) != "weight" or not _present(meta, WEIGHT_SCALE_KEYS):
        return None
    mode = meta["sign_mode"]
    if not isinstance(mode, str):
        raise BadInput(f"must be a string, is {mode!r}"[:160], field="metadata.sign_mode")
    return WeightScales(weight_scale=_values(meta, "weight_scale"),
                        unit_rows=_values(meta, "unit_rows"), sign_mode=mode,
                        weight_bits=_number(meta, "weight_bits", None, int))


def neuron_scales(node) -> Optional[NeuronScales]:
    """The NeuronScales of a deployed neuron node (``gain``, ``state_unit``, ``scale``), None
    when it carries none."""
    meta = node.metadata or {}
    if not _is_neuron(node) or not _present(meta, NEURON_SCALE_KEYS):
        return None
    return NeuronScales(gain=_values(meta, "gain"), state_unit=_values(meta, "state_unit"),
                        scale=_values(meta, "scale"))
