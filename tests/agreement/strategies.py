"""Random Programs for the backend agreement tests, built directly from the equation records.

`random_case(rng, family, topology)` builds a `Program` and an input ``(T, B, ...)`` of one integer
family (or ``"float"``) and one topology; every op kind appears in some topology, and every switch
of every neuron record is drawn. Parameters are chosen to hit the corner cases on purpose: 16-bit
saturation and per-event order in Xylo's accumulation (large shifted weights), Loihi's 24-bit wrap
of ``u`` (du = 0, large weights), multi-spike counts (Speck, Xylo), clipping at ``v_min``/``v_max``,
sparse inputs (3 % activity: the torch backend's gather path).

`cases(families, topologies)` is the hypothesis strategy: it draws the family, the topology and a
seed; the arrays come from ``numpy.random.default_rng(seed)`` so a failure is reproducible from the
printed seed.
"""
from __future__ import annotations

from nirconv.equations.limits import UNLIMITED
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from nirconv.equations.neurons import (BitShiftLIF, Float32LIF, LoihiCubaLIF, NeuronFloat,
                                       SpeckIAF)
from nirconv.equations.program import (AffineOp, ConvOp, DelayOp, Edge, FlattenOp, InputOp,
                                       NeuronOp, OutputOp, PoolOp, Program, ScaleOp, ThresholdOp)

INTEGER_FAMILIES = ("speck", "xylo", "generic", "loihi2", "spinnaker2")
FAMILIES = INTEGER_FAMILIES + ("float",)
TOPOLOGIES = ("mlp", "recurrent", "conv2d", "conv1d", "misc")


@dataclass
class Case:
    program: Program
    x: np.ndarray
    family: str
    topology: str
    seed: int

    def __repr__(self):
        return f"Case(family={self.family!r}, topology={self.topology!r}, seed={self.seed})"


# ---------------------------------------------------------------------------------------------
# neurons

def _maybe(rng, p=0.5):
    return bool(rng.random() < p)


def float_neuron(rng, shape, spiking=None) -> NeuronFloat:
    spiking = _maybe(rng, 0.8) if spiking is None else spiking
    f = lambda lo, hi: rng.uniform(lo, hi, shape)  # noqa: E731
    synapse = _maybe(rng)
    return NeuronFloat(
        shape=shape, alpha_mem=f(0.5, 1.0), beta_mem=f(0.2, 1.0), bias=f(-0.05, 0.1),
        v_threshold=f(0.3, 1.2) if spiking else None, v_reset=f(-0.2, 0.2), v_init=f(-0.2, 0.3),
        alpha_syn=f(0.3, 0.9) if synapse else None, beta_syn=f(0.5, 1.0) if synapse else None,
        reset=rng.choice(["subtract", "zero"]), compare=rng.choice([">=", ">"]),
        current_delay=_maybe(rng), reset_after_decay=_maybe(rng, 0.7), model="LIF",
        max_spikes=1 if _maybe(rng, 0.6) else (UNLIMITED if _maybe(rng) else int(rng.integers(2, 6))),
        v_min=f(-1.0, -0.1) if _maybe(rng, 0.3) else None)


def speck_neuron(rng, shape, readout=False) -> SpeckIAF:
    narrow = _maybe(rng, 0.3)
    return SpeckIAF(shape=shape, threshold=rng.integers(1, 40, shape),
                    bias=rng.integers(-3, 4, shape), v_init=rng.integers(-5, 10, shape),
                    v_min=-60 if narrow else -32768, v_max=90 if narrow else 32767,
                    reset=rng.choice(["subtract", "zero"]),
                    max_spikes=UNLIMITED if _maybe(rng) else int(rng.integers(1, 5)))


def bitshift_neuron(rng, shape, ordered: bool, readout=False) -> BitShiftLIF:
    bits = 16 if _maybe(rng, 0.7) else int(rng.integers(8, 16))
    dash = lambda: None if _maybe(rng, 0.25) else rng.integers(0, 16, shape)  # noqa: E731
    return BitShiftLIF(shape=shape,
                       threshold=None if readout else rng.integers(1, 1 << (bits - 3), shape),
                       bias=rng.integers(-20, 21, shape), v_init=rng.integers(-50, 50, shape),
                       dash_mem=dash(), dash_syn=dash(), state_bits=bits,
                       max_spikes=int(rng.integers(1, 32)) if _maybe(rng, 0.7) else 1,
                       accumulate="ordered" if ordered else "sum",
                       reset=rng.choice(["subtract", "zero"]),
                       input_event_cap=15 if ordered else UNLIMITED)  # Xylo: xylosim's 15


