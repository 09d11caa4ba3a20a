"""Dialects: how each tool's NIR files are read.

NIR leaves discretization, the time step and the reset to the reader, and each tool writes its own
convention. A dialect turns a NIR neuron node into the canonical per-step record `NeuronFloat`
(see nirconv/equations/neurons.py and docs/equations/). One module per tool; the registry below
maps the name users pass (``--dialect``) to it. ``auto`` picks ``nirconv`` when the graph carries
our metadata and otherwise guesses from the writer's traces (see `detect`).
"""
from __future__ import annotations

import re
from importlib import import_module

from ...errors import Unsupported

_MODULES = {
    "nirconv": "nirconv.reading.dialects.nirconv_dialect",
    "norse": "nirconv.reading.dialects.norse_dialect",
    "snntorch": "nirconv.reading.dialects.snntorch_dialect",
    "sinabs": "nirconv.reading.dialects.sinabs_dialect",
    "rockpool": "nirconv.reading.dialects.rockpool_dialect",
}
NAMES = tuple(_MODULES)


def get(name: str):
    """The dialect object for ``name`` (an instance with ``.neuron(node, ctx, shape, dt)``)."""
    if name not in _MODULES:
        raise Unsupported(f"unknown dialect {name!r}; choose one of {', '.join(NAMES)} or auto",
                          field="dialect")
    return import_module(_MODULES[name]).DIALECT


def detect(metadata: dict, graph=None) -> str:
    """Which dialect ``auto`` means for a graph with this (normalized) metadata.

    In order: an explicit ``dialect`` key; our own files (``nirconv_version``) and graphs without
    any trace -> ``nirconv``; a ``writer`` / ``source_tool`` naming a tool; then, when ``graph``
    is given, the traces each exporter leaves (see `guess_from_graph`)."""
    named = str(metadata.get("dialect", "")).lower()
    if named in _MODULES:
        return named
    if "nirconv_version" in metadata:
        return "nirconv"
    writer = str(metadata.get("writer", metadata.get("source_tool", ""))).lower()
    for name in NAMES:
        if writer and name in writer:
            return name
    if graph is not None:
        return guess_from_graph(graph) or "nirconv"
    return "nirconv"


_ROCKPOOL_NAME = re.compile(r"^\d+_(LinearTorch|LIFTorch|LIFNeuronTorch|ExpSynTorch)$")
_SNNTORCH_DT_S = 1e-4


def guess_from_graph(graph) -> str | None:
    """The exporter's traces in a graph without metadata, or None when there are none.

    - Rockpool names nodes ``<index>_<ModuleClass>`` (``0_LinearTorch``, ``1_LIFTorch``);
    - snnTorch writes ``r = tau / dt`` with its fixed ``dt = 1e-4`` s on every leaky neuron;
    - Sinabs counts time in steps (``tau >= 1``) and writes ``r = 1``, ``v_leak = 0``;
    - norse writes ``r = 1`` with ``tau`` in seconds (``tau < 1``).
    Graphs of IF neurons only carry no trace (norse and Sinabs write the same fields)."""
    import nir
    import numpy as np

    nodes = _leaves(graph)
    if any(_ROCKPOOL_NAME.match(name.split(".")[-1]) for name in nodes):
        return "rockpool"
    leaky = [n for n in nodes.values() if isinstance(n, (nir.LI, nir.LIF, nir.CubaLI, nir.CubaLIF))]
    if not leaky:
        return None
    taus = [np.asarray(getattr(n, "tau", None) if isinstance(n, (nir.LI, nir.LIF)) else n.tau_mem,
                       dtype=np.float64) for n in leaky]
    rs = [np.asarray(n.r, dtype=np.float64) for n in leaky]
    try:
        if all(np.allclose(t / r, _SNNTORCH_DT_S, rtol=1e-4) for t, r in zip(taus, rs)):
            return "snntorch"
        if all(np.allclose(r, 1.0) for r in rs):
            if all(np.all(t >= 1.0) for t in taus):
                return "sinabs"
            if all(np.all(t < 1.0) for t in taus):
                return "norse"
    except (TypeError, ValueError):
        return None
    return None


def _leaves(graph) -> dict:
    from ...nir_io.walk import leaves

    return leaves(graph)
