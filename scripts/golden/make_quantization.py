"""Golden numbers of the quantizer and the fit checker: for a fixed list of float graphs (the NIR
paper's networks, variants that hit every warning, random float programs) and every built-in
target, the integers, scales, warnings and edge delays of the deployed graph, and the fit report.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/golden/make_quantization.py [--random N] [--out DIR]

Writes ``cases.json`` (per case: everything but the arrays, and the shape of each array, keyed
``node|key``) and ``numbers.npz`` (per case, its arrays flattened into one vector, `unpack`) into ``tests/quantization/golden/``; ``tests/quantization/test_golden.py`` recomputes every
case with the installed nirconv and compares, value for value. The files in the repository were
made by the pipeline before issue 14 (graph-level passes): run this script with ``PYTHONPATH``
pointing at such a checkout (with ``nirconv/backends`` linked to its ``backends/``) to remake
them; rerun it on the current code only when a change of numbers is intended.

A case is ``graph/target[/calibration]``; its numbers are read from the deployed NIR graph alone
(node fields and metadata as documented in ``nirconv/nir_io/metadata.py``) and from that graph
lowered in integer mode (edge delays, which the family's structural rules set).
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib.util
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "quantization" / "golden"
TARGETS = ("speck", "xylo", "loihi2", "spinnaker2", "generic")
RANDOM_TOPOLOGIES = ("mlp", "recurrent", "conv2d", "conv1d", "misc")
RANDOM_VARIANTS = ("if", "channel", "raw")
WEIGHT_TYPES = ("Affine", "Linear", "Conv1d", "Conv2d")
NEURON_TYPES = ("I", "IF", "LI", "LIF", "CubaLI", "CubaLIF")
WEIGHT_KEYS = ("shift", "weight_bits", "sign_mode", "weight_scale", "unit_rows")
NEURON_KEYS = ("gain", "state_unit", "scale", "reset", "threshold_int", "bias_int", "v_init_int",
               "max_spikes", "state_bits", "dash_mem", "dash_syn", "du", "dv", "vth", "bias_mant",
               "bias_exp", "threshold_f32", "i_offset", "v_reset_f32", "alpha", "weight_scale")
GRAPH_KEYS = ("target", "arithmetic", "weight_bits", "state_bits", "warnings", "input_encoding",
              "input_scale", "input_bits", "max_events", "input_max")


# ------------------------------------------------------------------ the graphs

@functools.lru_cache(maxsize=None)
def _paper():
    """tests/fixtures/paper.py (the paper-shaped fixture graphs), loaded by path."""
    spec = importlib.util.spec_from_file_location(
        "golden_paper", ROOT / "tests" / "fixtures" / "paper.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@functools.lru_cache(maxsize=None)
def _strategies():
    spec = importlib.util.spec_from_file_location(
        "golden_strategies", ROOT / "tests" / "agreement" / "strategies.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _if(shape):
    import nir
    return nir.IF(r=np.ones(shape), v_threshold=np.ones(shape),
                  metadata={"reset": "subtract", "compare": ">="})


def braille_with_bias():
    import nir
    braille_rnn = _paper().braille_rnn
    g = braille_rnn()
    g.nodes["fc_in"] = nir.Affine(weight=g.nodes["fc_in"].weight, bias=np.full(40, 0.1))
    return g


def braille_excitatory():
    braille_rnn = _paper().braille_rnn
    g = braille_rnn()
    g.nodes["fc_in"].weight = np.abs(g.nodes["fc_in"].weight)
    return g


def braille_rows():
    braille_rnn = _paper().braille_rnn
    g = braille_rnn()
    g.nodes["fc_out"].weight = g.nodes["fc_out"].weight * np.arange(1, 8)[:, None]
    return g


def scaled_readout():
    """An Affine followed by a Scale (folded into it) and a leaky readout with v_init."""
    import nir
    rng = np.random.default_rng(0)
    return nir.NIRGraph(
        nodes={"input": nir.Input(np.array([6])),
               "w": nir.Affine(rng.normal(size=(4, 6)), rng.normal(size=4)),
               "s": nir.Scale(np.array([0.5, 2.0, 1.5, 0.25])),
               "if": nir.IF(r=np.ones(4), v_threshold=np.ones(4),
                            metadata={"reset": "subtract", "compare": ">=", "v_init": 0.5}),
               "output": nir.Output(np.array([4]))},
        edges=[("input", "w"), ("w", "s"), ("s", "if"), ("if", "output")],
        metadata={"dt": 1e-3})


def sum_pool_chain():
    """1-D sum pooling written as a depthwise Conv1d of ones: a weight layer feeding another."""
    import nir
    rng = np.random.default_rng(0)
    nodes = {"input": nir.Input(input_type={"input": np.array([1, 20])}),
             "conv": nir.Conv1d(input_shape=20, weight=rng.normal(0, 0.5, (2, 1, 3)), stride=1,
                                padding=1, dilation=1, groups=1, bias=np.zeros(2)),
             "if1": _if((2, 20)),
             "pool": nir.Conv1d(input_shape=20, weight=np.ones((2, 1, 2)), stride=2, padding=0,
                                dilation=1, groups=2, bias=np.zeros(2)),
             "flat": nir.Flatten(input_type={"input": np.array([2, 10])}),
             "fc": nir.Affine(weight=rng.normal(0, 0.5, (3, 20)), bias=np.zeros(3)),
             "if2": _if((3,)),
             "output": nir.Output(output_type={"output": np.array([3])})}
    names = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names[:-1], names[1:])), type_check=False,
                        metadata={"dialect": "nirconv"})


def per_channel_target(folder: Path) -> str:
    from nirconv.targets import path_of
    text = path_of("generic").read_text().replace('name = "generic"', 'name = "gen-pc"').replace(
        'scale = { value = "per_layer", source = "nirconv: one scale per layer" }',
        'scale = { value = "per_channel", source = "test" }')
    path = folder / "gen-pc.toml"
    path.write_text(text)
    return str(path)


def _per_channel(value, shape):
    """``value`` made constant within each output channel (axis 0), from its first element."""
    if value is None or len(shape) < 2:
        return value
    rows = np.broadcast_to(np.asarray(value), shape).reshape(shape[0], -1)[:, :1]
    return np.broadcast_to(rows.reshape((shape[0],) + (1,) * (len(shape) - 1)), shape).copy()


def _variant(op, variant):
    """A random float neuron as drawn (``raw``), with parameters constant per output channel
    (``channel``: quantizable with per-layer scales), or also without leak and synapse (``if``)."""
    from nirconv.equations.program import NeuronOp
    if variant == "raw" or not isinstance(op, NeuronOp):
        return op
    r = op.neuron
    fields = {f.name: _per_channel(getattr(r, f.name), r.shape) for f in dataclasses.fields(r)
              if isinstance(getattr(r, f.name), np.ndarray)}
    if variant == "if":
        fields.update(alpha_mem=np.ones(r.shape), bias=np.zeros(r.shape), alpha_syn=None,
                      beta_syn=None, model="IF" if r.spiking else "I")
    return dataclasses.replace(op, neuron=dataclasses.replace(r, **fields))


def random_graph(seed: int, topology: str, variant: str = "raw"):
    from nirconv.writing import to_nir
    case = _strategies().random_case(seed, "float", topology)
    program = dataclasses.replace(case.program, dt=1e-3,
                                  ops=tuple(_variant(op, variant) for op in case.program.ops))
    return to_nir(program), tuple(program.input_shape)


def cases(n_random: int, folder: Path):
    """(case name, graph builder, target, calibration or None), in a fixed order."""
    braille_rnn, nmnist_cnn = _paper().braille_rnn, _paper().nmnist_cnn
    rng = np.random.default_rng(2024)
    cal = {"nmnist": rng.random((4, 2, 34, 34)) * 3.0,
           "braille": rng.random((8, 12)) * 2.0,
           "braille_events": (rng.random((8, 12)) < 0.3).astype(np.float64),
           "signed": rng.normal(0.0, 1.0, (8, 12)),
           "pool": rng.random((8, 1, 20)) * 2.0}
    out = []
    for target in TARGETS:
        out.append((f"nmnist/{target}", nmnist_cnn, target, None))
        out.append((f"nmnist/{target}/cal", nmnist_cnn, target, cal["nmnist"]))
        out.append((f"braille/{target}", braille_rnn, target, None))
        for name in ("braille", "braille_events", "signed"):
            out.append((f"braille/{target}/{name}", braille_rnn, target, cal[name]))
        out.append((f"braille_bias/{target}", braille_with_bias, target, None))
        out.append((f"braille_excitatory/{target}", braille_excitatory, target, None))
        out.append((f"scaled_readout/{target}", scaled_readout, target, None))
        out.append((f"sum_pool_chain/{target}/cal", sum_pool_chain, target, cal["pool"]))
    out.append(("braille_rows/gen-pc", braille_rows, per_channel_target(folder), None))
    for seed in range(n_random):
        for topology in RANDOM_TOPOLOGIES:
            variant = RANDOM_VARIANTS[seed % len(RANDOM_VARIANTS)]
            graph, shape = random_graph(seed, topology, variant)
            x = np.random.default_rng(seed).normal(0.3, 1.0, (6, *shape))
            for target in TARGETS:
                out.append((f"random{seed}_{topology}_{variant}/{target}", lambda g=graph: g,
                            target, x if (seed + len(target)) % 2 else None))
    return out


# ------------------------------------------------------------------ running a case

def deployed_graph(graph, target, calibration):
    """The deployed NIR graph of ``graph`` for ``target`` (no fit check)."""
    try:
        from nirconv.deploy import quantize_graph  # after issue 14
    except ImportError:
        from nirconv.quantization import quantize as quantize_graph  # the pipeline before
    return quantize_graph(graph, target, calibration)


def _error(e) -> dict:
    return {"error": type(e).__name__, "message": str(e)}


def _plain(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def numbers(dep) -> tuple[dict, dict]:
    """(arrays, the rest) of a deployed graph: see the module docstring."""
    from nirconv.errors import NirconvError
    from nirconv.reading import lower

    arrays, rest = {}, {"graph": {}, "nodes": {}}
    meta = dep.metadata or {}
    for key in GRAPH_KEYS:
        if key in meta:
            rest["graph"][key] = _plain(meta[key])
    for name, node in dep.nodes.items():
        kind = type(node).__name__
        m = node.metadata or {}
        keys = WEIGHT_KEYS if kind in WEIGHT_TYPES else NEURON_KEYS if kind in NEURON_TYPES else ()
        found = {}
        if kind in WEIGHT_TYPES:
            arrays[f"{name}|weight"] = np.asarray(node.weight, dtype=np.float64)
            if getattr(node, "bias", None) is not None:
                arrays[f"{name}|bias"] = np.asarray(node.bias, dtype=np.float64)
        for key in keys:
            if key not in m:
                continue
            value = _plain(m[key])
            if isinstance(value, str):
                found[key] = value
            else:
                arrays[f"{name}|{key}"] = np.asarray(value, dtype=np.float64)
                found[key] = "array"
        if keys:
            rest["nodes"][name] = {"type": kind, "keys": found}
    try:
        program = lower(dep, mode="int")
        rest["edges"] = {op.name: [[e.src, int(e.delay)] for e in op.inputs]
                         for op in program.ops}
    except NirconvError as e:
        rest["edges"] = _error(e)
    return arrays, rest


def run_case(graph, target, calibration) -> tuple[dict, dict]:
    import nirconv
    from nirconv.errors import NirconvError

    arrays, rest = {}, {}
    try:
        arrays, rest = numbers(deployed_graph(graph, target, calibration))
    except NirconvError as e:
        rest["deployed"] = _error(e)
    try:
        rest["report"] = nirconv.check(graph, target=target, calibration=calibration).to_json()
    except NirconvError as e:
        rest["report"] = _error(e)
    return arrays, json.loads(json.dumps(rest))  # plain JSON types, as read back


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--random", type=int, default=6, help="random float programs per topology")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    packed, all_cases = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, build, target, calibration in cases(args.random, Path(tmp)):
            arrays, rest = run_case(build(), target, calibration)
            rest["arrays"] = {k: list(np.shape(v)) for k, v in sorted(arrays.items())}
            packed[name] = pack(arrays)
            all_cases[name] = rest
    np.savez_compressed(args.out / "numbers.npz", **packed)
    (args.out / "cases.json").write_text(json.dumps(all_cases, indent=1, sort_keys=True) + "\n")
    print(f"{len(all_cases)} cases -> {args.out}")


def pack(arrays: dict) -> np.ndarray:
    """A case's arrays, in key order, flattened into one float64 vector (exact for the integers
    and float64 values they hold)."""
    return np.concatenate([np.asarray(arrays[k], dtype=np.float64).ravel() for k in sorted(arrays)]
                          + [np.zeros(0)])


def unpack(vector: np.ndarray, shapes: dict) -> dict:
    """The arrays `pack` flattened, from their shapes (``cases.json``'s ``arrays``)."""
    out, at = {}, 0
    for key in sorted(shapes):
        n = int(np.prod(shapes[key]))
        out[key] = vector[at:at + n].reshape(shapes[key])
        at += n
    return out


if __name__ == "__main__":
    main()
