"""Shared by the golden-file scripts: where files go and how the reference is stored.

Each ``make_<tool>.py`` runs in that tool's own virtual environment (see README.md beside this
file), so this module imports nothing from nirconv and nothing the tools do not already need.
A golden case is two files in ``tests/golden/<tool>/``:

- ``<name>.nir``: the network as the tool's own NIR exporter wrote it (``nir.write``);
- ``<name>.npz``: ``input`` (T, B, *input_shape) float32, ``output`` (T, B, n) the tool's output
  spikes per step (float32 counts), ``dt`` (seconds the tool simulated with), ``tool``,
  ``tool_version``, ``nir_version``, ``note``, ``reset`` (strings; load with
  ``allow_pickle=False``). ``reset`` is "" or the ``--reset`` the reader must pass because the
  tool does not record its reset mode in the file (snnTorch).
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def out_dir(tool: str) -> Path:
    path = ROOT / "tests" / "golden" / tool
    path.mkdir(parents=True, exist_ok=True)
    return path


def bernoulli(shape, p: float, seed: int) -> np.ndarray:
    """Seeded 0/1 input (float32): the same input whatever the tool's RNG."""
    return (np.random.default_rng(seed).random(shape) < p).astype(np.float32)


def write_case(tool: str, name: str, graph, x, y, *, dt: float, tool_version: str,
               note: str = "", reset: str = "") -> None:
    """Write ``<name>.nir`` (with the installed nir's ``write``) and ``<name>.npz``, atomically."""
    import nir

    folder = out_dir(tool)
    y = np.asarray(y, dtype=np.float32)
    x = np.asarray(x, dtype=np.float32)
    for suffix, writer in ((".nir", lambda p: nir.write(p, graph)),
                           (".npz", lambda p: np.savez_compressed(
                               p, input=x, output=y, dt=np.float64(dt), tool=np.str_(tool),
                               tool_version=np.str_(tool_version),
                               nir_version=np.str_(getattr(nir, "version", "?")),
                               note=np.str_(note), reset=np.str_(reset)))):
        fd, tmp = tempfile.mkstemp(prefix=f".{name}", suffix=suffix, dir=folder)
        os.close(fd)
        try:
            writer(tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, folder / f"{name}{suffix}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    spikes = int(y.sum())
    print(f"{tool}/{name}: input {x.shape}, output {y.shape}, {spikes} output spikes",
          file=sys.stderr)


def fill_untyped(graph, input_shape) -> None:
    """Fill in the types an exporter left None, which ``nir.write`` cannot store.

    norse 1.1 and Sinabs 3.1.3 leave ``Conv2d.input_shape`` None; Sinabs (with nir 1.0.4) also
    leaves ``Flatten.input_type`` None. Walks the edges from the Input node carrying the (C, H, W)
    shape through Conv2d and 2-D pooling. The only edit made to a tool's graph.
    """
    import nir

    succ = {}
    for src, dst in graph.edges:
        succ.setdefault(src, []).append(dst)
    start = [k for k, v in graph.nodes.items() if isinstance(v, nir.Input)]
    todo, seen = [(k, np.asarray(input_shape)) for k in start], set()
    while todo:
        name, shape = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        node = graph.nodes[name]
        if isinstance(node, nir.Conv2d):
            if node.input_shape is None:
                node.input_shape = np.asarray(shape[1:])
            k = np.asarray(node.weight.shape[2:])
            size = (shape[1:] + 2 * np.asarray(node.padding) - np.asarray(node.dilation) * (k - 1)
                    - 1) // np.asarray(node.stride) + 1
            shape = np.asarray([node.weight.shape[0], *size])
        elif isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
            size = (shape[1:] + 2 * np.asarray(node.padding) - np.asarray(node.kernel_size)) \
                // np.asarray(node.stride) + 1
            shape = np.asarray([shape[0], *size])
        elif isinstance(node, nir.Flatten):
            if (getattr(node, "input_type", None) or {}).get("input") is None:
                node.input_type = {"input": np.asarray(shape)}
            continue
        todo.extend((d, shape) for d in succ.get(name, []))
