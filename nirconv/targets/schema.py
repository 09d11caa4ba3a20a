"""The target file format (TOML) and its loader into a frozen `Target`.

A target file describes one chip as data: every figure is an inline table ``{ value = ..., source =
"..." }`` (``assumption = true`` marks a figure that is our documented assumption, not a vendor's
number). Sections: ``[chip]``, ``[cores]``, ``[weights]``, ``[state]``, ``[neurons]``, ``[layers]``,
``[io]``, ``[time]``. ``inf`` (TOML's float literal) or a missing optional key means unlimited;
per-core figures may be lists when cores differ. `FIELDS` below is the schema: name, kind, whether
required, default, meaning. Every value is validated; an error names the file and the field
(``cores.neurons_per_core``). The same loader reads the built-in files and a user's file by path.
"""
from __future__ import annotations

import math
import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..equations.limits import UNLIMITED
from ..errors import BadInput

INF = UNLIMITED  # a figure without a limit: the one encoding of "unlimited"

# kinds: "int", "limit" (int >= 0 or inf), "limits" (limit or a list of limits, one per core),
# "float", "bool", "str", "strs" (list of str), "ints" (list of int), "choice:<a|b|c>",
# "strs:<a|b|c>" (list of those), "table". `lo`/`hi` bound every number (inclusive; for limits,
# the finite values: inf stays allowed); TOML integers beyond int64 fail before that.
MAPPERS = ("layer_per_core", "packed", "populations", "unlimited")
FAMILIES = ("speck", "xylo", "generic", "loihi2", "spinnaker2")
NEURON_TYPES = ("IF", "LIF", "CubaLIF", "I", "LI", "CubaLI")
LAYER_TYPES = ("Affine", "Linear", "Scale", "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d",
               "Flatten", "Delay", "Threshold", "Identity")  # nirconv/reading/ops.py BUILDERS
# What a family's integer equations (nirconv/equations/neurons.py) fix: how decays are stored,
# and the widths its record hard-codes (LoihiCubaLIF: v clipped to 24 bits, vth unsigned 17-bit).
FAMILY_DECAYS = {"speck": "none", "xylo": "bitshift", "generic": "bitshift",
                 "loihi2": "fraction12", "spinnaker2": "float32"}
FAMILY_MAX_BITS = {"loihi2": {"state.bits": 24, "state.threshold_bits": 17}}
MAX_INT = 2 ** 62  # the largest finite figure: counts stay exact in int64 and float64 sums
MAX_CORES = 1 << 20  # per chip; the per-core figures become lists of this length
MAX_FILE_BYTES = 1 << 20  # a target file is a few KB; a larger one is refused before parsing
MAX_ORDER = 1 << 20  # the top-level ``order`` of a built-in target (its place in lists)


@dataclass(frozen=True)
class FieldSpec:
    key: str  # "section.name"
    kind: str
    required: bool = False
    default: Any = None
    meaning: str = ""
    lo: Any = None  # smallest allowed number (inclusive); None: no bound
    hi: Any = None  # largest allowed finite number (inclusive)


def _count(key, meaning, lo=1, kind="limit", default=INF, required=False):
    """A resource figure: a whole number in lo..MAX_INT, or inf for unlimited."""
    return FieldSpec(key, kind, required, None if required else default, meaning, lo, MAX_INT)


