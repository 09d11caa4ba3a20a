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


class FloatState:
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
        self._work = self._fires = None
        self._spare_v = self._spare_i = None  # last step's v / i arrays, reused (spiking only)

    def _drive(self, x: np.ndarray) -> np.ndarray:
        if not self.synapse:
            return x
        i_old = self.i
        # i = α_syn i + β_syn x, into the array i_old replaced last step (read by nobody now)
        i_new = np.multiply(self.alpha_syn, i_old, out=self._recycled("_spare_i", i_old))
        i_new += np.multiply(self.beta_syn, x, out=self._scratch(x))
        self.i, self._spare_i = i_new, i_old
        return i_old if self.rec.current_delay else i_new

    def _pending_reset(self, v_prev: np.ndarray) -> np.ndarray:
        """snnTorch order (reset_after_decay False): last step's reset applied now, undecayed
        for 'subtract'; for 'zero' the previous membrane is replaced by v_reset before the decay."""
        if self.rec.reset_after_decay or self.rec.reset == "subtract" or not self.spiking:
            return v_prev
        return np.where(self.s_prev > 0, self.v_reset, v_prev)

    def _count(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(count, fires): 0/1, or with max_spikes != 1 the count
        min(max(1, floor(v / θ)), max_spikes) where the compare holds (so count > 0 = fires)."""
        compare = np.greater_equal if self.rec.compare == ">=" else np.greater
        fires = compare(v, self.v_threshold, out=self._mask(v))
        if self.max_spikes == 1:
            return fires.astype(np.float64), fires
        n = np.maximum(np.floor(v / self.v_threshold), 1.0)
        n = np.minimum(n, float(self.max_spikes))  # UNLIMITED (inf): no cap
        return np.where(fires, n, 0.0), fires

    def _floor(self, v: np.ndarray) -> np.ndarray:
        """max(v, v_min), in place on this step's own array."""
        return v if self.v_min is None else np.maximum(v, self.v_min, out=v)

    def step(self, x: np.ndarray) -> np.ndarray:
        u = self._drive(x)
        # v = α v + β u + bias, evaluated in that order, in place on this step's array: a spiking
        # population's own v of two steps ago (a non-spiking one returns v: then a new array)
        v_old = self.v
        v = self._recycled("_spare_v", v_old) if self.spiking else np.empty_like(v_old)
        np.multiply(self.alpha_mem, self._pending_reset(v_old), out=v)
        v += np.multiply(self.beta_mem, u, out=self._scratch(u))
        v += self.bias
        if not self.spiking:
            self.v = self._floor(v)
            return self.v
        if self.rec.reset_after_decay:
            s, fires = self._count(v)
            if self.rec.reset == "subtract":
                v -= np.multiply(self.v_threshold, s, out=self._scratch(s))
            else:
                np.copyto(v, self.v_reset, where=fires)  # v_reset where s > 0
        else:  # the previous step's reset, undecayed, then the test on that value
            if self.rec.reset == "subtract":
                v -= np.multiply(self.v_threshold, self.s_prev, out=self._scratch(v))
            s, _ = self._count(v)
        self.s_prev = s
        self.v, self._spare_v = self._floor(v), v_old
        return s

    def _recycled(self, name: str, like: np.ndarray) -> np.ndarray:
        """The state array replaced at the previous step (kept by nobody else), or a new one."""
        spare = getattr(self, name)
        if spare is None or spare.shape != like.shape:
            return np.empty_like(like)
        return spare

    def _mask(self, like: np.ndarray) -> np.ndarray:
        """A reusable (B, n) boolean work array."""
        if self._fires is None or self._fires.shape != like.shape:
            self._fires = np.empty(like.shape, dtype=bool)
        return self._fires

    def _scratch(self, like: np.ndarray) -> np.ndarray:
        """A reusable (B, n) float64 work array (never returned nor kept between steps)."""
        if self._work is None or self._work.shape != like.shape:
            self._work = np.empty(like.shape, dtype=np.float64)
        return self._work
