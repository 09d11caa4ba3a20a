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
    Key("shift", "node", "int", "bits", "left shift applied to a weight node's output (Xylo weight shift, Loihi weight exponent)"),
]}


def markdown_table() -> str:
    rows = ["| key | level | type | unit | meaning |", "|---|---|---|---|---|"]
    for k in KEYS.values():
        rows.append(f"| `{k.name}` | {k.level} | {k.type} | {k.unit} | {k.meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
