"""Capture: a trained ``nn.Module`` (or a ``torch.export`` program) -> conversion `Graph`.

One capture path (style.md item 13): ``torch.export`` then ``run_decompositions()`` to the core ATen
op set; one rule per ATen op in `RULES`. Parameters and buffers (and anything computed only from
them, e.g. a transposed weight) are folded to constants first; every other node must have a rule,
otherwise `Unsupported` names the module path and type it came from (``nn_module_stack``).
"""
from __future__ import annotations

import operator
import re
from typing import Any, Callable

import numpy as np
import torch

from ..errors import BadInput, Unsupported
from .graph import Graph, Layer

aten = torch.ops.aten


class _Ctx:
    """State of one capture: constants, the layers made so far, aliases of removed nodes."""

    def __init__(self, source: str):
        self.source = source
        self.const: dict[str, torch.Tensor] = {}
        self.alias: dict[str, str] = {}
        self.layers: list[Layer] = []
        self.shape: dict[str, tuple[int, ...]] = {}
        self.batch: Any = None

    def ref(self, node) -> str:
        name = node.name
        while name in self.alias:
            name = self.alias[name]
        if name not in self.shape:
            raise self.unsupported(node, "uses a value nirconv cannot follow")
        return name

    def add(self, node, kind, inputs, shape=None, **params) -> None:
        shape = tuple(shape) if shape is not None else sample_shape(node, self)
        path, module = module_of(node)
        self.layers.append(Layer(node.name, kind, tuple(inputs), shape, params, path, module))
        self.shape[node.name] = shape

    def unsupported(self, node, what: str) -> Unsupported:
        path, module = module_of(node)
        where = f"{path} ({module})" if path else f"function in {module or 'forward'}"
        return Unsupported(f"{where}: {node.target} {what}; supported: Linear, Conv1d/2d, "
                           "BatchNorm1d/2d, ReLU, AvgPool1d/2d, Flatten, Dropout, Identity, "
                           "residual add, concatenation", file=self.source,
                           node=path or node.name, field="type")


def module_of(node) -> tuple[str, str]:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return "", ""
    path, cls = list(stack.values())[-1]
    cls = cls if isinstance(cls, str) else getattr(cls, "__name__", str(cls))
    return str(path), cls.rsplit(".", 1)[-1]


def sample_shape(node, ctx: _Ctx) -> tuple[int, ...]:
    val = node.meta.get("val")
    if not isinstance(val, torch.Tensor) or val.dim() < 1:
        raise ctx.unsupported(node, "has no tensor output with a batch axis")
    if ctx.batch is not None and str(val.shape[0]) != str(ctx.batch):
        raise ctx.unsupported(node, "mixes samples of the batch")
    return tuple(int(s) for s in val.shape[1:])


def _c(x: torch.Tensor) -> np.ndarray:
    return x.detach().to(torch.float64).cpu().numpy().copy()


def _ints(value, n: int) -> tuple[int, ...]:
    value = list(value) if isinstance(value, (list, tuple)) else [value]
    if len(value) == 1:
        value = value * n
    return tuple(int(v) for v in value)


# ------------------------------------------------------------------ rules, one per ATen op

def _linear(ctx, node, x, weight, bias=None):
    w, b = ctx.const[weight.name], ctx.const.get(getattr(bias, "name", None))
    _dense(ctx, node, x, _c(w), None if b is None else _c(b))


def _dense(ctx, node, x, weight, bias):
    if not isinstance(x, torch.fx.Node) or x.name in ctx.const:
        raise ctx.unsupported(node, "needs a data input and a constant weight")
    bias = np.zeros(weight.shape[0]) if bias is None else np.broadcast_to(bias, weight.shape[0])
    ctx.add(node, "affine", [ctx.ref(x)], weight=weight, bias=np.array(bias, dtype=np.float64))


def _addmm(ctx, node, bias, x, wt, beta=1, alpha=1):
    if wt.name not in ctx.const or bias.name not in ctx.const or beta != 1 or alpha != 1:
        raise ctx.unsupported(node, "is only supported as a Linear layer")
    _dense(ctx, node, x, _c(ctx.const[wt.name]).T.copy(), _c(ctx.const[bias.name]))


def _mm(ctx, node, x, wt):
    if wt.name not in ctx.const:
        raise ctx.unsupported(node, "is only supported as a Linear layer")
    _dense(ctx, node, x, _c(ctx.const[wt.name]).T.copy(), None)