def loihi_neuron(rng, shape, readout=False) -> LoihiCubaLIF:
    du = rng.integers(0, 4096, shape)
    if _maybe(rng, 0.5):
        du[...] = 0  # no current decay: u integrates until it wraps at 2**23
    return LoihiCubaLIF(shape=shape, du=du, dv=rng.integers(0, 4096, shape),
                        vth=None if readout else rng.integers(0, 1 << 17, shape),
                        bias_mant=rng.integers(-4096, 4096, shape),
                        bias_exp=rng.integers(0, 8, shape))


def float32_neuron(rng, shape, readout=False) -> Float32LIF:
    f32 = lambda lo, hi: rng.uniform(lo, hi, shape).astype(np.float32)  # noqa: E731
    return Float32LIF(shape=shape, alpha=f32(0.5, 1.0), threshold=f32(5.0, 60.0),
                      i_offset=f32(-0.5, 1.0), v_reset=f32(-1.0, 1.0),
                      weight_scale=float(np.float32(rng.uniform(0.05, 1.5))),
                      reset=rng.choice(["subtract", "zero"]))


def neuron(rng, family, shape, readout=False):
    shape = tuple(int(s) for s in shape)
    if family == "float":
        return float_neuron(rng, shape, spiking=False if readout else None)
    if family == "speck":
        return speck_neuron(rng, shape)
    if family in ("xylo", "generic"):
        return bitshift_neuron(rng, shape, ordered=family == "xylo", readout=readout)
    if family == "loihi2":
        return loihi_neuron(rng, shape, readout=readout)
    if family == "spinnaker2":
        return float32_neuron(rng, shape)
    raise ValueError(family)


# ---------------------------------------------------------------------------------------------
# weights and inputs

def weights(rng, family, shape, fan_in):
    """Weights (and the op's shift) in the family's integer range, or floats."""
    if family == "float":
        return rng.normal(0, 1.5 / np.sqrt(max(fan_in, 1)), shape), 0
    if family == "xylo":  # 8-bit weights, shifted up to force 16-bit saturation now and then
        return rng.integers(-128, 128, shape), int(rng.choice([0, 0, 2, 4, 6]))
    if family == "generic":
        return rng.integers(-128, 128, shape), int(rng.choice([0, 0, 1, 3, -1, -2]))
    if family == "loihi2":
        # |a_in << 6| stays below 2**23 (one wrap fold suffices); positive weights make u wrap
        if _maybe(rng):
            return rng.integers(0, 256, shape) * 4, 1
        return rng.integers(-256, 256, shape), int(rng.choice([0, 0, 1]))
    if family == "spinnaker2":
        return rng.integers(-128, 128, shape), 0
    return rng.integers(-16, 17, shape), 0  # speck


def bias(rng, family, n):
    if family in ("xylo", "loihi2") or _maybe(rng, 0.4):
        return None  # Xylo weights carry no bias; Loihi's bias lives in the neuron
    if family == "float":
        return rng.normal(0, 0.1, n)
    return rng.integers(-20, 21, n)


def data(rng, family, steps, batch, shape):
    x = _dense_data(rng, family, (steps, batch, *shape))
    if family != "float" and _maybe(rng, 0.3):  # sparse activity: the gather paths
        x = x * (rng.random(x.shape) < 0.03)
    return x


def _dense_data(rng, family, shape):
    if family == "float":
        return rng.normal(0.3, 1.0, shape)
    if family == "loihi2":
        return rng.integers(0, 2, shape).astype(np.int64)  # Loihi's inputs are spikes
    if family == "xylo":  # spike counts; above 15 per channel and step xylosim delivers 15
        return rng.integers(0, 21 if _maybe(rng, 0.3) else 4, shape).astype(np.int64)
    if _maybe(rng, 0.3):  # signed integer currents
        return rng.integers(-20, 21, shape).astype(np.int64)
    return rng.integers(0, 4, shape).astype(np.int64)  # spike counts


def _edge_into_weight(family):
    """Loihi's Dense delays by one step: every weight op's edge into a neuron has delay 1."""
    return 1 if family == "loihi2" else 0


# ---------------------------------------------------------------------------------------------
# topologies

