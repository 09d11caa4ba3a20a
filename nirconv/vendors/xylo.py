"""Xylo (XyloAudio 2, SYNS61201): Rockpool's network specification as ``.npz``, and the vendor simulator.

    spec = spec_from_program(program)               # an integer xylo Program -> XyloSpec
    write_rockpool_npz(graph_or_program, "net.npz") # atomic; keys = XyloSim.from_specification kwargs
    spec = read_rockpool_npz("net.npz")             # np.load(allow_pickle=False), validated
    sim  = XyloSimLayer(spec)                       # xylosim.v2.XyloLayer, as Rockpool builds it
    out  = sim.run(x)                               # x (T, B, Nin) event counts -> (T, B, Nout)
    program = program_from_spec(spec)               # the same network as a nirconv Program

The ``.npz`` keys are the keyword arguments of Rockpool 3.1's
``rockpool.devices.xylo.syns61201.XyloSim.from_specification`` (``weights_in`` (Nin, Nhid, 2),
``weights_rec`` (Nhid, Nhid, 2), ``weights_out`` (Nhid, Nout), ``dash_mem``, ``dash_mem_out``,
``dash_syn``, ``dash_syn_2``, ``dash_syn_out``, ``threshold``, ``threshold_out``, ``bias``, ``bias_out``,
``weight_shift_in``, ``weight_shift_rec``, ``weight_shift_out``, ``aliases`` (Nhid, k) padded with -1,
``dt`` in seconds, ``output_mode`` "Spike" or "Vmem"), so that in a Rockpool environment::

    spec = dict(np.load("net.npz")); spec["aliases"] = [[a for a in r if a >= 0] for r in spec["aliases"]]
    XyloSim.from_specification(**spec)

``config_from_specification`` (the samna configuration) spells ``bias`` as ``bias_hidden`` and takes
no ``dt`` / ``output_mode``: see `CONFIG_SPELLING` and `config_kwargs`.

Mapping from a Program (the integer ``xylo`` family, `BitShiftLIF` records): the neuron ops that feed
an Output op are the readout population, every other neuron op is a hidden neuron (concatenated in
program order, so a feed-forward stack of hidden layers becomes a block of ``weights_rec``). Weight
ops from the input go to ``weights_in`` (delay 0), weight ops between hidden neurons to
``weights_rec`` (delay 1 in total along the path) and from hidden to readout neurons to
``weights_out`` (delay 1), all on synapse 1. Everything Xylo cannot express is refused with an
`Unsupported` naming the op and field.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Optional

import numpy as np

from ..equations.neurons import BitShiftLIF
from ..equations.program import AffineOp, Edge, InputOp, NeuronOp, OutputOp, Program
from ..errors import BadInput, Unsupported
from ..nir_io.atomic import atomic_path

HIDDEN_MAX_SPIKES = 31  # xylosim XyloIAFNeuron.h MAX_NUM_SPIKES
OUTPUT_MAX_SPIKES = 1  # MAX_NUM_OUT_SPIKES
INPUT_MAX_EVENTS = 15  # MAX_NUM_INP_SPIKES: counts above are delivered as 15
WEIGHT_RANGE = (-128, 127)  # XyloSynapse.weight is int8_t (BITS_WEIGHT 8)
STATE_RANGE = (-32768, 32767)  # BITS_STATE 16
SHIFT_RANGE = (0, 7)  # 3-bit weight shifts on XyloAudio 2
DASH_RANGE = (0, 15)  # 4-bit bit-shift decays
VMEM_READOUT_THRESHOLD = STATE_RANGE[1]  # a membrane readout still has a threshold on Xylo

# config_from_specification's spelling where it differs from from_specification's.
CONFIG_SPELLING = {"bias": "bias_hidden"}
CONFIG_DROPPED = ("dt", "output_mode")


@dataclass(frozen=True, eq=False)
class XyloSpec:
    """Rockpool's Xylo network specification (XyloAudio 2), integer arrays (int64), dt in seconds."""

    weights_in: np.ndarray  # (Nin, Nhid, 2)
    weights_rec: np.ndarray  # (Nhid, Nhid, 2)
    weights_out: np.ndarray  # (Nhid, Nout)
    dash_mem: np.ndarray  # (Nhid,)
    dash_mem_out: np.ndarray  # (Nout,)
    dash_syn: np.ndarray  # (Nhid,)
    dash_syn_2: np.ndarray  # (Nhid,)
    dash_syn_out: np.ndarray  # (Nout,)
    threshold: np.ndarray  # (Nhid,)
    threshold_out: np.ndarray  # (Nout,)
    bias: np.ndarray  # (Nhid,)
    bias_out: np.ndarray  # (Nout,)
    weight_shift_in: int = 0
    weight_shift_rec: int = 0
    weight_shift_out: int = 0
    aliases: Optional[np.ndarray] = None  # (Nhid, k) int64, -1 = none
    dt: float = 1e-3
    output_mode: str = "Spike"  # or "Vmem" (membrane readout)
    source: str = "<memory>"

    def __post_init__(self):
        _validate(self)

    @property
    def n_in(self) -> int:
        return int(self.weights_in.shape[0])

    @property
    def n_hidden(self) -> int:
        return int(self.weights_in.shape[1])

    @property
    def n_out(self) -> int:
        return int(self.weights_out.shape[1])

    @property
    def has_bias(self) -> bool:
        """Rockpool: biases are enabled when any bias is non-zero (one global switch)."""
        return bool(np.any(self.bias != 0) or np.any(self.bias_out != 0))

    def alias_lists(self) -> list[list[int]]:
        if self.aliases is None:
            return [[] for _ in range(self.n_hidden)]
        return [[int(a) for a in row if a >= 0] for row in self.aliases]

    def arrays(self) -> dict:
        """The keyword arguments of ``XyloSim.from_specification`` as numpy arrays (npz-ready)."""
        out = {}
        for f in fields(self):
            if f.name == "source":
                continue
            value = getattr(self, f.name)
            if f.name == "aliases":
                value = _padded_aliases(value, self.n_hidden)
            elif f.name == "dt":
                value = np.asarray(float(value), dtype=np.float64)
            elif f.name == "output_mode":
                value = np.asarray(str(value))
            else:
                value = np.asarray(value, dtype=np.int64)
            out[f.name] = value
        return out


