"""The one place a `.nir` file is opened for reading: its HDF5 is checked before anything is read.

HDF5 can make a reader open other files or allocate without bound; a `.nir` from a stranger must do
neither (README, "Security and untrusted files"). Before a byte of data is read, the whole file is
walked with h5py's low-level API, which follows no link:

- every link must be a hard link: soft links (dangling or looping), external links (to another
  file) and user-defined links are refused; no group may be reachable by two hard links (that is
  how a hard-link loop looks);
- every dataset must keep its bytes in this file: virtual datasets and external raw storage are
  refused;
- every dataset's type must be a real number, a bool or a string: complex, compound, object
  references, variable-length sequences and opaque types are refused;
- every dataset has at most `MAX_RANK` axes and its declared ``shape × itemsize``, like the running
  total of the file, stays under the cap (`limits.max_array_bytes`); a compressed chunk that
  inflates beyond the chunk it declares is refused before HDF5 inflates it;
- subgraphs are nested at most `MAX_NESTING` deep.

Errors name the file, the node (the path in the file mapped to NIR's dotted node name) and the
field. Walks are iterative: no file can exhaust the stack.
"""
from __future__ import annotations

import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BadInput
from .limits import MAX_NESTING, MAX_RANK, max_array_bytes, too_big

MAX_PATH_DEPTH = 2 * (MAX_NESTING + 1) + 32  # groups per path: two per nesting level + metadata
_VERIFY_STORAGE_BYTES = 64 * 1024  # above this much compressed storage, chunks are inflated first


def where(path: str) -> tuple[str | None, str | None]:
    """The NIR node and field a path in the file stands for:
    ``node/nodes/g/nodes/fc/metadata/w`` -> ``('g.fc', 'metadata.w')``."""
    names, rest = _split(path)
    return ".".join(names) or None, ".".join(rest) or None


def _split(path: str) -> tuple[list, list]:
    """(node names from the top graph down, the field's parts) of a path in the file."""
    parts = path.strip("/").split("/")
    if parts[0] != "node":
        return [], [p for p in parts if p]
    names, i = [], 1
    while i + 1 < len(parts) and parts[i] == "nodes":
        names.append(parts[i + 1])
        i += 2
    return names, parts[i:]


