"""Agreement metrics between two spiking runs, alignment by delay, and the first divergence.

Definitions (the contract's, written once; docs/equations/audit.md repeats them):

* **spike agreement** of two spike-count arrays ``a`` and ``b`` of the same shape:
  ``Σ min(a, b) / Σ max(a, b)`` over all elements (0/1 spikes: spikes present in both / spikes
  present in either); 1.0 when both are silent. Counts are non-negative.
* **rate correlation** of two rate arrays: the Pearson correlation of the flattened arrays (over
  samples and neurons). When a side has zero variance, Pearson is undefined; we define it as 1.0
  when both sides are constant and equal, and 0.0 otherwise (a constant side carries no
  information about the other).
* **delay** of an op: the longest sum of edge delays (plus one step for a neuron whose membrane
  reads the previous step's synaptic current) along any path from an input, recurrent edges
  excluded. A node is compared after shifting the deployed run by ``delay_int - delay_float``.
* **first divergence** of one sample: the earliest aligned step at which any compared node differs,
  ties broken by the topological order of the nodes, then by the lowest flat neuron index.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..equations.neurons import NeuronFloat
from ..equations.program import NeuronOp, Program, ThresholdOp
from ..errors import BadInput


# --- metrics ------------------------------------------------------------------------------------

def agreement_sums(a: np.ndarray, b: np.ndarray, axis=None) -> tuple[np.ndarray, np.ndarray]:
    """(Σ min(a, b), Σ max(a, b)) over ``axis`` (None: all) — the parts of `spike_agreement`."""
    a, b = _same_shape(a, b)
    return np.minimum(a, b).sum(axis=axis), np.maximum(a, b).sum(axis=axis)


def agreement_from_sums(both, either) -> float:
    """Ratio of agreement sums; 1.0 when both sides were silent."""
    both, either = float(both), float(either)
    return 1.0 if either == 0.0 else both / either


def spike_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Σ min(a, b) / Σ max(a, b); 1.0 when both are silent (see the module docstring)."""
    return agreement_from_sums(*agreement_sums(a, b))