KEYS = tuple(f.name for f in fields(XyloSpec) if f.name != "source")
_INT_SCALARS = ("weight_shift_in", "weight_shift_rec", "weight_shift_out")


def config_kwargs(spec: XyloSpec) -> dict:
    """The keyword arguments of Rockpool's ``config_from_specification`` (samna), spelled its way."""
    args = spec.arrays()
    for key in CONFIG_DROPPED:
        args.pop(key)
    for ours, theirs in CONFIG_SPELLING.items():
        args[theirs] = args.pop(ours)
    args["aliases"] = spec.alias_lists()
    return args


# --------------------------------------------------------------------------- validation

def _padded_aliases(aliases, n_hidden: int) -> np.ndarray:
    if aliases is None:
        return -np.ones((n_hidden, 1), dtype=np.int64)
    return np.asarray(aliases, dtype=np.int64)


def _check_range(spec, name, lo, hi):
    value = np.asarray(getattr(spec, name))
    if value.size and (value.min() < lo or value.max() > hi):
        raise BadInput(f"values must lie in [{lo}, {hi}], found [{value.min()}, {value.max()}]",
                       file=spec.source, field=name)


def _check_shape(spec, name, shape):
    value = np.asarray(getattr(spec, name))
    if value.shape != shape:
        raise BadInput(f"shape must be {shape}, is {value.shape}", file=spec.source, field=name)
    if not np.issubdtype(value.dtype, np.integer):
        raise BadInput(f"must hold integers, has dtype {value.dtype}", file=spec.source, field=name)


