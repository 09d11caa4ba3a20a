"""The README's first Quick-start command runs `nirconv demo`: the whole pipeline end to end."""
from __future__ import annotations

import json

from nirconv.cli import main


def test_demo_writes_reports_and_the_deployed_network_behaves(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--no-progress"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert set(report) >= {"conversion", "targets", "audit"}
    assert (out / "report.html").read_text().count("data:image/png;base64,") >= 2
    assert {p.name for p in out.iterdir()} >= {"snn.nir", "deployed_speck.nir", "report.json",
                                                 "report.html"}
    conv, audit = report["conversion"], report["audit"]
    assert conv["rows"][-1]["snn_accuracy"] >= conv["ann_accuracy"] - 0.01  # within 1 point at T=32
    assert audit["passed"] and audit["deployed_accuracy"] >= audit["snn_accuracy"] - 0.01
    fits = {t["target"]: t["fits"] for t in report["targets"]}
    assert fits == {"speck": True, "xylo": False, "loihi2": True, "spinnaker2": True,
                    "generic": True}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".demo")]  # no temp folder left


def test_demo_unknown_target_is_exit_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--target", "no-such-chip"]) == 2
    assert not out.exists()
