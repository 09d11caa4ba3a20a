"""The one place a `.nir` file is opened for reading: its HDF5 is checked before anything is read.

HDF5 can make a reader open other files or allocate without bound; a `.nir` from a stranger must do
neither (README, "Security and untrusted files"). Before a byte of data is read, the whole file is
walked with h5py's low-level API, which follows no link:

- every link must be a hard link: soft links (dangling or looping), external links (to another
  file) and user-defined links are refused; no object may be reachable by two hard links (that is
  how a hard-link loop looks);
- every dataset must keep its bytes in this file: virtual datasets and external raw storage are
  refused; compression filters are deflate, shuffle, fletcher32 and lzf only;
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

    def bad(self, path: str, message: str) -> BadInput:
        node, field = where(path)
        return BadInput(message, file=self.source, node=node, field=field)

    # ---- links and objects, before any data
    def check_links(self) -> None:
        from h5py import h5l

        links: list = []
        self.root.links.visit(lambda name, info: links.append((name, info.type)), info=True)
        for raw, kind in links:
            path = self.name(raw)
            if kind == h5l.TYPE_HARD:
                self.check_depth(path)
                continue
            if kind == h5l.TYPE_SOFT:
                target = _text(self.root.links.get_val(raw))
                raise self.bad(path, f"is an HDF5 soft link (to {target!r}); links are refused "
                                     "in .nir files")
            if kind == h5l.TYPE_EXTERNAL:
                other, obj = (_text(v) for v in self.root.links.get_val(raw))
                raise self.bad(path, f"is an HDF5 external link (to {obj!r} in {other!r}); "
                                     ".nir files must not refer to other files")
            raise self.bad(path, f"is a user-defined HDF5 link (class {kind}); links are refused "
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

    def objects(self) -> list[tuple[str, int]]:
        """(path, object type) of every object, each reachable by exactly one hard link."""
        from h5py import h5o

        found: list = []
        h5o.visit(self.root, lambda name, info: found.append((name, info.type, info.rc)),
                  info=True)
        out = []
        for raw, kind, refs in found:
            path = self.name(raw)
            if refs != 1:
                raise self.bad(path, f"is reachable by {refs} hard links (a loop or an alias); "
                                     "each object of a .nir file has one")
            if path != ".":
                out.append((path, kind))
        return out

    # ---- one dataset: everything checked from its headers, then read
    def read(self, path: str):
        from h5py import h5d

        try:
            ds = h5d.open(self.root, path.encode())
            plist = ds.get_create_plist()
        except Exception as e:
            raise self.bad(path, f"cannot open the dataset ({_reason(e)})") from None
        if plist.get_layout() == h5d.VIRTUAL:
            raise self.bad(path, "is an HDF5 virtual dataset (it reads other datasets or "
                                 "files); refused in .nir files")
        if plist.get_external_count() > 0:
            raise self.bad(path, "keeps its data in another file (HDF5 external storage); "
                                 "refused in .nir files")
        dtype = self.dtype(ds, path)
        shape = self.shape(ds, path)
        nbytes = math.prod(shape) * dtype.itemsize
        self.total += nbytes
        if nbytes > self.cap:
            raise too_big(nbytes, self.cap, "", file=self.source, **_named(path))
        if self.total > self.cap:
            raise too_big(self.total, self.cap, "the file's arrays up to here: ",
                          file=self.source, **_named(path))
        if plist.get_layout() == h5d.CHUNKED and plist.get_nfilters():
            self.check_chunks(ds, plist, dtype, path)
        return self.values(ds, dtype, shape, path)

    def dtype(self, ds, path: str) -> np.dtype:
        import h5py

        try:
            dtype = ds.dtype
        except Exception as e:
            raise self.bad(path, f"has an HDF5 type nirconv does not read ({_reason(e)})") \
                from None
        if dtype.kind == "c":
            raise self.bad(path, "complex values are not supported")
        if dtype.kind in "biufS" and dtype.fields is None and dtype.shape == ():
            return dtype
        if h5py.check_string_dtype(dtype) is not None:
            return dtype
        raise self.bad(path, f"has type {dtype} (object, variable-length, compound or opaque "
                             "data); a .nir holds numbers and strings only")

    def shape(self, ds, path: str) -> tuple:
        from h5py import h5s

        space = ds.get_space()
        if space.get_simple_extent_type() == h5s.NULL:
            raise self.bad(path, "holds no value (an empty HDF5 dataspace)")
        shape = tuple(int(s) for s in ds.shape)
        if len(shape) > MAX_RANK:
            raise self.bad(path, f"has {len(shape)} axes, at most {MAX_RANK} are supported")
        return shape

    def check_chunks(self, ds, plist, dtype, path: str) -> None:
        """Allowed filters only; when the stored chunks could inflate to more than the cap
        allows at once, inflate each one here, bounded, before HDF5 does it unbounded."""
        from h5py import h5z

        allowed = {h5z.FILTER_DEFLATE, h5z.FILTER_SHUFFLE, h5z.FILTER_FLETCHER32,
                   h5z.FILTER_LZF}
        filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
        unknown = [f for f in filters if f not in allowed]
        if unknown:
            raise self.bad(path, f"uses HDF5 filter {unknown[0]}; nirconv reads deflate (gzip), "
                                 "shuffle, fletcher32 and lzf only")
        if h5z.FILTER_DEFLATE not in filters:
            return
        if ds.get_storage_size() <= _VERIFY_STORAGE_BYTES:
            return  # inflates to at most 1032 x 64 KiB = 66 MiB: not worth a second inflate
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
        try:
            if out.size:
                ds.read(h5s.ALL, h5s.ALL, out, h5t.py_create(dtype))
        except Exception as e:
            raise self.bad(path, f"cannot read the data ({_reason(e)})") from None
        value = out[()] if out.ndim == 0 else out
        if isinstance(value, bytes):
            try:
                return value.decode("utf8")
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
    for part in parts[:-1]:
        tree = tree.setdefault(part, {})
    tree[parts[-1]] = value


def read_tree(path) -> dict:
    """The file's ``node`` group as nested dicts of numpy values (scalar strings decoded), after
    every check of this module. The only function that reads a `.nir`'s data."""
    from h5py import h5o

    path = Path(path)
    cap = max_array_bytes()
    with _open(path) as f:
        checker = _Checker(f, str(path), cap)
        try:
            checker.check_links()
            objects = checker.objects()
        except BadInput:
            raise
        except Exception as e:  # a corrupt link table or object header
            raise BadInput(f"corrupt HDF5 structure ({_reason(e)})", file=path) from None
        if ("node", h5o.TYPE_GROUP) not in objects:
            raise BadInput("not a NIR file (no 'node' group)", file=path)
        tree: dict = {}
        for name, kind in objects:
            parts = name.split("/")
            if parts[0] != "node" or len(parts) == 1:
                continue
            if kind == h5o.TYPE_GROUP:
                _insert(tree, parts[1:], {})
            elif kind == h5o.TYPE_DATASET:
                _insert(tree, parts[1:], checker.read(name))
            else:
                raise checker.bad(name, "is an HDF5 named datatype, not data")
    return tree


def read_version(path) -> str | None:
    """The file's ``version`` dataset (the nir version it was written for), read only after the
    same checks as `read_tree`; None when there is none."""
    from h5py import h5o

    path = Path(path)
    with _open(path) as f:
        checker = _Checker(f, str(path), max_array_bytes())
        checker.check_links()
        objects = dict(checker.objects())
        if objects.get("version") != h5o.TYPE_DATASET:
            return None
        value = checker.read("version")
    return value if isinstance(value, str) else str(value)


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
