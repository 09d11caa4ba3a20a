"""Loihi 2: lava-dl's netx HDF5 network description, written from an integer loihi2 Program.

    write_netx(graph_or_program, "net.net")   # atomic; what lava.lib.dl.netx.hdf5.Network reads
    program = read_netx("net.net")            # the file as lava-dl + lava would run it, as a Program

Layout (lava-dl 0.6.0, ``lava/lib/dl/netx/hdf5.py`` ``Network._create`` l.566-689, ``create_dense``
l.315-461, ``get_neuron_params`` l.111-163; ``netx/utils.py`` ``NetDict`` l.22-77 and
``optimize_weight_bits`` l.80-158; lava-dl's own writer is ``slayer/block/base.py``
``AbstractDense.export_hdf5`` l.355-398)::

    layer/0/type    = [b"input"]     (1,) S10      layer/0/shape = input shape
    layer/i/type    = [b"dense"]     or [b"dense_rec"] (recurrent weights in ``weight_rec``)
    layer/i/shape   = (N,)           layer/i/inFeatures, layer/i/outFeatures
    layer/i/weight  = (N, M) integers: the *effective* synaptic weights (a_in = Σ weight·s);
                      netx re-derives mantissa, exponent, bit width and sign mode itself
                      (``optimize_weight_bits``), and lava's Dense clips and truncates them
    layer/i/bias    = (N,) bias mantissas; netx fixes ``bias_exp = 6``
    layer/i/neuron/{type="CUBA", iDecay, vDecay, vThMant, refDelay, gradedSpike}
                      netx: du = iDecay - 1, dv = vDecay, vth = vThMant (scalars per layer)

Every value is checked on the way out: the weights are run through lava-dl's and lava's weight
processing (`netx_weights`) and must come back exactly, biases must be exact multiples of 2**6,
decays and thresholds must be one value per layer (lava's LIF takes scalars). Anything netx cannot
express exactly is refused with `Unsupported` naming the op and field.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import numpy as np

from ..equations.neurons import LoihiCubaLIF
from ..equations.program import AffineOp, Edge, FlattenOp, InputOp, NeuronOp, OutputOp, Program
from ..equations.records import Deployment
from ..errors import BadInput, Unsupported
from ..nir_io.atomic import atomic_write_bytes, check_destination
from ..reading import to_program

NETX_BIAS_EXP = 6  # hdf5.py get_neuron_params: 'bias_exp': 6 (the format's, not the chip's)
# vth << A_IN_SHIFT = 2**23 > any v (v saturates at STATE_MAX = 2**23 - 1); lava-dl's default
# "1 << 18 - 1" for a layer without neuron evaluates to this value
NEVER_FIRES_VTH = 1 << LoihiCubaLIF.VTH_BITS
REF_DELAY = 1  # lava-dl CUBA default; lava's LIF has no refractory period


@lru_cache(maxsize=None)
def _chip() -> tuple[int, int]:
    """Loihi 2's weight mantissa width and bias mantissa width (signed), from the loihi2 target
    (``weights.bits``: lava's ``clip_weights(num_bits=8)``; ``state.bias_bits``: 13-bit
    ``bias_mant``)."""
    from ..targets import load

    target = load("loihi2")
    return int(target["weights.bits"]), int(target["state.bias_bits"])


@dataclass(frozen=True)
class NetxWeights:
    """What lava-dl + lava do to a netx ``weight`` matrix (for checks and for `read_netx`)."""

    weights: np.ndarray  # after optimize_weight_bits, clip_weights and truncate_weights
    weight_exp: int
    num_weight_bits: int
    sign_mode: int  # 1 mixed, 2 excitatory, 3 inhibitory

    def effective(self) -> Optional[np.ndarray]:
        """The exact per-synapse weights (a_in = Σ eff·s for any integer s), or None when the
        exponent makes the sum's floor depend on the inputs."""
        if self.weight_exp >= 0:
            return self.weights.astype(np.int64) << self.weight_exp
        k = -self.weight_exp
        if np.any(self.weights % (1 << k)):
            return None
        return self.weights.astype(np.int64) >> k