def _validate(spec: XyloSpec) -> None:
    w_in = np.asarray(spec.weights_in)
    if w_in.ndim != 3 or w_in.shape[2] != 2:
        raise BadInput(f"shape must be (Nin, Nhid, 2), is {w_in.shape}", file=spec.source,
                       field="weights_in")
    n_in, n_hid, n_out = w_in.shape[0], w_in.shape[1], np.asarray(spec.weights_out).shape[-1]
    shapes = {"weights_in": (n_in, n_hid, 2), "weights_rec": (n_hid, n_hid, 2),
              "weights_out": (n_hid, n_out), "dash_mem": (n_hid,), "dash_syn": (n_hid,),
              "dash_syn_2": (n_hid,), "threshold": (n_hid,), "bias": (n_hid,),
              "dash_mem_out": (n_out,), "dash_syn_out": (n_out,), "threshold_out": (n_out,),
              "bias_out": (n_out,)}
    for name, shape in shapes.items():
        _check_shape(spec, name, shape)
    for name in ("weights_in", "weights_rec", "weights_out"):
        _check_range(spec, name, *WEIGHT_RANGE)
    for name in ("dash_mem", "dash_syn", "dash_syn_2", "dash_mem_out", "dash_syn_out"):
        _check_range(spec, name, *DASH_RANGE)
    for name in ("threshold", "threshold_out"):
        _check_range(spec, name, 1, STATE_RANGE[1])
    for name in ("bias", "bias_out"):
        _check_range(spec, name, *STATE_RANGE)
    for name in _INT_SCALARS:
        _check_range(spec, name, *SHIFT_RANGE)
    if spec.aliases is not None:
        aliases = np.asarray(spec.aliases)
        if aliases.ndim != 2 or aliases.shape[0] != n_hid:
            raise BadInput(f"shape must be (Nhid, k), is {aliases.shape}", file=spec.source,
                           field="aliases")
        _check_range(spec, "aliases", -1, n_hid - 1)
    if not float(spec.dt) > 0:
        raise BadInput(f"must be positive, is {spec.dt}", file=spec.source, field="dt")
    if spec.output_mode not in ("Spike", "Vmem"):
        raise BadInput(f"must be 'Spike' or 'Vmem', is {spec.output_mode!r}", file=spec.source,
                       field="output_mode")


# --------------------------------------------------------------------------- npz I/O

def write_rockpool_npz(graph_or_program, path, *, source: Optional[str] = None) -> XyloSpec:
    """Write the Rockpool ``.npz`` of a quantized xylo graph (or its integer Program), atomically."""
    program = _as_program(graph_or_program, source)
    spec = spec_from_program(program)
    arrays = spec.arrays()
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:  # a file object: np.savez would append ".npz" to a path
            np.savez(fh, **arrays)
    return spec


