"""A `.nir` never makes nirconv read another file or follow a link (README, "Security and untrusted
files"): external links, soft links (dangling or looping), hard-link loops, external raw storage and
virtual datasets are refused before any data is read, naming node and field, in every command
(exit 2, one line, no output file) and in `nirconv.load` (BadInput)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import h5py
import pytest

import nirconv

_spec = importlib.util.spec_from_file_location("security_nir_hostile",
                                               Path(__file__).with_name("nir_hostile.py"))
H = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(H)

WEIGHT = "node/nodes/fc/weight"


def refused_everywhere(path, tmp_path, capsys, *parts):
    """Every command refuses ``path`` with one line naming ``parts``, and writes nothing."""
    for name, (args, out) in H.commands(path, tmp_path).items():
        H.refused(args, capsys, str(path), *parts)
        assert out is None or not out.exists(), name
    with pytest.raises(nirconv.BadInput) as e:
        nirconv.load(path)
    for part in parts:
        assert part in str(e.value)


def test_external_link_is_refused(tmp_path, capsys):
    secret = tmp_path / "secret.h5"
    with h5py.File(secret, "w") as f:
        f["data"] = [[1.0] * 4] * 3  # what a link could pull in: another file's data
    path = H.replace_dataset(H.small_file(tmp_path / "g.nir"), WEIGHT,
                             lambda g, leaf: g.__setitem__(leaf, h5py.ExternalLink(str(secret),
                                                                                   "/data")))
    refused_everywhere(path, tmp_path, capsys, "node 'fc'", "field 'weight'", "external link")


def test_external_link_to_etc_passwd_reads_nothing(tmp_path, capsys):
    path = H.replace_dataset(H.small_file(tmp_path / "g.nir"), WEIGHT,
                             lambda g, leaf: g.__setitem__(leaf, h5py.ExternalLink("/etc/passwd",
                                                                                   "/")))
    line = H.refused(["export", path, "--target", "generic", "-o", tmp_path / "o.nir"], capsys,
                     "external link")
    assert "root:" not in line and not (tmp_path / "o.nir").exists()


def test_dangling_soft_link_is_refused(tmp_path, capsys):
    path = H.replace_dataset(H.small_file(tmp_path / "g.nir"), WEIGHT,
                             lambda g, leaf: g.__setitem__(leaf, h5py.SoftLink("/nowhere")))
    refused_everywhere(path, tmp_path, capsys, "node 'fc'", "field 'weight'", "soft link")


def test_looping_soft_link_is_refused(tmp_path, capsys):
    path = H.replace_dataset(H.small_file(tmp_path / "g.nir"), WEIGHT,
                             lambda g, leaf: g.__setitem__(leaf, h5py.SoftLink("/" + WEIGHT)))
    refused_everywhere(path, tmp_path, capsys, "node 'fc'", "field 'weight'", "soft link")


def test_hard_link_loop_is_refused(tmp_path, capsys):
    path = H.small_file(tmp_path / "g.nir")
    with h5py.File(path, "r+") as f:
        f["node/nodes/fc/metadata/loop"] = f["node"]  # a group that contains itself
    refused_everywhere(path, tmp_path, capsys, "node 'fc'", "field 'metadata.loop'",
                       "second hard link")


def test_external_raw_storage_is_refused(tmp_path, capsys):
    raw = tmp_path / "raw.bin"
    raw.write_bytes(bytes(96))
    path = H.replace_dataset(H.small_file(tmp_path / "g.nir"), WEIGHT,
                             lambda g, leaf: g.create_dataset(leaf, shape=(3, 4), dtype="f8",
                                                              external=[(str(raw), 0, 96)]))
    refused_everywhere(path, tmp_path, capsys, "node 'fc'", "field 'weight'", "another file")


def test_virtual_dataset_is_refused(tmp_path, capsys):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["data"] = [[2.0] * 4] * 3

    def virtual(group, leaf):
        layout = h5py.VirtualLayout(shape=(3, 4), dtype="f8")
        layout[:] = h5py.VirtualSource(str(other), "data", shape=(3, 4))
        group.create_virtual_dataset(leaf, layout, fillvalue=0)

    path = H.replace_dataset(H.small_file(tmp_path / "g.nir"), WEIGHT, virtual)
    refused_everywhere(path, tmp_path, capsys, "node 'fc'", "field 'weight'", "virtual dataset")


def test_link_outside_the_graph_is_refused_too(tmp_path, capsys):
    path = H.small_file(tmp_path / "g.nir")
    with h5py.File(path, "r+") as f:
        f["elsewhere"] = h5py.ExternalLink("/etc/passwd", "/")
    H.refused(["inspect", path], capsys, "field 'elsewhere'", "external link")


def test_refused_export_leaves_an_existing_output_unchanged(tmp_path, capsys):
    path = H.replace_dataset(H.small_file(tmp_path / "g.nir"), WEIGHT,
                             lambda g, leaf: g.__setitem__(leaf, h5py.SoftLink("/nowhere")))
    out = tmp_path / "deployed.nir"
    out.write_bytes(b"previous export")
    H.refused(["export", path, "--target", "generic", "-o", out], capsys, "soft link")
    assert out.read_bytes() == b"previous export"


def test_a_clean_peer_file_still_loads(tmp_path, capsys):
    path = H.small_file(tmp_path / "g.nir")
    for name, (args, out) in H.commands(path, tmp_path).items():
        H.accepted(args, capsys)
        assert out is None or out.exists(), name
    assert set(nirconv.load(path).nodes) == {"input", "fc", "lif", "output"}
