"""Metadata values nirconv computes with are checked when a file is read (the documented table of
nirconv/nir_io/metadata.py): a wrong type or range is a one-line BadInput naming node and
``metadata.<key>`` (exit 2), never a ValueError from float() or int() (exit 3)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import h5py
import numpy as np
import pytest

import nirconv

_spec = importlib.util.spec_from_file_location("security_nir_hostile",
                                               Path(__file__).with_name("nir_hostile.py"))
H = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(H)


def with_value(path, where, value):
    with h5py.File(path, "r+") as f:
        if where in f:
            del f[where]
        f[where] = value
    return path


def test_dt_stored_as_a_string_is_refused(tmp_path, capsys):
    path = H.small_file(tmp_path / "g.nir", metadata={"dt": "abc"})
    for name, (args, out) in H.commands(path, tmp_path).items():
        H.refused(args, capsys, str(path), "field 'metadata.dt'")
        assert out is None or not out.exists(), name


@pytest.mark.parametrize("value", [b"0.001", np.array([1e-3, 2e-3]), np.nan, -1e-3, 0.0,
                                   np.inf], ids=["bytes", "array", "nan", "negative", "zero",
                                                 "inf"])
def test_dt_of_the_wrong_kind_is_refused(tmp_path, capsys, value):
    path = with_value(H.small_file(tmp_path / "g.nir"), "node/metadata/dt", value)
    H.refused(["check", path, "--target", "generic"], capsys, "field 'metadata.dt'")
    with pytest.raises(nirconv.BadInput, match="metadata.dt"):
        nirconv.load(path)


@pytest.mark.parametrize("where,value,field", [
    ("node/metadata/timesteps", "many", "metadata.timesteps"),
    ("node/metadata/input_bits", 10**9, "metadata.input_bits"),
    ("node/metadata/input_scale", np.array([1.0, 2.0]), "metadata.input_scale"),
    ("node/metadata/max_events", "1", "metadata.max_events"),
    ("node/nodes/fc/metadata/shift", "left", "metadata.shift"),
    ("node/nodes/fc/metadata/shift", 10**6, "metadata.shift"),
    ("node/nodes/lif/metadata/reset", 5, "metadata.reset"),
    ("node/nodes/lif/metadata/compare", np.ones(2), "metadata.compare"),
    ("node/nodes/lif/metadata/v_init", "zero", "metadata.v_init"),
    ("node/nodes/lif/metadata/float_shape", np.array([10**6, 10**6]), "metadata.float_shape"),
    ("node/metadata/weight_bits", "8", "metadata.weight_bits"),
])
def test_other_metadata_of_the_wrong_type_is_refused(tmp_path, capsys, where, value, field):
    path = with_value(H.small_file(tmp_path / "g.nir"), where, value)
    H.refused(["inspect", path], capsys, f"field '{field}'")
    with pytest.raises(nirconv.BadInput, match=field):
        nirconv.load(path)


def test_dt_passed_to_the_api_is_checked_too():
    with pytest.raises(nirconv.BadInput, match="dt"):
        nirconv.simulate(H.small_graph(), np.ones((2, 4)), timesteps=2, dt="1 ms")


def test_unknown_metadata_keys_are_left_alone(tmp_path, capsys):
    path = with_value(H.small_file(tmp_path / "g.nir"), "node/nodes/fc/metadata/note",
                      "anything at all")
    H.accepted(["check", path, "--target", "generic"], capsys)