def read_rockpool_npz(path) -> XyloSpec:
    """Read a Rockpool ``.npz`` (never unpickles); every key checked, unknown keys refused."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise BadInput("file not found", file=path) from None
    except (ValueError, OSError, EOFError) as exc:
        raise BadInput(f"not a readable .npz file ({' '.join(str(exc).split())})", file=path) from None
    unknown = sorted(set(arrays) - set(KEYS))
    if unknown:
        raise Unsupported(f"unknown key(s) {unknown}; expected XyloSim.from_specification's",
                          file=path, field=unknown[0])
    required = ("weights_in", "weights_out")
    for key in required:
        if key not in arrays:
            raise BadInput("missing", file=path, field=key)
    return _spec_from_arrays(arrays, str(path))


def _spec_from_arrays(arrays: dict, source: str) -> XyloSpec:
    """Rockpool's defaults for missing keys (``from_specification``: zeros, no aliases, dt 1 ms)."""
    w_in = np.asarray(arrays["weights_in"])
    if w_in.ndim == 2:
        w_in = np.stack([w_in, np.zeros_like(w_in)], axis=2)
    n_hid = w_in.shape[1] if w_in.ndim == 3 else 0
    w_out = np.asarray(arrays["weights_out"])
    n_out = w_out.shape[-1] if w_out.ndim == 2 else 0
    if w_out.ndim == 2 and w_out.shape[0] < n_hid:  # Rockpool: rows are the last OEN hidden neurons
        w_out = np.concatenate([np.zeros((n_hid - w_out.shape[0], n_out), w_out.dtype), w_out])
    w_rec = arrays.get("weights_rec")
    w_rec = np.zeros((n_hid, n_hid, 2), np.int64) if w_rec is None else np.asarray(w_rec)
    if w_rec.ndim == 2:
        w_rec = np.stack([w_rec, np.zeros_like(w_rec)], axis=2)

    def vec(key, n):
        return np.asarray(arrays[key]) if key in arrays else np.zeros(n, np.int64)

    def scalar(key, default):
        if key not in arrays:
            return default
        value = np.asarray(arrays[key])
        if value.shape != ():
            raise BadInput(f"must be a scalar, has shape {value.shape}", file=source, field=key)
        return value.item()

    return XyloSpec(
        weights_in=w_in, weights_rec=w_rec, weights_out=w_out,
        dash_mem=vec("dash_mem", n_hid), dash_mem_out=vec("dash_mem_out", n_out),
        dash_syn=vec("dash_syn", n_hid), dash_syn_2=vec("dash_syn_2", n_hid),
        dash_syn_out=vec("dash_syn_out", n_out),
        threshold=vec("threshold", n_hid), threshold_out=vec("threshold_out", n_out),
        bias=vec("bias", n_hid), bias_out=vec("bias_out", n_out),
        weight_shift_in=int(scalar("weight_shift_in", 0)),
        weight_shift_rec=int(scalar("weight_shift_rec", 0)),
        weight_shift_out=int(scalar("weight_shift_out", 0)),
        aliases=np.asarray(arrays["aliases"]) if "aliases" in arrays else None,
        dt=float(scalar("dt", 1e-3)), output_mode=str(scalar("output_mode", "Spike")),
        source=source)


# --------------------------------------------------------------------------- Program -> spec

def _as_program(graph_or_program, source) -> Program:
    if isinstance(graph_or_program, Program):
        return graph_or_program
    from ..lowering import lower  # a NIR graph quantized for xylo

    return lower(graph_or_program, mode="int", source=source or "<memory>")


@dataclass(frozen=True)
class _Layout:
    hidden: tuple[NeuronOp, ...]
    readout: tuple[NeuronOp, ...]
    offsets: dict  # neuron op name -> first index in its population


def _layout(program: Program) -> _Layout:
    src = program.source
    if program.mode != "int" or program.family != "xylo":
        raise Unsupported(f"the Rockpool format needs an integer xylo program, got mode "
                          f"{program.mode!r} family {program.family!r}", file=src,
                          field="metadata.arithmetic")
    if len(program.inputs) != 1 or len(program.op(program.inputs[0]).out_shape) != 1:
        raise Unsupported("Xylo takes one 1-D input", file=src, node=",".join(program.inputs),
                          field="shape")
    feeds_output = {e.src for op in program.ops if isinstance(op, OutputOp) for e in op.inputs}
    neurons = program.neuron_ops
    readout = tuple(n for n in neurons if n.name in feeds_output)
    hidden = tuple(n for n in neurons if n.name not in feeds_output)
    if not readout or not hidden:
        raise Unsupported("Xylo needs a hidden and a readout neuron population", file=src,
                          field="graph")
    offsets = {}
    for group in (hidden, readout):
        start = 0
        for n in group:
            offsets[n.name] = start
            start += int(np.prod(n.out_shape))
    for op in program.ops:
        if isinstance(op, OutputOp):
            for e in op.inputs:
                if e.src not in offsets or e.delay:
                    raise Unsupported("Xylo outputs come straight from readout neurons", file=src,
                                      node=op.name, field="edges")
    return _Layout(hidden, readout, offsets)


