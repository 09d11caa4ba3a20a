"""Dialects: how each tool's NIR files are read.

NIR leaves discretization, the time step and the reset to the reader, and each tool writes its own
convention. A dialect turns a NIR neuron node into the canonical per-step record `NeuronFloat`
(see nirconv/equations/neurons.py and docs/equations/). One module per tool; the registry below
maps the name users pass (``--dialect``) to it. ``auto`` picks ``nirconv`` when the graph carries
our metadata and otherwise guesses from the writer's traces (see `detect`).
"""
from __future__ import annotations

from importlib import import_module

from ..errors import Unsupported

_MODULES = {
    "nirconv": "nirconv.dialects.nirconv_dialect",
    "norse": "nirconv.dialects.norse_dialect",
    "snntorch": "nirconv.dialects.snntorch_dialect",
    "sinabs": "nirconv.dialects.sinabs_dialect",
    "rockpool": "nirconv.dialects.rockpool_dialect",
}
NAMES = tuple(_MODULES)


def get(name: str):
    """The dialect object for ``name`` (an instance with ``.neuron(node, ctx, shape, dt)``)."""
    if name not in _MODULES:
        raise Unsupported(f"unknown dialect {name!r}; choose one of {', '.join(NAMES)} or auto",
                          field="dialect")
    try:
        module = import_module(_MODULES[name])
    except ModuleNotFoundError as e:
        raise Unsupported(f"dialect {name!r} is not available ({e})", field="dialect") from None
    return module.DIALECT


def detect(metadata: dict) -> str:
    """Which dialect ``auto`` means for a graph with this (normalized) metadata."""
    writer = str(metadata.get("writer", metadata.get("source_tool", ""))).lower()
    if "nirconv_version" in metadata or not writer:
        return "nirconv"
    for name in NAMES:
        if name in writer:
            return name
    return "nirconv"
