"""The checker works on Programs (float or integer) and a Target, and imports nothing above
them (RENOVATION layers: nirconv.equations, nirconv.errors, nirconv.targets)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from nirconv.backends.constraints import check_program
from nirconv.deploy import export_program
from nirconv.reading import lower
from nirconv.targets import load
from ...fixtures.paper import braille_rnn, nmnist_cnn

ROOT = Path(__file__).resolve().parents[3]
ALLOWED = ("nirconv.equations", "nirconv.errors", "nirconv.targets")


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            yield node.module


def test_the_checker_imports_only_the_program_and_the_target():
    found = {(p.name, m) for p in (ROOT / "backends" / "constraints").glob("*.py")
             for m in _imports(p) if m.startswith("nirconv") or m in ("nir", "backends")}
    assert found and all(m.startswith(ALLOWED) for _, m in found), found


@pytest.mark.parametrize("make,target", [(nmnist_cnn, "speck"), (nmnist_cnn, "loihi2"),
                                         (braille_rnn, "xylo"), (braille_rnn, "spinnaker2")])
def test_an_integer_program_checks_like_its_float_program(make, target):
    t = load(target)
    int_program, float_program, report = export_program(make(), target=t)
    assert check_program(float_program, t).resources == report.resources
    again = check_program(int_program, t)
    assert again.fits and again.resources["neurons"] == report.resources["neurons"]
    # weights that round to 0 are no synapse on the chip
    assert 0.9 * report.resources["synapses"] < again.resources["synapses"] <= \
        report.resources["synapses"]


def test_reports_name_the_float_programs_ops():
    report = check_program(lower(braille_rnn()), load("speck"))
    assert {("lif1", "recurrent"), ("lif1", "neuron_model")} <= \
        {(v.node, v.rule) for v in report.violations}
