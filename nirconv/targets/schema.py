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
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BadInput

INF = math.inf

# kinds: "int", "limit" (int >= 0 or inf), "limits" (limit or a list of limits, one per core),
# "float", "bool", "str", "strs" (list of str), "ints" (list of int), "choice:<a|b|c>", "table"
MAPPERS = ("layer_per_core", "packed", "populations", "unlimited")
FAMILIES = ("speck", "xylo", "generic", "loihi2", "spinnaker2")


@dataclass(frozen=True)
class FieldSpec:
    key: str  # "section.name"
    kind: str
    required: bool = False
    default: Any = None
    meaning: str = ""


FIELDS: tuple[FieldSpec, ...] = (
    # chip
    FieldSpec("chip.description", "str", True, meaning="what the chip is"),
    FieldSpec("chip.family", "choice:" + "|".join(FAMILIES), True,
              meaning="integer equations (a record of nirconv/equations/neurons.py)"),
    FieldSpec("chip.mapper", "choice:" + "|".join(MAPPERS), True,
              meaning="how layers are assigned to cores"),
    # cores
    FieldSpec("cores.count", "limit", True, meaning="cores (processing elements) per chip"),
    FieldSpec("cores.neurons_per_core", "limits", False, INF, "neurons one core holds"),
    FieldSpec("cores.memory_bytes_per_core", "limits", False, INF,
              "bytes one core has for synapses and neuron state (memory model)"),
    FieldSpec("cores.bytes_per_synapse", "float", False, 0.0, "memory model: bytes per stored synapse"),
    FieldSpec("cores.bytes_per_neuron", "float", False, 0.0, "memory model: bytes per neuron"),
    FieldSpec("cores.conv_weights_shared", "bool", False, True,
              "memory model: a conv layer stores its kernel once per core (not per neuron)"),
    FieldSpec("cores.kernel_memory_words", "limits", False, INF,
              "Speck: kernel memory per core, c*2^(ceil(log2(h*w)) + ceil(log2 f)) words"),
    FieldSpec("cores.neuron_memory_words", "limits", False, INF,
              "Speck: neuron memory per core, f*2^(ceil(log2 H) + ceil(log2 W)) words"),
    FieldSpec("cores.bias_memory_words", "limits", False, INF, "Speck: bias entries per core"),
    FieldSpec("cores.layers_per_core", "limit", False, INF, "layers one core can hold"),
    FieldSpec("cores.destinations_per_core", "limit", False, INF, "cores one core can send to"),
    # weights
    FieldSpec("weights.bits", "int", True, meaning="width of an integer weight (with sign)"),
    FieldSpec("weights.signed", "bool", False, True, "signed weights"),
    FieldSpec("weights.encoding", "choice:twos_complement|loihi_sign_mode", False,
              "twos_complement", "how the weight values are encoded"),
    FieldSpec("weights.scale", "choice:per_layer|per_channel", False, "per_layer",
              "granularity of the float scale of a weight matrix"),
    FieldSpec("weights.shift_min", "int", False, 0, "smallest weight shift / exponent"),
    FieldSpec("weights.shift_max", "int", False, 0, "largest weight shift / exponent"),
    FieldSpec("weights.fan_in_max", "limit", False, INF, "inputs per neuron"),
    FieldSpec("weights.fan_out_max", "limit", False, INF, "targets per neuron"),
    FieldSpec("weights.arithmetic", "choice:integer|float32", False, "integer",
              "how the weighted sum is scaled: integer state, or float32 times a scale"),
    # state
    FieldSpec("state.bits", "int", True, meaning="membrane / synaptic state width (signed)"),
    FieldSpec("state.threshold_bits", "int", False, 16, "threshold width"),
    FieldSpec("state.bias_bits", "int", False, 16, "bias width (signed)"),
    FieldSpec("state.overflow", "choice:saturate|wrap|float", False, "saturate",
              "what the state does at its range limits"),
    FieldSpec("state.headroom_bits", "int", False, 2,
              "our choice: bits of state range kept above the threshold when choosing scales"),
    # neurons
    FieldSpec("neurons.models", "strs", True, meaning="NIR neuron types the chip runs"),
    FieldSpec("neurons.reset_modes", "strs", True, meaning="subtract | zero"),
    FieldSpec("neurons.reset_substitute", "table", False, {},
              "reset modes the chip replaces by another (a warning, not a violation)"),
    FieldSpec("neurons.compare", "choice:>=|>", True, meaning="spike condition"),
    FieldSpec("neurons.decay_encoding", "choice:none|bitshift|fraction12|float32", True,
              meaning="how decays are stored"),
    FieldSpec("neurons.decay_bits", "int", False, 0, "width of a decay parameter"),
    FieldSpec("neurons.bias", "choice:neuron|weight|dropped", False, "weight",
              "where a layer's bias goes: a neuron parameter, the weight op, or dropped (warning)"),
    FieldSpec("neurons.threshold_sharing", "choice:per_layer|per_neuron", False, "per_neuron",
              "one integer threshold per layer, or one per neuron"),
    FieldSpec("neurons.max_spikes_hidden", "limit", False, 1, "spikes a hidden neuron emits per step"),
    FieldSpec("neurons.max_spikes_output", "limit", False, 1, "spikes an output neuron emits per step"),
    FieldSpec("neurons.membrane_readout", "bool", False, False,
              "non-spiking readout neurons (I, LI, CubaLI) can be read"),
    FieldSpec("neurons.hidden_max", "limit", False, INF, "hidden neurons per chip"),
    FieldSpec("neurons.output_max", "limit", False, INF, "output neurons per chip"),
    FieldSpec("neurons.synapses_per_neuron", "limit", False, INF,
              "synaptic state variables (time constants) per neuron"),
    # layers
    FieldSpec("layers.supported", "strs", True, meaning="NIR weight/structure node types"),
    FieldSpec("layers.recurrent", "bool", False, True, "recurrent connections allowed"),
    FieldSpec("layers.weight_chains", "bool", False, True,
              "a weight layer may feed another weight layer directly (pooling and flatten folded)"),
    FieldSpec("layers.min_neuron_layers", "int", False, 1, "neuron layers the graph must have"),
    FieldSpec("layers.recurrent_weights_max", "limit", False, INF, "non-zero recurrent weights"),
    FieldSpec("layers.kernel_max", "limit", False, INF, "largest conv kernel side"),
    FieldSpec("layers.square_kernel", "bool", False, False, "kernels must be square"),
    FieldSpec("layers.strides", "ints", False, [], "allowed strides (empty: any)"),
    FieldSpec("layers.padding_max", "limit", False, INF, "largest padding"),
    FieldSpec("layers.dilation_max", "limit", False, INF, "largest dilation"),
    FieldSpec("layers.pool_sizes", "ints", False, [], "allowed pooling sizes (empty: any)"),
    FieldSpec("layers.channels_max", "limit", False, INF, "channels (features) per layer"),
    FieldSpec("layers.feature_map_out_max", "limit", False, INF, "output feature map side"),
    FieldSpec("layers.linear_as_conv", "bool", False, False,
              "Affine layers are mapped as a conv whose kernel covers the input map"),
    # io
    FieldSpec("io.input_channels_max", "limit", False, INF, "input channels (first input axis)"),
    FieldSpec("io.input_size_max", "limit", False, INF, "input feature map side"),
    FieldSpec("io.outputs_max", "limit", False, INF, "output neurons read out"),
    FieldSpec("io.input_encoding", "choice:rate|current", True,
              meaning="how a static input is presented: events (rate) or an integer current"),
    FieldSpec("io.input_bits", "int", False, 8, "width of an integer input current (signed)"),
    FieldSpec("io.max_input_events", "int", False, 1, "input events per channel per step"),
    # time
    FieldSpec("time.model", "choice:stepped|event", True, meaning="time-stepped or event-driven chip"),
    FieldSpec("time.dt_default_s", "float", False, None,
              "the chip toolchain's default step (informational: a graph without dt still "
              "needs --dt)"),
)
SPEC = {f.key: f for f in FIELDS}
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


