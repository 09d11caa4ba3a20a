"""Normalization: the threshold (activation scale λ) of every IF layer, its initial membrane and
the bias corrections, from the ANN's activations on the calibration set.

Methods (`METHODS`; ``normalize=None`` means ``"calibrated"``, the most accurate):

* ``max``        λ = the largest activation (per layer or per channel).
* ``percentile`` λ = the p-th percentile of the activations (default p = 99.9).
* ``scale``      λ = ``scale`` × the largest activation (a fixed factor, e.g. 0.9).
* ``calibrated`` layer-wise calibration at the target number of steps T, layer by layer in
                 topological order on the SNN itself: (1) bias correction — each weighted layer's
                 bias is shifted by the mean difference, per output channel, between the ANN's
                 pre-activation and the SNN's average input current over T steps (the systematic
                 error of the layers before it); (2) threshold and initial-membrane search — per
                 channel, the threshold θ = α·λ_p (λ_p the p-th percentile) and v_init = β·θ that
                 minimise the mean squared error between the IF layer's rate estimate θ·n_T/T and
                 the ANN activation, over a grid of α and β. Earlier layers are fixed when a layer
                 is calibrated, so each layer compensates the errors it receives.

All thresholds here are in ANN units; `nirconv.conversion.build` turns them into the unit-threshold
SNN (Ŵ = W·λ_pre/λ, b̂ = b/λ).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import BadInput
from .functional import if_neuron, over_time
from .graph import WEIGHTED, Graph

METHODS = {
    "max": "largest activation",
    "percentile": "p-th percentile of the activations",
    "scale": "fixed factor times the largest activation",
    "calibrated": "bias correction + per-channel threshold/v_init search at the target T "
                  "(default)",
}
DEFAULT_METHOD = "calibrated"
DEFAULT_TIMESTEPS = (4, 8, 16, 32)
ALPHAS = tuple(float(a) for a in np.round(np.geomspace(0.3, 1.2, 13), 4))
BETAS = (0.25, 0.375, 0.625, 0.75)  # searched after α (at β = 0.5)
MAX_CALIBRATION_SAMPLES = 256


@dataclass(frozen=True)
class Options:
    method: str = DEFAULT_METHOD
    percentile: float = 99.9
    scale: float | None = None
    channel_wise: bool = True
    timesteps: tuple[int, ...] = DEFAULT_TIMESTEPS
    v_init: float = 0.5  # fraction of the threshold (methods other than calibrated)
    readout: str = "membrane"


@dataclass(frozen=True, eq=False)
class Result:
    """Per-layer outcome, in ANN units, keyed by layer name."""

    threshold: dict = field(default_factory=dict)  # relu (and spike readout) -> (C,) array
    v_init: dict = field(default_factory=dict)  # same keys -> (C,) fraction of the threshold
    bias_shift: dict = field(default_factory=dict)  # weighted layer -> (C_out,) array
    readout_scale: float = 1.0


def params_of(layer, like: torch.Tensor) -> dict:
    return {k: torch.as_tensor(v, dtype=like.dtype) for k, v in layer.params.items()
            if isinstance(v, np.ndarray)}


def ann_activations(graph: Graph, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every layer's ANN output on ``x`` (N, *shape)."""
    acts: dict[str, torch.Tensor] = {}
    for layer in graph.layers:
        if layer.kind == "input":
            acts[layer.name] = x
            continue
        seqs = [acts[i].unsqueeze(0) for i in layer.inputs]
        acts[layer.name] = over_time(layer, seqs, params_of(layer, x))[0]
    return acts


def _per_channel(values: torch.Tensor) -> np.ndarray:
    """(N, C, ...) -> (C, M) numpy float64 for statistics."""
    v = values.detach().to(torch.float32)
    if v.dim() == 1:
        v = v.unsqueeze(1)
    return v.transpose(0, 1).reshape(v.shape[1], -1).numpy()


MIN_LAMBDA_FRACTION = 0.05


def activation_scale(values: torch.Tensor, opts: Options, layerwise: bool = False) -> np.ndarray:
    """λ per channel (C,) (all equal when layer-wise) for the activations ``values`` (N, C, ...)."""
    per = _per_channel(torch.clamp_min(values, 0.0))
    rows = per.reshape(1, -1) if (layerwise or not opts.channel_wise) else per
    if opts.method in ("max", "scale"):
        lam = rows.max(axis=1)
        if opts.method == "scale":
            lam = lam * float(opts.scale)
    else:
        lam = np.percentile(rows, opts.percentile, axis=1)
    lam = np.asarray(lam, dtype=np.float64)
    fallback = float(rows.max()) if rows.size and rows.max() > 0 else 1.0
    lam = np.where(lam > 0, lam, fallback)
    # A channel that is almost never active gets a tiny λ and hence huge incoming weights
    # (Ŵ = W·λ_pre/λ), which would dominate a chip's per-layer weight scale and wash out every
    # other channel when quantized. Floor λ at a fraction of the layer's median: such a neuron
    # then fires (rarely) a little below its activation, and the layer stays quantizable.
    lam = np.maximum(lam, MIN_LAMBDA_FRACTION * float(np.median(lam)))
    return np.broadcast_to(lam, (per.shape[0],)).astype(np.float64).copy()


