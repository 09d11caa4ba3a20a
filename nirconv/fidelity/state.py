"""Running sums of the audit over batches (`Totals`): correct predictions per number of steps, one
`LayerState` per compared node, one `SampleTracker` for the worst sample and its first divergence."""
from __future__ import annotations

from typing import Optional

import numpy as np

from . import compare as C
from .records import LayerAudit


class LayerState:
    """Running sums of one node: agreement, rate correlation, rate-vs-activation fits, and a
    uniform random sample of (activation, rates) points for the scatter plot. Memory does not
    grow with the number of samples."""

    def __init__(self, alignment: C.Alignment, module: Optional[str], scale: Optional[np.ndarray],
                 timesteps: int, scatter_points: int = 1500, seed: int = 0):
        self.alignment = alignment
        self.module = module
        self.scale = scale
        self.timesteps = timesteps
        self.both = self.either = 0.0
        self.float_spikes = self.deployed_spikes = 0
        self.samples = 0
        self.correlation = C.PearsonAccumulator()
        shape = alignment.shape
        channels = shape[0] if len(shape) > 1 else int(np.prod(shape))  # per channel / neuron
        self.fits = (C.ProportionalFit(channels), C.ProportionalFit(channels))
        self.sq_err = np.zeros(2)
        self.err_n = 0
        self.has_activations = False
        self._points = scatter_points
        self._rng = np.random.default_rng(seed)
        self._kept = (np.zeros(0), np.zeros((0, 3)))  # (random keys, rows act / float / deployed)

    def add(self, f: np.ndarray, q: np.ndarray, activation: Optional[np.ndarray]):
        """Aligned trains (T, B, *shape); returns per-sample (Σ min, Σ max) for the tracker."""
        B = f.shape[1]
        f2 = f.reshape(f.shape[0], B, -1)
        q2 = q.reshape(q.shape[0], B, -1).astype(f2.dtype)
        both, either = C.agreement_sums(f2, q2, axis=(0, 2))
        self.both += float(both.sum())
        self.either += float(either.sum())
        self.float_spikes += int(round(float(f2.sum())))
        self.deployed_spikes += int(round(float(q2.sum())))
        self.samples += B
        rf, rq = f2.sum(axis=0) / self.timesteps, q2.sum(axis=0) / self.timesteps
        self.correlation.add(rf, rq)
        if activation is not None and self.module is not None:
            act = np.asarray(activation, dtype=np.float64).reshape(B, -1)
            if act.shape == rf.shape:
                self._add_activation(act, rf, rq)
        return both, either

    def _add_activation(self, act, rf, rq):
        self.has_activations = True
        if self.scale is not None:
            expected = np.clip(act / self.scale[None, :], 0.0, None)
            self.sq_err += [float(np.sum((r - expected) ** 2)) for r in (rf, rq)]
            self.err_n += rf.size
        positive = np.maximum(act, 0.0)  # rates are >= 0: a negative logit means "no spikes"
        for fit, r in zip(self.fits, (rf, rq)):
            fit.add(r, positive)
        self._sample(np.stack([act.ravel(), rf.ravel(), rq.ravel()], axis=1))

    def _sample(self, rows):
        """Keep the rows with the smallest random keys: a uniform sample of everything seen."""
        keys = np.concatenate([self._kept[0], self._rng.random(rows.shape[0])])
        rows = np.concatenate([self._kept[1], rows])
        if keys.size > self._points:
            pick = np.argpartition(keys, self._points)[:self._points]
            keys, rows = keys[pick], rows[pick]
        self._kept = (keys, rows)

    def _rate_errors(self):
        if not self.has_activations:
            return None, None, None
        if self.scale is not None:
            e_f, e_q = np.sqrt(self.sq_err / max(self.err_n, 1))
            return float(e_f), float(e_q), "activation_scale"
        return self.fits[0].value(), self.fits[1].value(), "least_squares"

    def result(self) -> LayerAudit:
        e_f, e_q, basis = self._rate_errors()
        neurons = int(np.prod(self.alignment.shape))
        denom = max(self.samples * neurons * self.timesteps, 1)
        return LayerAudit(
            node=self.alignment.node,
            spike_agreement=C.agreement_from_sums(self.both, self.either),
            rate_correlation=self.correlation.value(), shift_steps=self.alignment.shift,
            neurons=neurons, float_spikes=self.float_spikes,
            deployed_spikes=self.deployed_spikes, float_rate=self.float_spikes / denom,
            deployed_rate=self.deployed_spikes / denom,
            ann_module=self.module if self.has_activations else None,
            rate_error_float=e_f, rate_error_deployed=e_q, rate_error_basis=basis)

    def scatter(self):
        """(activation, float rate, deployed rate): a uniform sample of the neurons × samples."""
        rows = self._kept[1]
        return rows[:, 0], rows[:, 1], rows[:, 2]


class SampleTracker:
    """Keeps the sample with the lowest overall agreement (first one on ties) and its divergence."""

    def __init__(self):
        self.score = np.inf
        self.sample: Optional[int] = None
        self._divergence: Optional[dict] = None

    def add(self, start, both, either, nodes, aligned_f, aligned_q):
        scores = np.where(either > 0, both / np.maximum(either, 1e-300), 1.0)
        if scores.size == 0:
            return
        i = int(np.argmin(scores))
        if scores[i] >= self.score:
            return
        self.score = float(scores[i])
        self.sample = start + i
        d = C.first_divergence([aligned_f[n][:, i] for n in nodes],
                               [aligned_q[n][:, i] for n in nodes], nodes)
        self._divergence = None if d is None else {"sample": self.sample, **d}

    def divergence(self) -> Optional[dict]:
        return self._divergence


class Totals:
    """Everything the audit accumulates over the batches of the data."""

    def __init__(self, alignments, modules: dict, scales: dict, timesteps: int,
                 scatter_points: int = 1500):
        self.timesteps = timesteps
        self.layers = {a.node: LayerState(a, modules.get(a.node), scales.get(a.node), timesteps,
                                          scatter_points) for a in alignments}
        self.tracker = SampleTracker()
        self.ann_correct = 0
        self.snn_correct = np.zeros(timesteps, dtype=np.int64)
        self.dep_correct = np.zeros(timesteps, dtype=np.int64)

    def add_predictions(self, labels, ann, snn_by_steps, dep_by_steps) -> None:
        """``ann`` (B,), ``snn_by_steps`` / ``dep_by_steps`` (T, B) predicted classes."""
        self.ann_correct += int((ann == labels).sum())
        self.snn_correct += (snn_by_steps == labels[None]).sum(axis=1)
        self.dep_correct += (dep_by_steps == labels[None]).sum(axis=1)

    def add_layers(self, start: int, aligned: dict, activations: dict) -> None:
        """``aligned``: node -> (float, deployed) trains (T, B, *shape), in topological order."""
        if not aligned:
            return
        both = either = 0.0
        for node, (f, q) in aligned.items():
            b, e = self.layers[node].add(f, q, activations.get(node))
            both, either = both + b, either + e
        nodes = list(aligned)
        self.tracker.add(start, np.asarray(both, dtype=np.float64),
                         np.asarray(either, dtype=np.float64), nodes,
                         {n: aligned[n][0] for n in nodes}, {n: aligned[n][1] for n in nodes})
