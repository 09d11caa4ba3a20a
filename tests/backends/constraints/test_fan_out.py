"""Fan-out is each source neuron's own total over all the weight layers it feeds."""
from __future__ import annotations

import nir
import numpy as np

import nirconv


def _xylo_net(rec_targets: int, readout_from_all: bool) -> nir.NIRGraph:
    n = 100
    rec = np.zeros((n, n))
    rec[:rec_targets, :50] = 0.1  # neurons 0..49 each reach rec_targets neurons
    out = np.zeros((8, n))
    out[:, 50:] = 0.2  # neurons 50..99 each reach the 8 outputs
    if readout_from_all:
        out[:, :50] = 0.2

    def cuba(k):
        return nir.CubaLIF(tau_syn=np.full(k, 4e-3), tau_mem=np.full(k, 8e-3), r=np.ones(k),
                           v_leak=np.zeros(k), v_threshold=np.ones(k),
                           metadata={"reset": "subtract"})

    nodes = {"input": nir.Input(np.array([16])), "w_in": nir.Linear(np.full((n, 16), 0.1)),
             "hidden": cuba(n), "w_rec": nir.Linear(rec), "w_out": nir.Linear(out),
             "readout": cuba(8), "output": nir.Output(np.array([8]))}
    edges = [("input", "w_in"), ("w_in", "hidden"), ("hidden", "w_rec"), ("w_rec", "hidden"),
             ("hidden", "w_out"), ("w_out", "readout"), ("readout", "output")]
    return nir.NIRGraph(nodes, edges, metadata={"dt": 1e-3})


def _fan_out(report):
    return [v for v in report.violations if v.rule == "fan_out"]


def test_per_neuron_totals_not_sum_of_per_layer_maxima():
    # per-layer maxima 60 + 8 = 68 > 64, but no neuron reaches more than 60 targets
    assert not _fan_out(nirconv.check(_xylo_net(60, readout_from_all=False), target="xylo"))


def test_a_neuron_over_the_limit_is_reported_with_its_total():
    (v,) = _fan_out(nirconv.check(_xylo_net(60, readout_from_all=True), target="xylo"))
    assert (v.node, v.value, v.limit) == ("hidden", 68, 64)