def rate_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of the flattened rates; defined for constant vectors (module docstring)."""
    acc = PearsonAccumulator()
    acc.add(a, b)
    return acc.value()


class PearsonAccumulator:
    """`rate_correlation` over data that arrive in batches (Chan et al.'s pairwise update of the
    means, sums of squares and co-moment; min/max for the constant-vector rule)."""

    def __init__(self):
        self.n = 0
        self.mean_a = self.mean_b = 0.0
        self.m2_a = self.m2_b = self.c_ab = 0.0
        self.lo_a = self.lo_b = np.inf
        self.hi_a = self.hi_b = -np.inf

    def add(self, a: np.ndarray, b: np.ndarray) -> None:
        a, b = _same_shape(a, b)
        a = a.astype(np.float64).ravel()
        b = b.astype(np.float64).ravel()
        if a.size == 0:
            return
        n_b, mean_a, mean_b = a.size, float(a.mean()), float(b.mean())
        da, db = a - mean_a, b - mean_b
        m2_a, m2_b, c_ab = float(da @ da), float(db @ db), float(da @ db)
        n = self.n + n_b
        delta_a, delta_b = mean_a - self.mean_a, mean_b - self.mean_b
        w = self.n * n_b / n
        self.m2_a += m2_a + delta_a * delta_a * w
        self.m2_b += m2_b + delta_b * delta_b * w
        self.c_ab += c_ab + delta_a * delta_b * w
        self.mean_a += delta_a * n_b / n
        self.mean_b += delta_b * n_b / n
        self.n = n
        self.lo_a, self.hi_a = min(self.lo_a, a.min()), max(self.hi_a, a.max())
        self.lo_b, self.hi_b = min(self.lo_b, b.min()), max(self.hi_b, b.max())

    def value(self) -> float:
        if self.n == 0:
            return 1.0
        const_a, const_b = self.lo_a == self.hi_a, self.lo_b == self.hi_b
        if const_a or const_b or self.m2_a <= 0.0 or self.m2_b <= 0.0:
            return 1.0 if (const_a and const_b and np.isclose(self.lo_a, self.lo_b)) else 0.0
        return float(np.clip(self.c_ab / np.sqrt(self.m2_a * self.m2_b), -1.0, 1.0))


class ProportionalFit:
    """`scale_free_error` over batches: per channel Σ r·a, Σ a², Σ r² (rows ``(B, N)``)."""

    def __init__(self, channels: int):
        self.channels = int(channels)
        self.s_ra = np.zeros(self.channels)
        self.s_aa = np.zeros(self.channels)
        self.s_rr = np.zeros(self.channels)
        self.n = 0

    def add(self, rate: np.ndarray, target: np.ndarray) -> None:
        r = np.asarray(rate, dtype=np.float64)
        r = r.reshape(r.shape[0] if r.ndim > 1 else 1, self.channels, -1)
        t = np.asarray(target, dtype=np.float64).reshape(r.shape)
        self.s_ra += np.einsum("bcn,bcn->c", r, t)
        self.s_aa += np.einsum("bcn,bcn->c", t, t)
        self.s_rr += np.einsum("bcn,bcn->c", r, r)
        self.n += r.size

    def value(self) -> float:
        if self.n == 0:
            return 0.0
        c = np.maximum(np.where(self.s_aa > 0, self.s_ra / np.where(self.s_aa > 0, self.s_aa, 1.0),
                                0.0), 0.0)
        sse = float(np.sum(self.s_rr - 2 * c * self.s_ra + c * c * self.s_aa))
        rms = float(np.sqrt(max(sse, 0.0) / self.n))
        norm = float(np.sqrt(self.s_rr.sum() / self.n))
        return 0.0 if norm == 0.0 and rms == 0.0 else rms / max(norm, 1e-12)


def scale_free_error(rate: np.ndarray, target: np.ndarray, channels: int = 1) -> float:
    """Relative RMS error of ``rate`` against ``c * target``, ``c >= 0`` fitted by least squares
    per channel.

    ``rate`` and ``target`` are ``(B, N)`` (or flat, B = 1); the N neurons split into ``channels``
    equal row-major groups (a conv layer's channels), each with its own ``c`` — the converter's
    per-channel λ, when it is not known. 0.0 for exact proportionality; 0.0 when both are zero.
    """
    fit = ProportionalFit(channels)
    fit.add(rate, target)
    return fit.value()


def _same_shape(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise BadInput(f"cannot compare arrays of shapes {a.shape} and {b.shape}", field="shape")
    return a, b


# --- alignment ----------------------------------------------------------------------------------

def _intrinsic_delay(op) -> int:
    neuron = getattr(op, "neuron", None)
    if isinstance(neuron, NeuronFloat) and neuron.alpha_syn is not None and neuron.current_delay:
        return 1
    return 0


def op_delays(program: Program) -> dict[str, int]:
    """Steps from the input to each op along the longest delay path (recurrent edges excluded)."""
    delays: dict[str, int] = {}
    for op in program.ops:
        arriving = [delays[e.src] + int(e.delay) for e in op.inputs if e.src in delays]
        delays[op.name] = (max(arriving) if arriving else 0) + _intrinsic_delay(op)
    return delays


def is_spiking(op) -> bool:
    """Neurons with a threshold and Threshold ops emit spikes; I/LI/membrane readouts do not."""
    if isinstance(op, ThresholdOp):
        return True
    if isinstance(op, NeuronOp):
        neuron = op.neuron
        if isinstance(neuron, NeuronFloat):
            return neuron.spiking
        for name in ("threshold", "vth", "v_threshold"):
            if hasattr(neuron, name):
                return getattr(neuron, name) is not None
        return True
    return False


@dataclass(frozen=True)
class Alignment:
    """A spiking node present in both programs and the deployed run's shift (steps) for it."""

    node: str
    shift: int  # deployed step = float step + shift
    shape: tuple[int, ...]


def align(float_program: Program, int_program: Program) -> tuple[Alignment, ...]:
    """Spiking nodes common to both programs, in the float program's topological order."""
    df, dq = op_delays(float_program), op_delays(int_program)
    int_ops = {op.name: op for op in int_program.ops}
    rows = []
    for op in float_program.ops:
        other = int_ops.get(op.name)
        if other is None or not (is_spiking(op) and is_spiking(other)):
            continue
        if int(np.prod(op.out_shape)) != int(np.prod(other.out_shape)):
            raise BadInput(f"node has {op.out_shape} neurons in the float SNN and "
                           f"{other.out_shape} in the deployed graph", node=op.name,
                           field="shape")
        rows.append(Alignment(op.name, dq[op.name] - df[op.name], tuple(op.out_shape)))
    return tuple(rows)


def output_shift(float_program: Program, int_program: Program) -> int:
    """Shift of the (first) output: how many extra steps the deployed pipeline needs."""
    df, dq = op_delays(float_program), op_delays(int_program)
    return dq[int_program.outputs[0]] - df[float_program.outputs[0]]


def aligned_window(x: np.ndarray, shift: int, steps: int) -> np.ndarray:
    """Steps ``shift .. shift + steps`` of ``x`` (T, B, ...) — zeros where the run has none."""
    out = np.zeros((steps, *x.shape[1:]), dtype=x.dtype)
    lo, hi = max(shift, 0), min(shift + steps, x.shape[0])
    if hi > lo:
        out[lo - shift:hi - shift] = x[lo:hi]
    return out


# --- first divergence ---------------------------------------------------------------------------

def first_divergence(float_trains: Sequence[np.ndarray], int_trains: Sequence[np.ndarray],
                     nodes: Sequence[str]) -> Optional[dict]:
    """Earliest divergence of one sample: per node (T, *shape) aligned trains, topological order.

    Returns ``{"node", "timestep", "neuron", "neuron_index", "float", "deployed"}`` or None.
    """
    best = None
    for rank, (node, f, q) in enumerate(zip(nodes, float_trains, int_trains)):
        f2 = np.asarray(f).reshape(f.shape[0], -1)
        q2 = np.asarray(q).reshape(q.shape[0], -1)
        diff = f2 != q2
        steps = np.flatnonzero(diff.any(axis=1))
        if steps.size == 0:
            continue
        t = int(steps[0])
        if best is None or t < best[0]:  # equal t: the earlier node (lower rank) stays
            neuron = int(np.flatnonzero(diff[t])[0])
            index = [int(i) for i in np.unravel_index(neuron, f.shape[1:])]
            best = (t, rank, {"node": node, "timestep": t, "neuron": neuron,
                              "neuron_index": index, "float": _num(f2[t, neuron]),
                              "deployed": _num(q2[t, neuron])})
    return None if best is None else best[2]


def _num(v):
    v = np.asarray(v).item()
    return int(v) if float(v).is_integer() else float(v)


# --- readout ------------------------------------------------------------------------------------

def readout_is_spiking(program: Program) -> bool:
    """Does the (first) output carry spikes (counted) or a membrane (read at the last step)?"""
    out = program.op(program.outputs[0])
    if not out.inputs:
        return False
    return is_spiking(program.op(out.inputs[0].src))


def predictions_by_steps(output: np.ndarray, spiking: bool, shift: int = 0,
                         steps: Optional[int] = None) -> np.ndarray:
    """Predicted class after each number of steps 1..steps: ``(steps, B)`` int64.

    Spiking readout: argmax of the spike counts summed over steps ``0 .. t + shift``; membrane
    readout: argmax of the membrane at step ``t + shift`` (``shift``: the deployed pipeline's extra
    latency; steps before the window count, as a chip would count them).
    """
    out = np.asarray(output, dtype=np.float64)
    out = out.reshape(out.shape[0], out.shape[1], -1)
    steps = out.shape[0] - shift if steps is None else steps
    if shift < 0 or steps + shift > out.shape[0] or steps < 1:
        raise BadInput(f"output has {out.shape[0]} steps, need {steps} + {shift}", field="timesteps")
    if spiking:
        out = np.cumsum(out, axis=0)
    return out[shift:shift + steps].argmax(axis=-1)
