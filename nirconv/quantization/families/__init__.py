"""Arithmetic families: one module each, registered by the name a target's ``chip.family`` gives.

A family turns the float neurons of a program into its integer neuron record (one of
``nirconv/equations/neurons.py``) and owns the rules its equations impose (docs/equations/
targets.md): how decays are encoded (`Family.decays`), the integer synapse's gain
(`Family.synapse_gain`), the factor the weighted sum is scaled by before it reaches the state
(`Family.weight_gain`), the integer neuron itself with the notes of what it changes
(`Family.neuron`), and the structural rules of the integer program (`Family.structure`, checked
again by `Family.structure_holds`). The generic passes (``quantization/passes.py``) call these and
nothing else; adding a family is one module here, its record, and its simulators.
"""
from __future__ import annotations

from ...errors import Unsupported
from . import generic, loihi2, speck, spinnaker2, xylo
from .base import Family, leaky, note

FAMILIES: dict = {m.FAMILY.name: m.FAMILY for m in (speck, xylo, generic, loihi2, spinnaker2)}


def family_of(target) -> Family:
    """The family of ``target`` (its ``chip.family``)."""
    found = FAMILIES.get(target.family)
    if found is None:
        raise Unsupported(f"arithmetic family {target.family!r} has no quantizer; known: "
                          f"{', '.join(FAMILIES)}", field="chip.family")
    return found


__all__ = ["FAMILIES", "Family", "family_of", "leaky", "note"]
