"""Reading the NIR files peers really write, including the ones ``nir.read`` rejects.

Every file `nirconv.load` reads goes through here: its HDF5 checked and read into plain dicts by
nir_io/hdf5_reader.py (never ``nir.read``, which follows links and reads before it checks sizes),
repaired, and built with nir's own node classes without nir's type inference (quadratic in the
edges; the lowering checks shapes along the edges instead). ``nir.read`` type-checks the whole
graph; real files fail it for reasons that can be inferred away (see docs/equations/dialects.md):

- norse 1.1 and Rockpool 3.1 write the Input (and Output) type with the batch axis, e.g. ``(1, 12)``
  in front of an ``Affine`` that takes 12: the leading axis is dropped when the rest is exactly
  what the consumers take and the whole is not;
- Sinabs (nir <= 1.0.4) leaves ``Conv2d.input_shape`` / ``Flatten.input_type`` unset and writes no
  ``v_reset`` / ``w_in`` (fields nir 1.0.4 lacks): unset types stay None (the lowering infers
  shapes along the edges), ``v_reset`` defaults to 0 and ``w_in`` to 1, as nir itself reads them;
- an Input without a shape gets the size its consumers take (an ``Affine``'s columns, a neuron's
  parameter shape); a conv input cannot be inferred and is an error naming the node;
- per-neuron parameters of mixed shapes (snnTorch writes ``v_threshold`` as ``(1,)`` next to
  ``tau`` of ``(n,)``) are broadcast to the common shape when every one of them broadcasts;
- nested graphs are built without nir's eager type check (cycles and batch axes inside
  subgraphs would fail it); recurrent edges are left to the lowering, which finds back edges.

What cannot be inferred is a `BadInput` naming the file, node and field: an unknown node type, a
missing required field, a field nir does not know, a field that holds no numbers, parameters whose
shapes do not broadcast, a declared shape above the array cap (nir_io/limits.py). The repairs work
on copies (nothing read is mutated in place), walk nested graphs without recursion, and return
notes saying what was changed.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import nir
import numpy as np

from ..errors import BadInput, NirconvError, Unsupported

NEURON_PARAMS = ("tau", "tau_mem", "tau_syn", "r", "v_leak", "v_threshold", "v_reset", "w_in")
# Defaults for fields older nir versions (<= 1.0.4) do not write; nir 1.0.8 reads them the same way.
VERSION_DEFAULTS = {
    "v_reset": lambda d: np.zeros_like(np.asarray(d["v_threshold"], dtype=np.float64)),
    "w_in": lambda d: np.float64(1.0),
}


# ---------------------------------------------------------------- raw read

def _plain(value: Any) -> Any:
    return value.decode("utf8") if isinstance(value, bytes) else value


def read_dict(path) -> dict:
    """The file's ``node`` group as nested dicts of numpy values (bytes decoded), read only after
    the file passed every check of nir_io/hdf5_reader.py."""
    from .hdf5_reader import read_tree

    return read_tree(path)


def _is_graph(d) -> bool:
    return isinstance(d, dict) and str(d.get("type")) == "NIRGraph" \
        and isinstance(d.get("nodes"), dict)


def _graph_dicts(top: dict) -> list[tuple[str, dict]]:
    """``(prefix, graph dict)`` for ``top`` and every nested graph dict, parents first."""
    out, stack = [], [("", top)]
    while stack:
        prefix, d = stack.pop()
        out.append((prefix, d))
        if isinstance(d.get("nodes"), dict):
            stack.extend((f"{prefix}{name}.", node) for name, node in d["nodes"].items()
                         if _is_graph(node))
    return out


# ---------------------------------------------------------------- repairs

class _Repair:
    def __init__(self, source: str):
        self.source = source
        self.notes: list[str] = []

    def bad(self, msg, node, field=None):
        return BadInput(msg, file=self.source, node=node, field=field)

    def graph(self, top: dict) -> dict:
        """A repaired copy of the graph dict ``top``, its subgraphs repaired innermost first."""
        done: dict = {}
        for prefix, d in reversed(_graph_dicts(top)):
            done[id(d)] = self.one_graph(d, prefix, done)
        return done[id(top)]

    def one_graph(self, d: dict, prefix: str, done: dict) -> dict:
        if "nodes" not in d or not isinstance(d["nodes"], dict):
            raise self.bad("graph has no 'nodes' group", prefix.rstrip(".") or None, "nodes")
        nodes = {}
        for name, node in d["nodes"].items():
            full = f"{prefix}{name}"
            if not isinstance(node, dict):
                raise self.bad("node is not a group", full)
            nodes[name] = done[id(node)] if _is_graph(node) else self.node(node, full)
        edges = self.edges(d.get("edges"), prefix)
        for src, dst in edges:
            for end in (src, dst):
                if _lookup(nodes, end) is None:
                    raise self.bad(f"edge ({src!r}, {dst!r}) names a node that does not exist",
                                   f"{prefix}{end}", "edges")
        self.input_shapes(nodes, edges, prefix)
        if not isinstance(d.get("metadata", {}), dict):
            raise self.bad("metadata must be a group of values", prefix.rstrip(".") or None,
                           "metadata")
        out = {k: v for k, v in d.items() if k not in ("nodes", "edges")}
        out.update(type="NIRGraph", nodes=nodes, edges=edges, type_check=False)
        return out

    def edges(self, raw, prefix) -> list:
        if raw is None:
            raise self.bad("graph has no 'edges'", prefix.rstrip(".") or None, "edges")
        arr = np.asarray(raw)
        if arr.size == 0:
            return []
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise self.bad(f"edges must be (n, 2) pairs, found shape {arr.shape}",
                           prefix.rstrip(".") or None, "edges")
        return [(str(_plain(a)), str(_plain(b))) for a, b in arr.tolist()]

    def node(self, d: dict, name: str) -> dict:
        kind = d.get("type")
        if kind is None:
            raise self.bad("node has no type", name, "type")
        kind = str(kind)
        if kind == "NIRGraph":  # a subgraph without a 'nodes' group
            raise self.bad("graph has no 'nodes' group", name, "nodes")
        cls = getattr(nir, kind, None) if kind.isidentifier() else None
        if not isinstance(cls, type) or not issubclass(cls, nir.NIRNode) or cls is nir.NIRNode:
            raise self.bad(f"unknown node type {kind!r}", name, "type")
        d = dict(d)
        if not isinstance(d.get("metadata", {}), dict):
            raise self.bad("metadata must be a group of values", name, "metadata")
        if cls in (nir.Input, nir.Output):
            if d.get("shape") is not None:
                d["shape"] = self.shape(d["shape"], name)
            return d
        self.numbers(d, name)
        self.fill_version_defaults(cls, d, name)
        self.check_fields(cls, d, name)
        if "v_threshold" in d or "tau" in d or "tau_mem" in d or "r" in d:
            self.broadcast_params(d, name)
        return d

    def numbers(self, d: dict, name: str) -> None:
        """Every field but ``type``, ``metadata`` and a conv's ``padding`` word holds numbers."""
        for key, value in d.items():
            if key in ("type", "metadata") or value is None \
                    or (key == "padding" and isinstance(value, str)):
                continue
            kind = "group" if isinstance(value, dict) else np.asarray(value).dtype.kind
            if kind == "c":
                raise self.bad("complex values are not supported", name, key)
            if kind not in "biuf":
                raise self.bad(f"must be numbers, is {_short(value)}", name, key)

    def shape(self, value, name) -> np.ndarray:
        """An Input's or Output's shape: non-negative integers whose product fits the cap."""
        from .limits import check_shape

        arr = np.atleast_1d(np.asarray(value))
        if arr.ndim != 1 or arr.dtype.kind not in "biuf" or not np.all(np.isfinite(arr)) \
                or not np.all(arr == np.round(arr)):
            raise self.bad(f"shape must be a list of integers, is {_short(value)}", name, "shape")
        return np.asarray(check_shape(arr, file=self.source, node=name, field="shape"),
                          dtype=np.int64)

    def fill_version_defaults(self, cls, d, name):
        fields = {f.name for f in dataclasses.fields(cls)}
        for key, default in VERSION_DEFAULTS.items():
            if key in fields and key not in d and ("v_threshold" in d or key == "w_in"):
                d[key] = default(d)
                self.notes.append(f"{name}: {key} absent (nir <= 1.0.4 file), read as {key} "
                                  f"= {np.asarray(d[key]).ravel()[:1].tolist()[0]}")
        if cls in (nir.Conv1d, nir.Conv2d) and "input_shape" not in d:
            d["input_shape"] = None
            self.notes.append(f"{name}: input_shape unset, inferred along the edges")

    def check_fields(self, cls, d, name):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for key in d:
            if key not in fields and key != "type":
                raise Unsupported(f"field {key!r} is not part of nir {nir.version} {cls.__name__} "
                                  "(written by a newer nir?)", file=self.source, node=name,
                                  field=key)
        for key, f in fields.items():
            required = (f.default is dataclasses.MISSING
                        and f.default_factory is dataclasses.MISSING)
            if required and key not in d and key not in ("input_type", "output_type"):
                raise self.bad("required field missing", name, key)

    def broadcast_params(self, d, name):
        present = {k: np.asarray(d[k]) for k in NEURON_PARAMS if k in d and d[k] is not None}
        shapes = {k: v.shape for k, v in present.items()}
        if len(set(shapes.values())) <= 1:
            return
        try:
            common = np.broadcast_shapes(*shapes.values())
        except ValueError:
            detail = ", ".join(f"{k} {s}" for k, s in shapes.items())
            raise self.bad(f"parameter shapes do not broadcast: {detail}", name,
                           max(shapes, key=lambda k: len(shapes[k]))) from None
        for k, v in present.items():
            if v.shape != common:
                d[k] = np.broadcast_to(v, common).copy()
        self.notes.append(f"{name}: parameters broadcast to {common}")

    # ---- Input shapes: a batch axis dropped, a missing shape inferred
    def input_shapes(self, nodes, edges, prefix):
        succ: dict = {}
        for s, t in edges:
            succ.setdefault(s, []).append(t)
        batch_dropped = False
        for name, d in nodes.items():
            if d.get("type") != "Input":
                continue
            wants = [w for w in (_wanted_shape(_lookup(nodes, t))
                                 for t in succ.get(name, [])) if w is not None]
            shape = d.get("shape")
            if shape is None:
                if not wants or any(w[0] == "ndim" for w in wants):
                    raise self.bad("Input has no shape and it cannot be inferred from the "
                                   "nodes it feeds", f"{prefix}{name}", "shape")
                d["shape"] = np.asarray(wants[0][1])
                self.notes.append(f"{prefix}{name}: shape inferred as {tuple(wants[0][1])}")
                continue
            shape = tuple(int(s) for s in np.atleast_1d(np.asarray(shape)))
            if len(shape) >= 2 and wants and all(_fits(shape[1:], w) for w in wants) \
                    and not all(_fits(shape, w) for w in wants):
                d["shape"] = np.asarray(shape[1:])
                batch_dropped = True
                self.notes.append(f"{prefix}{name}: batch axis dropped from the Input type "
                                  f"{shape} -> {shape[1:]}")
        if batch_dropped:
            for name, d in nodes.items():
                shape = d.get("shape")
                if d.get("type") == "Output" and shape is not None and np.size(shape) >= 2 \
                        and int(np.asarray(shape).ravel()[0]) == 1:
                    d["shape"] = np.asarray(shape).ravel()[1:]