FIELDS: tuple[FieldSpec, ...] = (
    # chip
    FieldSpec("chip.description", "str", True, meaning="what the chip is"),
    FieldSpec("chip.family", "choice:" + "|".join(FAMILIES), True,
              meaning="integer equations (a record of nirconv/equations/neurons.py)"),
    FieldSpec("chip.mapper", "choice:" + "|".join(MAPPERS), True,
              meaning="how layers are assigned to cores"),
    # cores
    FieldSpec("cores.count", "limit", True, None, "cores (processing elements) per chip",
              1, MAX_CORES),
    _count("cores.neurons_per_core", "neurons one core holds", kind="limits"),
    _count("cores.memory_bytes_per_core",
           "bytes one core has for synapses and neuron state (memory model)", kind="limits"),
    FieldSpec("cores.bytes_per_synapse", "float", False, 0.0,
              "memory model: bytes per stored synapse", 0.0, float(1 << 20)),
    FieldSpec("cores.bytes_per_neuron", "float", False, 0.0, "memory model: bytes per neuron",
              0.0, float(1 << 20)),
    FieldSpec("cores.conv_weights_shared", "bool", False, True,
              "memory model: a conv layer stores its kernel once per core (not per neuron)"),
    _count("cores.kernel_memory_words",
           "Speck: kernel memory per core, c*2^(ceil(log2(h*w)) + ceil(log2 f)) words",
           kind="limits"),
    _count("cores.neuron_memory_words",
           "Speck: neuron memory per core, f*2^(ceil(log2 H) + ceil(log2 W)) words",
           kind="limits"),
    _count("cores.bias_memory_words", "Speck: bias entries per core", lo=0, kind="limits"),
    _count("cores.layers_per_core", "layers one core can hold"),
    _count("cores.destinations_per_core", "cores one core can send to", lo=0),
    # weights
    FieldSpec("weights.bits", "int", True, meaning="width of an integer weight (with sign)",
              lo=2, hi=32),
    FieldSpec("weights.signed", "bool", False, True, "signed weights"),
    FieldSpec("weights.encoding", "choice:twos_complement|loihi_sign_mode", False,
              "twos_complement", "how the weight values are encoded"),
    FieldSpec("weights.scale", "choice:per_layer|per_channel", False, "per_layer",
              "granularity of the float scale of a weight matrix"),
    FieldSpec("weights.shift_min", "int", False, 0, "smallest weight shift / exponent", 0, 31),
    FieldSpec("weights.shift_max", "int", False, 0, "largest weight shift / exponent", 0, 31),
    _count("weights.fan_in_max", "inputs per neuron"),
    _count("weights.fan_out_max", "targets per neuron"),
    FieldSpec("weights.arithmetic", "choice:integer|float32", False, "integer",
              "how the weighted sum is scaled: integer state, or float32 times a scale"),
    # state
    FieldSpec("state.bits", "int", True, meaning="membrane / synaptic state width (signed)",
              lo=2, hi=64),
    FieldSpec("state.threshold_bits", "int", False, 16, "threshold width", 1, 64),
    FieldSpec("state.bias_bits", "int", False, 16, "bias width (signed)", 2, 64),
    FieldSpec("state.bias_exp", "int", False, 0,
              "loihi2: the one exponent of every neuron bias (bias = mantissa << exponent)", 0, 7),
    FieldSpec("state.overflow", "choice:saturate|wrap|float", False, "saturate",
              "what the state does at its range limits"),
    FieldSpec("state.headroom_bits", "int", False, 2,
              "our choice: bits of state range kept above the threshold when choosing scales",
              0, 62),
    # neurons
    FieldSpec("neurons.models", "strs:" + "|".join(NEURON_TYPES), True,
              meaning="NIR neuron types the chip runs"),
    FieldSpec("neurons.reset_modes", "strs:subtract|zero", True, meaning="subtract | zero"),
    FieldSpec("neurons.reset_substitute", "table", False, {},
              "reset modes the chip replaces by another (a warning, not a violation)"),
    FieldSpec("neurons.compare", "choice:>=|>", True, meaning="spike condition"),
    FieldSpec("neurons.decay_encoding", "choice:none|bitshift|fraction12|float32", True,
              meaning="how decays are stored (the family's: speck none, xylo and generic "
                      "bitshift, loihi2 fraction12, spinnaker2 float32)"),
    FieldSpec("neurons.decay_bits", "int", False, 0,
              "width of a decay parameter (bitshift: 1..4, a shift of at most 15; fraction12: 12)",
              0, 32),
    FieldSpec("neurons.bias", "choice:neuron|weight|dropped", False, "weight",
              "where a layer's bias goes: a neuron parameter, the weight op, or dropped (warning)"),
    FieldSpec("neurons.threshold_sharing", "choice:per_layer|per_neuron", False, "per_neuron",
              "one integer threshold per layer, or one per neuron"),
    FieldSpec("neurons.max_spikes_hidden", "limit", False, 1,
              "spikes a hidden neuron emits per step", 1, (1 << 31) - 1),
    FieldSpec("neurons.max_spikes_output", "limit", False, 1,
              "spikes an output neuron emits per step", 1, (1 << 31) - 1),
    FieldSpec("neurons.membrane_readout", "bool", False, False,
              "non-spiking readout neurons (I, LI, CubaLI) can be read"),
    _count("neurons.hidden_max", "hidden neurons per chip"),
    _count("neurons.output_max", "output neurons per chip"),
    _count("neurons.synapses_per_neuron", "synaptic state variables (time constants) per neuron"),
    # layers
    FieldSpec("layers.supported", "strs:" + "|".join(LAYER_TYPES), True,
              meaning="NIR weight/structure node types"),
    FieldSpec("layers.recurrent", "bool", False, True, "recurrent connections allowed"),
    FieldSpec("layers.weight_chains", "bool", False, True,
              "a weight layer may feed another weight layer directly (pooling and flatten folded)"),
    FieldSpec("layers.min_neuron_layers", "int", False, 1, "neuron layers the graph must have",
              0, 1 << 20),
    _count("layers.recurrent_weights_max", "non-zero recurrent weights", lo=0),
    _count("layers.kernel_max", "largest conv kernel side"),
    FieldSpec("layers.square_kernel", "bool", False, False, "kernels must be square"),
    FieldSpec("layers.strides", "ints", False, [], "allowed strides (empty: any)", 1, 1 << 20),
    _count("layers.padding_max", "largest padding", lo=0),
    _count("layers.dilation_max", "largest dilation"),
    FieldSpec("layers.pool_sizes", "ints", False, [], "allowed pooling sizes (empty: any)",
              1, 1 << 20),
    _count("layers.channels_max", "channels (features) per layer"),
    _count("layers.feature_map_out_max", "output feature map side"),
    FieldSpec("layers.linear_as_conv", "bool", False, False,
              "Affine layers are mapped as a conv whose kernel covers the input map"),
    # io
    _count("io.input_channels_max", "input channels (first input axis)"),
    _count("io.input_size_max", "input feature map side"),
    _count("io.outputs_max", "output neurons read out"),
    FieldSpec("io.input_encoding", "choice:rate|current", True,
              meaning="how a static input is presented: events (rate) or an integer current"),
    FieldSpec("io.input_bits", "int", False, 8,
              "width of an integer input current (signed; at most state.bits)", 2, 32),
    FieldSpec("io.max_input_events", "int", False, 1, "input events per channel per step",
              1, (1 << 16) - 1),
    # time
    FieldSpec("time.model", "choice:stepped|event", True, meaning="time-stepped or event-driven chip"),
    FieldSpec("time.dt_default_s", "float", False, None,
              "the chip toolchain's default step (informational: a graph without dt still "
              "needs --dt)", 1e-9, 3600.0),
)
SPEC = {f.key: f for f in FIELDS}