def _convolution(ctx, node, x, weight, bias, stride, padding, dilation, transposed,
                 output_padding, groups):
    if transposed:
        raise ctx.unsupported(node, "(transposed convolution) is not supported")
    w = _c(ctx.const[weight.name])
    nd = w.ndim - 2
    if nd not in (1, 2):
        raise ctx.unsupported(node, f"({nd}-D convolution) is not supported")
    b = np.zeros(w.shape[0]) if bias is None else _c(ctx.const[bias.name])
    ctx.add(node, "conv", [ctx.ref(x)], weight=w, bias=b, stride=_ints(stride, nd),
            padding=_ints(padding, nd), dilation=_ints(dilation, nd), groups=int(groups))


def _batch_norm(ctx, node, x, weight, bias, mean, var, momentum, eps):
    mu, v = _c(ctx.const[mean.name]), _c(ctx.const[var.name])
    gamma = np.ones_like(mu) if weight is None else _c(ctx.const[weight.name])
    beta = np.zeros_like(mu) if bias is None else _c(ctx.const[bias.name])
    scale = gamma / np.sqrt(v + float(eps))
    shape = tuple(int(s) for s in node.meta["val"][0].shape[1:])
    ctx.add(node, "bn", [ctx.ref(x)], shape=shape, scale=scale, shift=beta - scale * mu)


def _getitem(ctx, node, src, index):
    if src.target is aten._native_batch_norm_legit_no_training.default and index == 0:
        ctx.alias[node.name] = src.name
        return
    raise ctx.unsupported(node, "(a multi-output operation) is not supported")


def _relu(ctx, node, x):
    ctx.add(node, "relu", [ctx.ref(x)])


def _avg_pool2d(ctx, node, x, kernel, stride=(), padding=0, ceil_mode=False,
                count_include_pad=True, divisor_override=None):
    if ceil_mode or not count_include_pad or divisor_override is not None:
        raise ctx.unsupported(node, "with ceil_mode, count_include_pad=False or a divisor "
                              "override is not supported")
    k = _ints(kernel, 2)
    s = _ints(stride, 2) if stride else k
    ctx.add(node, "avgpool", [ctx.ref(x)], kernel=k, stride=s, padding=_ints(padding, 2))


def _avg_pool1d(ctx, node, x, kernel, stride=(), padding=0, ceil_mode=False,
                count_include_pad=True):
    if ceil_mode or not count_include_pad:
        raise ctx.unsupported(node, "with ceil_mode or count_include_pad=False is not supported")
    k = _ints(kernel, 1)
    ctx.add(node, "avgpool", [ctx.ref(x)], kernel=k, stride=_ints(stride, 1) if stride else k,
            padding=_ints(padding, 1))


def _reshape(ctx, node, x, *args):
    src = ctx.ref(x)
    shape = sample_shape(node, ctx)
    if shape == ctx.shape[src]:
        ctx.alias[node.name] = src
        return
    ctx.add(node, "reshape", [src], shape=shape)


def _identity(ctx, node, x, *args, **kwargs):
    ctx.alias[node.name] = ctx.ref(x)


def _add(ctx, node, x, y, alpha=1):
    if not all(isinstance(v, torch.fx.Node) and v.name not in ctx.const for v in (x, y)) \
            or alpha != 1:
        raise ctx.unsupported(node, "is only supported as the sum of two activations "
                              "(residual add)")
    ctx.add(node, "sum", [ctx.ref(x), ctx.ref(y)])


def _cat(ctx, node, tensors, dim=0):
    ndim = len(ctx.shape[ctx.ref(tensors[0])]) + 1
    if int(dim) % ndim != 1:
        raise ctx.unsupported(node, "is only supported along the channel axis (dim 1)")
    ctx.add(node, "cat", [ctx.ref(t) for t in tensors])


RULES: dict[Any, Callable] = {
    aten.convolution.default: _convolution,
    aten.addmm.default: _addmm,
    aten.mm.default: _mm,
    aten.linear.default: _linear,
    aten._native_batch_norm_legit_no_training.default: _batch_norm,
    operator.getitem: _getitem,
    aten.relu.default: _relu,
    aten.avg_pool2d.default: _avg_pool2d,
    aten.avg_pool1d.default: _avg_pool1d,
    aten.view.default: _reshape,
    aten._unsafe_view.default: _reshape,
    aten.reshape.default: _reshape,
    aten.squeeze.dims: _reshape,
    aten.squeeze.dim: _reshape,
    aten.unsqueeze.default: _reshape,
    aten.flatten.using_ints: _reshape,
    aten.clone.default: _identity,
    aten.alias.default: _identity,
    aten.detach.default: _identity,
    aten.contiguous.default: _identity,
    aten.dropout.default: _identity,
    aten.add.Tensor: _add,
    aten.cat.default: _cat,
}


