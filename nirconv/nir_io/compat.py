"""Writing for older nir readers (nir 1.0.4, pinned by Sinabs and Rockpool), and reading back.

nir 1.0.4 builds every node with ``cls(**fields)``, so a file it reads must hold no field its
classes lack. Compared with nir 1.0.8 (``FIELDS_1_0_4`` below, taken from nir 1.0.4 itself):

- ``v_reset`` does not exist (IF, LIF, CubaLIF): all-zero values are left out (1.0.4's reading),
  others go to the node's metadata key ``v_reset``;
- Input, Output, Linear, Conv2d, Scale and AvgPool2d have no ``metadata``: their metadata moves to
  the graph's metadata key ``node_metadata`` (``{node name: {key: value}}``, per graph level);
- CubaLI does not exist: refused (`Unsupported` naming the node) rather than changed.

`upgrade` undoes both moves when nirconv reads such a file back (`nirconv.load` calls it), so a
round trip through ``save(graph, path, nir_version="1.0.4")`` and ``load`` loses nothing.
"""
from __future__ import annotations

import copy

import nir
import numpy as np

from ..errors import BadInput, Unsupported

SUPPORTED = ("1.0.4",)
NODE_METADATA = "node_metadata"  # graph metadata key (see nir_io/metadata.py)

