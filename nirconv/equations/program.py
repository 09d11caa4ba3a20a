"""The lowered form of a NIR graph that both simulators run.

A `Program` is a flat list of ops in topological order (subgraphs flattened, names joined with '.').
Each op reads the *sum* of its inputs (NIR semantics: several edges into one node add up), except a
neuron of an ``accumulate="ordered"`` family, which receives its weight ops' events one by one in
the order of ``NeuronOp.inputs`` (see `BitShiftLIF`).

An `Edge` with ``delay = d`` reads its source's output from ``d`` steps earlier (zeros before the
start). Recurrent edges (those that close a cycle) always have ``delay >= 1``; the lowering rejects
a cycle without a stateful node or delay on it. Integer programs have integer-valued arrays
(``numpy.int64``); a weight op's ``shift`` multiplies its output by ``2**shift`` (floor for
negative shifts, applied to the sum).

Shapes exclude the batch and time axes. Simulators take input ``(T, B, *program.input_shape)`` and
return ``(T, B, *output_shape)`` per output op.

Besides the arithmetic, ops and the Program carry typed records (``equations/records.py``): an op's
`OpInfo` (NIR type, torch module, activation scale), an integer weight op's `WeightScales`, an
integer neuron's `NeuronScales`; the Program's `InputEncoding` and, once quantized for a target,
its `Deployment`. Simulators read only the arithmetic and the encoding.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Union

import numpy as np

from .encoding import simulator_input
from .inputs import check_inputs
from .neurons import BitShiftLIF, Float32LIF, LoihiCubaLIF, NeuronFloat, SpeckIAF
from .records import Deployment, InputEncoding, NeuronScales, OpInfo, WeightScales

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Edge:
    src: str
    delay: int = 0  # steps; >= 1 on recurrent edges


@dataclass(frozen=True, eq=False)
class Op:
    name: str
    inputs: tuple[Edge, ...]
    in_shape: Shape
    out_shape: Shape
    info: OpInfo = field(default_factory=OpInfo)


@dataclass(frozen=True, eq=False)
class InputOp(Op):
    pass


@dataclass(frozen=True, eq=False)
class OutputOp(Op):
    pass


@dataclass(frozen=True, eq=False)
class AffineOp(Op):
    """y = weight @ x (+ bias). weight (out, in) on flat vectors; in_shape/out_shape are 1-D."""

    weight: np.ndarray = None
    bias: Optional[np.ndarray] = None
    shift: int = 0
    scales: Optional[WeightScales] = None  # integer programs: relation to the float weights


@dataclass(frozen=True, eq=False)
class ConvOp(Op):
    """N-d convolution (N = 1 or 2), cross-correlation as torch; padding already explicit ints."""

    weight: np.ndarray = None  # (C_out, C_in/groups, *kernel)
    bias: Optional[np.ndarray] = None  # (C_out,)
    stride: tuple[int, ...] = (1,)
    padding: tuple[int, ...] = (0,)
    dilation: tuple[int, ...] = (1,)
    groups: int = 1
    shift: int = 0
    scales: Optional[WeightScales] = None


@dataclass(frozen=True, eq=False)
class PoolOp(Op):
    """Sum or average pooling over the spatial axes of (C, *spatial)."""

    kernel: tuple[int, ...] = (1,)
    stride: tuple[int, ...] = (1,)
    padding: tuple[int, ...] = (0,)
    mode: Literal["sum", "avg"] = "sum"


@dataclass(frozen=True, eq=False)
class FlattenOp(Op):
    """Reshape from in_shape to out_shape (row-major)."""


@dataclass(frozen=True, eq=False)
class ScaleOp(Op):
    scale: np.ndarray = None  # broadcast to in_shape


@dataclass(frozen=True, eq=False)
class DelayOp(Op):
    """y_t = x_{t - steps} elementwise (zeros before the start)."""

    steps: np.ndarray = None  # int64, broadcast to in_shape


@dataclass(frozen=True, eq=False)
class ThresholdOp(Op):
    """y_t = [x_t >= threshold] (or ``>``), stateless."""

    threshold: np.ndarray = None
    compare: Literal[">=", ">"] = ">"


NeuronRecord = Union[NeuronFloat, SpeckIAF, BitShiftLIF, LoihiCubaLIF, Float32LIF]


@dataclass(frozen=True, eq=False)
class NeuronOp(Op):
    neuron: NeuronRecord = None
    scales: Optional[NeuronScales] = None  # integer programs: relation to the float neuron


@dataclass(frozen=True, eq=False)
class Program:
    """What a simulator runs. ``mode`` is "float" or "int"; ``family`` names the integer equations
    (a key of `INTEGER_FAMILIES`) or None in float mode. ``source`` is where it came from (a path
    or "<memory>") for messages. ``encoding``: how a static input is presented; ``deployment``:
    the target it was quantized for (None for a float program); ``timesteps``: the step count
    the conversion calibrated for (None: unknown). ``provenance``: graph metadata nirconv does not
    interpret (source model, normalization, ...), written back unchanged."""

    ops: tuple[Op, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    mode: Literal["float", "int"]
    family: Optional[str] = None
    dt: Optional[float] = None
    source: str = "<memory>"
    encoding: InputEncoding = field(default_factory=InputEncoding)
    deployment: Optional[Deployment] = None
    timesteps: Optional[int] = None
    provenance: dict = field(default_factory=dict)

    def op(self, name: str) -> Op:
        for o in self.ops:
            if o.name == name:
                return o
        raise KeyError(name)

    @property
    def input_shape(self) -> Shape:
        return self.op(self.inputs[0]).out_shape

    @property
    def neuron_ops(self) -> tuple[NeuronOp, ...]:
        return tuple(o for o in self.ops if isinstance(o, NeuronOp))

    def check_input(self, x, timesteps: Optional[int] = None, *, record=()) -> np.ndarray:
        """``x`` as a simulator runs it: ``(T, B, *input_shape)``, int64 for an integer program.
        ``x`` is per step ``(T, B, *shape)`` or static ``(B, *shape)`` (then ``timesteps`` is
        required and the input is encoded as `encoding` says); shape, values, integrality and the
        memory of the run (``record``: the ops whose outputs it keeps) are checked, each failure
        a one-line `BadInput` (``equations/encoding.py``, docs/memory.md)."""
        return simulator_input(self, x, timesteps, record)

    def check_inputs(self, x) -> dict[str, np.ndarray]:
        """What a simulator backend receives, checked once for both backends
        (``equations/inputs.py``): per Input op name, ``(T, B, *shape)`` in int64 (integer
        programs) or float64; `BadInput` else. `check_input` gives a valid ``x``."""
        return check_inputs(self, x)