def markdown_table() -> str:
    """The schema as the Markdown table in docs/equations/targets.md (tests/security/
    test_target_files.py keeps the two equal)."""
    rows = ["| field | kind | default | range | meaning |", "|---|---|---|---|---|",
            "| `name` (top level) | str | required | non-empty | target name |",
            f"| `order` (top level) | int | none | 0..{MAX_ORDER} | place among the built-in "
            "targets (lists and the demo sort by `order`, then name; no `order` comes last) |"]
    for f in FIELDS:
        default = "required" if f.required else _doc_value(f.default)
        meaning = f.meaning.replace("|", "\\|")
        cells = (f"`{f.key}`", _doc_kind(f.kind), default, _doc_range(f), meaning)
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def _doc_kind(kind: str) -> str:
    name, _, options = kind.partition(":")
    names = {"limit": "int or inf", "limits": "int, inf or a list per core",
             "ints": "list of int", "table": "table of str", "strs": "list of str"}
    if name == "choice":
        return ", ".join(f"`{o}`" for o in options.split("|"))
    if name == "strs" and options:
        return "list of " + ", ".join(f"`{o}`" for o in options.split("|"))
    return names.get(name, name)


def _doc_value(x) -> str:
    if x is None:
        return "none"
    if isinstance(x, bool):
        return str(x).lower()
    if x == INF:
        return "inf"
    return "{}" if x == {} else ("[]" if x == [] else f"{x:g}" if isinstance(x, float) else str(x))


def _doc_number(x) -> str:
    if isinstance(x, float):
        if not (x.is_integer() and x >= 1 << 16):
            return f"{x:g}"
        x = int(x)
    for k in range(16, 64):
        if x == 1 << k:
            return f"2^{k}"
        if x == (1 << k) - 1:
            return f"2^{k}-1"
    return str(x)


def _doc_range(f: FieldSpec) -> str:
    if f.lo is None and f.hi is None:
        return "non-empty" if f.kind == "str" else ""
    text = f"{_doc_number(f.lo)}..{_doc_number(f.hi)}"
    if f.kind in ("limit", "limits"):
        text += " or inf"
    return text + (" each" if f.kind == "ints" else "")