def _neuron_fields(op: NeuronOp, readout: bool, src) -> dict:
    rec = op.neuron
    if not isinstance(rec, BitShiftLIF):
        raise Unsupported(f"Xylo neurons are BitShiftLIF, got {type(rec).__name__}", file=src,
                          node=op.name, field="neuron")
    checks = [
        (rec.state_bits == 16, "state_bits", "must be 16"),
        (rec.accumulate == "ordered", "accumulate", "must be 'ordered' (per-event saturation)"),
        (rec.reset == "subtract", "reset", "Xylo resets by subtraction only"),
        (rec.dash_syn is not None, "dash_syn", "Xylo neurons always have a synaptic current"),
        (rec.dash_mem is not None, "dash_mem", "Xylo neurons always leak (dash_mem 0..15)"),
        (not np.any(np.asarray(rec.v_init) != 0), "v_init", "Xylo starts every membrane at 0"),
        (readout or rec.threshold is not None, "threshold", "hidden neurons must spike"),
        (rec.max_spikes == (OUTPUT_MAX_SPIKES if readout else HIDDEN_MAX_SPIKES), "max_spikes",
         f"must be {OUTPUT_MAX_SPIKES if readout else HIDDEN_MAX_SPIKES} on Xylo"),
    ]
    for ok, field, why in checks:
        if not ok:
            raise Unsupported(why, file=src, node=op.name, field=field)
    n = int(np.prod(op.out_shape))
    flat = lambda a: np.broadcast_to(np.asarray(a, dtype=np.int64), op.out_shape).reshape(n)
    threshold = (np.full(n, VMEM_READOUT_THRESHOLD, np.int64) if rec.threshold is None
                 else flat(rec.threshold))
    return {"dash_mem": flat(rec.dash_mem), "dash_syn": flat(rec.dash_syn),
            "threshold": threshold, "bias": flat(rec.bias), "vmem": rec.threshold is None}


def _weight_kind(program: Program, layout: _Layout, op: AffineOp):
    """(kind, pre op name, post op name, path delay) of a weight op."""
    src = program.source
    if len(op.inputs) != 1:
        raise Unsupported("a Xylo weight reads exactly one population", file=src, node=op.name,
                          field="edges")
    pre = op.inputs[0]
    consumers = [(n, e) for n in program.ops for e in n.inputs if e.src == op.name]
    if len(consumers) != 1 or not isinstance(consumers[0][0], NeuronOp):
        raise Unsupported("a Xylo weight feeds exactly one neuron population", file=src,
                          node=op.name, field="edges")
    post, edge = consumers[0]
    delay = pre.delay + edge.delay
    pre_op = program.op(pre.src)
    readout_names = {n.name for n in layout.readout}
    if isinstance(pre_op, InputOp) and post.name not in readout_names:
        kind, want = "in", 0
    elif pre.src in layout.offsets and pre.src not in readout_names:
        kind, want = ("out", 1) if post.name in readout_names else ("rec", 1)
    else:
        raise Unsupported(f"Xylo has no connection from {pre.src!r} to {post.name!r}", file=src,
                          node=op.name, field="edges")
    if delay != want:
        raise Unsupported(f"a Xylo {kind} weight acts after {want} step(s), this path has {delay}",
                          file=src, node=op.name, field="delay")
    if op.bias is not None and np.any(np.asarray(op.bias) != 0):
        raise Unsupported("Xylo weights have no bias (put it on the neuron)", file=src,
                          node=op.name, field="bias")
    return kind, pre.src, post.name


