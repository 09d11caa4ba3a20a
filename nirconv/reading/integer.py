"""Integer mode: NIR neuron nodes of a quantized graph -> the target family's integer record.

Reads the metadata keys written by `nirconv.quantization` (documented in nirconv/nir_io/metadata.py
and docs/equations/targets.md). `resolve_integer_neuron(family, node, ctx, shape, graph)`
returns a SpeckIAF / BitShiftLIF / LoihiCubaLIF / Float32LIF (``graph``: the graph's `Deployment`
and `InputEncoding`, read once by ``reading/records.py``); `finish_integer_program(program)`
applies the family's structural rules and checks the integer ranges:

* every family: weight ops hold int64 weights (integer-valued in the file) within ``weight_bits``;
* loihi2: Dense delays by one step: every edge weight op -> LoihiCubaLIF gets delay >= 1; the
  weight ops feeding it carry no bias (the bias is the neuron's ``bias_mant << bias_exp``);
* xylo: recurrent and readout weights read the previous step's hidden spikes (an edge neuron ->
  weight op gets delay 1 unless its path back already has one), and a neuron's inputs are ordered
  input weights first, then recurrent (xylosim's delivery order);
* spinnaker2: |Σ w·s| of every weight op feeding a Float32LIF stays below 2**24 (float32-exact).
"""
from __future__ import annotations

import dataclasses
from typing import NamedTuple

import nir
import numpy as np

from ..equations.limits import UNLIMITED, as_limit
from ..equations.neurons import BitShiftLIF, Float32LIF, LoihiCubaLIF, SpeckIAF
from ..equations import structure as structure_rules
from ..equations.program import AffineOp, ConvOp
from ..equations.records import Deployment, InputEncoding
from ..errors import BadInput, NirconvError, Unsupported

SPIKING = (nir.IF, nir.LIF, nir.CubaLIF)


class GraphRecords(NamedTuple):
    """What the integer rules need from the graph: its Deployment and InputEncoding."""

    deployment: Deployment
    encoding: InputEncoding


def _meta(node, ctx, key, shape, dtype=np.int64, required=True):
    meta = node.metadata or {}
    if key not in meta:
        if required:
            raise BadInput("missing in the quantized graph (export it again with `nirconv "
                           "export --target`)", file=ctx.source, node=ctx.name,
                           field=f"metadata.{key}")
        return None
    value = np.asarray(meta[key])
    if dtype is np.int64 and not np.all(np.equal(np.mod(value.astype(np.float64), 1), 0)):
        raise BadInput("must hold integers", file=ctx.source, node=ctx.name,
                       field=f"metadata.{key}")
    try:
        return np.broadcast_to(value.astype(dtype), shape).copy()
    except ValueError:
        raise BadInput(f"has shape {value.shape}, the node has shape {shape}", file=ctx.source,
                       node=ctx.name, field=f"metadata.{key}") from None


def _reset(node, ctx):
    reset = str((node.metadata or {}).get("reset", "zero"))
    if reset not in ("subtract", "zero"):
        raise BadInput(f"reset must be 'subtract' or 'zero', is {reset!r}", file=ctx.source,
                       node=ctx.name, field="metadata.reset")
    return reset


def _scalar(node, ctx, key, default=None):
    value = (node.metadata or {}).get(key, default)
    if value is None:
        raise BadInput("missing in the quantized graph", file=ctx.source, node=ctx.name,
                       field=f"metadata.{key}")
    return int(np.asarray(value).ravel()[0])


def _limit(node, ctx, key, default):
    """A count limit (``max_spikes``): a whole number, or ``inf`` / nirconv 0.1's -1 for none."""
    value = (node.metadata or {}).get(key)
    if value is None:
        return default
    try:
        return as_limit(np.asarray(value).ravel()[0].item())
    except (ValueError, IndexError):
        raise BadInput(f"must be a whole number or inf, is {value!r}", file=ctx.source,
                       node=ctx.name, field=f"metadata.{key}") from None


def _positive(node, ctx, key, shape, dtype=np.int64):
    """An integer threshold: > 0 (a Speck or Xylo neuron fires floor(v / threshold) times)."""
    values = _meta(node, ctx, key, shape, dtype)
    if np.any(values <= 0):
        raise BadInput("threshold must be positive", file=ctx.source, node=ctx.name,
                       field=f"metadata.{key}")
    return values


def _spiking(node):
    return isinstance(node, SPIKING)


def _speck(node, ctx, shape, graph):
    if not _spiking(node):
        raise Unsupported("Speck neurons spike (no membrane readout)", file=ctx.source,
                          node=ctx.name, field="type")
    bits = graph.deployment.state_bits
    max_spikes = _limit(node, ctx, "max_spikes", UNLIMITED)
    return SpeckIAF(shape=shape, threshold=_positive(node, ctx, "threshold_int", shape),
                    bias=_meta(node, ctx, "bias_int", shape),
                    v_init=_meta(node, ctx, "v_init_int", shape),
                    v_min=-(1 << (bits - 1)), v_max=(1 << (bits - 1)) - 1, reset=_reset(node, ctx),
                    max_spikes=max_spikes)


def _dash(node, ctx, key, shape):
    d = _meta(node, ctx, key, shape, required=False)
    if d is not None and (np.any(d < 0) or np.any(d > 15)):
        raise BadInput("bit-shift decays must be in 0..15", file=ctx.source, node=ctx.name,
                       field=f"metadata.{key}")
    return d


