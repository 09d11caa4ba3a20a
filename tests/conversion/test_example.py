"""examples/convert_digits.py runs (docs that run)."""
from __future__ import annotations

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_convert_digits_example_runs(tmp_path):
    module = runpy.run_path(str(ROOT / "examples" / "convert_digits.py"), run_name="example")
    result = module["main"](tmp_path / "digits.nir", epochs=3, timesteps=8)
    assert (tmp_path / "digits.nir").exists()
    assert result["ann"] > 0.8 and result["snn"] > 0.8
    assert result["snn"] >= result["ann"] - 0.05