def readout_scale(logits: torch.Tensor, opts: Options) -> float:
    """One scale for the readout layer (a per-class scale would change the argmax)."""
    values = torch.abs(logits) if opts.readout == "membrane" else logits
    lam = activation_scale(values.reshape(-1, 1), Options(
        method="percentile" if opts.method == "calibrated" else opts.method,
        percentile=opts.percentile, scale=opts.scale, channel_wise=False), layerwise=True)
    return float(lam[0])


def normalize(graph: Graph, x: torch.Tensor, opts: Options) -> Result:
    if opts.method not in METHODS:
        raise BadInput(f"unknown normalization {opts.method!r}; choose one of "
                       f"{', '.join(METHODS)}", field="normalize")
    x = x.to(torch.float32)
    acts = ann_activations(graph, x)
    out_logits = acts[graph.output.inputs[0]]
    res = Result(readout_scale=readout_scale(out_logits, opts))
    if opts.method == "calibrated":
        return _calibrate(graph, x[:MAX_CALIBRATION_SAMPLES], acts, opts, res)
    for layer in graph.layers:
        if layer.kind == "relu":
            res.threshold[layer.name] = activation_scale(acts[layer.name], opts)
            res.v_init[layer.name] = np.full(layer.shape[0], opts.v_init)
    if opts.readout == "spikes":
        res.threshold["output"] = np.full(graph.output.shape[0], res.readout_scale)
        res.v_init["output"] = np.full(graph.output.shape[0], opts.v_init)
    return res


# ------------------------------------------------------------------ calibration

def _calibrate(graph: Graph, x, acts, opts: Options, res: Result) -> Result:
    steps = tuple(sorted(set(int(t) for t in opts.timesteps)))
    n = x.shape[0]
    acts = {k: v[:n] for k, v in acts.items()}
    init = Options(method="percentile", percentile=opts.percentile, channel_wise=opts.channel_wise)
    remaining = {k: len(v) for k, v in graph.consumers().items()}
    cache: dict[str, torch.Tensor] = {}
    for layer in graph.layers:
        if layer.kind == "input":
            seq = x.unsqueeze(0).expand((steps[-1],) + tuple(x.shape))
        elif layer.kind == "relu":  # the IF neuron integrates the raw current
            seq = cache[layer.inputs[0]]
        else:
            seq = over_time(layer, [cache[i] for i in layer.inputs], params_of(layer, x))
        if layer.kind in WEIGHTED:
            shift = _bias_correction(seq, acts[layer.name], steps)
            res.bias_shift[layer.name] = shift
            seq = seq + _channels(torch.as_tensor(shift, dtype=seq.dtype), seq.dim() - 1)
        if layer.kind == "relu":
            lam = activation_scale(acts[layer.name], init)
            seq = _search(layer.name, seq, acts[layer.name], lam, steps, res)
        if layer.kind == "output" and opts.readout == "spikes":
            lam = np.full(layer.shape[0], res.readout_scale)
            _search("output", seq, acts[layer.inputs[0]], lam, steps, res, layerwise=True)
        cache[layer.name] = seq
        for i in layer.inputs:
            remaining[i] -= 1
            if remaining[i] == 0:
                del cache[i]
    return res


def _channels(v: torch.Tensor, ndim: int) -> torch.Tensor:
    """(C,) -> broadcastable against (..., C, *spatial) with ``ndim`` per-sample+batch axes."""
    return v.reshape((-1,) + (1,) * (ndim - 2))


def _bias_correction(seq: torch.Tensor, target: torch.Tensor, steps) -> np.ndarray:
    """Mean over samples, positions and the step counts of (ANN pre-activation - SNN current)."""
    cum = torch.cumsum(seq, dim=0)
    err = torch.stack([target - cum[t - 1] / t for t in steps]).mean(0)
    return _per_channel(err).mean(axis=1).astype(np.float64)


def _search(name, seq, target, lam, steps, res: Result, layerwise: bool = False):
    """Per channel, the (α, β) minimising Σ_T E[(θ·n_T/T - a)²]; returns θ·spikes."""
    target = torch.clamp_min(target, 0.0)
    ndim = seq.dim() - 1
    best_err, best = None, None

    def consider(alpha, beta):
        nonlocal best_err, best
        theta = _channels(torch.as_tensor(alpha * lam, dtype=seq.dtype), ndim)
        alpha = np.broadcast_to(alpha, lam.shape)
        cum = torch.cumsum(if_neuron(seq, theta, beta * theta), dim=0)
        err = sum(_per_channel((theta * cum[t - 1] / t - target) ** 2).mean(axis=1)
                  for t in steps)
        if layerwise:
            err = np.full_like(err, err.mean())
        if best_err is None:
            best_err, best = err, np.stack([alpha, np.full_like(alpha, beta)], axis=1)
            return
        better = err < best_err - 1e-12
        best_err = np.where(better, err, best_err)
        best[better] = np.stack([alpha, np.full_like(alpha, beta)], axis=1)[better]

    for alpha in ALPHAS:
        consider(alpha, 0.5)
    chosen = best[:, 0].copy()
    for beta in BETAS:
        consider(chosen, beta)
    res.threshold[name] = best[:, 0] * lam
    res.v_init[name] = best[:, 1].copy()
    theta = _channels(torch.as_tensor(res.threshold[name], dtype=seq.dtype), ndim)
    v0 = _channels(torch.as_tensor(res.threshold[name] * res.v_init[name], dtype=seq.dtype), ndim)
    return theta * if_neuron(seq, theta, v0)
