"""The audit's vendor column: a vendor simulator per target, or a reason why not."""
from __future__ import annotations

import dataclasses
import importlib

import numpy as np
import pytest

from nirconv.equations.records import InputEncoding
from nirconv.errors import Unsupported
from nirconv.vendors import registry
from nirconv.vendors.xylo import XyloSimLayer, program_from_spec


@pytest.mark.parametrize("target", ["loihi2", "spinnaker2", "generic", "no-such-chip"])
def test_targets_without_a_vendor_simulator_say_why(target, monkeypatch):
    monkeypatch.delenv(registry.LAVA_PYTHON_ENV, raising=False)
    fn, reason = registry.vendor_simulator(target)
    assert fn is None and isinstance(reason, str) and len(reason) > 10


def test_a_missing_package_gives_a_reason_not_an_error(monkeypatch):
    monkeypatch.setitem(registry.VENDORS, "xylo", ("no_such_module_xyz", "pip install it",
                                                   registry.run_xylosim))
    fn, reason = registry.vendor_simulator("xylo")
    assert fn is None and "no_such_module_xyz" in reason and "pip install it" in reason


def test_xylo_vendor_column_runs_xylosim(need_xylosim, xylo_helpers):
    fn, reason = registry.vendor_simulator("xylo")
    assert fn is registry.run_xylosim and reason is None
    rng = np.random.default_rng(0)
    spec = xylo_helpers["random_spec"](rng, n_hid=30)
    x = xylo_helpers["random_events"](rng, 40, 2, 16)
    program = program_from_spec(spec)
    np.testing.assert_array_equal(fn(program, x), XyloSimLayer(spec).run(x))
    ours = importlib.import_module("nirconv.backends.event").run(program, x).outputs["output"]
    np.testing.assert_array_equal(fn(program, x), ours)


def test_static_inputs_are_rate_coded_like_ours(need_xylosim, xylo_helpers):
    rng = np.random.default_rng(1)
    program = program_from_spec(xylo_helpers["random_spec"](rng, n_hid=20))
    program = dataclasses.replace(program, encoding=InputEncoding(kind="rate", scale=0.25,
                                                                  max_events=4))
    out = registry.run_xylosim(program, rng.random((3, 16)), 30)
    assert out.shape == (30, 3, 8)
    current = dataclasses.replace(program, encoding=InputEncoding(kind="current"))
    with pytest.raises(Unsupported, match="input_encoding"):
        registry.run_xylosim(current, -rng.random((3, 16)) * 100, 5)


def test_speck_vendor_is_sinabs(monkeypatch):
    monkeypatch.delenv(registry.SINABS_PYTHON_ENV, raising=False)
    fn, reason = registry.vendor_simulator("speck")
    if registry._missing("sinabs", "") is None:
        assert fn is registry.run_sinabs
    else:
        assert fn is None and "sinabs" in reason and registry.SINABS_PYTHON_ENV in reason
        monkeypatch.setenv(registry.SINABS_PYTHON_ENV, "/no/such/python")
        assert registry.vendor_simulator("speck")[0] is None
