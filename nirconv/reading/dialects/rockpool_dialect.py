"""The Rockpool dialect: NIR files as Rockpool 3.1 writes them (``rockpool.nn.modules.to_nir``).

Rockpool integrates with exact exponential decays ``alpha = exp(-dt/tau_mem)``, ``beta =
exp(-dt/tau_syn)`` (its default ``dt = 1e-3`` s) and writes ``r = tau exp(-dt/tau) / dt`` so that
NIR's forward-Euler factor ``r dt / tau`` equals its decay. The file does not state dt, but r
does: this dialect solves ``r = tau exp(-dt/tau) / dt`` for dt (graph metadata or ``--dt`` take
precedence) and refuses a node whose neurons disagree. Per step (LIFTorch / LIFNeuronTorch /
ExpSynTorch, the order of their ``evolve``)::

    CubaLIF : i = exp(-dt/tau_syn) (i + w_in x)        (the synapse decays this step's input too)
              v = exp(-dt/tau_mem) v + i + v_leak
    LIF     : v = exp(-dt/tau) v + x + v_leak
    LI      : v = exp(-dt/tau) (v + x)                  (ExpSynTorch, non-spiking)
    IF      : v = v + r x                               (Rockpool writes no IF)
    n = floor(v / v_threshold) if v >= v_threshold else 0, at most 2**16;  v = v - n v_threshold

Outputs are spike counts (``max_spikes = 2**16``, Rockpool's ``max_spikes_per_dt``). ``v_leak`` is
read as Rockpool's importer reads it, as the per-step ``bias`` (its exporter writes 0 and drops
the module's bias). ``v_reset`` is not read by Rockpool (it subtracts); ``--reset zero`` sets
v to ``v_reset`` where n > 0. Rockpool does not export ``w_rec``: recurrent LIFTorch modules
lose their recurrence in its files.
"""
from __future__ import annotations

import nir
import numpy as np

from ...equations.neurons import NeuronFloat
from ...errors import BadInput
from ._common import param, positive, reset_mode, v_init

MAX_SPIKES = 2 ** 16  # rockpool's default max_spikes_per_dt


def dt_from_r(tau: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Solve ``r = tau exp(-dt/tau) / dt`` for dt (elementwise Newton on the log; unique root)."""
    tau, r = np.asarray(tau, np.float64), np.asarray(r, np.float64)
    dt = tau / r  # the root when dt << tau; the function is monotone, Newton converges from here
    for _ in range(60):
        f = np.log(tau) - dt / tau - np.log(dt) - np.log(r)
        dt = np.clip(dt - f / (-1.0 / tau - 1.0 / dt), dt * 1e-3, dt * 1e3)
    return dt


class RockpoolDialect:
    name = "rockpool"
    default_dt = None  # recovered from r per node (see module docstring)

    def _dt(self, node, ctx, shape, tau, dt):
        if dt is not None:
            return float(dt)
        r = positive(param(node, ctx, "r", shape), ctx, "r")
        found = dt_from_r(tau, r)
        if not np.allclose(found, found.ravel()[0], rtol=1e-5):
            raise BadInput("the neurons' r values imply different time steps "
                           f"({found.min():g} .. {found.max():g} s); pass --dt", file=ctx.source,
                           node=ctx.name, field="r")
        return float(found.ravel()[0])

    def neuron(self, node, ctx, shape, dt, reset_override=None) -> NeuronFloat:
        shape = tuple(shape)
        zeros = np.zeros(shape)
        spiking = isinstance(node, (nir.IF, nir.LIF, nir.CubaLIF))
        kw: dict = {}
        if isinstance(node, (nir.I, nir.IF)):
            alpha, beta, bias = np.ones(shape), param(node, ctx, "r", shape, 1.0), zeros
        elif isinstance(node, (nir.LI, nir.LIF)):
            tau = positive(param(node, ctx, "tau", shape), ctx, "tau")
            alpha = np.exp(-self._dt(node, ctx, shape, tau, dt) / tau)
            beta = alpha.copy() if isinstance(node, nir.LI) else np.ones(shape)
            bias = param(node, ctx, "v_leak", shape, 0.0)
        else:  # CubaLI, CubaLIF
            tau_mem = positive(param(node, ctx, "tau_mem", shape), ctx, "tau_mem")
            tau_syn = positive(param(node, ctx, "tau_syn", shape), ctx, "tau_syn")
            step = self._dt(node, ctx, shape, tau_mem, dt)
            a_syn = np.exp(-step / tau_syn)
            kw = dict(alpha_syn=a_syn, beta_syn=a_syn * param(node, ctx, "w_in", shape, 1.0))
            alpha, beta = np.exp(-step / tau_mem), np.ones(shape)
            bias = param(node, ctx, "v_leak", shape, 0.0)
        return NeuronFloat(
            shape=shape, alpha_mem=alpha, beta_mem=beta, bias=bias,
            v_threshold=param(node, ctx, "v_threshold", shape) if spiking else None,
            v_reset=param(node, ctx, "v_reset", shape, 0.0) if spiking else zeros,
            v_init=v_init(node, shape), reset=reset_mode(reset_override, "subtract", ctx),
            compare=">=", max_spikes=MAX_SPIKES if spiking else 1,
            model=type(node).__name__, **kw)


DIALECT = RockpoolDialect()
