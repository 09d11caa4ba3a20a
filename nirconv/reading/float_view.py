"""The float view of a deployed graph: the float SNN it was quantized from, exactly.

A deployed graph (metadata ``arithmetic``) carries its float record (``nirconv/writing``):
``float_weight``/``float_bias`` on every weight node, and on every neuron node the resolved
per-step float neuron (``float_alpha_mem``, ``float_beta_mem``, ``float_v_bias``,
``float_alpha_syn``/``float_beta_syn``, ``float_v_init``, ``float_v_reset``, ``threshold``,
``float_reset``, ``float_compare`` and the switches ``float_current_delay``,
``float_reset_after_decay``, ``float_max_spikes``, ``float_v_min``). Lowering such a graph in
float mode reads these, not the NIR fields: no dialect and no ``dt`` conversion is involved, so
the float Program is the one that was quantized, bit for bit.

    graph = weights_view(deployed)          # weight fields replaced by the float weights
    record = DEPLOYED.neuron(node, ctx, shape, dt)   # NeuronFloat from the float_* keys
"""
from __future__ import annotations

import copy

import nir
import numpy as np

from ..equations.limits import as_limit
from ..equations.neurons import NeuronFloat
from ..equations.roles import role
from ..errors import BadInput, NirconvError

NAME = "deployed"  # the pseudo-dialect lowering uses for the float view


def weights_view(graph: nir.NIRGraph) -> nir.NIRGraph:
    """A shallow copy of the deployed graph whose weight nodes hold their float weights and
    biases (``float_weight``, ``float_bias``; no bias key: zeros) and no integer ``shift``.
    A weight node without ``float_weight`` is a BadInput (its float record is missing)."""
    nodes = {}
    for name, node in graph.nodes.items():
        meta = node.metadata or {}
        if role(type(node).__name__) == "weight" and "float_weight" not in meta:
            raise BadInput("missing in the deployed graph (its float record)", node=name,
                           field="metadata.float_weight")
        if role(type(node).__name__) == "weight":
            new = copy.copy(node)
            new.metadata = {k: v for k, v in meta.items() if k != "shift"}  # a float weight
            shape = np.shape(node.weight)
            try:
                new.weight = np.asarray(meta["float_weight"], dtype=np.float64).reshape(shape)
            except (TypeError, ValueError):
                raise BadInput(f"does not fit the weight of shape {shape}", node=name,
                               field="metadata.float_weight") from None
            if getattr(node, "bias", None) is not None:
                bias = np.asarray(meta.get("float_bias", 0.0), dtype=np.float64)
                try:
                    new.bias = np.broadcast_to(bias, np.shape(node.bias)).copy()
                except ValueError:
                    raise BadInput(f"does not fit the bias of shape {np.shape(node.bias)}",
                                   node=name, field="metadata.float_bias") from None
            nodes[name] = new
        else:
            nodes[name] = node
    return nir.NIRGraph(nodes=nodes, edges=list(graph.edges), metadata=dict(graph.metadata or {}),
                        type_check=False)


def _array(meta, key, shape, ctx, default=None, required=True):
    if key not in meta:
        if default is not None or not required:
            return None if default is None else np.full(shape, float(default))
        raise BadInput("missing in the deployed graph (its float record)", file=ctx.source,
                       node=ctx.name, field=f"metadata.{key}")
    try:
        return np.broadcast_to(np.asarray(meta[key], dtype=np.float64), shape).copy()
    except (TypeError, ValueError):
        raise BadInput(f"must be a number or an array of shape {tuple(shape)}", file=ctx.source,
                       node=ctx.name, field=f"metadata.{key}") from None


def _text(meta, key, default, ctx):
    value = meta.get(key, default)
    if not isinstance(value, str):
        raise BadInput(f"must be a string, is {value!r}", file=ctx.source, node=ctx.name,
                       field=f"metadata.{key}")
    return value


class DeployedFloat:
    """The float neurons of a deployed graph, from their ``float_*`` metadata."""

    name = NAME
    default_dt = None
    auto_dt = False

    def neuron(self, node, ctx, shape, dt, reset_override=None) -> NeuronFloat:
        meta = node.metadata or {}
        shape = tuple(shape)
        spiking = "threshold" in meta and role(type(node).__name__) == "neuron" \
            and type(node).__name__ in ("IF", "LIF", "CubaLIF")
        syn = "float_alpha_syn" in meta
        fields = dict(
            shape=shape, alpha_mem=_array(meta, "float_alpha_mem", shape, ctx),
            beta_mem=_array(meta, "float_beta_mem", shape, ctx),
            bias=_array(meta, "float_v_bias", shape, ctx, 0.0),
            v_threshold=_array(meta, "threshold", shape, ctx) if spiking else None,
            v_reset=_array(meta, "float_v_reset", shape, ctx, 0.0),
            v_init=_array(meta, "float_v_init", shape, ctx, 0.0),
            alpha_syn=_array(meta, "float_alpha_syn", shape, ctx) if syn else None,
            beta_syn=_array(meta, "float_beta_syn", shape, ctx) if syn else None,
            reset=reset_override or _text(meta, "float_reset", "zero", ctx),
            compare=_text(meta, "float_compare", ">", ctx),
            model=_text(meta, "float_model", type(node).__name__, ctx),
            v_min=_array(meta, "float_v_min", shape, ctx, required=False))
        for key, default in (("float_current_delay", False), ("float_reset_after_decay", True)):
            value = meta.get(key, default)
            if not isinstance(value, (bool, np.bool_, int, np.integer)) or value not in (0, 1):
                raise BadInput(f"must be true or false, is {value!r}", file=ctx.source,
                               node=ctx.name, field=f"metadata.{key}")
            fields[key[len("float_"):]] = bool(value)
        if "float_max_spikes" in meta:
            try:
                fields["max_spikes"] = as_limit(np.asarray(meta["float_max_spikes"])
                                                .ravel()[0].item())
            except (ValueError, IndexError):
                raise BadInput("must be a whole number or inf", file=ctx.source, node=ctx.name,
                               field="metadata.float_max_spikes") from None
        try:
            return NeuronFloat(**fields)
        except NirconvError as e:
            raise e.at(file=ctx.source, node=ctx.name) from None


DEPLOYED = DeployedFloat()
