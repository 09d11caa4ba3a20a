"""The Sinabs dialect: NIR files read as Sinabs 3.1.3's importer ``sinabs.nir.from_nir`` reads them.

Sinabs counts time in steps: ``dt = 1`` and time constants in steps (``alpha = exp(-1/tau)``).
Its default spike function is ``MultiSpike`` (a neuron emits ``floor(v / v_threshold)`` spikes
per step once ``v >= v_threshold``) with ``MembraneSubtract`` (``v -= n * v_threshold``), so the
record has ``max_spikes=UNLIMITED`` and outputs spike counts. Per step::

    IF  : v = v + r x                   (IAFSqueeze, min_v_mem = -v_threshold: v >= -v_threshold)
    LIF : v = exp(-dt/tau) v + r x          (LIFSqueeze, norm_input=False, no lower bound)
    LI  : v = exp(-dt/tau) v + r x          (ExpLeakSqueeze, non-spiking)
    n   = floor(v / v_threshold) if v >= v_threshold else 0;   v = v - n v_threshold

Sinabs' exporter writes ``r = 1`` and ``v_leak = 0`` (and ignores ``norm_input``, a LIF's
``tau_syn`` and ``min_v_mem``); its importer refuses ``v_leak != 0`` and, for LI, ``r != 1``: so
does this dialect for ``v_leak``. ``v_reset`` is not read by Sinabs (it subtracts); ``--reset
zero`` gives ``MembraneReset`` (v = v_reset where n > 0). Sinabs writes no Delay, CubaLIF or
recurrent graphs; a CubaLIF is read with Sinabs' LIF synapse (``i = exp(-dt/tau_syn) (i + w_in
x)``, the decay applied to this step's input too).
"""
from __future__ import annotations

import nir
import numpy as np

from ...equations.limits import UNLIMITED
from ...equations.neurons import NeuronFloat
from ._common import param, positive, require, reset_mode, v_init

WHY = "Sinabs' from_nir refuses v_leak != 0"


class SinabsDialect:
    name = "sinabs"
    default_dt = 1.0  # Sinabs' time constants are in steps

    def neuron(self, node, ctx, shape, dt, reset_override=None) -> NeuronFloat:
        shape = tuple(shape)
        step = float(dt if dt is not None else self.default_dt)
        zeros = np.zeros(shape)
        spiking = isinstance(node, (nir.IF, nir.LIF, nir.CubaLIF))
        kw: dict = {}
        v_min = None
        if isinstance(node, (nir.I, nir.IF)):
            alpha = np.ones(shape)
            if isinstance(node, nir.IF):
                v_min = -param(node, ctx, "v_threshold", shape)
        else:
            require(node, ctx, "v_leak", shape, 0.0, self.name, WHY)
            tau = "tau" if isinstance(node, (nir.LI, nir.LIF)) else "tau_mem"
            alpha = np.exp(-step / positive(param(node, ctx, tau, shape), ctx, tau))
            if isinstance(node, (nir.CubaLI, nir.CubaLIF)):
                a_syn = np.exp(-step / positive(param(node, ctx, "tau_syn", shape), ctx, "tau_syn"))
                kw = dict(alpha_syn=a_syn, beta_syn=a_syn * param(node, ctx, "w_in", shape, 1.0))
        return NeuronFloat(
            shape=shape, alpha_mem=alpha, beta_mem=param(node, ctx, "r", shape, 1.0), bias=zeros,
            v_threshold=param(node, ctx, "v_threshold", shape) if spiking else None,
            v_reset=param(node, ctx, "v_reset", shape, 0.0) if spiking else zeros,
            v_init=v_init(node, shape), reset=reset_mode(reset_override, "subtract", ctx),
            compare=">=", max_spikes=UNLIMITED if spiking else 1, v_min=v_min,
            model=type(node).__name__, **kw)


DIALECT = SinabsDialect()
