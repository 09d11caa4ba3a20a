"""How long `nirconv.load` and `nirconv.check` take on a long chain (README, "Security and
untrusted files": loading and checking a 10,000-node chain takes at most 5 s).

    python benchmarks/long_chain.py [--nodes 10000] [--target generic]

Writes Input -> (Affine -> IF) x n/2 -> Output (width 4) with nir.write, then times the load and
the check separately and prints the figures. nir's own reader (``nir.read``, type check on) takes
about 45 s on the same file, almost all of it in its type inference.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import nir
import numpy as np


def chain(n_nodes: int, width: int = 4) -> nir.NIRGraph:
    nodes = {"input": nir.Input(input_type=np.array([width]))}
    edges, prev = [], "input"
    for i in range(n_nodes // 2):
        nodes[f"fc{i}"] = nir.Affine(weight=np.eye(width), bias=np.zeros(width))
        nodes[f"if{i}"] = nir.IF(r=np.ones(width), v_threshold=np.ones(width))
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"if{i}")]
        prev = f"if{i}"
    nodes["output"] = nir.Output(output_type=np.array([width]))
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": 1e-3}, type_check=False)


def main() -> None:
    import nirconv

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--target", default="generic")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chain.nir"
        nir.write(str(path), chain(args.nodes))
        t0, c0 = time.perf_counter(), time.process_time()
        graph = nirconv.load(path)
        t1, c1 = time.perf_counter(), time.process_time()
        report = nirconv.check(graph, target=args.target)
        t2, c2 = time.perf_counter(), time.process_time()
    print(f"{len(graph.nodes)} nodes: load {t1 - t0:.2f} s, check {t2 - t1:.2f} s, "
          f"total {t2 - t0:.2f} s wall ({c2 - c0:.2f} s CPU; fits: {report.fits})")


if __name__ == "__main__":
    main()
