"""Reading and writing NIR files: atomic writes, robust reads, metadata normalized both ways.

`save` writes with ``nir.write`` into memory, then through `nirconv.nir_io.atomic` (a temporary
file in the target folder, then rename), so no partial file is ever left. Metadata values are made
HDF5-safe (no None; bools and nested dicts flattened to what h5py stores). `load` reads a file that
may come from a stranger (checked first, see nir_io/hdf5_reader.py), turns bytes back into str and
0-d arrays back into scalars, checks the metadata nirconv reads (nir_io/metadata.py), and wraps
every failure into a `BadInput` naming the file.
"""
from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import nir
import numpy as np

from ..errors import BadInput, NirconvError
from .atomic import atomic_write_bytes, check_destination
from .walk import map_dict, rebuild


# ---------------------------------------------------------------- metadata

def to_storable(value: Any) -> Any:
    """A metadata value as nir.write can store it (never None)."""
    if isinstance(value, dict):
        return map_dict(value, _storable_leaf, key=str)
    return _storable_leaf(value)


def _storable_leaf(value: Any) -> Any:
    if value is None:
        return "none"
    if isinstance(value, bool) or isinstance(value, np.bool_):
        return np.int8(1 if value else 0)  # h5py has no bool scalar nir reads back cleanly
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, str) for v in value):
            return np.array([v.encode() for v in value]) if value else np.array([], dtype="S1")
        return np.asarray(value)
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return value


def from_stored(value: Any) -> Any:
    """Undo what HDF5 does to metadata: bytes -> str, 0-d arrays -> scalars, byte arrays -> lists."""
    if isinstance(value, dict):
        return map_dict(value, _plain_leaf)
    return _plain_leaf(value)


def _plain_leaf(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "S" or value.dtype.kind == "O":
            items = [v.decode() if isinstance(v, bytes) else v for v in value.ravel().tolist()]
            return items if value.ndim else items[0]
        if value.ndim == 0:
            return value.item()
        return value
    if isinstance(value, np.generic):
        return value.item()
    return value


def _map_metadata(graph: nir.NIRGraph, fn) -> nir.NIRGraph:
    """A copy of the graph (shallow per node) with ``fn`` applied to every metadata dict."""
    import copy

    def one(g: nir.NIRGraph, prefix: str) -> nir.NIRGraph:
        g.metadata = fn(dict(g.metadata or {}))
        for name, node in g.nodes.items():
            if not isinstance(node, nir.NIRGraph):
                node = copy.copy(node)
                node.metadata = fn(dict(node.metadata or {}))
                g.nodes[name] = node
        return g

    return rebuild(graph, one)


# ---------------------------------------------------------------- write

def save(graph: nir.NIRGraph, path, nir_version: str | None = None) -> Path:
    """Write ``graph`` to ``path`` atomically. ``nir_version="1.0.4"`` writes what nir 1.0.4 reads.

    The HDF5 file is built in memory and written by `atomic_write_bytes` (nirconv/nir_io/atomic.py:
    destination checks, temp naming, faults), so a full disk or a size limit fails in our code."""
    path = check_destination(path)
    if nir_version is not None:
        from .compat import downgrade

        try:
            graph = downgrade(graph, nir_version)
        except NirconvError as e:
            raise e.with_file(path) from None
    storable = _map_metadata(graph, lambda m: {k: to_storable(v) for k, v in m.items()})
    if nir_version is not None:  # only the fields that nir version knows (nir_io/compat.py)
        from .compat import AsDict, prune

        storable = AsDict(prune(storable.to_dict(), nir_version))
    atomic_write_bytes(path, _hdf5_bytes(storable, nir_version, path))
    return path


def _hdf5_bytes(storable, nir_version: str | None, path) -> bytes:
    """The NIR file as bytes (``nir.write`` into memory; nothing touches the disk here)."""
    buf = io.BytesIO()
    try:
        nir.write(buf, storable)
        if nir_version is not None:
            _stamp_version(buf, nir_version)
    except NirconvError:
        raise
    except Exception as e:  # nir.write raises many kinds; none may leave a partial file
        raise BadInput(f"could not write NIR file ({type(e).__name__}: {e})", file=path) from None
    return buf.getvalue()


def _stamp_version(file, version: str) -> None:
    """The file's ``version`` dataset names the nir version it was written for."""
    import h5py

    with h5py.File(file, "r+") as f:
        if "version" in f:
            del f["version"]
        f.create_dataset("version", data=version, dtype=h5py.string_dtype())


# ---------------------------------------------------------------- read

def read_raw(path) -> nir.NIRGraph:
    """The graph in a NIR file, every failure a one-line BadInput naming the file.

    The HDF5 is checked and read by nir_io/hdf5_reader.py (no links, no other files, sizes under
    the cap), peers' quirks repaired and nodes built with nir's classes by nir_io/repair.py, and
    every shape the nodes declare checked against the cap. ``nir.read`` is not used: it follows
    links, reads before it checks sizes, and its type inference is quadratic in the edges."""
    from .repair import read_repaired

    graph, notes = read_repaired(path)
    for note in notes:
        logging.getLogger("nirconv.load").info("%s: repaired %s", path, note)
    return graph


def normalize(graph: nir.NIRGraph) -> nir.NIRGraph:
    """Metadata as Python values (str, int, float, list/ndarray), never bytes or 0-d arrays."""
    return _map_metadata(graph, lambda m: {k: from_stored(v) for k, v in m.items()})


def load(path, dialect: str = "auto") -> nir.NIRGraph:
    """Read a NIR file written by nirconv or a peer. Metadata normalized; the dialect to use is
    recorded in ``graph.metadata['dialect']`` when one is given (``auto`` leaves it to lowering)."""
    from .compat import upgrade
    from .metadata import check_graph_metadata

    try:
        graph = upgrade(normalize(read_raw(path)))
    except NirconvError as e:
        raise e.with_file(path) from None
    check_graph_metadata(graph, str(path))
    if dialect != "auto":
        graph.metadata = dict(graph.metadata or {}, dialect=dialect)
    return graph