class Builder:
    def __init__(self, rng, family, in_shape):
        self.rng, self.family = rng, family
        self.ops = [InputOp(name="in", inputs=(), in_shape=in_shape, out_shape=in_shape)]
        self.last = "in"
        self.shape = tuple(in_shape)

    def add(self, op):
        self.ops.append(op)
        self.last, self.shape = op.name, tuple(op.out_shape)
        return op.name

    def affine(self, name, n_out, src=None, delay=0):
        src = src or self.last
        n_in = int(np.prod(self.shape))
        w, shift = weights(self.rng, self.family, (n_out, n_in), n_in)
        return self.add(AffineOp(name=name, inputs=(Edge(src, delay),), in_shape=(n_in,),
                                 out_shape=(n_out,), weight=w, bias=bias(self.rng, self.family,
                                                                          n_out), shift=shift))

    def neuron(self, name, extra=(), readout=False):
        rec = neuron(self.rng, self.family, self.shape, readout=readout)
        edges = (Edge(self.last, _edge_into_weight(self.family)),) + tuple(extra)
        return self.add(NeuronOp(name=name, inputs=edges, in_shape=self.shape,
                                 out_shape=self.shape, neuron=rec))

    def output(self):
        self.add(OutputOp(name="out", inputs=(Edge(self.last),), in_shape=self.shape,
                          out_shape=self.shape))

    def program(self):
        mode = "float" if self.family == "float" else "int"
        return Program(ops=tuple(self.ops), inputs=("in",), outputs=("out",), mode=mode,
                       family=None if mode == "float" else self.family, dt=1e-3)


def mlp(rng, family):
    n_in = int(rng.integers(2, 40))
    b = Builder(rng, family, (n_in,))
    for layer in range(int(rng.integers(1, 4))):
        b.affine(f"fc{layer}", int(rng.integers(1, 24)))
        b.neuron(f"lif{layer}")
    if _maybe(rng):
        b.affine("readout", int(rng.integers(1, 6)))
        b.neuron("li", readout=family not in ("speck", "spinnaker2"))
    b.output()
    return b


def recurrent(rng, family):
    """Xylo-style: input weights, then recurrent weights from the neuron's own output (delay 1),
    delivered in that order; an optional delayed readout."""
    n_in, n_hid = int(rng.integers(2, 24)), int(rng.integers(2, 24))
    b = Builder(rng, family, (n_in,))
    b.affine("w_in", n_hid)
    w_rec, shift = weights(rng, family, (n_hid, n_hid), n_hid)
    rec = AffineOp(name="w_rec", inputs=(Edge("hid", 0),), in_shape=(n_hid,), out_shape=(n_hid,),
                   weight=w_rec, bias=None, shift=shift)
    # the recurrent weight op comes after the neuron in topological order: its edge back into
    # the neuron is the recurrent one (delay >= 1)
    b.neuron("hid", extra=(Edge("w_rec", int(rng.choice([1, 1, 2]))),))
    b.ops.append(rec)
    b.affine("w_out", int(rng.integers(1, 6)), src="hid", delay=int(rng.integers(0, 2)))
    b.neuron("out_neurons", readout=_maybe(rng) and family not in ("speck", "spinnaker2"))
    b.output()
    return b