# Dataclass fields of nir 1.0.4's node classes (input_type/output_type are never written).
FIELDS_1_0_4 = {
    "Affine": {"weight", "bias", "metadata"},
    "AvgPool2d": {"kernel_size", "stride", "padding"},
    "Conv1d": {"input_shape", "weight", "stride", "padding", "dilation", "groups", "bias",
               "metadata"},
    "Conv2d": {"input_shape", "weight", "stride", "padding", "dilation", "groups", "bias"},
    "CubaLIF": {"tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "w_in", "metadata"},
    "Delay": {"delay", "metadata"},
    "Flatten": {"input_type", "start_dim", "end_dim", "metadata"},
    "I": {"r", "metadata"},
    "IF": {"r", "v_threshold", "metadata"},
    "Input": {"input_type"},
    "LI": {"tau", "r", "v_leak", "metadata"},
    "LIF": {"tau", "r", "v_leak", "v_threshold", "metadata"},
    "Linear": {"weight"},
    "NIRGraph": {"nodes", "edges", "metadata"},
    "Output": {"output_type"},
    "Scale": {"scale"},
    "SumPool2d": {"kernel_size", "stride", "padding", "metadata"},
    "Threshold": {"threshold", "metadata"},
}


def _installed(version: str) -> bool:
    return version == getattr(nir, "version", None) or version.startswith("1.0.8")


def downgrade(graph: nir.NIRGraph, version: str) -> nir.NIRGraph:
    """A copy of ``graph`` without the fields nir ``version`` lacks (values go to metadata)."""
    if _installed(version):
        return graph
    if version not in SUPPORTED:
        raise Unsupported(f"nir version {version!r}: supported are {', '.join(SUPPORTED)} and the "
                          f"installed {getattr(nir, 'version', '1.0.8')}", field="nir_version")
    return _downgrade_graph(graph, "")


def _downgrade_graph(graph: nir.NIRGraph, prefix: str) -> nir.NIRGraph:
    from .walk import rebuild

    return rebuild(graph, lambda g, inner: _downgrade_level(g, f"{prefix}{inner}"))


def _downgrade_level(new: nir.NIRGraph, prefix: str) -> nir.NIRGraph:
    """One graph level (a shallow copy whose subgraphs are already downgraded)."""
    meta = dict(new.metadata or {})
    moved = dict(meta.get(NODE_METADATA) or {})
    nodes = {}
    for name, node in new.nodes.items():
        kind = type(node).__name__
        if isinstance(node, nir.NIRGraph):
            nodes[name] = node
            continue
        if kind not in FIELDS_1_0_4:
            raise Unsupported(f"nir 1.0.4 has no {kind} node; save without nir_version or "
                              "replace the node", node=f"{prefix}{name}", field="type")
        node = copy.copy(node)
        node_meta = dict(node.metadata or {})
        v_reset = getattr(node, "v_reset", None)
        if v_reset is not None and np.any(np.asarray(v_reset) != 0):
            node_meta["v_reset"] = np.asarray(v_reset)
        if "metadata" not in FIELDS_1_0_4[kind] and node_meta:
            moved[name] = node_meta
            node_meta = {}
        node.metadata = node_meta
        nodes[name] = node
    if moved:
        meta[NODE_METADATA] = moved
    new.nodes = nodes
    new.metadata = meta
    return new


def prune(d: dict, version: str) -> dict:
    """A node dict (``node.to_dict()``) without the keys nir ``version`` does not know; nested
    graph dicts too (walked, not recursed)."""
    if _installed(version):
        return d
    top: dict = {}
    stack = [(d, top)]
    while stack:
        src, out = stack.pop()
        kind = src.get("type")
        allowed = FIELDS_1_0_4.get(kind, set()) | {"type", "shape"}
        out.update((k, v) for k, v in src.items() if k in allowed)
        if kind == "NIRGraph":
            out["nodes"] = {}
            for name, node in src["nodes"].items():
                out["nodes"][name] = {}
                stack.append((node, out["nodes"][name]))
        if "metadata" in out and not out["metadata"]:
            del out["metadata"]
    return top


class AsDict:
    """What ``nir.write`` needs of a graph: ``to_dict()`` (here, a pruned dict)."""

    def __init__(self, d: dict):
        self._d = d

    def to_dict(self) -> dict:
        return self._d


def upgrade(graph: nir.NIRGraph) -> nir.NIRGraph:
    """Undo `downgrade`'s moves on a (normalized) graph read back: node metadata returns to its
    node, ``v_reset`` from metadata to the field. Returns a copy; the input is not mutated."""
    from .walk import leaves, rebuild

    needs = any(NODE_METADATA in (g.metadata or {}) for g in _graphs(graph)) or any(
        "v_reset" in (n.metadata or {}) for n in leaves(graph).values())
    if not needs:
        return graph
    return rebuild(graph, lambda g, prefix: _upgrade_level(g))


def _v_reset(value, shape, name) -> np.ndarray:
    """A ``v_reset`` kept in metadata, as the field: real numbers of the node's shape."""
    try:
        if np.iscomplexobj(value):
            raise TypeError("complex values are not supported")
        return np.broadcast_to(np.asarray(value, dtype=np.float64), shape).copy()
    except (TypeError, ValueError) as e:
        raise BadInput(f"must be numbers that broadcast to {shape} ({e})", node=name,
                       field="metadata.v_reset") from None


def _graphs(graph):
    from .walk import graphs

    return [g for _, g in graphs(graph)]


def _upgrade_level(new: nir.NIRGraph) -> nir.NIRGraph:
    """One graph level (a shallow copy whose subgraphs are already upgraded)."""
    meta = dict(new.metadata or {})
    moved = meta.pop(NODE_METADATA, None) or {}
    if not isinstance(moved, dict) or not all(isinstance(v, dict) for v in moved.values()):
        raise BadInput("must map node names to groups of metadata",
                       field=f"metadata.{NODE_METADATA}")
    nodes = {}
    for name, node in new.nodes.items():
        if isinstance(node, nir.NIRGraph):
            nodes[name] = node
            continue
        node_meta = dict(node.metadata or {})
        node_meta.update(moved.get(name) or {})
        v_reset = node_meta.pop("v_reset", None)
        if v_reset is not None or name in moved:
            node = copy.copy(node)
            if v_reset is not None and hasattr(node, "v_reset"):
                node.v_reset = _v_reset(v_reset, np.shape(node.v_threshold), name)
            node.metadata = node_meta
        nodes[name] = node
    new.nodes = nodes
    new.metadata = meta
    return new
