"""Scale ops after a weight op are folded into it (exactly) before checking and quantizing."""
from __future__ import annotations

import nir
import numpy as np

import nirconv
from nirconv.quantization import fold_scales
from nirconv.reading import lower


def _graph(scale):
    rng = np.random.default_rng(0)
    return nir.NIRGraph(
        nodes={"input": nir.Input(np.array([6])),
               "w": nir.Affine(rng.normal(size=(4, 6)), rng.normal(size=4)),
               "s": nir.Scale(np.asarray(scale, dtype=float)),
               "if": nir.IF(r=np.ones(4), v_threshold=np.ones(4),
                            metadata={"reset": "subtract", "compare": ">="}),
               "output": nir.Output(np.array([4]))},
        edges=[("input", "w"), ("w", "s"), ("s", "if"), ("if", "output")],
        metadata={"dt": 1e-3})


def test_fold_is_exact_and_removes_the_node():
    g = _graph([0.5, 2.0, 1.5, 0.25])
    program = lower(g)
    folded = fold_scales(program)
    edges = {(e.src, op.name) for op in folded.ops for e in op.inputs}
    assert "s" not in {op.name for op in folded.ops} and ("w", "if") in edges
    assert "s" in {op.name for op in program.ops}  # input untouched
    x = np.random.default_rng(1).uniform(0, 1, size=(3, 6))
    a = nirconv.simulate(g, x, timesteps=20, dtype=__import__("torch").float64)
    b = nirconv.simulate(folded, x, timesteps=20, dtype=__import__("torch").float64)
    assert np.array_equal(a.numpy(), b.numpy())


def test_speck_accepts_a_scaled_readout():
    rep = nirconv.check(_graph(np.full(4, 0.7)), target="speck")
    assert not [v for v in rep.violations if v.rule == "layer_type"], rep.violations
