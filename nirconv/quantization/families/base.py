"""The interface of an arithmetic family (`Family`) and small helpers its modules share."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ...equations import structure as structure_rules
from ...equations.program import Program
from ...equations.records import TargetWarning
from ...errors import NirconvError


class Family:
    """The defaults: no decays, no synapse correction, weights added as they are, no structural
    rule. Subclasses override what their equations need."""

    name = ""
    record: type = type(None)  # the integer neuron record of the family

    def decays(self, name: str, neuron, target) -> tuple[object, list[TargetWarning]]:
        """The float neuron's decays in the family's encoding, and the notes (warnings)."""
        return None, []

    def synapse_gain(self, decays, has_synapse: bool):
        """C: 1 / (steady-state gain of the integer synapse) relative to one input per step."""
        return 1.0

    def weight_gain(self, target) -> int:
        """The factor an integer weighted sum is multiplied by before it is added to the state."""
        return 1

    def neuron(self, plan, target) -> tuple[object, list[TargetWarning]]:
        """The integer neuron record of ``plan`` (a `NeuronPlan`) and the notes."""
        raise NotImplementedError

    def structure(self, program: Program) -> Program:
        """The integer program with the family's structural rules applied (edge delays, the
        order of a neuron's inputs; written once in ``nirconv/equations/structure.py``, which the
        reading of deployed files applies too); a rule the program cannot meet raises
        Unsupported."""
        return structure_rules.apply(program)

    def structure_holds(self, program: Program) -> Optional[str]:
        """None when the structural rules hold (applying them again changes no edge), else why
        not (a postcondition)."""
        try:
            again = self.structure(program)
        except NirconvError as e:
            return e.one_line()
        for before, after in zip(program.ops, again.ops):
            if before.inputs != after.inputs:
                return f"the edges into {before.name} break the {self.name} rules"
        return None


def note(node: str, rule: str, message: str) -> TargetWarning:
    return TargetWarning(node, rule, message)


def leaky(neuron) -> bool:
    return bool((np.asarray(neuron.alpha_mem) < 1.0).any())
