"""Every metadata key nirconv writes, documented once: the README's table is generated from
`KEYS` (``python -m nirconv.nir_io.metadata``) and a test checks that every key found in our
exported files is listed here.

The same table says what a file must hold for nirconv to read it back: `check_graph_metadata`
(run by `nirconv.load`) refuses a key of `KEYS` whose value has another type than the table's, or
lies outside `RANGES` (``dt`` stored as a string, ``input_bits`` of 10⁹), with a one-line BadInput
naming node and ``metadata.<key>``. Keys nirconv does not know are left alone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import BadInput


@dataclass(frozen=True)
class Key:
    name: str
    level: str  # "graph" | "node"
    type: str
    unit: str
    meaning: str


KEYS: dict[str, Key] = {k.name: k for k in [
    # provenance and time
    Key("nirconv_version", "graph", "str", "", "nirconv version that wrote the file"),
    Key("source_model", "graph", "str", "", "what was converted (class name or file)"),
    Key("normalization", "graph", "str", "", "normalization mode used by the conversion"),
    Key("dt", "graph", "float", "s", "time step the graph is meant to be simulated with"),
    Key("timesteps", "graph", "int", "steps", "number of steps the conversion was calibrated for"),
    Key("input_encoding", "graph", "str", "", "how a static input is presented: current | rate | spikes"),
    Key("input_scale", "graph", "float", "input units per integer unit", "scale of the integer input"),
    Key("readout", "graph", "str", "", "spikes | membrane"),
    Key("granularity", "graph", "str", "", "conversion thresholds per 'channel' or per 'layer'"),
    Key("percentile", "graph", "float", "%", "activation percentile used by the normalization"),
    Key("calibration_timesteps", "graph", "list of int", "steps", "step counts the conversion calibrated thresholds and biases for"),
    Key("calibration_choice", "graph", "str", "", "which calibrated candidate was selected: target_steps | joint_steps | percentile"),
    Key("scale_factor", "graph", "float", "", "factor of the max activation (normalization 'scale')"),
    Key("module", "node", "str", "", "torch module path the node was converted from"),
    Key("pooling", "node", "str", "", "'sum': a depthwise Conv1d of ones that stands for 1-D sum pooling"),
    # quantized graphs
    Key("target", "graph", "str", "", "target the graph was quantized and checked for"),
    Key("arithmetic", "graph", "str", "", "integer equations family: speck | xylo | loihi2 | spinnaker2 | generic"),
    # neurons
    Key("reset", "node", "str", "", "subtract | zero (zero = to v_reset); on every spiking node"),
    Key("compare", "node", "str", "", "spike condition: '>=' or '>' (NIR states '>')"),
    Key("v_init", "node", "float or array", "state units", "initial membrane potential"),
    Key("threshold", "node", "float or array", "float units", "float threshold of a spiking node (before quantization)"),
    Key("scale", "node", "float or array", "float units per integer unit", "factor between the node's float and integer units"),
    Key("weight_bits", "node", "int", "bits", "width of the integer weights"),
    # nir 1.0.4 files (save(..., nir_version="1.0.4"); load restores both)
    Key("node_metadata", "graph", "dict", "", "metadata of nodes nir 1.0.4 gives none (Input, Output, Linear, Conv2d, Scale, AvgPool2d): {node: {key: value}}"),
    Key("v_reset", "node", "float or array", "state units", "reset potential of a spiking node in a nir 1.0.4 file (1.0.4 has no v_reset field; 0 when absent)"),
    Key("shift", "node", "int", "bits", "left shift applied to a weight node's output (Xylo weight shift, Loihi weight exponent)"),
    # quantization for a target (nirconv/quantization, read back by nirconv/reading/integer.py)
    Key("state_bits", "graph, node", "int", "bits", "width of the integer membrane state"),
    Key("warnings", "graph", "list of str", "", "changes the target forced ('node: rule: message'), e.g. reset subtract -> zero"),
    Key("fits", "graph", "bool", "", "whether the exported graph fits its target (false only with --force)"),
    Key("input_max", "graph", "float", "input units", "largest |input| of the calibration data"),
    Key("input_bits", "graph", "int", "bits", "width of an integer input current (input_encoding current)"),
    Key("max_events", "graph", "int", "events per step", "largest events per input channel per step (input_encoding rate)"),
    Key("float_weight", "node", "array", "float units", "weight node: the float weights before quantization"),
    Key("float_bias", "node", "array", "float units", "weight node: the float bias before quantization (absent when zero)"),
    Key("weight_scale", "node", "float or array", "float units per integer unit", "weight node: float weight per integer weight (per output row); SpiNNaker2 neuron: Float32LIF weight_scale"),
    Key("sign_mode", "node", "str", "", "weight node: signed | unsigned | excitatory | inhibitory | mixed (Loihi sign modes)"),
    Key("unit_rows", "node", "float or array", "normalized membrane units", "weight node: value of one integer weight in the consumer's normalized state units (per row)"),
    Key("float_shape", "node", "list of int", "", "neuron node: shape of the population"),
    Key("float_model", "node", "str", "", "neuron node: NIR type of the float neuron"),
    Key("float_alpha_mem", "node", "float or array", "", "neuron node: float membrane decay per step (dialect-resolved)"),
    Key("float_beta_mem", "node", "float or array", "", "neuron node: float membrane input gain per step"),
    Key("float_v_bias", "node", "float or array", "float units", "neuron node: float bias added to v per step (e.g. dt/tau*v_leak)"),
    Key("float_alpha_syn", "node", "float or array", "", "neuron node: float synaptic decay per step (CubaLIF/CubaLI)"),
    Key("float_beta_syn", "node", "float or array", "", "neuron node: float synaptic input gain per step"),
    Key("float_v_init", "node", "float or array", "float units", "neuron node: float initial membrane"),
    Key("float_v_reset", "node", "float or array", "float units", "neuron node: float reset potential"),
    Key("float_scale", "node", "float or array", "", "neuron node: the float graph's own 'scale' (e.g. the conversion's λ), kept while 'scale' holds the integer one"),
    Key("float_reset", "node", "str", "", "neuron node: the float graph's reset (reset holds the deployed one)"),
    Key("float_compare", "node", "str", "", "neuron node: the float graph's spike condition"),
    Key("gain", "node", "float or array", "", "neuron node: G, float input -> normalized integer input per step (docs/equations/targets.md)"),
    Key("state_unit", "node", "float or array", "threshold units per integer unit", "neuron node: normalized membrane value of one integer LSB"),
    Key("threshold_int", "node", "int or array", "integer state units", "Speck/Xylo/generic: integer threshold (v >= threshold_int)"),
    Key("bias_int", "node", "int or array", "integer state units", "Speck/Xylo/generic: integer bias added to v per step"),
    Key("v_init_int", "node", "int or array", "integer state units", "Speck/Xylo/generic: integer initial membrane"),
    Key("max_spikes", "node", "count", "spikes per step", "spikes a neuron emits per step (inf: unlimited; -1 in files of nirconv 0.1)"),
    Key("current_delay", "node", "bool", "", "float neuron: v uses the previous step's synaptic current (norse's LIFCell); absent: false"),
    Key("reset_after_decay", "node", "bool", "", "float neuron: false for snnTorch's one-step-late, undecayed reset; absent: true"),
    Key("v_min", "node", "float or array", "state units", "float neuron: lower bound of v after the reset (Sinabs' min_v_mem); absent: none"),
    Key("float_current_delay", "node", "bool", "", "neuron node: the float neuron's current_delay"),
    Key("float_reset_after_decay", "node", "bool", "", "neuron node: the float neuron's reset_after_decay"),
    Key("float_max_spikes", "node", "count", "spikes per step", "neuron node: the float neuron's max_spikes (inf: unlimited)"),
    Key("float_v_min", "node", "float or array", "float units", "neuron node: the float neuron's v_min"),
    Key("dash_mem", "node", "int or array", "bit shift", "Xylo/generic: membrane decay v -= v >> dash_mem (absent: no leak)"),
    Key("dash_syn", "node", "int or array", "bit shift", "Xylo/generic: synaptic decay (absent: no synaptic current)"),
    Key("du", "node", "int or array", "1/4096", "Loihi 2: current decay (u *= (4096 - (du + 1)) / 4096)"),
    Key("dv", "node", "int or array", "1/4096", "Loihi 2: voltage decay (v *= (4096 - dv) / 4096)"),
    Key("vth", "node", "int or array", "integer v units / 64", "Loihi 2: threshold mantissa, spike when v > vth << 6"),
    Key("bias_mant", "node", "int or array", "integer v units", "Loihi 2: bias mantissa (bias = bias_mant << bias_exp)"),
    Key("bias_exp", "node", "int", "bits", "Loihi 2: bias exponent"),
    Key("alpha", "node", "float or array", "", "SpiNNaker2: float32 membrane decay per step"),
    Key("threshold_f32", "node", "float", "normalized units", "SpiNNaker2: float32 threshold (v >= threshold_f32)"),
    Key("i_offset", "node", "float or array", "normalized units", "SpiNNaker2: float32 bias per step"),
    Key("v_reset_f32", "node", "float or array", "normalized units", "SpiNNaker2: float32 reset potential"),
]}


# Values nirconv computes with, bounded where a wild value would crash or allocate without end:
# key -> (lowest, highest, lowest excluded).
RANGES: dict[str, tuple] = {
    "dt": (0, None, True),
    "timesteps": (1, None, False),
    "calibration_timesteps": (1, None, False),
    "input_scale": (0, None, True),
    "input_bits": (1, 64, False),
    "state_bits": (1, 64, False),
    "weight_bits": (1, 64, False),
    "max_events": (0, None, False),
    "shift": (-64, 64, False),
    "bias_exp": (-64, 64, False),
    "max_spikes": (-1, None, False),
    "float_max_spikes": (1, None, False),
    "percentile": (0, 100, False),
    "float_shape": (0, None, False),
}


def check_graph_metadata(graph, source: str = "<memory>") -> None:
    """Every key of `KEYS` in the metadata of ``graph``, its subgraphs and its nodes has the
    documented type and range; otherwise a BadInput naming node and ``metadata.<key>``."""
    import nir

    from .walk import graphs

    for prefix, g in graphs(graph):
        check_metadata(g.metadata or {}, "graph", source, prefix.rstrip(".") or None)
        for name, node in g.nodes.items():
            if not isinstance(node, nir.NIRGraph):
                check_metadata(node.metadata or {}, "node", source, f"{prefix}{name}")


def check_metadata(meta: dict, level: str, source: str, node: str | None) -> None:
    if not isinstance(meta, dict):
        raise BadInput("metadata must be a mapping of keys to values", file=source, node=node,
                       field="metadata")
    for key, value in meta.items():
        spec = KEYS.get(key)  # at either level: a key means the same on a graph and a node
        if spec is None:
            continue
        problem = _type_problem(spec.type, value) or _range_problem(key, value)
        if problem:
            raise BadInput(f"{problem}, found {_describe(value)}", file=source, node=node,
                           field=f"metadata.{key}")
    if level == "node" and "float_shape" in meta:
        from .limits import check_shape

        check_shape(np.atleast_1d(np.asarray(meta["float_shape"])), file=source, node=node,
                    field="metadata.float_shape")


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and math.isfinite(float(v))


def _is_integer(v) -> bool:
    return _is_number(v) and float(v).is_integer()


def _real_array(v):
    """``v`` as a numeric ndarray when it is one (finite, not complex), else None."""
    if isinstance(v, (list, tuple)):
        try:
            v = np.asarray(v)
        except ValueError:
            return None
    if not isinstance(v, np.ndarray) or v.dtype.kind not in "biuf":
        return None
    return v if np.all(np.isfinite(v)) else None


def _type_problem(kind: str, v) -> str | None:
    """What is wrong with value ``v`` for a key of documented type ``kind`` (None: nothing)."""
    if isinstance(v, (complex, np.complexfloating)) or (
            isinstance(v, np.ndarray) and v.dtype.kind == "c"):
        return "complex values are not supported"
    if kind == "str":
        return None if isinstance(v, str) else "must be a string"
    if kind == "float":
        return None if _is_number(v) else "must be a finite number"
    if kind in ("int", "bool"):
        return None if _is_integer(v) else "must be an integer"
    if kind == "count":  # a whole number, or inf for unlimited (equations/limits.py)
        ok = _is_integer(v) or (isinstance(v, (float, np.floating)) and v == math.inf)
        return None if ok else "must be a whole number or inf"
    if kind == "dict":
        return None if isinstance(v, dict) else "must be a group of values"
    if kind == "list of str":
        ok = isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))
        return None if ok else "must be a list of strings"
    if kind == "list of int":
        arr = _real_array(v)
        ok = _is_integer(v) or (arr is not None and np.all(arr == np.round(arr)))
        return None if ok else "must be a list of integers"
    # "float or array", "int or array", "array": a finite number or a numeric array
    if _is_number(v) or _real_array(v) is not None:
        if kind == "int or array" and not np.all(np.asarray(v) == np.round(np.asarray(v))):
            return "must be integers"
        return None
    return "must be a finite number or an array of them"


def _range_problem(key: str, v) -> str | None:
    if key not in RANGES:
        return None
    lo, hi, open_lo = RANGES[key]
    values = np.atleast_1d(np.asarray(v, dtype=np.float64))
    if lo is not None and (np.any(values <= lo) if open_lo else np.any(values < lo)):
        return f"must be {'above' if open_lo else 'at least'} {lo}"
    if hi is not None and np.any(values > hi):
        return f"must be at most {hi}"
    return None


def _describe(v) -> str:
    if isinstance(v, np.ndarray):
        return f"an array of shape {v.shape} ({v.dtype})"
    text = repr(v)
    return f"{type(v).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def markdown_table() -> str:
    rows = ["| key | level | type | unit | meaning |", "|---|---|---|---|---|"]
    for k in KEYS.values():
        rows.append(f"| `{k.name}` | {k.level} | {k.type} | {k.unit} | {k.meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