def _bitshift(family):
    def build(node, ctx, shape, graph):
        spiking = _spiking(node)
        max_spikes = _limit(node, ctx, "max_spikes", 1)
        threshold = _positive(node, ctx, "threshold_int", shape) if spiking else None
        return BitShiftLIF(
            shape=shape, threshold=threshold,
            bias=_meta(node, ctx, "bias_int", shape), v_init=_meta(node, ctx, "v_init_int", shape),
            dash_mem=_dash(node, ctx, "dash_mem", shape), dash_syn=_dash(node, ctx, "dash_syn", shape),
            state_bits=_scalar(node, ctx, "state_bits", graph.deployment.state_bits),
            max_spikes=max_spikes,
            accumulate="ordered" if family == "xylo" else "sum",
            reset=_reset(node, ctx) if spiking else "subtract",
            input_event_cap=_input_event_cap(family, graph.encoding))
    return build


def _input_event_cap(family, encoding: InputEncoding):
    """Xylo delivers at most ``max_events`` events per input channel per step (the graph's
    ``max_events``, else the xylo target's ``io.max_input_events``: xylosim MAX_NUM_INP_SPIKES);
    generic: no cap."""
    if family != "xylo":
        return UNLIMITED
    if encoding.max_events is not None:
        return as_limit(encoding.max_events)
    from ..targets import load

    return as_limit(load(family)["io.max_input_events"])


def _loihi(node, ctx, shape, graph):
    du = _meta(node, ctx, "du", shape)
    dv = _meta(node, ctx, "dv", shape)
    for key, d in (("du", du), ("dv", dv)):
        if np.any(d < 0) or np.any(d >= LoihiCubaLIF.ONE):
            raise BadInput(f"must be in 0..{LoihiCubaLIF.ONE - 1}", file=ctx.source,
                           node=ctx.name, field=f"metadata.{key}")
    vth = _meta(node, ctx, "vth", shape) if _spiking(node) else None
    if vth is not None and (np.any(vth < 0) or np.any(vth >= 1 << LoihiCubaLIF.VTH_BITS)):
        raise BadInput(f"vth must be unsigned {LoihiCubaLIF.VTH_BITS}-bit", file=ctx.source,
                       node=ctx.name, field="metadata.vth")
    return LoihiCubaLIF(shape=shape, du=du, dv=dv, vth=vth,
                        bias_mant=_meta(node, ctx, "bias_mant", shape),
                        bias_exp=_meta(node, ctx, "bias_exp", shape))


def _spinnaker2(node, ctx, shape, graph):
    if not _spiking(node):
        raise Unsupported("SpiNNaker2 neurons spike (no membrane readout)", file=ctx.source,
                          node=ctx.name, field="type")
    if isinstance(node, nir.CubaLIF):
        raise Unsupported("Float32LIF has no synaptic current: the lif_curr_exp model of "
                          "SpiNNaker2 is not simulated in integer mode yet", file=ctx.source,
                          node=ctx.name, field="type")
    f32 = np.float32
    scale = (node.metadata or {}).get("weight_scale")
    if scale is None:
        raise BadInput("missing in the quantized graph", file=ctx.source, node=ctx.name,
                       field="metadata.weight_scale")
    return Float32LIF(shape=shape, alpha=_meta(node, ctx, "alpha", shape, f32),
                      threshold=_positive(node, ctx, "threshold_f32", shape, f32),
                      i_offset=_meta(node, ctx, "i_offset", shape, f32),
                      v_reset=_meta(node, ctx, "v_reset_f32", shape, f32),
                      weight_scale=float(np.float32(np.asarray(scale).ravel()[0])),
                      reset=_reset(node, ctx))


RESOLVERS = {"speck": _speck, "xylo": _bitshift("xylo"), "generic": _bitshift("generic"),
             "loihi2": _loihi, "spinnaker2": _spinnaker2}


def resolve_integer_neuron(family, node, ctx, shape, graph: GraphRecords):
    build = RESOLVERS.get(family)
    if build is None:
        raise Unsupported(f"integer family {family!r} is unknown; known: "
                          f"{', '.join(RESOLVERS)}", file=ctx.source, node=ctx.name,
                          field="metadata.arithmetic")
    return build(node, ctx, tuple(int(s) for s in shape), graph)


# ------------------------------------------------------------------ program-level rules

WEIGHT_OPS = (AffineOp, ConvOp)


def _int_array(op, program, field, value):
    if value is None:
        return None
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.equal(np.mod(arr, 1), 0)):
        raise BadInput("integer mode needs integer values", file=program.source, node=op.name,
                       field=field)
    return arr.astype(np.int64)


def _integer_weights(program):
    bits = program.deployment.weight_bits
    ops = []
    for op in program.ops:
        if isinstance(op, WEIGHT_OPS):
            w = _int_array(op, program, "weight", op.weight)
            if bits is not None and w.size and np.max(np.abs(w)) > (1 << bits):
                raise BadInput(f"integer weights exceed {bits} bits (max |w| = "
                               f"{int(np.max(np.abs(w)))})", file=program.source, node=op.name,
                               field="weight")
            op = dataclasses.replace(op, weight=w, bias=_int_array(op, program, "bias", op.bias))
        ops.append(op)
    return ops


def finish_integer_program(program):
    """Integer weights checked, then the family's structural rules (``equations/structure.py``)."""
    program = dataclasses.replace(program, ops=tuple(_integer_weights(program)))
    try:
        return structure_rules.apply(program)
    except NirconvError as e:
        raise e.at(file=program.source) from None