def _short(value) -> str:
    text = repr(value.tolist() if isinstance(value, np.ndarray) else value)
    return text if len(text) <= 60 else text[:57] + "..."


def _lookup(nodes: dict, name: str):
    """The node an edge end names: a node of this graph (names may contain dots, as nirtorch
    writes them) or a nested graph ``head`` of ``head.inner``; None if neither exists."""
    if name in nodes:
        return nodes[name]
    return nodes.get(name.split(".")[0])


def _wanted_shape(d):
    """What a node takes: ("size", n) for an Affine/Linear, ("ndim", k) for a conv,
    ("shape", s) for a neuron with per-neuron parameters; None when it does not say."""
    if not isinstance(d, dict):
        return None
    kind = d.get("type")
    if kind in ("Affine", "Linear") and d.get("weight") is not None:
        w = np.asarray(d["weight"])
        return ("size", (int(w.shape[-1]),)) if w.ndim == 2 else None
    if kind in ("Conv1d", "Conv2d") and d.get("weight") is not None:
        return ("ndim", np.asarray(d["weight"]).ndim - 1)
    for key in ("v_threshold", "tau", "tau_mem", "r"):
        if d.get(key) is not None and np.size(d[key]) > 1:
            return ("shape", tuple(int(s) for s in np.shape(d[key])))
    return None