class _Checker:
    """One pass over one open file; ``bad(path, msg)`` builds the error naming node and field."""

    def __init__(self, h5file, source: str, cap: int):
        from h5py import h5g

        self.source = source
        self.cap = cap
        self.total = 0
        self.root = h5g.open(h5file.id, b"/")
        self.memory_types: dict = {}
        self.groups: dict = {}  # path -> open group, so that datasets open relative to it

    def group(self, path: str):
        from h5py import h5g

        if path not in self.groups:
            self.groups[path] = h5g.open(self.root, path.encode())
        return self.groups[path]

    def bad(self, path: str, message: str) -> BadInput:
        node, field = where(path)
        return BadInput(message, file=self.source, node=node, field=field)

    # ---- links, before any data
    def hard_links(self) -> list[str]:
        """Every link's path, parents before children; each one a hard link, none too deep.
        HDF5's own walk follows hard links only and enters each group once (no loops)."""
        from h5py import h5l

        links: list = []
        try:
            self.root.links.visit(lambda name, info: links.append((name, info.type)), info=True)
        except Exception as e:  # a corrupt link table
            raise BadInput(f"corrupt HDF5 structure ({_reason(e)})", file=self.source) from None
        paths = []
        for raw, kind in links:
            path = self.name(raw)
            if kind != h5l.TYPE_HARD:
                raise self.not_hard(raw, path, kind)
            if path.count("/") > 2 * (MAX_NESTING + 1):
                self.check_depth(path)
            paths.append(path)
        return paths

    def not_hard(self, raw: bytes, path: str, kind: int) -> BadInput:
        from h5py import h5l

        if kind == h5l.TYPE_SOFT:
            target = _text(self.root.links.get_val(raw))
            return self.bad(path, f"is an HDF5 soft link (to {target!r}); links are refused in "
                                  ".nir files")
        if kind == h5l.TYPE_EXTERNAL:
            other, obj = (_text(v) for v in self.root.links.get_val(raw))
            return self.bad(path, f"is an HDF5 external link (to {obj!r} in {other!r}); .nir "
                                  "files must not refer to other files")
        return self.bad(path, f"is a user-defined HDF5 link (class {kind}); links are refused "
                              "in .nir files")

    def name(self, raw: bytes) -> str:
        try:
            return raw.decode("utf8")
        except UnicodeDecodeError:
            raise BadInput(f"the HDF5 name {_text(raw)!r} is not UTF-8 text",
                           file=self.source) from None

    def check_depth(self, path: str) -> None:
        names, _ = _split(path)
        if len(names) > MAX_NESTING + 1:
            raise self.bad(path, f"subgraphs nested more than {MAX_NESTING} deep")
        if path.count("/") >= MAX_PATH_DEPTH:
            raise self.bad(path, f"HDF5 groups nested more than {MAX_PATH_DEPTH} deep")

    def leaf_group(self, path: str) -> dict:
        """A link HDF5's walk did not enter: an empty group, or a group it entered through
        another link (a hard-link loop or alias), or no data at all (a named datatype)."""
        from h5py import h5g

        try:
            group = h5g.open(self.root, path.encode())
        except Exception:
            raise self.bad(path, "is neither a group nor a dataset (an HDF5 named datatype?)") \
                from None
        if group.get_num_objs():
            raise self.bad(path, "is a second hard link to a group (a loop or an alias); each "
                                 "group of a .nir file has one")
        return {}

    # ---- one dataset: everything checked from its headers, then read
    def leaf(self, path: str):
        """The value of the dataset at ``path`` (or ``{}`` for an empty group); whatever h5py
        raises on a corrupt object is a BadInput naming node and field."""
        try:
            value = self.dataset(path)
            return self.leaf_group(path) if value is None else value
        except BadInput:
            raise
        except Exception as e:
            raise self.bad(path, f"cannot read ({_reason(e)})") from None

    def dataset(self, path: str):
        """The dataset's value, or None when ``path`` is not a dataset."""
        from h5py import h5d, h5s

        parent, _, name = path.rpartition("/")
        try:
            ds = h5d.open(self.group(parent) if parent else self.root, name.encode())
        except Exception:
            return None
        plist = layout = None
        if ds.get_offset() is None:  # not a plain contiguous block of this file: look closer
            plist = ds.get_create_plist()
            layout = plist.get_layout()
            if layout == h5d.VIRTUAL:
                raise self.bad(path, "is an HDF5 virtual dataset (it reads other datasets or "
                                     "files); refused in .nir files")
            if layout == h5d.CONTIGUOUS and plist.get_external_count() > 0:
                raise self.bad(path, "keeps its data in another file (HDF5 external storage); "
                                     "refused in .nir files")
        dtype = self.dtype(ds, path)
        space = ds.get_space()
        if space.get_simple_extent_type() == h5s.NULL:
            raise self.bad(path, "holds no value (an empty HDF5 dataspace)")
        shape = space.shape
        if len(shape) > MAX_RANK:
            raise self.bad(path, f"has {len(shape)} axes, at most {MAX_RANK} are supported")
        self.count(math.prod(shape) * dtype.itemsize, path)
        if layout == h5d.CHUNKED and ds.get_storage_size() > _VERIFY_STORAGE_BYTES:
            self.check_chunks(ds, plist, dtype, path)
        return self.values(ds, dtype, shape, path)

    def count(self, nbytes: int, path: str) -> None:
        self.total += nbytes
        if nbytes > self.cap:
            raise too_big(nbytes, self.cap, "", file=self.source, **_named(path))
        if self.total > self.cap:
            raise too_big(self.total, self.cap, "the file's arrays up to here: ",
                          file=self.source, **_named(path))

    def dtype(self, ds, path: str) -> np.dtype:
        """The NumPy type the dataset is read as; HDF5 converts the file's bytes to it."""
        import h5py
        from h5py import h5t

        tid = ds.get_type()
        kind, size = tid.get_class(), tid.get_size()
        if kind == h5t.FLOAT and size in (2, 4, 8):
            return np.dtype(f"f{size}")
        if kind == h5t.INTEGER and size in (1, 2, 4, 8):
            return np.dtype(f"{'u' if tid.get_sign() == h5t.SGN_NONE else 'i'}{size}")
        try:
            dtype = tid.dtype
        except Exception as e:
            raise self.bad(path, f"has an HDF5 type nirconv does not read ({_reason(e)})") \
                from None
        if dtype.kind in "bufiS" and dtype.fields is None and dtype.shape == ():
            return dtype
        if dtype.kind == "c":
            raise self.bad(path, "complex values are not supported")
        if h5py.check_string_dtype(dtype) is not None:
            return dtype
        raise self.bad(path, f"has type {dtype} (object, variable-length, compound or opaque "
                             "data); a .nir holds numbers and strings only")

    def check_chunks(self, ds, plist, dtype, path: str) -> None:
        """A deflate chunk may inflate to 1032 times its stored size, and HDF5 allocates all
        of it whatever the chunk declares: when the stored chunks are large enough for that to
        matter, inflate each one here first, bounded by the bytes it declares."""
        from h5py import h5z

        filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
        if h5z.FILTER_DEFLATE not in filters:
            return
        chunk_bytes = math.prod(plist.get_chunk()) * dtype.itemsize
        for i in range(ds.get_num_chunks()):
            offset = ds.get_chunk_info(i).chunk_offset
            mask, raw = ds.read_direct_chunk(offset)
            if _inflated_size(raw, filters, mask, chunk_bytes) > chunk_bytes:
                raise self.bad(path, f"a compressed chunk inflates beyond the {chunk_bytes} "
                                     "bytes it declares (a decompression bomb)")

    def values(self, ds, dtype, shape, path: str):
        from h5py import h5s, h5t

        out = np.empty(shape, dtype=dtype)
        key = (dtype.str, repr(dtype.metadata))
        if key not in self.memory_types:
            self.memory_types[key] = h5t.py_create(dtype)
        try:
            if out.size:
                ds.read(h5s.ALL, h5s.ALL, out, self.memory_types[key])
        except Exception as e:
            raise self.bad(path, f"cannot read the data ({_reason(e)})") from None
        value = out[()] if out.ndim == 0 else out
        try:
            if isinstance(value, bytes):
                return value.decode("utf8")
            if out.dtype.kind in "SO":  # names and labels: decoded later, checked now
                for item in out.ravel().tolist():
                    if isinstance(item, bytes):
                        item.decode("utf8")
        except UnicodeDecodeError:
            raise self.bad(path, "text that is not UTF-8") from None
        return value


