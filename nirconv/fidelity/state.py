"""Running sums of the audit over batches (`Totals`): correct predictions per number of steps, one
`LayerState` per compared node, one `SampleTracker` for the worst sample and its first divergence."""
from __future__ import annotations

from typing import Optional

import numpy as np

from . import compare as C
from .records import LayerAudit


class LayerState:
    """Accumulates one node's agreement sums, per-sample rates and ANN activations."""

    def __init__(self, alignment: C.Alignment, module: Optional[str], scale: Optional[np.ndarray],
                 timesteps: int):
        self.alignment = alignment
        self.module = module
        self.scale = scale
        self.timesteps = timesteps
        self.both = 0.0
        self.either = 0.0
        self.float_spikes = 0
        self.deployed_spikes = 0
        self.rates_f: list[np.ndarray] = []
        self.rates_q: list[np.ndarray] = []
        self.activations: list[np.ndarray] = []

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
        self.rates_f.append((f2.sum(axis=0) / self.timesteps).astype(np.float32))
        self.rates_q.append((q2.sum(axis=0) / self.timesteps).astype(np.float32))
        if activation is not None:
            self.activations.append(np.asarray(activation, dtype=np.float32).reshape(B, -1))
        return both, either

    def _rate_errors(self, rf, rq):
        if self.module is None or not self.activations:
            return None, None, None
        act = np.concatenate(self.activations)
        if act.shape != rf.shape:
            return None, None, None
        if self.scale is not None:
            expected = np.clip(act / self.scale[None, :], 0.0, None)
            err = [float(np.sqrt(np.mean((r - expected) ** 2))) for r in (rf, rq)]
            return err[0], err[1], "activation_scale"
        act = np.maximum(act, 0.0)  # rates are >= 0: a negative logit means "no spikes"
        shape = self.alignment.shape
        channels = shape[0] if len(shape) > 1 else int(np.prod(shape))  # per channel / neuron
        return (C.scale_free_error(rf, act, channels), C.scale_free_error(rq, act, channels),
                "least_squares")

    def result(self):
        rf, rq = np.concatenate(self.rates_f), np.concatenate(self.rates_q)
        e_f, e_q, basis = self._rate_errors(rf, rq)
        neurons = int(np.prod(self.alignment.shape))
        denom = max(rf.shape[0] * neurons * self.timesteps, 1)
        return LayerAudit(
            node=self.alignment.node,
            spike_agreement=C.agreement_from_sums(self.both, self.either),
            rate_correlation=C.rate_correlation(rf, rq), shift_steps=self.alignment.shift,
            neurons=neurons, float_spikes=self.float_spikes,
            deployed_spikes=self.deployed_spikes, float_rate=self.float_spikes / denom,
            deployed_rate=self.deployed_spikes / denom, ann_module=self.module,
            rate_error_float=e_f, rate_error_deployed=e_q, rate_error_basis=basis)

    def scatter(self, points: int, seed: int = 0):
        """(activation, float rate, deployed rate) for at most ``points`` random neurons×samples."""
        act = np.concatenate(self.activations).ravel()
        rf = np.concatenate(self.rates_f).ravel()
        rq = np.concatenate(self.rates_q).ravel()
        if act.shape != rf.shape:
            return (np.zeros(0),) * 3
        if act.size > points:
            pick = np.random.default_rng(seed).choice(act.size, points, replace=False)
            act, rf, rq = act[pick], rf[pick], rq[pick]
        return act, rf, rq


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

    def __init__(self, alignments, modules: dict, scales: dict, timesteps: int):
        self.timesteps = timesteps
        self.layers = {a.node: LayerState(a, modules.get(a.node), scales.get(a.node), timesteps)
                       for a in alignments}
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
