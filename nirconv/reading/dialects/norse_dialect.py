"""The norse dialect: NIR files read as norse 1.1's importer ``norse.torch.from_nir`` reads them.

Forward Euler with ``dt`` (norse's default 1e-3 s; graph metadata or ``--dt`` override it);
``tau`` in seconds; ``k = dt / tau``; spikes on ``v > v_threshold`` (norse's heaviside); reset to 0
(norse's ``reset_value``; ``--reset subtract`` picks its ``reset_subtract``). Per step::

    IF      : v = v + x                                       (IAFCell; dt-free)
    LIF     : v = v + k (v_leak - v + x);  v_0 = v_leak        (LIFBoxCell: no current term)
    LI      : v = v + k (v_leak - v + x);  v_0 = v_leak        (LIBoxCell; norse does not import LI)
    CubaLIF : i = i + k_syn (v_leak - i + w_in x);  i_0 = v_leak      (LIBoxCell on the synapse)
              v = v + k_mem (v_leak - v + r i);     v_0 = v_leak      (LIFBoxCell, same step's i)

norse's importer drops ``r`` of IF/LIF/LI and ``v_reset`` of every neuron (it only logs a warning);
rather than drop them silently this dialect accepts ``r = 1`` and ``v_reset = 0`` there (what norse
writes) and refuses other values. The CubaLIF synapse starts at and leaks towards ``v_leak``;
with ``j = i - v_leak`` that is the canonical record with ``j_0 = 0`` and membrane bias
``k_mem v_leak (1 + r)``. norse's LIFCell (the one with a current, exported as CubaLIF) integrates
differently (v uses the previous step's current; the input is added to i unscaled), but its
importer reads every CubaLIF as above, and so does this dialect: ``current_delay`` stays False.
"""
from __future__ import annotations

import nir
import numpy as np

from ...equations.neurons import NeuronFloat
from ._common import need_dt, param, positive, require, reset_mode

WHY = "norse's from_nir ignores it"


class NorseDialect:
    name = "norse"
    default_dt = 1e-3  # norse.torch.from_nir(..., dt=0.001)
    auto_dt = False  # a guessed norse file still needs dt (metadata or --dt): it is only a default

    def neuron(self, node, ctx, shape, dt, reset_override=None) -> NeuronFloat:
        shape = tuple(shape)
        zeros = np.zeros(shape)
        spiking = isinstance(node, (nir.IF, nir.LIF, nir.CubaLIF))
        if spiking:
            require(node, ctx, "v_reset", shape, 0.0, self.name, WHY)
        kw: dict = {}
        if isinstance(node, (nir.I, nir.IF)):
            require(node, ctx, "r", shape, 1.0, self.name, WHY)
            alpha, beta, bias, v0 = np.ones(shape), np.ones(shape), zeros, zeros
        elif isinstance(node, (nir.LI, nir.LIF)):
            require(node, ctx, "r", shape, 1.0, self.name, WHY)
            k = need_dt(dt, ctx, self.name) / positive(param(node, ctx, "tau", shape), ctx, "tau")
            v_leak = param(node, ctx, "v_leak", shape, 0.0)
            alpha, beta, bias, v0 = 1.0 - k, k, k * v_leak, v_leak
        else:  # CubaLI, CubaLIF
            step = need_dt(dt, ctx, self.name)
            k_syn = step / positive(param(node, ctx, "tau_syn", shape), ctx, "tau_syn")
            k_mem = step / positive(param(node, ctx, "tau_mem", shape), ctx, "tau_mem")
            r = param(node, ctx, "r", shape, 1.0)
            v_leak = param(node, ctx, "v_leak", shape, 0.0)
            kw = dict(alpha_syn=1.0 - k_syn,
                      beta_syn=k_syn * param(node, ctx, "w_in", shape, 1.0))
            alpha, beta, bias, v0 = 1.0 - k_mem, k_mem * r, k_mem * v_leak * (1.0 + r), v_leak
        return NeuronFloat(
            shape=shape, alpha_mem=alpha, beta_mem=beta, bias=bias,
            v_threshold=param(node, ctx, "v_threshold", shape) if spiking else None,
            v_reset=zeros, v_init=v0, reset=reset_mode(reset_override, "zero", ctx),
            compare=">", current_delay=False, reset_after_decay=True,
            model=type(node).__name__, **kw)


DIALECT = NorseDialect()