SECTIONS = tuple(dict.fromkeys(f.key.split(".")[0] for f in FIELDS))


@dataclass(frozen=True)
class Target:
    """A chip as data. ``values`` maps "section.key" to the validated value (defaults filled in),
    ``sources`` to where each figure comes from, ``assumptions`` lists the keys that are ours."""

    name: str
    path: Path
    values: dict = field(repr=False)
    sources: dict = field(repr=False)
    assumptions: tuple = ()
    order: int | None = None  # position among the built-in targets (top-level ``order``)

    def __getitem__(self, key: str) -> Any:
        if key not in SPEC:
            raise KeyError(key)
        return self.values[key]

    @property
    def family(self) -> str:
        return self.values["chip.family"]

    @property
    def mapper(self) -> str:
        return self.values["chip.mapper"]

    def per_core(self, key: str) -> list:
        """A per-core figure as one value per core (a scalar repeated; inf count -> one entry)."""
        value = self.values[key]
        if isinstance(value, list):
            return list(value)
        count = self.values["cores.count"]
        return [value] * (1 if count == INF else int(count))

    def summary(self) -> dict:
        """What `nirconv targets --json` shows for this target (JSON-safe: inf -> "inf")."""
        v = self.values

        def j(x):
            if isinstance(x, list):
                return [j(i) for i in x]
            return "inf" if x == INF else x

        return {
            "name": self.name, "path": str(self.path), "description": v["chip.description"],
            "family": self.family, "cores": j(v["cores.count"]),
            "neurons_per_core": j(v["cores.neurons_per_core"]), "weight_bits": v["weights.bits"],
            "state_bits": v["state.bits"], "threshold_bits": v["state.threshold_bits"],
            "neuron_models": list(v["neurons.models"]), "reset_modes": list(v["neurons.reset_modes"]),
            "decay_encoding": v["neurons.decay_encoding"], "layers": list(v["layers.supported"]),
            "input_encoding": v["io.input_encoding"], "time_model": v["time.model"],
            "mapper": self.mapper,
        }


# ------------------------------------------------------------------ validation

def _bad(path, key, msg):
    return BadInput(msg, file=path, field=key)


def _show(x) -> str:
    """A value for an error message: repr, cut to 60 characters (a value may be huge)."""
    try:
        text = repr(x)
    except RecursionError:
        return "(nested too deeply)"
    return text if len(text) <= 60 else text[:57] + "..."


def _range_text(spec: FieldSpec) -> str:
    if spec.lo is not None and spec.hi is not None:
        return f"{spec.lo:g}..{spec.hi:g}" if spec.kind == "float" else f"{spec.lo}..{spec.hi}"
    return f">= {spec.lo}" if spec.lo is not None else f"<= {spec.hi}"


def _in_range(path, spec: FieldSpec, x):
    """``x`` if within the spec's bounds (inclusive), else a BadInput naming the range."""
    if (spec.lo is not None and x < spec.lo) or (spec.hi is not None and x > spec.hi):
        unlimited = " or inf" if spec.kind in ("limit", "limits") else ""
        raise _bad(path, spec.key, f"must be {_range_text(spec)}{unlimited}, is {_show(x)}")
    return x


def _limit(path, spec: FieldSpec, x):
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise _bad(path, spec.key, f"must be a non-negative integer or inf, is {_show(x)}")
    if isinstance(x, float):
        if x == INF:
            return INF
        if not x.is_integer():
            raise _bad(path, spec.key, f"must be a whole number or inf, is {_show(x)}")
        x = int(x)
    return _in_range(path, spec, x)


def _number(path, spec: FieldSpec, x) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        raise _bad(path, spec.key, f"must be a finite number, is {_show(x)}")
    return float(_in_range(path, spec, x))


def _integer(path, spec: FieldSpec, x) -> int:
    if isinstance(x, bool) or not isinstance(x, int):
        raise _bad(path, spec.key, f"must be an integer, is {_show(x)}")
    return _in_range(path, spec, x)


def _names(path, spec: FieldSpec, x) -> list:
    if not isinstance(x, list) or not all(isinstance(i, str) for i in x):
        raise _bad(path, spec.key, f"must be a list of str, is {_show(x)}")
    options = spec.kind.partition(":")[2]
    for name in x:
        if options and name not in options.split("|"):
            raise _bad(path, spec.key, f"unknown name {_show(name)}; known: "
                                       f"{', '.join(options.split('|'))}")
    return list(x)


