"""The quantizer and the fit checker give exactly the numbers of the pipeline they replaced.

``golden/`` holds, for the NIR paper's networks (and variants that hit every warning) and random
float programs on every built-in target, the integers, scales, warnings and edge delays of the
deployed graph and the fit report, as computed by the graph-level pipeline before issue 14
(``scripts/golden/make_quantization.py``). Each case is recomputed here and compared value for
value, and the integer program `quantize` returns is checked to be what a reader of the deployed
file gets back. Four differences are intended, and allowed for below:

* a readout neuron on Speck (no membrane readout) is refused as Unsupported (exit 2) where the
  old pipeline broke its own postcondition (exit 3), with the same message;
* Scale and Delay ops are structure (``nirconv/equations/roles.py``): Xylo's "the first module
  must be a weight" names the op after them, not them (the graph has a layer_type violation for
  them either way);
* a float neuron's ``max_spikes`` switch is no longer copied onto Loihi 2 / SpiNNaker2 nodes, whose
  integer neurons have no spike count (the float record keeps it as ``float_max_spikes``);
* an unlimited resource is reported as ``"inf"`` (the one encoding of unlimited), not null.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from nirconv.deploy import input_range, read
from nirconv.equations.records import InputEncoding
from nirconv.errors import Unsupported
from nirconv.quantization import fold_scales, quantize
from nirconv.reading import lower
from nirconv.targets import load
from nirconv.writing import to_nir

from ..writing.test_round_trip import same

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("golden")


def _script():
    path = ROOT / "scripts" / "golden" / "make_quantization.py"
    spec = importlib.util.spec_from_file_location("make_quantization_golden", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


G = _script()
CASES = json.loads((GOLDEN / "cases.json").read_text())
NUMBERS = np.load(GOLDEN / "numbers.npz", allow_pickle=False)
N_RANDOM = 1 + max(int(name.split("_")[0][len("random"):]) for name in CASES
                   if name.startswith("random"))


@pytest.fixture(scope="module")
def cases():
    with tempfile.TemporaryDirectory() as tmp:
        found = {name: (build, target, cal) for name, build, target, cal
                 in G.cases(N_RANDOM, Path(tmp))}
        assert set(found) == set(CASES)
        yield found


def _intended(expected: dict) -> dict:
    """The golden case with the two intended differences applied (see the module docstring)."""
    expected = json.loads(json.dumps(expected))
    deployed = expected.get("deployed")
    if deployed and deployed["error"] == "PassFailed" and "Speck neurons spike" in \
            deployed["message"]:
        expected["deployed"] = {"error": "Unsupported",
                                "message": deployed["message"].split("): ", 1)[1]}
    for v in expected.get("report", {}).get("violations", ()):
        if v["rule"] == "graph_rule" and v["limit"] == "first module is a weight":
            v["value"] = None
    # The old pipeline passed a float neuron's max_spikes switch through to node metadata; on the
    # families whose integer neuron has no spike count (Loihi 2, SpiNNaker2) it meant nothing. The
    # float switch is now kept once, as float_max_spikes (nirconv/writing/deployed.py).
    # "Unlimited" has one encoding (equations/limits.py): an unlimited resource is "inf" in JSON,
    # as the targets' figures are, where the old checker wrote null.
    resources = expected.get("report", {}).get("resources", {})
    for key, value in resources.items():
        if key.endswith("_available") and value is None:
            resources[key] = "inf"
    if expected.get("graph", {}).get("arithmetic") in ("loihi2", "spinnaker2"):
        for node in expected.get("nodes", {}).values():
            node.get("keys", {}).pop("max_spikes", None)
        for key in [k for k in expected.get("arrays", {}) if k.endswith("|max_spikes")]:
            del expected["arrays"][key]
    return expected


def _compare(name, expected, arrays, found):
    found = json.loads(json.dumps(found))
    for v in found.get("report", {}).get("violations", ()):
        if v["rule"] == "graph_rule" and v["limit"] == "first module is a weight":
            v["value"] = None
    found["arrays"] = {k: list(np.shape(a)) for k, a in sorted(arrays.items())}
    assert found == _intended(expected), name
    golden = G.unpack(NUMBERS[name], expected["arrays"])
    for key, value in arrays.items():  # every key found is one the golden case has
        assert np.array_equal(np.asarray(value, dtype=np.float64), golden[key]), (name, key)


def _groups():
    groups = {}
    for name in CASES:
        groups.setdefault(name.split("/")[0].split("_")[0].rstrip("0123456789"), []).append(name)
    return groups


@pytest.mark.parametrize("group", sorted(_groups()))
def test_the_numbers_of_the_pipeline_before(cases, group):
    for name in _groups()[group]:
        build, target, calibration = cases[name]
        arrays, found = G.run_case(build(), target, calibration)
        _compare(name, CASES[name], arrays, found)


@pytest.mark.parametrize("group", sorted(_groups()))
def test_the_integer_program_is_what_its_file_reads_back(cases, group):
    """quantize's integer program equals the deployed file read in integer mode (scales aside:
    they live in the file's metadata, compared above), and the file's float view is the float
    program it was quantized from."""
    for name in _groups()[group]:
        build, target, calibration = cases[name]
        if "error" in CASES[name].get("edges", {"error": ""}):
            continue  # not quantized, or a file integer mode refuses (SpiNNaker2 CubaLIF)
        t = load(target)
        float_program = fold_scales(read(build(), t))
        int_program = quantize(float_program, t, input_range(calibration))
        written = to_nir(int_program, float_program)
        same(int_program, lower(written, mode="int"), name, skip=G_SKIP)
        view = lower(written, mode="float")
        assert view.encoding == InputEncoding(input_max=int_program.encoding.input_max), name
        same(float_program, dataclasses.replace(view, encoding=float_program.encoding), name,
             skip=G_SKIP)


G_SKIP = ("metadata", "extra", "source", "provenance", "scales")


def test_every_group_of_cases_is_quantized_somewhere():
    quantized = {name.split("/")[0] for name, case in CASES.items() if "deployed" not in case}
    assert {"nmnist", "braille", "braille_bias", "braille_excitatory", "scaled_readout",
            "sum_pool_chain", "braille_rows"} <= quantized
    assert sum(name.startswith("random") for name in quantized) >= 20


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2 ** 31 - 1), st.sampled_from(G.RANDOM_TOPOLOGIES),
       st.sampled_from(G.RANDOM_VARIANTS), st.sampled_from(G.TARGETS))
def test_random_float_programs_quantize_to_what_their_file_reads_back(seed, topology, variant,
                                                                     target):
    """Beyond the golden cases: any random float program either is refused (Unsupported, naming
    a node) or quantizes to an integer program that its deployed file reads back as it is."""
    graph, shape = G.random_graph(seed, topology, variant)
    t = load(target)
    float_program = fold_scales(read(graph, t))
    calibration = np.random.default_rng(seed).normal(0.3, 1.0, (4, *shape)) if seed % 2 else None
    try:
        int_program = quantize(float_program, t, input_range(calibration))
    except Unsupported as e:
        assert e.node and e.field
        return
    written = to_nir(int_program, float_program)
    try:
        again = lower(written, mode="int")
    except Unsupported as e:  # SpiNNaker2's CubaLIF: exported with a warning, not simulated
        assert (target, e.field) == ("spinnaker2", "type")
        assert "no_integer_simulation" in {w.rule for w in int_program.deployment.warnings}
        return
    same(int_program, again, f"{seed} {topology} {variant} {target}", skip=G_SKIP)
