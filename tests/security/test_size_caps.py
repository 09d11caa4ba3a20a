"""Nothing is materialized from a `.nir` before its size is checked against one cap (README,
"Security and untrusted files"; nirconv/nir_io/limits.py): 1 GiB by default, set with
NIRCONV_MAX_ARRAY_BYTES. Datasets are checked by their declared shape × itemsize (and the file's
running total) before they are read; shapes the file declares or the lowering derives (an Input, a
conv's output after its padding) at 8 bytes per element before anything is allocated from them.
Types that are not real numbers or strings are refused: complex values are never cast to real."""
from __future__ import annotations

import importlib.util
import zlib
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest

import nirconv
from nirconv.reading import lower

_spec = importlib.util.spec_from_file_location("security_nir_hostile",
                                               Path(__file__).with_name("nir_hostile.py"))
H = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(H)

CAP_HINT = "NIRCONV_MAX_ARRAY_BYTES"


def conv_graph(hw, padding, declare_input_shape=True) -> nir.NIRGraph:
    """Input (1, *hw) -> Conv2d 3x3 (2 channels, ``padding``) -> IF -> Output."""
    conv = nir.Conv2d(input_shape=tuple(hw), weight=np.ones((2, 1, 3, 3)), stride=1,
                      padding=padding, dilation=1, groups=1, bias=np.zeros(2))
    return nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([1, *hw])),
        "conv": conv,
        "if": nir.IF(r=np.ones(1), v_threshold=np.ones(1)),
        "output": nir.Output(output_type=np.array([2, 4, 4]))},
        edges=[("input", "conv"), ("conv", "if"), ("if", "output")], metadata={"dt": 1e-3},
        type_check=False)


def refused_by_commands(path, tmp_path, capsys, names, *parts, x_shape=(2, 4)):
    for name, (args, out) in H.commands(path, tmp_path, x_shape).items():
        if name in names:
            H.refused(args, capsys, *parts)
            assert out is None or not out.exists(), name


def test_gzip_bomb_is_refused_before_it_is_read(tmp_path, capsys):
    path = H.small_file(tmp_path / "bomb.nir")
    with h5py.File(path, "r+") as f:  # 10⁹ float64 of fill value: a few KB on disk
        f.create_dataset("node/nodes/fc/metadata/blob", shape=(10**9,), dtype="f8",
                         compression="gzip", chunks=(2**20,))
    assert path.stat().st_size < 100_000
    refused_by_commands(path, tmp_path, capsys, ("inspect", "check", "export", "simulate"),
                        "node 'fc'", "field 'metadata.blob'", "7.5 GiB declared",
                        "1.0 GiB cap", CAP_HINT)
    with pytest.raises(nirconv.BadInput, match="above the 1.0 GiB cap"):
        nirconv.load(path)


def test_running_total_of_a_file_is_capped(tmp_path, capsys, monkeypatch):
    path = H.small_file(tmp_path / "g.nir")
    monkeypatch.setenv(CAP_HINT, "150")  # every array fits alone (fc.weight is 96 bytes)
    line = H.refused(["inspect", path], capsys, "the file's arrays up to here", "150 B cap")
    assert "node '" in line


def test_cap_is_raised_and_lowered_with_the_environment(tmp_path, capsys, monkeypatch):
    path = H.small_file(tmp_path / "g.nir")
    monkeypatch.setenv(CAP_HINT, "50")
    H.refused(["check", path, "--target", "generic"], capsys, "above the 50 B cap", CAP_HINT)
    monkeypatch.setenv(CAP_HINT, str(1 << 20))
    H.accepted(["check", path, "--target", "generic"], capsys)


@pytest.mark.parametrize("value", ["lots", "-5", "0", "1.5e9"])
def test_bad_cap_value_names_the_variable(tmp_path, capsys, monkeypatch, value):
    path = H.small_file(tmp_path / "g.nir")
    monkeypatch.setenv(CAP_HINT, value)
    H.refused(["inspect", path], capsys, f"field '{CAP_HINT}'")
    with pytest.raises(nirconv.BadInput, match=CAP_HINT):
        nirconv.load(path)