def _check(path, spec: FieldSpec, x):
    key, kind = spec.key, spec.kind
    if kind == "int":
        return _integer(path, spec, x)
    if kind == "limit":
        return _limit(path, spec, x)
    if kind == "limits":
        if isinstance(x, list):
            if not x:
                raise _bad(path, key, "per-core list is empty")
            return [_limit(path, spec, i) for i in x]
        return _limit(path, spec, x)
    if kind == "float":
        return _number(path, spec, x)
    if kind == "bool":
        if not isinstance(x, bool):
            raise _bad(path, key, f"must be true or false, is {_show(x)}")
        return x
    if kind == "str":
        if not isinstance(x, str) or not x:
            raise _bad(path, key, f"must be a non-empty string, is {_show(x)}")
        return x
    if kind == "strs" or kind.startswith("strs:"):
        return _names(path, spec, x)
    if kind == "ints":
        if not isinstance(x, list):
            raise _bad(path, key, f"must be a list of int, is {_show(x)}")
        return [_integer(path, spec, i) for i in x]
    if kind == "table":
        if not isinstance(x, dict) or not all(isinstance(v, str) for v in x.values()):
            raise _bad(path, key, f"must be a table of strings, is {_show(x)}")
        return dict(x)
    if kind.startswith("choice:"):
        options = kind[len("choice:"):].split("|")
        if x not in options:
            raise _bad(path, key, f"must be one of {', '.join(options)}, is {_show(x)}")
        return x
    raise AssertionError(kind)  # schema bug, not user input


def _figure(path, key, entry):
    """Split a figure ``{value, source[, assumption, note]}`` into (value, source, assumption)."""
    if not isinstance(entry, dict) or "value" not in entry:
        raise _bad(path, key, "must be an inline table { value = ..., source = \"...\" }")
    unknown = set(entry) - {"value", "source", "assumption", "note"}
    if unknown:
        raise _bad(path, key, f"unknown entries {sorted(unknown)} (allowed: value, source, "
                              "assumption, note)")
    source = entry.get("source")
    if not isinstance(source, str) or not source.strip():
        raise _bad(path, key, "every figure needs a non-empty 'source'")
    assumption = entry.get("assumption", False)
    if not isinstance(assumption, bool):
        raise _bad(path, key, "'assumption' must be true or false")
    return entry["value"], source, assumption


def from_dict(data: dict, path: Path) -> Target:
    """Validate a parsed target file into a `Target` (errors name ``path`` and the field)."""
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise _bad(path, "name", "missing or empty target name")
    unknown_sections = set(data) - set(SECTIONS) - {"name", "schema", "order"}
    if unknown_sections:
        raise _bad(path, sorted(unknown_sections)[0],
                   f"unknown section; sections are {', '.join(SECTIONS)}")
    if data.get("schema", 1) != 1:
        raise _bad(path, "schema", f"unsupported schema version {data.get('schema')!r} (1 is)")
    order = _order(path, data.get("order"))
    values, sources, assumptions = {}, {}, []
    for section in SECTIONS:
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise _bad(path, section, "must be a table")
        for k in table:
            if f"{section}.{k}" not in SPEC:
                raise _bad(path, f"{section}.{k}", "unknown field (see the schema in "
                                                   "docs/equations/targets.md)")
    for spec in FIELDS:
        section, k = spec.key.split(".")
        entry = data.get(section, {}).get(k)
        if entry is None:
            if spec.required:
                raise _bad(path, spec.key, "required field is missing")
            values[spec.key] = spec.default
            continue
        raw, source, assumption = _figure(path, spec.key, entry)
        values[spec.key] = _check(path, spec, raw)
        sources[spec.key] = source
        if assumption:
            assumptions.append(spec.key)
    _cross_checks(path, values)
    return Target(name=name, path=Path(path), values=values, sources=sources,
                  assumptions=tuple(assumptions), order=order)


def _order(path, order):
    """The optional top-level ``order``: an integer in 0..MAX_ORDER, or None when absent."""
    if order is None:
        return None
    if isinstance(order, bool) or not isinstance(order, int) or not 0 <= order <= MAX_ORDER:
        raise _bad(path, "order", f"must be an integer in 0..{MAX_ORDER}, is {_show(order)}")
    return order


