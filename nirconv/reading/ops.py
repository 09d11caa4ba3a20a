"""Per-primitive rules: how each NIR node type becomes a Program op (shape rule included).

One builder per NIR type, registered in `BUILDERS`; neurons are resolved by the dialect (float mode)
or by the target family's integer rules (integer mode), see `nirconv.reading.neurons`.
"""
from __future__ import annotations

from typing import Callable

import nir
import numpy as np

from ..equations import program as P
from ..errors import BadInput, Unsupported
from ..nir_io.limits import check_shape


class Ctx:
    """What a builder needs besides the node: its name, in_shape, the file and the options."""

    def __init__(self, name, in_shape, inputs, source, dt, resolve_neuron, info=None):
        self.name = name
        self.info = info  # the node's OpInfo (lowering/records.py)
        self.in_shape = in_shape
        self.inputs = inputs
        self.source = source
        self.dt = dt
        self.resolve_neuron = resolve_neuron

    def bad(self, msg, field=None):
        return BadInput(msg, file=self.source, node=self.name, field=field)


def array(ctx: Ctx, node, field: str, dtype=np.float64, required=True):
    value = getattr(node, field, None)
    if value is None:
        if required:
            raise ctx.bad("missing", field)
        return None
    if hasattr(value, "detach"):  # torch tensors written by some peers
        value = value.detach().cpu().numpy()
    if np.iscomplexobj(value):  # never cast silently to the real part
        raise ctx.bad("complex values are not supported", field)
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise ctx.bad(f"not numeric ({e})", field) from None
    if not np.all(np.isfinite(arr)):
        raise ctx.bad("contains NaN or infinite values", field)
    return arr


def _tuple(value, n, ctx, field, lo=0):
    """``n`` integers of at least ``lo`` (one value stands for all ``n``)."""
    if value is None:
        raise ctx.bad("missing", field)
    arr = np.atleast_1d(np.asarray(value)).ravel()
    if arr.dtype.kind not in "biuf" or not np.all(np.isfinite(arr)) \
            or not np.all(arr == np.round(arr)):
        raise ctx.bad(f"must be integers, is {arr.tolist()[:8]}", field)
    if arr.size == 1:
        arr = np.repeat(arr, n)
    if arr.size != n:
        raise ctx.bad(f"needs {n} values, has {arr.size}", field)
    if np.any(arr < lo) or np.any(np.abs(arr) > 2**40):
        raise ctx.bad(f"must be integers of at least {lo}, is {arr.tolist()}", field)
    return tuple(int(a) for a in arr)


def _base(ctx, out_shape, field="output_type"):
    """The fields every op has; its output shape checked against the array cap before anything
    is allocated from it (nir_io/limits.py)."""
    out_shape = check_shape(out_shape, file=ctx.source, node=ctx.name, field=field,
                            what="output shape")
    base = dict(name=ctx.name, inputs=ctx.inputs, in_shape=tuple(ctx.in_shape),
                out_shape=out_shape)
    if ctx.info is not None:
        base["info"] = ctx.info
    return base


def _known(ctx) -> tuple:
    """The arriving shape, which a shape-preserving op needs."""
    if ctx.in_shape is None:
        raise ctx.bad("input shape unknown (no edge from an Input reaches this node)",
                      "input_type")
    return ctx.in_shape


def _broadcast(ctx, values: np.ndarray, shape, field) -> np.ndarray:
    """``values`` repeated to ``shape``, or a BadInput naming the field."""
    try:
        return np.broadcast_to(values, tuple(shape)).copy()
    except ValueError:
        raise ctx.bad(f"has shape {np.shape(values)}, which does not fit {tuple(shape)}",
                      field) from None


def _require_shape(ctx, expected, field="input_type"):
    if ctx.in_shape is None:
        raise ctx.bad("input shape unknown (no edge from an Input reaches this node)", field)
    if int(np.prod(ctx.in_shape)) != int(np.prod(expected)):
        raise ctx.bad(f"shape mismatch along an edge: receives {tuple(ctx.in_shape)}, "
                      f"expects {tuple(int(e) for e in expected)}", field)


