"""The report: JSON shape of the contract, HTML with embedded PNG plots, atomic writes."""
from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest

from nirconv.errors import BadInput
from nirconv.fidelity import AuditResult, LayerAudit, audit_section, html_fragment, write_report

CONTRACT_KEYS = {"timesteps", "ann_accuracy", "snn_accuracy", "deployed_accuracy", "passed",
                 "layers", "first_divergence"}


def _result(divergence=True, passed=True):
    layers = (LayerAudit("lif1", 0.9, 0.95, 1, 12, 40, 38, 0.1, 0.09, "relu1", 0.02, 0.03,
                         "least_squares"),
              LayerAudit("lif2", 1.0, 1.0, 2, 4, 0, 0, 0.0, 0.0))
    rng = np.random.default_rng(0)
    act = rng.random(50)
    return AuditResult(
        timesteps=4, samples=10, tolerance=1.0, ann_accuracy=0.9, snn_accuracy=0.8,
        deployed_accuracy=0.8, passed=passed, layers=layers,
        first_divergence={"sample": 3, "node": "lif1", "timestep": 2, "neuron": 5,
                          "neuron_index": [1, 1], "float": 1, "deployed": 0} if divergence
        else None,
        target="xylo", snn_accuracy_by_steps=(0.1, 0.5, 0.7, 0.8),
        deployed_accuracy_by_steps=(0.1, 0.4, 0.7, 0.8), vendor="skipped: xylosim missing",
        scatter={"lif1": (act, act / 2, act / 2 + 0.01)})


def test_json_has_the_contract_keys_and_types():
    section = audit_section(_result())
    assert CONTRACT_KEYS <= set(section)
    assert isinstance(section["passed"], bool)
    assert all({"node", "spike_agreement", "rate_correlation"} <= set(layer)
               for layer in section["layers"])
    assert set(section["first_divergence"]) >= {"sample", "node", "timestep", "neuron"}
    assert section["vendor"].startswith("skipped: ")
    assert section["accuracy_by_steps"]["deployed"] == [0.1, 0.4, 0.7, 0.8]
    assert "rate_error_float" not in section["layers"][1]  # no ANN module: key left out
    assert audit_section(_result(divergence=False))["first_divergence"] is None


def _pngs(text):
    return re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)


def test_html_embeds_three_png_plots(tmp_path):
    j, h = tmp_path / "a.json", tmp_path / "a.html"
    write_report(_result(), j, h)
    assert json.loads(j.read_text())["deployed_accuracy"] == 0.8
    page = h.read_text()
    pngs = _pngs(page)
    assert len(pngs) == 3  # accuracy vs T, per-layer bars, rate vs activation
    assert all(base64.b64decode(p)[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert "lif1" in page and "step <b>2</b>" in page and "PASSED" in page


def test_fragment_without_scatter_has_two_plots_and_says_failed():
    r = _result(passed=False)
    r = AuditResult(**{**{k: getattr(r, k) for k in r.__dataclass_fields__}, "scatter": {}})
    frag = html_fragment(r)
    assert frag.startswith('<section class="nirconv-audit">') and "FAILED" in frag
    assert len(_pngs(frag)) == 2
    assert "<h2>" in frag and "<h2>" not in html_fragment(r, heading=False)


def test_missing_folder_is_bad_input_and_leaves_no_file(tmp_path):
    with pytest.raises(BadInput, match="folder"):
        write_report(_result(), tmp_path / "nope" / "a.json", None)
    write_report(_result(), tmp_path / "a.json", None)
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temporary left behind


def test_report_files_get_the_usual_permissions(tmp_path):
    import os

    mask = os.umask(0)
    os.umask(mask)
    write_report(_result(), tmp_path / "a.json", tmp_path / "a.html")
    for name in ("a.json", "a.html"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~mask