def _limit(path, key, x):
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise _bad(path, key, f"must be a non-negative integer or inf, is {x!r}")
    if isinstance(x, float):
        if x == INF:
            return INF
        if not x.is_integer():
            raise _bad(path, key, f"must be a whole number or inf, is {x!r}")
        x = int(x)
    if x < 0:
        raise _bad(path, key, f"must be >= 0, is {x}")
    return x


def _check(path, spec: FieldSpec, x):
    key, kind = spec.key, spec.kind
    if kind == "int":
        if isinstance(x, bool) or not isinstance(x, int):
            raise _bad(path, key, f"must be an integer, is {x!r}")
        return x
    if kind == "limit":
        return _limit(path, key, x)
    if kind == "limits":
        if isinstance(x, list):
            if not x:
                raise _bad(path, key, "per-core list is empty")
            return [_limit(path, key, i) for i in x]
        return _limit(path, key, x)
    if kind == "float":
        if isinstance(x, bool) or not isinstance(x, (int, float)) or math.isnan(x):
            raise _bad(path, key, f"must be a number, is {x!r}")
        return float(x)
    if kind == "bool":
        if not isinstance(x, bool):
            raise _bad(path, key, f"must be true or false, is {x!r}")
        return x
    if kind == "str":
        if not isinstance(x, str) or not x:
            raise _bad(path, key, f"must be a non-empty string, is {x!r}")
        return x
    if kind in ("strs", "ints"):
        want = str if kind == "strs" else int
        if not isinstance(x, list) or not all(isinstance(i, want) and not isinstance(i, bool)
                                              for i in x):
            raise _bad(path, key, f"must be a list of {want.__name__}, is {x!r}")
        return list(x)
    if kind == "table":
        if not isinstance(x, dict) or not all(isinstance(v, str) for v in x.values()):
            raise _bad(path, key, f"must be a table of strings, is {x!r}")
        return dict(x)
    if kind.startswith("choice:"):
        options = kind[len("choice:"):].split("|")
        if x not in options:
            raise _bad(path, key, f"must be one of {', '.join(options)}, is {x!r}")
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
    unknown_sections = set(data) - set(SECTIONS) - {"name", "schema"}
    if unknown_sections:
        raise _bad(path, sorted(unknown_sections)[0],
                   f"unknown section; sections are {', '.join(SECTIONS)}")
    if data.get("schema", 1) != 1:
        raise _bad(path, "schema", f"unsupported schema version {data.get('schema')!r} (1 is)")
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
                  assumptions=tuple(assumptions))


