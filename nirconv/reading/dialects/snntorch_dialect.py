"""The snnTorch dialect: NIR files as snnTorch 1.0 writes them (``snntorch.export_nir``).

snnTorch's exporter fixes ``dt = 1e-4`` s and writes ``tau = dt / (1 - beta)``, ``r = tau / dt``
(and for Synaptic ``tau_syn = dt / (1 - alpha)``, ``w_in = tau_syn / dt``), ``v_leak = 0``,
``v_reset = 0``. Read with forward Euler at that dt this gives back snnTorch's own update exactly
(``k = dt / tau``)::

    LIF     : v_t = (1 - k) v_{t-1} + k r x_t + k v_leak  - v_threshold s_{t-1}
              (Leaky: v_t = beta v_{t-1} + x_t - thr s_{t-1})
    CubaLIF : i_t = (1 - k_syn) i_{t-1} + k_syn w_in x_t                 (Synaptic: alpha i + x)
              v_t = (1 - k_mem) v_{t-1} + k_mem r i_t + k_mem v_leak - v_threshold s_{t-1}
    s_t = [v_t > v_threshold]

The reset: snnTorch's default ``reset_mechanism="subtract"`` with ``reset_delay=True`` subtracts
the threshold for a spike of step t-1 at step t, *after* the decay (undecayed): the record's
``reset_after_decay=False``. The file does not record the mechanism (``v_reset = 0`` is written
either way), so ``subtract`` is assumed; ``--reset zero`` reads ``reset_mechanism="zero"`` (the
membrane of a neuron that spiked is set to ``v_reset`` before the next decay, which is the same
as an immediate reset). Recurrent layers (RLeaky, RSynaptic) are written as subgraphs
``input -> lif -> w_rec -> lif``; the ``w_rec`` edge back into the neuron carries the previous
step's spikes, which is the lowering's back-edge delay of one step. Initial state 0.
"""
from __future__ import annotations

import nir
import numpy as np

from ...equations.neurons import NeuronFloat
from ._common import need_dt, param, positive, reset_mode, v_init


class SnntorchDialect:
    name = "snntorch"
    default_dt = 1e-4  # hard-coded in snntorch.export_nir

    def neuron(self, node, ctx, shape, dt, reset_override=None) -> NeuronFloat:
        shape = tuple(shape)
        zeros = np.zeros(shape)
        spiking = isinstance(node, (nir.IF, nir.LIF, nir.CubaLIF))
        kw: dict = {}
        if isinstance(node, (nir.I, nir.IF)):
            alpha, beta, bias = np.ones(shape), param(node, ctx, "r", shape, 1.0), zeros
        elif isinstance(node, (nir.LI, nir.LIF)):
            k = need_dt(dt, ctx, self.name) / positive(param(node, ctx, "tau", shape), ctx, "tau")
            alpha, beta = 1.0 - k, k * param(node, ctx, "r", shape, 1.0)
            bias = k * param(node, ctx, "v_leak", shape, 0.0)
        else:  # CubaLI, CubaLIF
            step = need_dt(dt, ctx, self.name)
            k_syn = step / positive(param(node, ctx, "tau_syn", shape), ctx, "tau_syn")
            k_mem = step / positive(param(node, ctx, "tau_mem", shape), ctx, "tau_mem")
            kw = dict(alpha_syn=1.0 - k_syn,
                      beta_syn=k_syn * param(node, ctx, "w_in", shape, 1.0))
            alpha, beta = 1.0 - k_mem, k_mem * param(node, ctx, "r", shape, 1.0)
            bias = k_mem * param(node, ctx, "v_leak", shape, 0.0)
        return NeuronFloat(
            shape=shape, alpha_mem=alpha, beta_mem=beta, bias=bias,
            v_threshold=param(node, ctx, "v_threshold", shape) if spiking else None,
            v_reset=param(node, ctx, "v_reset", shape, 0.0) if spiking else zeros,
            v_init=v_init(node, shape), reset=reset_mode(reset_override, "subtract", ctx),
            compare=">", current_delay=False, reset_after_decay=False,
            model=type(node).__name__, **kw)


DIALECT = SnntorchDialect()