def _check_order(program: Program, layout: _Layout, kinds: dict) -> None:
    """xylosim delivers input events, then recurrent events by presynaptic index (whole hidden
    population), then readout events; our ordered accumulation follows ``NeuronOp.inputs``."""
    rank = {"in": 0, "rec": 1, "out": 1}
    for n in layout.hidden + layout.readout:
        keys = []
        for e in n.inputs:
            if e.src not in kinds:
                raise Unsupported(f"Xylo neurons receive only from weights, not {e.src!r}",
                                  file=program.source, node=n.name, field="edges")
            kind, pre, _ = kinds[e.src]
            keys.append((rank[kind], 0 if kind == "in" else layout.offsets[pre]))
        if keys != sorted(keys) or len(set(keys)) != len(keys):
            raise Unsupported("this neuron's inputs are not in Xylo's delivery order (input "
                              "weights first, then presynaptic populations in order)",
                              file=program.source, node=n.name, field="inputs")


def spec_from_program(program: Program) -> XyloSpec:
    """The Rockpool specification of an integer xylo Program (see the module docstring)."""
    layout = _layout(program)
    src = program.source
    n_in = int(np.prod(program.input_shape))
    n_hid = sum(int(np.prod(n.out_shape)) for n in layout.hidden)
    n_out = sum(int(np.prod(n.out_shape)) for n in layout.readout)
    mats = {"in": np.zeros((n_in, n_hid), np.int64), "rec": np.zeros((n_hid, n_hid), np.int64),
            "out": np.zeros((n_hid, n_out), np.int64)}
    shifts: dict = {}
    kinds = {}
    for op in program.ops:
        if not isinstance(op, AffineOp):
            continue
        kind, pre, post = _weight_kind(program, layout, op)
        kinds[op.name] = (kind, pre, post)
        if shifts.setdefault(kind, int(op.shift)) != int(op.shift):
            raise Unsupported(f"Xylo has one {kind} weight shift; ops disagree "
                              f"({shifts[kind]} vs {op.shift})", file=src, node=op.name,
                              field="shift")
        w = np.asarray(op.weight, dtype=np.int64)  # (out, in)
        p0 = 0 if kind == "in" else layout.offsets[pre]
        q0 = layout.offsets[post]
        block = mats[kind][p0:p0 + w.shape[1], q0:q0 + w.shape[0]]
        if np.any((block != 0) & (w.T != 0)):
            raise Unsupported("two weight ops connect the same neurons", file=src, node=op.name,
                              field="weight")
        block += w.T
    for name in ("in", "out"):
        if name not in shifts:
            raise Unsupported(f"no {name} weights found", file=src, field="graph")
    _check_order(program, layout, kinds)
    hid = [_neuron_fields(n, False, src) for n in layout.hidden]
    out = [_neuron_fields(n, True, src) for n in layout.readout]
    cat = lambda rows, key: np.concatenate([r[key] for r in rows])
    vmem = {r["vmem"] for r in out}
    if len(vmem) != 1:
        raise Unsupported("readout neurons must all spike or all be membrane readouts", file=src,
                          field="threshold")
    zeros3 = lambda m: np.stack([m, np.zeros_like(m)], axis=2)
    return XyloSpec(
        weights_in=zeros3(mats["in"]), weights_rec=zeros3(mats["rec"]), weights_out=mats["out"],
        dash_mem=cat(hid, "dash_mem"), dash_mem_out=cat(out, "dash_mem"),
        dash_syn=cat(hid, "dash_syn"), dash_syn_2=np.zeros(n_hid, np.int64),
        dash_syn_out=cat(out, "dash_syn"),
        threshold=cat(hid, "threshold"), threshold_out=cat(out, "threshold"),
        bias=cat(hid, "bias"), bias_out=cat(out, "bias"),
        weight_shift_in=shifts.get("in", 0), weight_shift_rec=shifts.get("rec", 0),
        weight_shift_out=shifts.get("out", 0), aliases=None,
        dt=float(program.dt) if program.dt else 1e-3,
        output_mode="Vmem" if vmem.pop() else "Spike", source=src)


