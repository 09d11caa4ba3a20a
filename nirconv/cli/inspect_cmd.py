"""`nirconv inspect` (README: Command line): what a NIR file holds, and how it will be read.

    nirconv inspect GRAPH.nir [--json]

JSON: ``{"nodes": {name: {"type", "shape", "metadata"}}, "edges": [[src, dst]], "metadata",
"facts"}``. ``facts`` holds what decides the simulation: the writer and the dialect ``auto`` picks,
whether ``dt`` is present (and whether leaky neurons need one), each spiking node's reset and
spike condition, recurrent edges, whether the graph is quantized and for which target, the nir
file version. Nested subgraphs are listed with dotted names. Large metadata arrays are summarized.
"""
from __future__ import annotations

import click

from .common import console as make_console
import nir
import numpy as np

from ..errors import NirconvError
from .common import echo_json

LEAKY = (nir.LI, nir.LIF, nir.CubaLI, nir.CubaLIF)
SPIKING = (nir.IF, nir.LIF, nir.CubaLIF, nir.Threshold)
MAX_LISTED = 16  # metadata arrays with more elements are summarized


@click.command(name="inspect")
@click.argument("graph", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def command(graph, as_json):
    """Show the nodes, edges, metadata and dialect-relevant facts of GRAPH.nir."""
    from ..nir_io import load

    g = load(graph)
    report = describe(g, graph)
    if as_json:
        echo_json(report)
    else:
        _print(report, graph)


def describe(g: nir.NIRGraph, path) -> dict:
    nodes, edges = _walk(g)
    return {"nodes": {name: _node_info(node) for name, node in nodes.items()},
            "edges": [[s, d] for s, d in edges],
            "metadata": _summarize(dict(g.metadata or {})),
            "facts": _facts(g, nodes, path)}


def _walk(g: nir.NIRGraph) -> tuple[dict, list]:
    """Leaf nodes by dotted name and every graph's edges, dotted (no recursion: any depth)."""
    from ..nir_io.walk import depth_first

    nodes, edges = {}, []
    for event, name, item in depth_first(g):
        if event == "node":
            nodes[name] = item
        else:
            edges.extend((name + s, name + d) for s, d in item.edges)
    return nodes, edges


def _shape(node):
    out = getattr(node, "output_type", None)
    if isinstance(out, dict):
        for value in out.values():
            if value is not None and np.size(value):
                return [int(v) for v in np.atleast_1d(np.asarray(value))]
    for field in ("weight", "v_threshold", "tau", "tau_mem", "r", "threshold", "scale"):
        value = getattr(node, field, None)
        if value is not None:
            shape = np.shape(value)
            return [int(shape[0])] if field == "weight" and len(shape) == 2 else list(shape)
    return None


def _node_info(node) -> dict:
    return {"type": type(node).__name__, "shape": _shape(node),
            "metadata": _summarize(dict(node.metadata or {}))}


def _summarize(meta: dict) -> dict:
    from ..nir_io.walk import map_dict

    def leaf(value):
        if isinstance(value, np.ndarray) and value.size > MAX_LISTED:
            return {"array_shape": list(value.shape), "dtype": str(value.dtype),
                    "min": _num(value.min()), "max": _num(value.max())}
        return value

    return map_dict(meta, leaf)


def _num(v):
    return v.item() if hasattr(v, "item") else v


def _facts(g: nir.NIRGraph, nodes: dict, path) -> dict:
    from ..reading import dialects
    from ..reading import is_quantized

    meta = dict(g.metadata or {})
    leaky = [n for n, node in nodes.items() if isinstance(node, LEAKY)]
    spiking = {n: node for n, node in nodes.items() if isinstance(node, SPIKING)}
    return {
        "writer": _writer(meta),
        "dialect": dialects.detect(meta, g),
        "dt": meta.get("dt"),
        "dt_present": "dt" in meta,
        "leaky_nodes": leaky,
        "needs_dt": bool(leaky) and "dt" not in meta,
        "reset": {n: str((node.metadata or {}).get("reset", "unstated")) for n, node in
                  spiking.items()},
        "compare": {n: str((node.metadata or {}).get("compare", "unstated")) for n, node in
                    spiking.items()},
        "recurrent_edges": _recurrent(g, path),
        "quantized": is_quantized(meta),
        "target": meta.get("target"),
        "arithmetic": meta.get("arithmetic"),
        "nir_version": _file_version(path),
        "node_types": _count_types(nodes),
    }


def _writer(meta: dict) -> str:
    if "nirconv_version" in meta:
        return f"nirconv {meta['nirconv_version']}"
    return str(meta.get("writer", meta.get("source_tool", "unknown")))


def _recurrent(g, path):
    from ..reading.structure import flatten, order

    try:
        _, back = order(flatten(g, str(path)), str(path))
    except NirconvError as e:
        return f"error: {e.message}"
    return sorted([s, d] for s, d in back)


def _file_version(path):
    from ..nir_io.hdf5_reader import read_version

    return read_version(path)


def _count_types(nodes: dict) -> dict:
    counts: dict = {}
    for node in nodes.values():
        counts[type(node).__name__] = counts.get(type(node).__name__, 0) + 1
    return counts


def _print(report: dict, path) -> None:
    from rich.table import Table

    console = make_console()
    table = Table(title=str(path))
    for col in ("node", "type", "shape", "metadata"):
        table.add_column(col)
    for name, info in report["nodes"].items():
        meta = ", ".join(f"{k}={_short(v)}" for k, v in info["metadata"].items())
        table.add_row(name, info["type"], str(tuple(info["shape"] or ())), meta)
    console.print(table)
    console.print("edges: " + ", ".join(f"{s}->{d}" for s, d in report["edges"]))
    facts = Table(title="how it will be read", show_header=False)
    facts.add_column("fact")
    facts.add_column("value")
    for key, value in report["facts"].items():
        facts.add_row(key, _short(value, 200))
    console.print(facts)
    if report["metadata"]:
        console.print("graph metadata: " + ", ".join(f"{k}={_short(v)}" for k, v in
                                                      report["metadata"].items()))


def _short(value, limit: int = 60) -> str:
    text = str(value.tolist() if isinstance(value, np.ndarray) else value)
    return text if len(text) <= limit else text[: limit - 3] + "..."