def _cross_checks(path, v: dict) -> None:
    """Rules between fields (the single-field ranges are in `FIELDS`)."""
    count = v["cores.count"]
    for spec in FIELDS:
        x = v[spec.key]
        if spec.kind == "limits" and isinstance(x, list) and count != INF and len(x) != count:
            raise _bad(path, spec.key, f"lists {len(x)} cores, cores.count is {count}")
    if v["weights.shift_min"] > v["weights.shift_max"]:
        raise _bad(path, "weights.shift_min", "is larger than weights.shift_max")
    _widths(path, v)
    for mode in v["neurons.reset_modes"]:
        if mode not in ("subtract", "zero"):
            raise _bad(path, "neurons.reset_modes", f"unknown reset mode {_show(mode)}")
    for src, dst in v["neurons.reset_substitute"].items():
        if src not in ("subtract", "zero") or dst not in v["neurons.reset_modes"]:
            raise _bad(path, "neurons.reset_substitute",
                       f"{_show(src)} -> {_show(dst)}: both must be reset modes, the second "
                       "supported")
    if v["weights.scale"] == "per_channel" and v["neurons.threshold_sharing"] == "per_layer":
        raise _bad(path, "weights.scale", "per-channel scales need per-neuron thresholds "
                                          "(neurons.threshold_sharing = per_neuron)")
    _family(path, v)
    _decay_bits(path, v)


def _widths(path, v: dict) -> None:
    """Every integer that is added into the state fits in it (docs/equations/targets.md)."""
    state = v["state.bits"]
    if v["weights.bits"] + v["weights.shift_max"] > state:
        raise _bad(path, "weights.shift_max", f"a weight shifted by {v['weights.shift_max']} "
                                              f"needs {v['weights.bits'] + v['weights.shift_max']}"
                                              f" bits, more than state.bits = {state}")
    for key in ("state.threshold_bits", "state.bias_bits", "io.input_bits"):
        if v[key] > state:
            raise _bad(path, key, f"must be at most state.bits = {state}, is {v[key]}")
    if v["state.headroom_bits"] >= state - 1:
        raise _bad(path, "state.headroom_bits", f"must be in 0..{state - 2} (state.bits - 2), "
                                                f"is {v['state.headroom_bits']}")


def _family(path, v: dict) -> None:
    """What the family's equations fix: the decay encoding and some widths."""
    family = v["chip.family"]
    if v["neurons.decay_encoding"] != FAMILY_DECAYS[family]:
        raise _bad(path, "neurons.decay_encoding",
                   f"chip.family {family} stores decays as {FAMILY_DECAYS[family]}, is "
                   f"{_show(v['neurons.decay_encoding'])}")
    for key, most in FAMILY_MAX_BITS.get(family, {}).items():
        if v[key] > most:
            raise _bad(path, key, f"chip.family {family} has at most {most} bits here, is {v[key]}")


def _decay_bits(path, v: dict) -> None:
    """What the decay encoding allows: a bit shift of 1..15 (1..4 bits), Loihi's 12-bit fraction."""
    encoding, bits = v["neurons.decay_encoding"], v["neurons.decay_bits"]
    if encoding == "bitshift" and not 1 <= bits <= 4:
        raise _bad(path, "neurons.decay_bits", f"bit-shift decays need 1..4 bits (shifts up to "
                                               f"15), is {bits}")
    if encoding == "fraction12" and bits != 12:
        raise _bad(path, "neurons.decay_bits", f"fraction12 decays are 12 bits, is {bits}")


def load_file(path) -> Target:
    """Read and validate a target file. The file is capped at `MAX_FILE_BYTES` before parsing;
    nesting too deep for the parser, bad UTF-8 and bad TOML are `BadInput` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise BadInput("target file not found" if not path.exists() else
                       "not a regular file", file=path, field="target")
    text = _read_capped(path)
    try:
        return from_dict(tomllib.loads(text), path)
    except tomllib.TOMLDecodeError as e:
        raise BadInput(f"not valid TOML ({e})", file=path) from None
    except RecursionError:
        raise BadInput("not a target file: arrays or tables nested too deeply",
                       file=path) from None


def _read_capped(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a fifo must not block
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise BadInput("not a regular file", file=path, field="target")
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise BadInput(f"cannot read the target file ({e.strerror or type(e).__name__})",
                       file=path) from None
    if len(data) > MAX_FILE_BYTES:
        raise BadInput(f"target file larger than {MAX_FILE_BYTES // 1024} KiB; a target file is "
                       "a few KB", file=path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput("not a text (TOML) file", file=path) from None
