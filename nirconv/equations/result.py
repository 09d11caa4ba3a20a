"""What a simulator returns (both backends fill the same record)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SimResult:
    """``outputs``: per Output op, ``(T, B, *shape)`` arrays (float mode: float spikes/membrane;
    integer mode: int64 spike counts or membrane). ``recorded``: the per-step outputs of the ops
    asked for with ``record=``. ``spikes_per_node``: total spikes (counts) of every spiking op over
    all steps and samples. ``synops``: see the README (Σ delivered spikes × fan-out; analog inputs:
    non-zero values × fan-out)."""

    outputs: dict
    recorded: dict = field(default_factory=dict)
    spikes_per_node: dict = field(default_factory=dict)
    synops: int = 0
    seconds: float = 0.0
    backend: str = ""
    device: str = "cpu"

    @property
    def output(self) -> np.ndarray:
        """The single output (most graphs have one)."""
        return next(iter(self.outputs.values()))