def _fits(shape, want) -> bool:
    kind, value = want
    if kind == "ndim":
        return len(shape) == value
    return tuple(shape) == tuple(value)


# ---------------------------------------------------------------- build

def build(d: dict, source: str) -> nir.NIRGraph:
    """Nodes from repaired dicts (nir's own constructors, no type check: the lowering checks
    shapes along the edges), subgraphs innermost first; errors name the node."""
    done: dict = {}
    for prefix, g in reversed(_graph_dicts(d)):
        nodes = {name: done[id(node)] if _is_graph(node) else _node(node, f"{prefix}{name}",
                                                                    source)
                 for name, node in g["nodes"].items()}
        _retype_outputs(nodes, g["edges"])
        try:
            done[id(g)] = nir.NIRGraph(nodes=nodes, edges=g["edges"],
                                       metadata=dict(g.get("metadata", {})), type_check=False)
        except Exception as e:
            why = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise BadInput(f"invalid graph ({why})", file=source,
                           node=prefix.rstrip(".") or None) from None
    return done[id(d)]


def _node(d: dict, name: str, source: str) -> nir.NIRNode:
    try:
        return nir.dict2NIRNode(dict(d))
    except NirconvError:
        raise
    except Exception as e:  # nir validates with assert and raises many kinds
        msg = str(e).split("\n")[0] or type(e).__name__
        raise BadInput(f"invalid {d.get('type')} node ({msg})", file=source, node=name) from None