def conv2d(rng, family):
    c_in, h, w = int(rng.integers(1, 4)), int(rng.integers(4, 9)), int(rng.integers(4, 9))
    b = Builder(rng, family, (c_in, h, w))
    groups = int(rng.choice([1, c_in])) if c_in > 1 else 1
    c_out = groups * int(rng.integers(1, 4))
    k = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    padding = (int(rng.integers(0, 2)), int(rng.integers(0, 2)))
    dilation = (int(rng.integers(1, 3)) if k[0] > 1 and h > 5 else 1, 1)
    ho = (h + 2 * padding[0] - dilation[0] * (k[0] - 1) - 1) // stride[0] + 1
    wo = (w + 2 * padding[1] - dilation[1] * (k[1] - 1) - 1) // stride[1] + 1
    wt, shift = weights(rng, family, (c_out, c_in // groups, *k), c_in // groups * k[0] * k[1])
    b.add(ConvOp(name="conv", inputs=(Edge("in"),), in_shape=b.shape, out_shape=(c_out, ho, wo),
                 weight=wt, bias=bias(rng, family, c_out), stride=stride, padding=padding,
                 dilation=dilation, groups=groups, shift=shift))
    b.neuron("lif_conv")
    if ho >= 2 and wo >= 2:
        mode = "avg" if family == "float" and _maybe(rng) else "sum"
        pad = int(rng.integers(0, 2)) if mode == "sum" else 0
        hp, wp = (ho + 2 * pad - 2) // 2 + 1, (wo + 2 * pad - 2) // 2 + 1
        b.add(PoolOp(name="pool", inputs=(Edge(b.last),), in_shape=b.shape,
                     out_shape=(c_out, hp, wp), kernel=(2, 2), stride=(2, 2), padding=(pad, pad),
                     mode=mode))
    n = int(np.prod(b.shape))
    b.add(FlattenOp(name="flat", inputs=(Edge(b.last),), in_shape=b.shape, out_shape=(n,)))
    b.affine("fc", int(rng.integers(1, 8)))
    b.neuron("lif_fc")
    b.output()
    return b


def conv1d(rng, family):
    c_in, length = int(rng.integers(1, 4)), int(rng.integers(4, 16))
    b = Builder(rng, family, (c_in, length))
    c_out, k = int(rng.integers(1, 5)), int(rng.integers(1, 4))
    stride, padding, dilation = int(rng.integers(1, 3)), int(rng.integers(0, 2)), 1
    lo = (length + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    wt, shift = weights(rng, family, (c_out, c_in, k), c_in * k)
    b.add(ConvOp(name="conv", inputs=(Edge("in"),), in_shape=b.shape, out_shape=(c_out, lo),
                 weight=wt, bias=bias(rng, family, c_out), stride=(stride,), padding=(padding,),
                 dilation=(dilation,), groups=1, shift=shift))
    b.neuron("lif_conv")
    b.add(FlattenOp(name="flat", inputs=(Edge(b.last),), in_shape=b.shape,
                    out_shape=(c_out * lo,)))
    b.affine("fc", int(rng.integers(1, 8)))
    b.neuron("lif_fc")
    b.output()
    return b


def misc(rng, family):
    """Scale, Delay (per-element steps), Threshold, a skip connection (two edges summed), edge
    delays."""
    n = int(rng.integers(2, 20))
    b = Builder(rng, family, (n,))
    scale = rng.uniform(0.5, 2.0, n) if family == "float" else rng.integers(-3, 4, n)
    b.add(ScaleOp(name="scale", inputs=(Edge("in"),), in_shape=(n,), out_shape=(n,), scale=scale))
    b.add(DelayOp(name="delay", inputs=(Edge("scale"),), in_shape=(n,), out_shape=(n,),
                  steps=rng.integers(0, 4, n)))
    th = rng.uniform(-0.5, 1.0, n) if family == "float" else rng.integers(-2, 6, n)
    b.add(ThresholdOp(name="thr", inputs=(Edge("delay"),), in_shape=(n,), out_shape=(n,),
                      threshold=th, compare=rng.choice([">=", ">"])))
    b.affine("fc_a", int(rng.integers(2, 12)))
    m = b.shape[0]
    wt, shift = weights(rng, family, (m, n), n)
    b.add(AffineOp(name="fc_skip", inputs=(Edge("in", int(rng.integers(0, 3))),), in_shape=(n,),
                   out_shape=(m,), weight=wt, bias=None, shift=shift))
    b.last, b.shape = "fc_a", (m,)
    b.neuron("lif", extra=(Edge("fc_skip", _edge_into_weight(family)),))
    b.output()
    return b


TOPOLOGY_BUILDERS = {"mlp": mlp, "recurrent": recurrent, "conv2d": conv2d, "conv1d": conv1d,
                     "misc": misc}


def random_case(seed: int, family: str, topology: str, steps=None, batch=None) -> Case:
    rng = np.random.default_rng(seed)
    b = TOPOLOGY_BUILDERS[topology](rng, family)
    program = b.program()
    steps = steps or int(rng.integers(3, 13) if family != "loihi2" else rng.integers(8, 30))
    batch = batch or int(rng.integers(1, 5))
    x = data(rng, family, steps, batch, program.input_shape)
    return Case(program, x, family, topology, seed)


def cases(families=FAMILIES, topologies=TOPOLOGIES):
    return st.builds(random_case, st.integers(0, 2 ** 31 - 1), st.sampled_from(families),
                     st.sampled_from(topologies))