def netx_weights(weight: np.ndarray) -> NetxWeights:
    """lava-dl 0.6.0 ``netx/utils.py::optimize_weight_bits`` then lava 0.10.0 Dense bit-accurate
    preprocessing (``proc/dense/models.py`` l.80-90: ``clip_weights(num_bits=8)``,
    ``truncate_weights(num_weight_bits)`` with the sign mode from ``determine_sign_mode``), with
    B = 8 the loihi2 target's ``weights.bits``."""
    bits = _chip()[0]
    top = 2 ** bits  # 256: mixed weights lie in [-top, top - 2], excitatory ones in [0, top - 1]
    w = np.asarray(weight).astype(np.int64)
    max_w, min_w = int(w.max()), int(w.min())
    if max_w > top - 2 and min_w < 0:
        w = np.clip(w, -top, top - 2)
        max_w = int(w.max())
    if min_w < -top and max_w > 0:
        w = np.clip(w, -top, top - 2)
        min_w = int(w.min())
    if max_w < 0:
        sign_mode, signed, scale = 3, 0, -top / min_w
    elif min_w >= 0:
        sign_mode, signed = 2, 0
        scale = (top - 1) / max_w if max_w > 0 else np.inf
    else:
        sign_mode, signed = 1, 1
        scale = min((top // 2 - 1) / max_w, -(top // 2) / min_w)
    if not np.isfinite(scale):  # an all-zero matrix: lava-dl divides by zero; nothing to shift
        return NetxWeights(np.zeros_like(w), 0, bits, sign_mode)
    scale_bits = int(np.floor(np.log2(scale))) + signed
    n = bits
    while n > 0 and np.sum(np.abs(w / 2 ** n - np.round(w / 2 ** n))) != 0:
        n -= 1
    n -= signed
    num_weight_bits = bits - scale_bits - n
    if scale_bits < 0:  # numpy left_shift by a negative count: lava-dl would produce garbage
        raise Unsupported(f"weights up to {max(abs(max_w), abs(min_w))} exceed what netx can "
                          f"represent ({bits}-bit mantissa, exponent <= 0)", field="weight")
    w = lava_dense_weights(w << scale_bits, num_weight_bits=num_weight_bits)
    return NetxWeights(w, -scale_bits, num_weight_bits, sign_mode)


def lava_dense_weights(weights, sign_mode: Optional[int] = None,
                       num_weight_bits: Optional[int] = None):
    """What lava 0.10.0's bit-accurate Dense does to its weights before use
    (``proc/dense/models.py`` l.80-90): the Var's int32 cast (truncation toward zero), the sign
    mode (``weightutils.determine_sign_mode`` unless given: 1 mixed, 2 excitatory, 3 inhibitory),
    ``clip_weights(num_bits=8)`` and ``truncate_weights(num_weight_bits)`` (default 8), with
    8 the loihi2 target's ``weights.bits``. Mixed 8-bit weights become even values in
    [-256, 254]."""
    bits = _chip()[0]
    num_weight_bits = bits if num_weight_bits is None else num_weight_bits
    w = np.trunc(np.asarray(weights, dtype=np.float64)).astype(np.int64)
    if sign_mode is None:
        sign_mode = 2 if w.min() >= 0 else (3 if w.max() <= 0 else 1)
    mixed = int(sign_mode == 1)
    sign = -1 if sign_mode == 3 else 1
    w = np.clip(sign * w, (-(2 ** bits)) * mixed, 2 ** bits - 1)
    truncate = bits - int(num_weight_bits) + mixed
    if truncate > 0:
        w = (w >> truncate) << truncate
    return sign * w


# --------------------------------------------------------------------------- Program -> layers

@dataclass(frozen=True)
class _Layer:
    name: str  # the neuron op
    weight: np.ndarray  # effective (N, M)
    weight_rec: Optional[np.ndarray]
    neuron: dict


def _effective(op: AffineOp, src) -> np.ndarray:
    w = np.asarray(op.weight, dtype=np.int64)
    if op.bias is not None and np.any(np.asarray(op.bias) != 0):
        raise Unsupported("netx dense layers have no synaptic bias (put it on the neuron)",
                          file=src, node=op.name, field="bias")
    if op.shift >= 0:
        return w << int(op.shift)
    k = -int(op.shift)
    if np.any(w % (1 << k)):
        raise Unsupported(f"weights with a right shift of {k} are not exact as netx's integer "
                          "effective weights", file=src, node=op.name, field="shift")
    return w >> k


def _scalar(op, rec, name, src) -> int:
    value = np.unique(np.asarray(getattr(rec, name)))
    if value.size != 1:
        raise Unsupported(f"lava's LIF takes one {name} per layer, this one has {value.size}",
                          file=src, node=op.name, field=name)
    return int(value[0])


def _neuron(op: NeuronOp, src) -> dict:
    rec = op.neuron
    if not isinstance(rec, LoihiCubaLIF):
        raise Unsupported(f"netx layers are CUBA neurons, got {type(rec).__name__}", file=src,
                          node=op.name, field="neuron")
    bias = np.asarray(rec.bias_mant, np.int64)
    exp = np.broadcast_to(np.asarray(rec.bias_exp, np.int64), np.shape(bias) or (1,))
    bias = np.where(exp >= 0, np.left_shift(bias, np.maximum(exp, 0)),
                    np.right_shift(bias, np.maximum(-exp, 0)))
    if np.any(bias % (1 << NETX_BIAS_EXP)):
        raise Unsupported("netx stores bias mantissas with bias_exp = 6: the bias must be a "
                          "multiple of 64", file=src, node=op.name, field="bias_mant")
    n = int(np.prod(op.out_shape))
    mant = np.broadcast_to(bias >> NETX_BIAS_EXP, op.out_shape).reshape(n)
    bias_bits = _chip()[1]
    if np.any(mant >= 1 << (bias_bits - 1)) or np.any(mant < -(1 << (bias_bits - 1))):
        raise Unsupported(f"bias mantissa exceeds {bias_bits} bits", file=src, node=op.name,
                          field="bias_mant")
    vth = NEVER_FIRES_VTH if rec.vth is None else _scalar(op, rec, "vth", src)
    return {"type": "CUBA", "iDecay": _scalar(op, rec, "du", src) + 1,
            "vDecay": _scalar(op, rec, "dv", src), "vThMant": vth, "refDelay": REF_DELAY,
            "gradedSpike": False, "bias": mant}


def _layers(program: Program) -> tuple[tuple[int, ...], list]:
    src = program.source
    if program.mode != "int" or program.family != "loihi2":
        raise Unsupported(f"netx needs an integer loihi2 program, got mode {program.mode!r} "
                          f"family {program.family!r}", file=src, field="metadata.arithmetic")
    if len(program.inputs) != 1 or len(program.outputs) != 1:
        raise Unsupported("netx describes one chain with one input and one output", file=src,
                          field="graph")
    by_name = {op.name: op for op in program.ops}
    out = by_name[program.outputs[0]]
    # walk back from the output: neuron <- affine(s) <- previous neuron (or flatten) ... <- input
    layers: list = []
    current = out.inputs[0].src if len(out.inputs) == 1 else None
    while current is not None and not isinstance(by_name[current], InputOp):
        op = by_name[current]
        if isinstance(op, FlattenOp):
            current = op.inputs[0].src
            continue
        if not isinstance(op, NeuronOp):
            raise Unsupported(f"netx layers are dense + CUBA neuron; {type(op).__name__} is not "
                              "supported here", file=src, node=op.name, field="type")
        ff, rec, prev = _inputs_of(op, by_name, src)
        layers.append(_Layer(op.name, _effective(ff, src),
                             None if rec is None else _effective(rec, src), _neuron(op, src)))
        current = prev
    if current is None or not layers:
        raise Unsupported("netx needs input -> (dense -> neuron)+ -> output", file=src,
                          field="graph")
    layers.reverse()
    return tuple(program.op(program.inputs[0]).out_shape), layers


def _inputs_of(op: NeuronOp, by_name, src):
    ff = rec = prev = None
    for e in op.inputs:
        w = by_name.get(e.src)
        if not isinstance(w, AffineOp) or len(w.inputs) != 1:
            raise Unsupported("a netx neuron receives only from dense weights", file=src,
                              node=op.name, field="edges")
        delay = e.delay + w.inputs[0].delay
        if delay != 1:
            raise Unsupported(f"lava's Dense delivers after exactly 1 step, this path has {delay}",
                              file=src, node=w.name, field="delay")
        if w.inputs[0].src == op.name:
            if rec is not None:
                raise Unsupported("two recurrent weights", file=src, node=w.name, field="edges")
            rec = w
        else:
            if ff is not None:
                raise Unsupported("netx layers have one feed-forward weight", file=src,
                                  node=w.name, field="edges")
            ff, prev = w, w.inputs[0].src
    if ff is None:
        raise Unsupported("no feed-forward weight", file=src, node=op.name, field="edges")
    return ff, rec, prev


def _check_exact(layer: _Layer, src) -> None:
    joint = layer.weight if layer.weight_rec is None else np.hstack([layer.weight, layer.weight_rec])
    try:
        processed = netx_weights(joint)
    except Unsupported as exc:
        raise Unsupported(exc.message, file=src, node=layer.name, field="weight") from None
    if not np.array_equal(processed.effective(), joint):
        lo, hi = int(joint.min()), int(joint.max())
        bits = _chip()[0]
        why = (f"the effective weights (weight << shift) reach [{lo}, {hi}], beyond the {bits}-bit "
               "range netx can hold (lava-dl's reader derives only exponents <= 0)"
               if hi > 2 ** bits - 1 or lo < -2 ** bits else
               "lava-dl/lava would clip or truncate these weights for their sign mode")
        raise Unsupported(f"{why}; not exact as netx", file=src, node=layer.name, field="weight")


def write_netx(graph_or_program, path, *, source: Optional[str] = None) -> None:
    """Write lava-dl's netx HDF5 of a quantized loihi2 graph (or its integer Program), atomically."""
    import h5py

    program = to_program(graph_or_program, mode="int", source=source)
    input_shape, layers = _layers(program)
    for layer in layers:
        _check_exact(layer, program.source)
    check_destination(path)
    buf = io.BytesIO()  # built in memory: a failing disk write is ours to report, not h5py's
    with h5py.File(buf, "w") as f:
        group = f.create_group("layer")
        first = group.create_group("0")
        _string(first, "type", "input")
        first.create_dataset("shape", data=np.asarray(input_shape[::-1], np.int64))
        for i, layer in enumerate(layers, start=1):
            _write_layer(group.create_group(str(i)), layer)
    atomic_write_bytes(path, buf.getvalue())


def _string(group, key, value):
    group.create_dataset(key, (1,), "S10", [value.encode("ascii")])


def _write_layer(g, layer: _Layer) -> None:
    n, m = layer.weight.shape
    _string(g, "type", "dense" if layer.weight_rec is None else "dense_rec")
    g.create_dataset("shape", data=np.asarray([n], np.int64))
    g.create_dataset("inFeatures", data=m)
    g.create_dataset("outFeatures", data=n)
    g.create_dataset("weight", data=layer.weight.astype(np.int64))
    if layer.weight_rec is not None:
        g.create_dataset("weight_rec", data=layer.weight_rec.astype(np.int64))
    neuron = dict(layer.neuron)
    bias = neuron.pop("bias")
    if np.any(bias != 0):
        g.create_dataset("bias", data=bias.astype(np.int64))
    for key, value in neuron.items():
        if key == "type":
            _string(g, "neuron/type", value)
        else:
            g.create_dataset(f"neuron/{key}", data=value)


# --------------------------------------------------------------------------- netx -> Program

def read_netx(path) -> Program:
    """A netx file as lava-dl's ``Network`` + lava's bit-accurate models would run it (dense and
    dense_rec layers with CUBA neurons), as an integer loihi2 Program. Never unpickles. A layer
    whose threshold can never be exceeded (``vThMant >= 2**17``) is read as a membrane readout."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except FileNotFoundError:
        raise BadInput("file not found", file=path) from None
    except OSError as exc:
        raise BadInput(f"not an HDF5 file ({' '.join(str(exc).split())})", file=path) from None
    with f:
        if "layer" not in f:
            raise BadInput("no 'layer' group", file=path, field="layer")
        group = f["layer"]
        ops, prev, n_prev = [], None, None
        for i in range(len(group)):
            g = group[str(i)]
            kind = _read_string(g, "type", path, f"layer/{i}")
            if kind == "input":
                shape = tuple(int(s) for s in np.asarray(g["shape"][()])[::-1])
                ops.append(InputOp(name="input", inputs=(), in_shape=shape, out_shape=shape))
                prev, n_prev = "input", int(np.prod(shape))
            elif kind in ("dense", "dense_rec"):
                if prev is None:
                    raise BadInput("a dense layer before the input layer", file=path,
                                   node=f"layer/{i}", field="type")
                new = _read_dense(g, kind, i, prev, n_prev, path)
                ops.extend(new)
                prev, n_prev = new[-1].name, new[-1].out_shape[0]
            else:
                raise Unsupported(f"layer type {kind!r} is not read", file=path, node=f"layer/{i}",
                                  field="type")
    ops.append(OutputOp(name="output", inputs=(Edge(prev),), in_shape=(n_prev,),
                        out_shape=(n_prev,)))
    return Program(ops=tuple(ops), inputs=("input",), outputs=("output",), mode="int",
                   family="loihi2", dt=None, source=str(path), deployment=_deployment())


def _deployment() -> Deployment:
    from ..targets import load

    target = load("loihi2")
    return Deployment(target="loihi2", family="loihi2", weight_bits=int(target["weights.bits"]),
                      state_bits=int(target["state.bits"]))


def _read_string(g, key, path, node) -> str:
    if key not in g:
        raise BadInput("missing", file=path, node=node, field=key)
    value = g[key][()]
    value = value[0] if np.ndim(value) else value
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def _read_dense(g, kind, i, prev, n_prev, path):
    node = f"layer/{i}"
    weight = np.asarray(g["weight"][()]).astype(int)
    n = int(np.prod(g["shape"][()]))
    if weight.ndim == 1:
        weight = weight.reshape(n, -1)
    rec = np.asarray(g["weight_rec"][()]).astype(int).reshape(n, -1) if kind == "dense_rec" else None
    joint = weight if rec is None else np.hstack([weight, rec])
    processed = netx_weights(joint)
    eff = processed.effective()
    if eff is None:
        raise Unsupported("the weight exponent makes a_in depend on the input (floor of a "
                          "negative shift); not representable as one Program weight", file=path,
                          node=node, field="weight")
    if weight.shape[1] != n_prev:
        raise BadInput(f"weight has {weight.shape[1]} inputs, the previous layer {n_prev} outputs",
                       file=path, node=node, field="weight")
    neuron = _read_neuron(g, n, path, node)
    name = f"layer{i}"
    ff = AffineOp(name=f"{name}.weight", inputs=(Edge(prev),), in_shape=(n_prev,), out_shape=(n,),
                  weight=eff[:, :weight.shape[1]], bias=None, shift=0)
    inputs = [Edge(ff.name, 1)]
    ops = [ff]
    neuron_op_inputs = inputs
    if rec is not None:
        neuron_op_inputs = inputs + [Edge(f"{name}.weight_rec", 1)]
    neuron_op = NeuronOp(name=f"{name}.neuron", inputs=tuple(neuron_op_inputs), in_shape=(n,),
                         out_shape=(n,), neuron=neuron)
    ops.append(neuron_op)
    if rec is not None:
        ops.append(AffineOp(name=f"{name}.weight_rec", inputs=(Edge(neuron_op.name),),
                            in_shape=(n,), out_shape=(n,), weight=eff[:, weight.shape[1]:],
                            bias=None, shift=0))
    ops.append(FlattenOp(name=name, inputs=(Edge(neuron_op.name),), in_shape=(n,), out_shape=(n,)))
    return ops


def _read_neuron(g, n, path, node) -> LoihiCubaLIF:
    if "neuron" not in g:  # lava-dl: non-leaky integrator by default
        cfg = {"type": "CUBA", "iDecay": 0, "vDecay": LoihiCubaLIF.ONE, "vThMant": NEVER_FIRES_VTH}
    else:
        ng = g["neuron"]
        cfg = {k: ng[k][()] for k in ng.keys()}
        cfg["type"] = _read_string(ng, "type", path, node)
    if cfg["type"] not in ("CUBA", "LOIHI"):
        raise Unsupported(f"neuron type {cfg['type']!r} is not read", file=path, node=node,
                          field="neuron/type")
    du, dv, vth = (int(np.asarray(cfg[k]).item()) for k in ("iDecay", "vDecay", "vThMant"))
    bias = np.asarray(g["bias"][()]).astype(np.int64) if "bias" in g else np.zeros(n, np.int64)
    # vth << 6 >= 2**23 can never be exceeded (v saturates at 2**23 - 1): a membrane readout
    never = vth >= NEVER_FIRES_VTH
    return LoihiCubaLIF(shape=(n,), du=np.full(n, du - 1, np.int64), dv=np.full(n, dv, np.int64),
                        vth=None if never else np.full(n, vth, np.int64),
                        bias_mant=np.broadcast_to(bias, (n,)).astype(np.int64),
                        bias_exp=np.full(n, NETX_BIAS_EXP, np.int64))