def _inflated_size(raw: bytes, filters: list, mask: int, limit: int) -> int:
    """How many bytes the outermost deflate layer of a stored chunk inflates to, at most
    ``limit + 1`` (we stop there). Filters are undone in reverse order; a set bit in ``mask``
    means that filter was skipped for this chunk."""
    from h5py import h5z

    for i in reversed(range(len(filters))):
        if mask & (1 << i):
            continue
        if filters[i] == h5z.FILTER_FLETCHER32:
            raw = raw[:-4]
        elif filters[i] == h5z.FILTER_DEFLATE:
            try:
                return len(zlib.decompressobj().decompress(raw, limit + 1))
            except zlib.error:
                return 0  # HDF5 reports the corrupt chunk itself when it reads it
        else:
            return 0  # lzf or shuffle outside deflate: sizes bounded by the chunk
    return len(raw)


def _named(path: str) -> dict:
    node, field = where(path)
    return {"node": node, "field": field}


def _text(raw) -> str:
    if isinstance(raw, bytes):
        return raw.decode("utf8", errors="backslashreplace")
    return str(raw)


def _reason(e: Exception) -> str:
    return str(e).split("(")[0].strip() or type(e).__name__


def _open(path: Path):
    import h5py

    if not path.exists():
        raise BadInput("file not found", file=path)
    if path.is_dir():
        raise BadInput("is a directory, not a NIR file", file=path)
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise BadInput(f"not an HDF5 file or corrupt ({_reason(e)})", file=path) from None


def _insert(tree: dict, parts: list, value: Any) -> None:
    """``tree[parts[0]]...[parts[-1]] = value``, creating the groups on the way; ``None`` makes
    the last part a group too."""
    for part in parts[:-1]:
        tree = tree.setdefault(part, {})
    if value is None:
        tree.setdefault(parts[-1], {})
    else:
        tree[parts[-1]] = value


def read_tree(path) -> dict:
    """The file's ``node`` group as nested dicts of numpy values (scalar strings decoded), after
    every check of this module. The only function that reads a `.nir`'s data."""
    path = Path(path)
    with _open(path) as f:
        checker = _Checker(f, str(path), max_array_bytes())
        paths = checker.hard_links()
        groups = {p.rpartition("/")[0] for p in paths if "/" in p}
        if "node" not in groups and "node" not in paths:
            raise BadInput("not a NIR file (no 'node' group)", file=path)
        tree: dict = {}
        for name in paths:
            if not name.startswith("node/"):
                continue
            parts = name.split("/")[1:]
            if name in groups:
                _insert(tree, parts, None)  # the group's dict, created once
                continue
            _insert(tree, parts, checker.leaf(name))
    return tree


def read_version(path) -> str | None:
    """The file's ``version`` dataset (the nir version it was written for), read only after the
    same link checks as `read_tree`; None when there is none."""
    path = Path(path)
    with _open(path) as f:
        checker = _Checker(f, str(path), max_array_bytes())
        if "version" not in checker.hard_links():
            return None
        value = checker.leaf("version")
    return value if isinstance(value, str) else None


def has_node_group(path) -> bool:
    """Whether ``path`` is an HDF5 file with a top-level ``node`` group (a NIR file), looked up
    without following any link."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return isinstance(f.get("node", getlink=True), h5py.HardLink) \
                and isinstance(f.get("node"), h5py.Group)
    except Exception:
        return False
