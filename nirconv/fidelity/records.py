"""The audit's results: one frozen record per compared layer and one for the whole audit."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass(frozen=True)
class LayerAudit:
    """One spiking node: float SNN vs deployed (aligned), and both against the ANN activation."""

    node: str
    spike_agreement: float
    rate_correlation: float
    shift_steps: int
    neurons: int
    float_spikes: int
    deployed_spikes: int
    float_rate: float  # mean spikes per neuron per step
    deployed_rate: float
    ann_module: Optional[str] = None
    rate_error_float: Optional[float] = None
    rate_error_deployed: Optional[float] = None
    rate_error_basis: Optional[str] = None  # "activation_scale" | "least_squares"

    def to_json(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return {k: v for k, v in d.items() if v is not None}


@dataclass(frozen=True)
class AuditResult:
    """Everything the audit measured. `to_json` is the contract's shape plus more keys."""

    timesteps: int
    samples: int
    tolerance: float  # percentage points
    ann_accuracy: float
    snn_accuracy: float
    deployed_accuracy: float
    passed: bool
    layers: tuple[LayerAudit, ...]
    first_divergence: Optional[dict]
    target: str = ""
    arithmetic: str = ""
    backend: str = "torch"
    latency_steps: int = 0  # extra steps the deployed run needs (largest shift)
    output_shift_steps: int = 0  # the deployed readout's extra delay
    snn_accuracy_by_steps: tuple[float, ...] = ()  # after 1..T steps
    deployed_accuracy_by_steps: tuple[float, ...] = ()
    vendor: Optional[str] = None  # "skipped: <reason>" when no vendor simulator ran
    vendor_accuracy: Optional[float] = None
    snn_source: str = "deployed metadata"
    scatter: dict = field(default_factory=dict, repr=False, compare=False)  # node -> (act, f, q)

    @property
    def accuracy_drop_points(self) -> float:
        return 100.0 * (self.snn_accuracy - self.deployed_accuracy)

    def to_json(self) -> dict:
        out: dict[str, Any] = {
            "timesteps": self.timesteps, "ann_accuracy": self.ann_accuracy,
            "snn_accuracy": self.snn_accuracy, "deployed_accuracy": self.deployed_accuracy,
            "passed": self.passed, "layers": [layer.to_json() for layer in self.layers],
            "first_divergence": self.first_divergence,
            "tolerance": self.tolerance, "accuracy_drop_points": self.accuracy_drop_points,
            "samples": self.samples, "target": self.target, "arithmetic": self.arithmetic,
            "backend": self.backend, "latency_steps": self.latency_steps,
            "output_shift_steps": self.output_shift_steps,
            "snn_source": self.snn_source,
            "accuracy_by_steps": {"ann": self.ann_accuracy,
                                  "snn": list(self.snn_accuracy_by_steps),
                                  "deployed": list(self.deployed_accuracy_by_steps)},
        }
        if self.vendor_accuracy is not None:
            out["vendor_accuracy"] = self.vendor_accuracy
        if self.vendor is not None:
            out["vendor"] = self.vendor
        return out
