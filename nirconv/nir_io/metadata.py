"""Every metadata key nirconv writes, documented once: the README's table is generated from
`KEYS` (``python -m nirconv.nir_io.metadata``) and a test checks that every key found in our
exported files is listed here.
"""
from __future__ import annotations

from dataclasses import dataclass


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
    # quantization for a target (nirconv/quantization, read back by nirconv/lowering/integer.py)
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
    Key("max_spikes", "node", "int", "spikes per step", "spikes a neuron emits per step (inf: unlimited; -1 in files of nirconv 0.1)"),
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


def markdown_table() -> str:
    rows = ["| key | level | type | unit | meaning |", "|---|---|---|---|---|"]
    for k in KEYS.values():
        rows.append(f"| `{k.name}` | {k.level} | {k.type} | {k.unit} | {k.meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