def _cross_checks(path, v: dict) -> None:
    count = v["cores.count"]
    for spec in FIELDS:
        x = v[spec.key]
        if spec.kind == "limits" and isinstance(x, list) and count != INF and len(x) != count:
            raise _bad(path, spec.key, f"lists {len(x)} cores, cores.count is {count}")
    if not 2 <= v["weights.bits"] <= 32:
        raise _bad(path, "weights.bits", f"must be 2..32, is {v['weights.bits']}")
    if not 2 <= v["state.bits"] <= 64:
        raise _bad(path, "state.bits", f"must be 2..64, is {v['state.bits']}")
    if v["weights.shift_min"] > v["weights.shift_max"]:
        raise _bad(path, "weights.shift_min", "is larger than weights.shift_max")
    for mode in v["neurons.reset_modes"]:
        if mode not in ("subtract", "zero"):
            raise _bad(path, "neurons.reset_modes", f"unknown reset mode {mode!r}")
    for src, dst in v["neurons.reset_substitute"].items():
        if src not in ("subtract", "zero") or dst not in v["neurons.reset_modes"]:
            raise _bad(path, "neurons.reset_substitute",
                       f"{src!r} -> {dst!r}: both must be reset modes, the second supported")
    if v["weights.scale"] == "per_channel" and v["neurons.threshold_sharing"] == "per_layer":
        raise _bad(path, "weights.scale", "per-channel scales need per-neuron thresholds "
                                          "(neurons.threshold_sharing = per_neuron)")
    if v["neurons.decay_encoding"] == "bitshift" and v["neurons.decay_bits"] < 1:
        raise _bad(path, "neurons.decay_bits", "bit-shift decays need decay_bits >= 1")
    if v["state.headroom_bits"] < 0 or v["state.headroom_bits"] >= v["state.bits"] - 1:
        raise _bad(path, "state.headroom_bits", "must be in 0 .. state.bits - 2")


def load_file(path) -> Target:
    path = Path(path)
    if not path.is_file():
        raise BadInput("target file not found", file=path, field="target")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise BadInput(f"not valid TOML ({e})", file=path) from None
    except UnicodeDecodeError:
        raise BadInput("not a text (TOML) file", file=path) from None
    return from_dict(data, path)