# --------------------------------------------------------------------------- spec -> Program

def program_from_spec(spec: XyloSpec) -> Program:
    """The network of a Rockpool specification as an integer xylo Program (for our simulators)."""
    if np.any(spec.weights_in[:, :, 1] != 0) or np.any(spec.weights_rec[:, :, 1] != 0):
        raise Unsupported("the second synapse of Xylo's hidden neurons has no nirconv equivalent "
                          "(BitShiftLIF has one synaptic current)", file=spec.source,
                          field="weights_in")
    if any(spec.alias_lists()):
        raise Unsupported("aliases are not supported", file=spec.source, field="aliases")
    n_in, n_hid, n_out = spec.n_in, spec.n_hidden, spec.n_out
    bias_on = spec.has_bias

    def neuron(name, inputs, n, dash_mem, dash_syn, threshold, bias, max_spikes, vmem):
        rec = BitShiftLIF(shape=(n,), threshold=None if vmem else np.asarray(threshold, np.int64),
                          bias=np.asarray(bias if bias_on else np.zeros(n), np.int64),
                          v_init=np.zeros(n, np.int64), dash_mem=np.asarray(dash_mem, np.int64),
                          dash_syn=np.asarray(dash_syn, np.int64), state_bits=16,
                          max_spikes=max_spikes, accumulate="ordered", reset="subtract",
                          input_event_cap=INPUT_MAX_EVENTS)
        return NeuronOp(name=name, inputs=inputs, in_shape=(n,), out_shape=(n,), neuron=rec)

    def affine(name, src, w, shift):
        w = np.ascontiguousarray(np.asarray(w, np.int64).T)
        return AffineOp(name=name, inputs=(Edge(src),), in_shape=(w.shape[1],),
                        out_shape=(w.shape[0],), weight=w, bias=None, shift=int(shift))

    vmem = spec.output_mode == "Vmem"
    ops = (
        InputOp(name="input", inputs=(), in_shape=(n_in,), out_shape=(n_in,)),
        affine("w_in", "input", spec.weights_in[:, :, 0], spec.weight_shift_in),
        neuron("hidden", (Edge("w_in", 0), Edge("w_rec", 1)), n_hid, spec.dash_mem,
               spec.dash_syn, spec.threshold, spec.bias, HIDDEN_MAX_SPIKES, False),
        affine("w_rec", "hidden", spec.weights_rec[:, :, 0], spec.weight_shift_rec),
        affine("w_out", "hidden", spec.weights_out, spec.weight_shift_out),
        neuron("readout", (Edge("w_out", 1),), n_out, spec.dash_mem_out, spec.dash_syn_out,
               spec.threshold_out, spec.bias_out, OUTPUT_MAX_SPIKES, vmem),
        OutputOp(name="output", inputs=(Edge("readout"),), in_shape=(n_out,), out_shape=(n_out,)),
    )
    return Program(ops=ops, inputs=("input",), outputs=("output",), mode="int", family="xylo",
                   dt=float(spec.dt), source=spec.source,
                   metadata={"target": "xylo", "arithmetic": "xylo", "dt": float(spec.dt)})


# --------------------------------------------------------------------------- vendor simulator

def xylosim_missing_reason() -> Optional[str]:
    """None when ``xylosim`` imports, else why not (for skips and the audit's vendor column)."""
    try:
        import xylosim.v2  # noqa: F401
    except ImportError as exc:
        return f"xylosim is not installed ({exc}); pip install xylosim (the 'vendor' extra)"
    return None