# ------------------------------------------------------------------ driver

def export_model(model: torch.nn.Module, example: torch.Tensor, source: str):
    """``torch.export`` of ``model`` on ``example`` (batch axis kept dynamic when possible)."""
    model = model.eval()
    try:
        batch = torch.export.Dim("batch", min=1)
        return torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
    except Exception:
        pass
    try:
        return torch.export.export(model, (example,))
    except Exception as e:
        raise Unsupported(f"torch.export could not capture the model ({type(e).__name__}: "
                          f"{str(e).splitlines()[0][:200]})", file=source, field="model") from None


def capture(program, source: str = "<memory>") -> Graph:
    """The conversion Graph of an ``ExportedProgram`` (decomposed to core ATen here)."""
    try:
        program = program.run_decompositions()
    except Exception as e:
        raise Unsupported(f"could not decompose the exported program ({type(e).__name__})",
                          file=source, field="model") from None
    ctx = _Ctx(source)
    sig = program.graph_signature
    state = {**program.state_dict, **getattr(program, "constants", {})}
    lifted = {**sig.inputs_to_parameters, **sig.inputs_to_buffers,
              **getattr(sig, "inputs_to_lifted_tensor_constants", {})}
    user_inputs = [n for n in program.graph.nodes if n.op == "placeholder" and n.name not in lifted]
    if len(user_inputs) != 1:
        raise Unsupported(f"the model takes {len(user_inputs)} inputs; conversion needs exactly "
                          "one", file=source, field="model")
    for node in program.graph.nodes:
        _visit(node, ctx, state, lifted, user_inputs[0])
    return Graph(tuple(ctx.layers), source)


def _visit(node, ctx: _Ctx, state, lifted, user_input) -> None:
    if node.op == "placeholder":
        if node.name in lifted:
            ctx.const[node.name] = state[lifted[node.name]]
            _check_finite(ctx, lifted[node.name], ctx.const[node.name])
        else:
            ctx.batch = node.meta["val"].shape[0]
            ctx.add(node, "input", [])
        return
    if node.op == "output":
        outs = [a for a in torch.utils._pytree.tree_leaves(node.args) if isinstance(a, torch.fx.Node)]
        if len(outs) != 1:
            raise Unsupported(f"the model returns {len(outs)} tensors; conversion needs exactly "
                              "one", file=ctx.source, field="model")
        ctx.layers.append(Layer("output", "output", (ctx.ref(outs[0]),), ctx.shape[ctx.ref(outs[0])]))
        return
    if node.op != "call_function":
        raise ctx.unsupported(node, f"({node.op}) is not supported")
    if isinstance(node.meta.get("val"), (int, torch.SymInt)):
        return  # shape arithmetic on the (dynamic) batch size: the reshape rules use meta shapes
    args = [a for a in torch.utils._pytree.tree_leaves((node.args, node.kwargs))
            if isinstance(a, torch.fx.Node)]
    if all(a.name in ctx.const for a in args) and node.target is not operator.getitem:
        ctx.const[node.name] = _evaluate(node, ctx)
        return
    rule = RULES.get(node.target)
    if rule is None:
        raise ctx.unsupported(node, "is not supported by the ANN->SNN conversion")
    rule(ctx, node, *node.args, **node.kwargs)


def _evaluate(node, ctx: _Ctx):
    """Compute a node whose inputs are all constants (e.g. the transpose of a Linear weight)."""
    def val(a):
        return ctx.const[a.name] if isinstance(a, torch.fx.Node) else a
    args = torch.utils._pytree.tree_map(val, node.args)
    kwargs = torch.utils._pytree.tree_map(val, node.kwargs)
    with torch.no_grad():
        return node.target(*args, **kwargs)


def _check_finite(ctx: _Ctx, name: str, value) -> None:
    if isinstance(value, torch.Tensor) and value.is_floating_point() \
            and not bool(torch.isfinite(value).all()):
        raise BadInput("contains NaN or infinite values", file=ctx.source,
                       node=re.sub(r"\.[^.]*$", "", name), field=name.rsplit(".", 1)[-1])
