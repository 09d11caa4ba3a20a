"""An integer Program and the float Program it was quantized from -> the deployed NIR graph.

NIR fields hold what the chip's toolchain reads: integer weights (float32 arrays of whole numbers)
and, for neurons, the float neuron in nirconv's dialect. Node metadata holds the rest, each key
documented in ``nirconv/nir_io/metadata.py``:

* weight nodes: ``float_weight``/``float_bias`` (the float record), ``shift``, ``weight_bits``,
  ``sign_mode``, ``weight_scale``, ``unit_rows`` (`WeightScales`);
* neuron nodes: the complete float record (``float_*``, ``threshold``), the conversion's λ
  (``float_scale``), the `NeuronScales` (``gain``, ``state_unit``, ``scale``), the deployed
  ``reset`` (``compare`` stays the float one; the family fixes its own) and the integer
  parameters of the family's record (`NEURON_KEYS`);
* the graph: the `Deployment` (``target``, ``arithmetic``, widths, ``warnings``, ``fits``), the
  `InputEncoding`, ``dt``, ``timesteps`` and the provenance.
"""
from __future__ import annotations

import numpy as np

from .._version import __version__
from ..equations.limits import UNLIMITED
from ..equations.neurons import BitShiftLIF, Float32LIF, LoihiCubaLIF, SpeckIAF
from ..equations.program import AffineOp, ConvOp, NeuronOp, Op, Program
from ..errors import InternalError
from .nodes import compact, float_neuron_node, float_switches

WEIGHT_OPS = (AffineOp, ConvOp)


def _limit(value):
    return float(UNLIMITED) if value == UNLIMITED else int(value)


def _speck(r: SpeckIAF) -> dict:
    return {"threshold_int": compact(r.threshold), "bias_int": compact(r.bias),
            "v_init_int": compact(r.v_init), "max_spikes": _limit(r.max_spikes),
            "state_bits": int(np.log2(r.v_max + 1)) + 1, "reset": r.reset}


def _bitshift(r: BitShiftLIF) -> dict:
    out = {"bias_int": compact(r.bias), "v_init_int": compact(r.v_init),
           "max_spikes": _limit(r.max_spikes), "state_bits": int(r.state_bits)}
    if r.threshold is not None:
        out.update(threshold_int=compact(r.threshold), reset=r.reset)
    if r.dash_mem is not None:
        out["dash_mem"] = compact(r.dash_mem)
    if r.dash_syn is not None:
        out["dash_syn"] = compact(r.dash_syn)
    return out


def _loihi(r: LoihiCubaLIF) -> dict:
    out = {"du": compact(r.du), "dv": compact(r.dv), "bias_mant": compact(r.bias_mant),
           "bias_exp": compact(r.bias_exp)}
    if r.vth is not None:
        out.update(vth=compact(r.vth), reset="zero")
    return out


def _float32(r: Float32LIF) -> dict:
    return {"alpha": compact(r.alpha.astype(np.float32)),
            "threshold_f32": compact(r.threshold.astype(np.float32)),
            "i_offset": compact(r.i_offset.astype(np.float32)),
            "v_reset_f32": compact(r.v_reset.astype(np.float32)),
            "weight_scale": float(np.float32(r.weight_scale)), "reset": r.reset}


NEURON_KEYS = {SpeckIAF: _speck, BitShiftLIF: _bitshift, LoihiCubaLIF: _loihi,
               Float32LIF: _float32}


def _float_record(fop: NeuronOp) -> dict:
    r = fop.neuron
    meta = {"float_shape": [int(s) for s in r.shape], "float_model": fop.info.nir_type or r.model,
            "float_alpha_mem": compact(r.alpha_mem), "float_beta_mem": compact(r.beta_mem),
            "float_v_bias": compact(r.bias), "float_v_init": compact(r.v_init),
            "float_v_reset": compact(r.v_reset), "float_reset": r.reset,
            "float_compare": r.compare}
    if r.alpha_syn is not None:
        meta.update(float_alpha_syn=compact(r.alpha_syn), float_beta_syn=compact(r.beta_syn))
    if r.spiking:
        meta["threshold"] = compact(r.v_threshold)
    meta.update(float_switches(r, prefix="float_"))
    return meta


def neuron_node(op: NeuronOp, fop: NeuronOp, dt):
    node = float_neuron_node(fop, dt)
    meta = {k: v for k, v in node.metadata.items() if k not in ("scale", "current_delay",
                                                                "reset_after_decay", "max_spikes",
                                                                "v_min")}
    meta.update(_float_record(fop))
    if fop.info.act_scale is not None:
        meta["float_scale"] = compact(fop.info.act_scale)
    if op.scales is not None:
        meta.update(gain=compact(op.scales.gain), state_unit=compact(op.scales.state_unit),
                    scale=compact(op.scales.scale))
    build = NEURON_KEYS.get(type(op.neuron))
    if build is None:
        raise InternalError(f"no writer for integer neuron {type(op.neuron).__name__}",
                            node=op.name)
    meta.update(build(op.neuron))
    node.metadata = meta
    return node


def weight_metadata(op: Op, fop: Op) -> dict:
    meta = {"float_weight": np.asarray(fop.weight, dtype=np.float64).copy()}
    if getattr(fop, "bias", None) is not None and np.any(np.asarray(fop.bias) != 0):
        meta["float_bias"] = np.asarray(fop.bias, dtype=np.float64).copy()
    meta["shift"] = int(op.shift)
    s = op.scales
    if s is not None:
        meta.update(weight_bits=int(s.weight_bits), sign_mode=s.sign_mode,
                    weight_scale=compact(s.weight_scale), unit_rows=compact(s.unit_rows))
    return meta


def graph_metadata(program: Program) -> dict:
    d = program.deployment
    enc = program.encoding
    meta = dict(program.provenance, nirconv_version=__version__)
    meta.update(target=d.target, arithmetic=d.family, weight_bits=int(d.weight_bits),
                state_bits=int(d.state_bits), warnings=[str(w) for w in d.warnings],
                input_encoding=enc.kind, input_scale=float(enc.scale))
    if d.fits is not None:
        meta["fits"] = bool(d.fits)
    if enc.bits is not None:
        meta["input_bits"] = int(enc.bits)
    if enc.max_events is not None:
        meta["max_events"] = int(enc.max_events)
    if enc.input_max is not None:
        meta["input_max"] = float(enc.input_max)
    if program.dt is not None:
        meta["dt"] = float(program.dt)
    if program.timesteps is not None:
        meta["timesteps"] = int(program.timesteps)
    return meta