class XyloSimLayer:
    """SynSense's bit-exact C++ Xylo simulator (``xylosim.v2.XyloLayer``), built as Rockpool 3.1's
    ``XyloSim.from_specification`` builds it (``syns61201/xylo_sim.py``).

    xylosim 0.1.3's ``XyloLayer`` keeps raw pointers to the ``XyloSynapse`` objects it is given and
    does not own them: this object keeps the three synapse lists alive as long as the layer lives
    (dropping them makes the layer read freed memory: IndexError or segfault).
    """

    def __init__(self, spec: XyloSpec):
        reason = xylosim_missing_reason()
        if reason:
            raise Unsupported(reason, field="vendor")
        from xylosim.v2 import XyloLayer

        self.spec = spec
        self._synapses_in = _synapse_lists(spec.weights_in)
        self._synapses_rec = _synapse_lists(spec.weights_rec)
        self._synapses_out = _synapse_lists(spec.weights_out[:, :, None])
        self.layer = XyloLayer(
            synapses_in=self._synapses_in, synapses_rec=self._synapses_rec,
            synapses_out=self._synapses_out, aliases=spec.alias_lists(),
            threshold=_ints(spec.threshold), threshold_out=_ints(spec.threshold_out),
            has_bias=spec.has_bias, bias=_ints(spec.bias), bias_out=_ints(spec.bias_out),
            weight_shift_inp=int(spec.weight_shift_in), weight_shift_rec=int(spec.weight_shift_rec),
            weight_shift_out=int(spec.weight_shift_out), dash_mem=_ints(spec.dash_mem),
            dash_mem_out=_ints(spec.dash_mem_out),
            dash_syns=[[int(a), int(b)] for a, b in zip(spec.dash_syn, spec.dash_syn_2)],
            dash_syns_out=[[int(d)] for d in spec.dash_syn_out], name="nirconv_XyloLayer")

    def evolve(self, raster) -> np.ndarray:
        """One sample from a fresh state: raster (T, Nin) event counts -> (T, Nout) int64 (output
        spikes, or the readout membranes in "Vmem" mode)."""
        raster = np.asarray(raster)
        if raster.ndim != 2 or raster.shape[1] != self.spec.n_in:
            raise BadInput(f"input must be (T, {self.spec.n_in}), is {raster.shape}", field="x")
        if raster.size and (raster.min() < 0 or raster.max() > 255):
            raise BadInput("input event counts must lie in 0..255 (Xylo delivers at most 15)",
                           field="x")
        self.layer.reset_all()
        spikes = np.asarray(self.layer.evolve(raster.astype(np.int64).tolist()), dtype=np.int64)
        if self.spec.output_mode == "Vmem":
            return np.asarray(self.layer.rec_v_mem_out, dtype=np.int64).T.reshape(-1, self.spec.n_out)
        return spikes.reshape(-1, self.spec.n_out)

    def run(self, x) -> np.ndarray:
        """x (T, B, Nin) -> (T, B, Nout), one sample at a time (xylosim is not batched)."""
        x = np.asarray(x)
        if x.ndim != 3:
            raise BadInput(f"input must be (T, B, Nin), is {x.shape}", field="x")
        return np.stack([self.evolve(x[:, b]) for b in range(x.shape[1])], axis=1)

    def hidden_spikes(self) -> np.ndarray:
        """(T, Nhid) hidden spike counts of the last ``evolve``."""
        return np.asarray(self.layer.rec_recurrent_spikes, dtype=np.int64).reshape(-1, self.spec.n_hidden)


def _ints(a) -> list[int]:
    return [int(v) for v in np.asarray(a).reshape(-1)]


def _synapse_lists(weights: np.ndarray) -> list:
    """Rockpool's conversion: per presynaptic neuron, synapse 0 targets ascending, then synapse 1."""
    from xylosim.v2 import XyloSynapse

    lists = []
    for pre in range(weights.shape[0]):
        row = []
        for syn in range(weights.shape[2]):
            for post in np.flatnonzero(weights[pre, :, syn]):
                row.append(XyloSynapse(int(post), syn, int(weights[pre, post, syn])))
        lists.append(row)
    return lists