def build_affine(node, ctx):
    w = array(ctx, node, "weight")
    if w.ndim != 2:
        raise ctx.bad(f"weight must be 2-D, is {w.ndim}-D", "weight")
    _require_shape(ctx, (w.shape[1],))
    b = array(ctx, node, "bias") if isinstance(node, nir.Affine) else None
    if b is not None:
        b = np.broadcast_to(b, (w.shape[0],)).copy() if b.size in (1, w.shape[0]) else None
        if b is None:
            raise ctx.bad(f"bias has {array(ctx, node, 'bias').size} values for {w.shape[0]} "
                          "outputs", "bias")
    return P.AffineOp(**_base(ctx, (w.shape[0],)), weight=w, bias=b,
                      shift=int(node.metadata.get("shift", 0)) if node.metadata else 0)


def build_scale(node, ctx):
    s = array(ctx, node, "scale")
    return P.ScaleOp(**_base(ctx, _known(ctx)), scale=_broadcast(ctx, s, ctx.in_shape, "scale"))


def _conv_out(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def build_conv(node, ctx):
    w = array(ctx, node, "weight")
    nd = 1 if isinstance(node, nir.Conv1d) else 2
    if w.ndim != nd + 2:
        raise ctx.bad(f"weight must be {nd + 2}-D, is {w.ndim}-D", "weight")
    groups = _tuple(node.groups, 1, ctx, "groups", lo=1)[0]
    if w.shape[0] % groups:
        raise ctx.bad(f"{w.shape[0]} output channels do not split into {groups} groups", "groups")
    if ctx.in_shape is None or len(ctx.in_shape) != nd + 1 or ctx.in_shape[0] != w.shape[1] * groups:
        raise ctx.bad(f"shape mismatch along an edge: receives {ctx.in_shape}, expects "
                      f"({w.shape[1] * groups}, {'...' if nd == 1 else '..., ...'})", "input_type")
    stride = _tuple(node.stride, nd, ctx, "stride", lo=1)
    dilation = _tuple(node.dilation, nd, ctx, "dilation", lo=1)
    k = w.shape[2:]
    if isinstance(node.padding, str):
        if node.padding == "valid":
            padding = (0,) * nd
        elif node.padding == "same":
            if any(s != 1 for s in stride) or any((d * (kk - 1)) % 2 for d, kk in zip(dilation, k)):
                raise Unsupported("padding 'same' needs stride 1 and an odd effective kernel",
                                  file=ctx.source, node=ctx.name, field="padding")
            padding = tuple(d * (kk - 1) // 2 for d, kk in zip(dilation, k))
        else:
            raise ctx.bad(f"unknown padding {node.padding!r}", "padding")
    else:
        padding = _tuple(node.padding, nd, ctx, "padding")
    spatial = tuple(_conv_out(n, kk, s, p, d) for n, kk, s, p, d in
                    zip(ctx.in_shape[1:], k, stride, padding, dilation))
    if any(o <= 0 for o in spatial):
        raise ctx.bad(f"kernel larger than the padded input {ctx.in_shape}", "weight")
    b = array(ctx, node, "bias", required=False)
    if b is not None:
        b = _broadcast(ctx, b.ravel() if b.size == w.shape[0] else b, (w.shape[0],), "bias")
    meta = node.metadata or {}
    field = "padding" if any(padding) else "weight"
    return P.ConvOp(**_base(ctx, (w.shape[0], *spatial), field), weight=w, bias=b, stride=stride,
                    padding=padding, dilation=dilation, groups=groups,
                    shift=int(meta.get("shift", 0)))


def build_pool(node, ctx):
    if ctx.in_shape is None or len(ctx.in_shape) != 3:
        raise ctx.bad(f"2-D pooling needs a (C, H, W) input, receives {ctx.in_shape}",
                      "input_type")
    k = _tuple(node.kernel_size, 2, ctx, "kernel_size", lo=1)
    s = _tuple(node.stride, 2, ctx, "stride", lo=1)
    p = _tuple(node.padding, 2, ctx, "padding")
    spatial = tuple(_conv_out(n, kk, ss, pp, 1) for n, kk, ss, pp in zip(ctx.in_shape[1:], k, s, p))
    mode = "sum" if isinstance(node, nir.SumPool2d) else "avg"
    return P.PoolOp(**_base(ctx, (ctx.in_shape[0], *spatial), "padding"), kernel=k, stride=s,
                    padding=p, mode=mode)


def build_flatten(node, ctx):
    if ctx.in_shape is None:
        raise ctx.bad("input shape unknown", "input_type")
    shape = list(ctx.in_shape)
    # NIR writers disagree whether start_dim counts the batch axis (torch's nn.Flatten(1) on
    # (B, C, H, W)) or not. Both readings end at the same flat vector when end_dim is -1,
    # and a following Affine accepts any shape with the right number of elements.
    start = int(node.start_dim)
    end = int(node.end_dim)
    start = max(start - 1, 0) if start >= 1 else start
    end = end if end < 0 else max(end - 1, 0)
    end = len(shape) + end if end < 0 else end
    out = shape[:start] + [int(np.prod(shape[start:end + 1]))] + shape[end + 1:]
    return P.FlattenOp(**_base(ctx, out))


def build_delay(node, ctx):
    d = array(ctx, node, "delay")
    if ctx.dt is None:
        raise ctx.bad("a Delay needs dt (from the graph metadata, the dialect or --dt)", "dt")
    steps_f = np.rint(d / ctx.dt)
    if np.any(steps_f < 0):
        raise ctx.bad("negative delay", "delay")
    if np.any(steps_f > 2**40):
        raise ctx.bad(f"delay of {float(np.max(steps_f)):.3g} steps", "delay")
    steps = steps_f.astype(np.int64)
    # the simulators keep the last max(steps) + 1 steps of the arriving values
    check_shape((int(steps.max(initial=0)) + 1, *_known(ctx)), file=ctx.source, node=ctx.name,
                field="delay", what="delay buffer")
    return P.DelayOp(**_base(ctx, _known(ctx)), steps=_broadcast(ctx, steps, ctx.in_shape, "delay"))


def build_threshold(node, ctx):
    th = array(ctx, node, "threshold")
    compare = (node.metadata or {}).get("compare", ">")
    if compare not in (">", ">="):
        raise ctx.bad(f"compare must be '>' or '>=', is {compare!r}", "metadata.compare")
    return P.ThresholdOp(**_base(ctx, _known(ctx)),
                         threshold=_broadcast(ctx, th, ctx.in_shape, "threshold"),
                         compare=compare)


def build_identity(node, ctx):
    if ctx.in_shape is None:
        raise ctx.bad("input shape unknown", "input_type")
    return P.FlattenOp(**_base(ctx, ctx.in_shape))


def build_output(node, ctx):
    if ctx.in_shape is None:
        raise ctx.bad("no edge reaches this Output", "edges")
    return P.OutputOp(**_base(ctx, ctx.in_shape))


def build_neuron(node, ctx):
    record = ctx.resolve_neuron(node, ctx)
    return P.NeuronOp(**_base(ctx, record.shape), neuron=record)


def positive_threshold(record, ctx):
    """A spiking float neuron's ``v_threshold`` must be > 0 in every dialect: the same verdict, in
    the same words, as the quantizer's (``check``/``export``) on the same graph."""
    th = getattr(record, "v_threshold", None)
    if th is not None and np.any(np.asarray(th) <= 0):
        raise BadInput("threshold must be positive", file=ctx.source, node=ctx.name,
                       field="v_threshold")
    return record


def neuron_shape(node, ctx) -> tuple:
    """The neuron's shape from its parameters, checked against what arrives on its edge and
    against the array cap (before the dialect allocates its parameters)."""
    shape = ()
    for field in ("v_threshold", "tau_mem", "tau", "r"):
        value = getattr(node, field, None)
        if value is not None:
            shape = check_shape(np.shape(value), file=ctx.source, node=ctx.name, field=field)
            break
    if ctx.in_shape is not None:
        if shape in ((), (1,)):
            return tuple(ctx.in_shape)
        _require_shape(ctx, shape)
        return tuple(ctx.in_shape) if int(np.prod(shape)) == int(np.prod(ctx.in_shape)) else shape
    return shape


BUILDERS: dict[type, Callable] = {
    nir.Affine: build_affine,
    nir.Linear: build_affine,
    nir.Scale: build_scale,
    nir.Conv1d: build_conv,
    nir.Conv2d: build_conv,
    nir.SumPool2d: build_pool,
    nir.AvgPool2d: build_pool,
    nir.Flatten: build_flatten,
    nir.Delay: build_delay,
    nir.Threshold: build_threshold,
    nir.Output: build_output,
    nir.I: build_neuron,
    nir.IF: build_neuron,
    nir.LI: build_neuron,
    nir.LIF: build_neuron,
    nir.CubaLI: build_neuron,
    nir.CubaLIF: build_neuron,
}
if hasattr(nir, "Identity"):
    BUILDERS[nir.Identity] = build_identity

# NIR node types we refuse, with the reason (the coverage test walks nir.ir for this).
UNSUPPORTED: dict[str, str] = {}
