"""Float mode: `NeuronFloat` (nirconv/equations/neurons.py) in float64, state per (sample, neuron).

This is the event backend's own implementation of the record's docstring; every switch
(``alpha_syn`` None or not, ``current_delay``, ``reset_after_decay``, ``reset``, ``compare``,
``max_spikes`` multi-spike counts, ``v_min``, non-spiking readouts) is handled here and nowhere else
in this backend.
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
            self.alpha_syn = p(rec.alpha_syn)
            self.beta_syn = p(1.0 if rec.beta_syn is None else rec.beta_syn)
        self.spiking = rec.spiking
        if self.spiking:
            self.v_threshold, self.v_reset = p(rec.v_threshold), p(rec.v_reset)
        self.max_spikes = rec.max_spikes
        self.v_min = None if rec.v_min is None else p(rec.v_min)
        n = int(np.prod(shape))
        self.v = np.tile(p(rec.v_init), (batch, 1))
        self.i = np.zeros((batch, n))
        self.s_prev = np.zeros((batch, n))  # the previous step's spike count

    def _drive(self, x: np.ndarray) -> np.ndarray:
        if not self.synapse:
            return x
        i_old = self.i
        self.i = self.alpha_syn * i_old + self.beta_syn * x
        return i_old if self.rec.current_delay else self.i

    def _pending_reset(self, v_prev: np.ndarray) -> np.ndarray:
        """snnTorch order (reset_after_decay False): last step's reset applied now, undecayed
        for 'subtract'; for 'zero' the previous membrane is replaced by v_reset before the decay."""
        if self.rec.reset_after_decay or self.rec.reset == "subtract" or not self.spiking:
            return v_prev
        return np.where(self.s_prev > 0, self.v_reset, v_prev)

    def _count(self, v: np.ndarray) -> np.ndarray:
        """0/1, or with max_spikes != 1 the count min(max(1, floor(v / θ)), max_spikes)."""
        fires = v >= self.v_threshold if self.rec.compare == ">=" else v > self.v_threshold
        if self.max_spikes == 1:
            return fires.astype(np.float64)
        n = np.maximum(np.floor(v / self.v_threshold), 1.0)
        if self.max_spikes is not None:
            n = np.minimum(n, float(self.max_spikes))
        return np.where(fires, n, 0.0)

    def _floor(self, v: np.ndarray) -> np.ndarray:
        return v if self.v_min is None else np.maximum(v, self.v_min)

    def step(self, x: np.ndarray) -> np.ndarray:
        u = self._drive(x)
        v = self.alpha_mem * self._pending_reset(self.v) + self.beta_mem * u + self.bias
        if not self.spiking:
            self.v = self._floor(v)
            return self.v
        if self.rec.reset_after_decay:
            s = self._count(v)
            if self.rec.reset == "subtract":
                v = v - self.v_threshold * s
            else:
                v = np.where(s > 0, self.v_reset, v)
        else:  # the previous step's reset, undecayed, then the test on that value
            if self.rec.reset == "subtract":
                v = v - self.v_threshold * self.s_prev
            s = self._count(v)
        self.s_prev = s
        self.v = self._floor(v)
        return s
