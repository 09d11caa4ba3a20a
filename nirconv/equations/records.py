"""Typed records that travel with a `Program` between reading, the passes and writing.

A NIR file keeps these in node and graph ``metadata`` (keys in ``nirconv/nir_io/metadata.py``);
in memory they are frozen records, validated on construction, so that no pass reads or writes a
metadata dict. Reading (NIR -> Program) builds them, writing (Program -> NIR) stores them.

* `OpInfo`       — what an op is besides its arithmetic: the NIR type it is read from / written as,
                   the torch module it was converted from, the conversion's activation scale λ.
* `InputEncoding` — how a static float input becomes the per-step input of the graph.
* `TargetWarning` — a change the target forced on the network ("node: rule: message").
* `Deployment`   — what quantizing for a target adds at graph level.
* `WeightScales` / `NeuronScales` — how an integer weight op / neuron relates to the float one.

Errors name the field; the reader adds the file and node (`NirconvError.at`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Optional, Union

import numpy as np

from ..errors import BadInput

Number = Union[float, np.ndarray]
ENCODINGS = ("current", "rate", "spikes")
SIGN_MODES = ("signed", "unsigned", "excitatory", "inhibitory", "mixed")


def _positive_finite(value, name: str) -> None:
    a = np.asarray(value, dtype=np.float64)
    if a.size and (not np.all(np.isfinite(a)) or np.any(a <= 0)):
        raise BadInput(f"must be positive and finite, is {value!r}"[:160], field=name)


def _bits(value, name: str, lo: int = 1, hi: int = 64) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise BadInput(f"must be an integer in {lo}..{hi}, is {value!r}", field=name)


@dataclass(frozen=True, eq=False)
class OpInfo:
    """Annotations of an op that are not arithmetic (the simulators ignore them).

    ``nir_type``: the NIR type name the op was read from or is written as ("Affine", "Linear",
    "Conv2d", "IF", an inner subgraph's "Input" pass-through, ...). ``module``: the torch module path
    the op was converted from (names in fit reports and the audit). ``act_scale``: λ, the activation
    in ANN units of one spike per step (the conversion's normalization; per channel or per neuron).
    ``pooling``: a ConvOp of ones that stands for 1-D sum pooling. ``extra``: node metadata nirconv
    does not interpret, kept so that writing returns it unchanged (no pass reads it)."""

    nir_type: str = ""
    module: Optional[str] = None
    act_scale: Optional[Number] = None
    pooling: bool = False
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.act_scale is not None:
            _positive_finite(self.act_scale, "metadata.scale")


@dataclass(frozen=True)
class InputEncoding:
    """How a static float input ``(B, *shape)`` is presented for ``T`` steps
    (``equations/encoding.py``): ``current`` — ``round(x / scale)`` clipped to ``bits`` signed, each
    step (float graphs: ``x`` itself, ``scale`` 1, ``bits`` None); ``rate`` — a deterministic rate
    code of ``clip(x / scale, 0, max_events)`` events per step; ``spikes`` — the input must already
    be ``(T, B, ...)`` events. ``input_max``: the calibration data's largest ``|x|`` (None: spike
    inputs, no analog range)."""

    kind: Literal["current", "rate", "spikes"] = "current"
    scale: float = 1.0
    bits: Optional[int] = None
    max_events: Optional[int] = None
    input_max: Optional[float] = None

    def __post_init__(self):
        if self.kind not in ENCODINGS:
            raise BadInput(f"must be one of {', '.join(ENCODINGS)}, is {self.kind!r}",
                           field="metadata.input_encoding")
        _positive_finite(self.scale, "metadata.input_scale")
        if self.bits is not None:
            _bits(self.bits, "metadata.input_bits", 2, 64)
        if self.max_events is not None:
            _bits(self.max_events, "metadata.max_events", 1, 1 << 30)
        if self.input_max is not None and not (math.isfinite(self.input_max)
                                               and self.input_max >= 0):
            raise BadInput(f"must be finite and >= 0, is {self.input_max!r}",
                           field="metadata.input_max")


@dataclass(frozen=True)
class TargetWarning:
    """A change the target forced on the network that is not a violation (e.g. reset by
    subtraction becomes reset to zero); written as ``"node: rule: message"``."""

    node: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.node}: {self.rule}: {self.message}"

    @classmethod
    def parse(cls, text: str) -> "TargetWarning":
        node, _, rest = str(text).partition(": ")
        rule, _, message = rest.partition(": ")
        if not rest:
            return cls("(network)", "note", str(text))
        return cls(node, rule, message)


@dataclass(frozen=True)
class Deployment:
    """What quantizing for a target adds to a Program: the target, its integer family, the widths,
    the warnings (forced changes) and whether it fits (None: not checked)."""

    target: str
    family: str
    weight_bits: int
    state_bits: int
    warnings: tuple[TargetWarning, ...] = ()
    fits: Optional[bool] = None

    def __post_init__(self):
        if not self.target or not self.family:
            raise BadInput("target and arithmetic must be named", field="metadata.arithmetic")
        _bits(self.weight_bits, "metadata.weight_bits", 1, 64)
        _bits(self.state_bits, "metadata.state_bits", 1, 64)


@dataclass(frozen=True, eq=False)
class WeightScales:
    """An integer weight op's relation to its float weights: ``weight_scale`` (float weight per
    integer weight, per output row), ``unit_rows`` (one integer weight in the consumer's normalized
    state units, per row), the sign mode and the width (docs/equations/targets.md)."""

    weight_scale: Number
    unit_rows: Number
    sign_mode: str
    weight_bits: int

    def __post_init__(self):
        _positive_finite(self.weight_scale, "metadata.weight_scale")
        _positive_finite(self.unit_rows, "metadata.unit_rows")
        if self.sign_mode not in SIGN_MODES:
            raise BadInput(f"must be one of {', '.join(SIGN_MODES)}, is {self.sign_mode!r}",
                           field="metadata.sign_mode")
        _bits(self.weight_bits, "metadata.weight_bits", 1, 64)


@dataclass(frozen=True, eq=False)
class NeuronScales:
    """An integer neuron's relation to its float neuron: ``gain`` G (float input -> normalized
    integer input per step), ``state_unit`` u (normalized membrane per integer LSB) and ``scale``
    (float membrane units per integer unit, u·θ) (docs/equations/targets.md)."""

    gain: Number
    state_unit: Number
    scale: Number

    def __post_init__(self):
        for name in ("gain", "state_unit", "scale"):
            a = np.asarray(getattr(self, name), dtype=np.float64)
            if a.size and not np.all(np.isfinite(a)):
                raise BadInput("must be finite", field=f"metadata.{name}")
        _positive_finite(self.state_unit, "metadata.state_unit")