def test_chunk_that_inflates_beyond_its_declared_size_is_refused(tmp_path, capsys, monkeypatch):
    from nirconv.nir_io import hdf5_reader

    monkeypatch.setattr(hdf5_reader, "_VERIFY_STORAGE_BYTES", 0)  # verify every chunk
    path = H.small_file(tmp_path / "g.nir")
    with h5py.File(path, "r+") as f:  # declares 16 float64, its one chunk inflates to 1 MB
        ds = f.create_dataset("node/nodes/fc/metadata/blob", shape=(16,), dtype="f8",
                              chunks=(16,), compression="gzip")
        ds.id.write_direct_chunk((0,), zlib.compress(bytes(1 << 20)))
    H.refused(["inspect", path], capsys, "node 'fc'", "field 'metadata.blob'",
              "decompression bomb")


def test_declared_huge_conv_input_is_refused_everywhere(tmp_path, capsys):
    path = H.write(tmp_path / "big.nir", conv_graph((100_000, 100_000), 0))
    refused_by_commands(path, tmp_path, capsys, ("inspect", "check", "export", "simulate"),
                        "node '", "100000 x 100000", "GiB declared", CAP_HINT,
                        x_shape=(1, 1, 8, 8))
    with pytest.raises(nirconv.BadInput, match="100000 x 100000"):
        nirconv.load(path)


def test_huge_padding_is_refused_everywhere(tmp_path, capsys):
    path = H.write(tmp_path / "pad.nir", conv_graph((8, 8), 100_000))
    refused_by_commands(path, tmp_path, capsys, ("inspect", "check", "export", "simulate"),
                        "node 'conv'", "field 'padding'", "200006 x 200006", "GiB declared",
                        x_shape=(1, 1, 8, 8))


def test_huge_padding_without_declared_input_shape_is_refused_by_the_lowering(tmp_path,
                                                                             capsys):
    path = H.write(tmp_path / "pad.nir", conv_graph((8, 8), 100_000))
    with h5py.File(path, "r+") as f:
        del f["node/nodes/conv/input_shape"]  # as Sinabs writes it: shapes follow the edges
    graph = nirconv.load(path)  # nothing declared is large: the file loads
    with pytest.raises(nirconv.BadInput, match="200006 x 200006"):
        lower(graph, source=str(path))
    refused_by_commands(path, tmp_path, capsys, ("check", "export", "simulate"),
                        "node 'conv'", "field 'padding'", "output shape", x_shape=(1, 1, 8, 8))


def test_complex_weights_are_refused_not_cast(tmp_path, capsys):
    graph = H.small_graph()
    graph.nodes["fc"].weight = graph.nodes["fc"].weight * (1 + 1j)
    path = H.write(tmp_path / "complex.nir", graph)
    refused_by_commands(path, tmp_path, capsys, ("inspect", "check", "export", "simulate"),
                        "node 'fc'", "field 'weight'", "complex values are not supported")
    with pytest.raises(nirconv.BadInput, match="complex values are not supported"):
        nirconv.simulate(graph, np.ones((2, 4)), timesteps=2)  # in memory too


def test_complex_metadata_array_is_refused(tmp_path, capsys):
    path = H.small_file(tmp_path / "g.nir")
    with h5py.File(path, "r+") as f:
        f["node/nodes/lif/metadata/v_init"] = np.ones(3) * 1j
    H.refused(["inspect", path], capsys, "node 'lif'", "field 'metadata.v_init'",
              "complex values are not supported")


@pytest.mark.parametrize("make", [
    lambda g, leaf: g.create_dataset(leaf, data=np.zeros(3, dtype=[("a", "f8"), ("b", "i4")])),
    lambda g, leaf: g.create_dataset(leaf, shape=(3,), dtype=h5py.vlen_dtype(np.float64)),
    lambda g, leaf: g.create_dataset(leaf, shape=(2,), dtype=h5py.ref_dtype),
    lambda g, leaf: g.create_dataset(leaf, data=np.void(b"\x00" * 8)),
    lambda g, leaf: g.create_dataset(leaf, shape=(1,) * 9, dtype="f8"),
], ids=["compound", "vlen", "reference", "opaque", "rank9"])
def test_datasets_that_are_not_plain_arrays_are_refused(tmp_path, capsys, make):
    path = H.replace_dataset(H.small_file(tmp_path / "g.nir"), "node/nodes/fc/weight", make)
    H.refused(["inspect", path], capsys, "node 'fc'", "field 'weight'")
    with pytest.raises(nirconv.BadInput):
        nirconv.load(path)
