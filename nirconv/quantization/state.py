"""What the quantization passes hand each other: typed records, never metadata dicts.

`Quantizing` is the state the pass runner carries from pass to pass (``passes.py``); each pass
returns a new one (``dataclasses.replace``) and never changes the float program it started from.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from ..equations.program import Program
from ..equations.records import InputEncoding, TargetWarning
from ..equations.topology import Topology
from ..targets import Target


@dataclass(frozen=True)
class InputRange:
    """What the calibration data say about the input: the largest ``|x|``, the smallest ``x`` and
    whether they are integer event counts (spike inputs). All None/False: no calibration data."""

    max_abs: Optional[float] = None
    min: Optional[float] = None
    events: bool = False


@dataclass(frozen=True, eq=False)
class NeuronUnit:
    """A neuron layer's input gain G (float input -> normalized integer input per step), its state
    unit u (normalized membrane per integer LSB, a scalar or per neuron) and, for float32
    arithmetic, the one float32 factor of its weighted sum."""

    gain: Any
    state_unit: Any
    weight_scale: Optional[float] = None


@dataclass(frozen=True, eq=False)
class WeightUnit:
    """Where a weight op goes and what one of its integer weights is worth: the neuron op it
    feeds, that neuron's gain per output row, whether an Input feeds the weight op (then the
    input scale applies), its shift, and the value of one integer weight in the neuron's
    normalized state units per output row (``unit_rows``)."""

    neuron: str
    gain_rows: np.ndarray
    from_input: bool
    shift: int = 0
    unit_rows: Any = None


@dataclass(frozen=True, eq=False)
class NeuronPlan:
    """Everything a family needs to build one integer neuron (all arrays in the neuron's shape):
    the float record, the family's decays, the state unit ``u``, the float threshold ``theta``
    (ones for a readout), the bias per step and ``v_init`` in normalized membrane units, the
    deployed reset (None for a readout), the spike limit and the float32 weight scale."""

    name: str
    float_neuron: Any
    decays: Any
    unit: np.ndarray
    theta: np.ndarray
    bias: np.ndarray
    v_init: np.ndarray
    reset: Optional[str]
    max_spikes: Any
    weight_scale: Optional[float] = None

    @property
    def spiking(self) -> bool:
        return self.reset is not None


@dataclass(frozen=True, eq=False)
class Quantizing:
    """The pass state: the float program (Scale ops folded after the first pass), the target and
    its arithmetic family, the calibration range, and what the passes found so far."""

    program: Program
    target: Target
    family: Any  # families.Family
    input_range: InputRange = InputRange()
    topology: Optional[Topology] = None
    decays: dict = field(default_factory=dict)  # neuron -> the family's decays record
    encoding: Optional[InputEncoding] = None
    neuron_units: dict = field(default_factory=dict)  # neuron -> NeuronUnit
    weight_units: dict = field(default_factory=dict)  # weight op -> WeightUnit
    weights: dict = field(default_factory=dict)  # weight op -> its integer op
    neurons: dict = field(default_factory=dict)  # neuron -> its integer op
    warnings: tuple = ()  # TargetWarning, in the order found
    result: Optional[Program] = None

    def warn(self, *found: TargetWarning) -> tuple:
        """The warnings with ``found`` appended (each text once)."""
        known = {str(w) for w in self.warnings}
        new = list(self.warnings)
        for w in found:
            if str(w) not in known:
                known.add(str(w))
                new.append(w)
        return tuple(new)