def _retype_outputs(nodes: dict, edges: list) -> None:
    """An Output whose type holds extra axes (Rockpool writes (1, 1, n) for n) takes the type of
    the node that feeds it, when nir knows that type and the element counts agree."""
    for src, dst in edges:
        out, feeder = nodes.get(dst), _lookup(nodes, src)
        if not isinstance(out, nir.Output) or feeder is None or isinstance(feeder, nir.NIRGraph):
            continue
        known = (getattr(feeder, "output_type", None) or {}).get("output")
        have = out.output_type.get("output")
        if known is None or np.size(known) == 0 or have is None:
            continue
        known = np.asarray(known)
        if tuple(np.atleast_1d(have)) != tuple(known) and np.prod(have) == np.prod(known):
            nodes[dst] = nir.Output(output_type={"output": known}, metadata=out.metadata)


def repair_dict(d: dict, source: str = "<memory>") -> tuple[dict, list[str]]:
    """A repaired copy of a file's node dict, and notes saying what was inferred."""
    if str(d.get("type", "NIRGraph")) != "NIRGraph":
        raise BadInput("the top-level node is not a NIRGraph", file=source, field="type")
    fixer = _Repair(source)
    return fixer.graph(d), fixer.notes


def read_repaired(path) -> tuple[nir.NIRGraph, list[str]]:
    """Read a NIR file: checked raw dicts -> repairs -> nodes, every declared shape under the
    cap. Notes say what was changed."""
    source = str(Path(path))
    fixed, notes = repair_dict(read_dict(path), source)
    graph = build(fixed, source)
    check_declared_shapes(graph, source)
    return graph, notes


def check_declared_shapes(graph: nir.NIRGraph, source: str = "<memory>") -> None:
    """Every type a node declares or nir derives from its fields (an Input's shape, a conv's
    output from its ``input_shape`` and padding) is a shape whose elements fit the cap
    (nir_io/limits.py), before anything is allocated from it."""
    from .limits import check_shape, max_array_bytes
    from .walk import leaves

    cap = max_array_bytes()
    for name, node in leaves(graph).items():
        if not isinstance(node, _DECLARING):
            continue  # its types are the shapes of its own arrays, already under the cap
        for attr in ("input_type", "output_type"):
            types = getattr(node, attr, None)
            if not isinstance(types, dict):
                continue
            for value in types.values():
                if value is not None and np.size(value):
                    field, what = _declaring_field(node, attr)
                    check_shape(np.atleast_1d(np.asarray(value)).ravel(), file=source,
                                node=name, field=field, cap=cap, what=what)


# Nodes whose types come from fields other than their own arrays (shapes, padding, strides).
_DECLARING = (nir.Input, nir.Output, nir.Conv1d, nir.Conv2d, nir.Flatten, nir.SumPool2d,
              nir.AvgPool2d)


def _declaring_field(node, attr: str) -> tuple[str, str]:
    """The field a user would change for a node's declared type, and what that type is."""
    if isinstance(node, (nir.Input, nir.Output)):
        return "shape", "shape"
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        return ("input_shape", "input shape") if attr == "input_type" else \
            ("padding", "output shape")
    return attr, "input shape" if attr == "input_type" else "output shape"


def _numpy_tree(value: Any) -> Any:
    """A to_dict() tree with torch tensors (Sinabs, norse, Rockpool graphs in memory) as numpy."""
    from .walk import map_dict

    def leaf(v):
        return v.detach().cpu().numpy() if hasattr(v, "detach") else v

    return map_dict(value, leaf) if isinstance(value, dict) else leaf(value)


def repair_graph(graph: nir.NIRGraph, source: str = "<memory>") -> tuple[nir.NIRGraph, list[str]]:
    """The same repairs for a graph in memory (e.g. straight from a peer's ``to_nir``): a new
    graph built from ``graph.to_dict()``; the input graph is not mutated."""
    try:
        d = graph.to_dict()
    except Exception as e:
        raise BadInput(f"cannot read the graph ({type(e).__name__}: {e})", file=source) from None
    fixed, notes = repair_dict(_numpy_tree(d), source)
    return build(fixed, source), notes
