"""Float mode: `NeuronFloat` (nirconv/equations/neurons.py) in float64, state per (sample, neuron).

This is the event backend's own implementation of the record's docstring; every switch
(``alpha_syn`` None or not, ``current_delay``, ``reset_after_decay``, ``reset``, ``compare``,
non-spiking readouts) is handled here and nowhere else in this backend.
"""
from __future__ import annotations

import numpy as np

from nirconv.equations.neurons import NeuronFloat


def flat_param(value, shape, dtype=np.float64) -> np.ndarray:
    """A per-neuron parameter broadcast to the node's shape, flattened to (n,)."""
    return np.broadcast_to(np.asarray(value, dtype=dtype), shape).reshape(-1).copy()


class FloatNeuronState:
    """State and step of one `NeuronFloat` population for a batch of samples."""

    def __init__(self, rec: NeuronFloat, batch: int):
        shape = tuple(rec.shape)
        self.rec = rec
        p = lambda v: flat_param(v, shape)  # noqa: E731
        self.alpha_mem, self.beta_mem, self.bias = p(rec.alpha_mem), p(rec.beta_mem), p(rec.bias)
        self.synapse = rec.alpha_syn is not None
        if self.synapse:
            self.alpha_syn, self.beta_syn = p(rec.alpha_syn), p(rec.beta_syn)
        self.spiking = rec.spiking
        if self.spiking:
            self.v_threshold, self.v_reset = p(rec.v_threshold), p(rec.v_reset)
        n = int(np.prod(shape))
        self.v = np.tile(p(rec.v_init), (batch, 1))
        self.i = np.zeros((batch, n))
        self.s_prev = np.zeros((batch, n), dtype=bool)

    def _drive(self, x: np.ndarray) -> np.ndarray:
        if not self.synapse:
            return x
        i_old = self.i
        self.i = self.alpha_syn * i_old + self.beta_syn * x
        return i_old if self.rec.current_delay else self.i

    def _pending_reset(self, v_prev: np.ndarray) -> np.ndarray:
        """snnTorch order (reset_after_decay False): last step's reset applied now, undecayed
        for 'subtract'; for 'zero' the previous membrane is replaced by v_reset before the decay."""
        if self.rec.reset_after_decay or self.rec.reset == "subtract":
            return v_prev
        return np.where(self.s_prev, self.v_reset, v_prev)

    def step(self, x: np.ndarray) -> np.ndarray:
        u = self._drive(x)
        v_prev = self._pending_reset(self.v)
        v = self.alpha_mem * v_prev + self.beta_mem * u + self.bias
        if not self.spiking:
            self.v = v
            return v
        if not self.rec.reset_after_decay and self.rec.reset == "subtract":
            v = v - self.v_threshold * self.s_prev
        s = v >= self.v_threshold if self.rec.compare == ">=" else v > self.v_threshold
        if self.rec.reset_after_decay:
            if self.rec.reset == "subtract":
                v = v - self.v_threshold * s
            else:
                v = np.where(s, self.v_reset, v)
        self.s_prev = s
        self.v = v
        return s.astype(np.float64)
