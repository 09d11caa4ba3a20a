"""Writes under faults (issue 11): every file nirconv produces goes through
nirconv/nir_io/atomic.py.

A destination that is a folder, device, fifo or socket is refused untouched; a full disk, a file
size limit or an unwritable folder is exit 2 with one line naming the path and the OS reason; an
existing output stays intact; no temporary file survives an error or a signal, and the ones a
``kill -9`` leaves are swept by the next write into the folder.
"""
from __future__ import annotations

import errno
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import nir
import numpy as np
import pytest

import nirconv
from nirconv.cli import main
from nirconv.errors import BadInput
from nirconv.nir_io import atomic

KEEP = b"an existing output that must stay intact\n"


# ------------------------------------------------------------------ helpers

def leftovers(folder) -> list[str]:
    """Anything in ``folder`` that looks like a temporary file (ours or any other)."""
    return sorted(p.name for p in Path(folder).iterdir()
                  if ".nirconv-" in p.name or p.name.endswith(".tmp"))


def dense_graph() -> nir.NIRGraph:
    rng = np.random.default_rng(0)
    nodes = {"input": nir.Input(input_type=np.array([6])),
             "fc1": nir.Affine(weight=rng.normal(size=(8, 6)), bias=np.zeros(8)),
             "if1": nir.IF(r=np.ones(8), v_threshold=np.ones(8), metadata={"reset": "subtract"}),
             "fc2": nir.Affine(weight=rng.normal(size=(3, 8)), bias=np.zeros(3)),
             "if2": nir.IF(r=np.ones(3), v_threshold=np.ones(3), metadata={"reset": "subtract"}),
             "output": nir.Output(output_type=np.array([3]))}
    edges = [("input", "fc1"), ("fc1", "if1"), ("if1", "fc2"), ("fc2", "if2"), ("if2", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": 1e-3})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A float graph, its xylo and loihi2 exports, an input array."""
    d = tmp_path_factory.mktemp("writes")
    graph = dense_graph()
    nirconv.save(graph, d / "g.nir")
    np.save(d / "x.npy", np.random.default_rng(1).random((4, 6)).astype(np.float32))
    np.save(d / "y.npy", np.zeros(4, np.int64))
    nirconv.save(nirconv.export(graph, target="xylo"), d / "xylo.nir")
    nirconv.save(nirconv.export(graph, target="loihi2"), d / "loihi2.nir")
    return d


def _special(folder: Path, kind: str, name: str = "out.npy") -> Path | None:
    """A non-regular file of ``kind`` at folder/name (None where this system does not allow it)."""
    path = folder / name
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "chardev":  # a private /dev/null: never test against the real one
        try:
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except (PermissionError, OSError):
            return None
    elif kind == "socket":
        if len(str(path)) > 100:
            return None
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()
    return path


def _fingerprint(path: Path):
    st = os.lstat(path)
    listing = sorted(os.listdir(path)) if stat.S_ISDIR(st.st_mode) else None
    return stat.S_IFMT(st.st_mode), st.st_rdev, st.st_ino, listing


SPECIALS = ("folder", "fifo", "chardev", "socket")
WORDS = {"folder": "folder", "fifo": "fifo", "chardev": "character device", "socket": "socket"}


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    return err


# ------------------------------------------------------------------ the destination checks

@pytest.mark.parametrize("kind", SPECIALS)
def test_a_non_file_destination_is_refused_untouched(tmp_path, kind):
    path = _special(tmp_path, kind)
    if path is None:
        pytest.skip(f"cannot create a {kind} here")
    before = _fingerprint(path)
    with pytest.raises(BadInput) as e:
        atomic.atomic_write_bytes(path, b"data")
    assert WORDS[kind] in e.value.message and e.value.file == str(path)
    assert _fingerprint(path) == before and leftovers(tmp_path) == []


def test_dev_null_is_refused_by_the_check():
    """Only the read-only check runs here: a regression must not be able to replace /dev/null."""
    if not stat.S_ISCHR(os.stat("/dev/null").st_mode):
        pytest.skip("/dev/null is not a character device on this system")
    with pytest.raises(BadInput, match="character device"):
        atomic.check_destination("/dev/null")


def _commands(files: Path, dest: Path) -> dict:
    """Every subcommand option that writes a file, with ``dest`` as that file."""
    g, x, y = str(files / "g.nir"), str(files / "x.npy"), str(files / "y.npy")
    d = str(dest)
    return {
        "convert": ["convert", str(files / "model.pt2"), "--calibration", x, "-o", d],
        "export nir": ["export", g, "--target", "generic", "-o", d],
        "export rockpool": ["export", g, "--target", "xylo", "--format", "rockpool", "-o", d],
        "export netx": ["export", g, "--target", "loihi2", "--format", "netx", "-o", d],
        "simulate": ["simulate", g, "--input", x, "--timesteps", "2", "-o", d],
        "audit --json": ["audit", g, str(files / "loihi2.nir"), "--data", x, "--labels", y,
                         "--json", d],
        "audit --report": ["audit", g, str(files / "loihi2.nir"), "--data", x, "--labels", y,
                           "--report", d],
        "demo --out": ["demo", "--out", d],
    }


@pytest.mark.parametrize("kind", SPECIALS)
def test_every_writing_command_refuses_a_non_file_output(files, tmp_path, capsys, kind):
    dest = _special(tmp_path, kind)
    if dest is None:
        pytest.skip(f"cannot create a {kind} here")
    before = _fingerprint(dest)
    for name, args in _commands(files, dest).items():
        if name == "demo --out" and kind == "folder":
            continue  # the demo's output is a folder
        assert main(args) == 2, name
        err = _one_line(capsys)
        assert str(dest) in err or "'out.npy'" in err, (name, err)  # click quotes the name
        assert _fingerprint(dest) == before, name
    assert leftovers(tmp_path) == []


def test_demo_out_that_is_a_file_is_refused_before_the_work(tmp_path, capsys):
    out = tmp_path / "demo"
    out.write_bytes(KEEP)
    assert main(["demo", "--out", str(out), "--no-progress"]) == 2
    assert "not a folder" in _one_line(capsys)
    assert out.read_bytes() == KEEP and leftovers(tmp_path) == []


def test_library_writers_refuse_a_fifo(files, tmp_path):
    from nirconv.vendors.netx import write_netx
    from nirconv.vendors.xylo import write_rockpool_npz

    fifo = _special(tmp_path, "fifo", "out.bin")
    writers = {"save": lambda: nirconv.save(dense_graph(), fifo),
               "rockpool": lambda: write_rockpool_npz(nirconv.load(files / "xylo.nir"), fifo),
               "netx": lambda: write_netx(nirconv.load(files / "loihi2.nir"), fifo),
               "text": lambda: atomic.atomic_write_text(fifo, "{}")}
    for name, write in writers.items():
        with pytest.raises(BadInput, match="fifo"):
            write()
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and leftovers(tmp_path) == []


def test_missing_folder_and_no_file_name(tmp_path, files, capsys):
    out = tmp_path / "no" / "such" / "dep.nir"
    assert main(["export", str(files / "g.nir"), "--target", "generic", "-o", str(out)]) == 2
    assert "output folder does not exist" in _one_line(capsys)
    with pytest.raises(BadInput, match="not a file name"):
        atomic.check_destination(tmp_path / "..")


# ------------------------------------------------------------------ faults while writing

def _fail_temp_writes(monkeypatch, err: int):
    """os.write raises ``err`` for our temporary files (what a full disk or quota does)."""
    real = os.write

    def write(fd, data):
        if ".nirconv-" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(err, os.strerror(err))
        return real(fd, data)

    monkeypatch.setattr(os, "write", write)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
@pytest.mark.parametrize("fmt,graph,target", [("nir", "g.nir", "generic"),
                                              ("rockpool", "g.nir", "xylo"),
                                              ("netx", "g.nir", "loihi2")])
def test_full_disk_is_exit_2_and_the_old_file_stays(files, tmp_path, capsys, monkeypatch, fmt,
                                                    graph, target):
    out = tmp_path / "dep.out"
    out.write_bytes(KEEP)
    _fail_temp_writes(monkeypatch, errno.ENOSPC)
    args = ["export", str(files / graph), "--target", target, "--format", fmt, "-o", str(out)]
    assert main(args) == 2
    err = _one_line(capsys)
    assert "No space left on device" in err and str(out) in err
    assert out.read_bytes() == KEEP and leftovers(tmp_path) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_io_errors_of_every_writer_are_bad_input(files, tmp_path, monkeypatch):
    _fail_temp_writes(monkeypatch, errno.EIO)
    with pytest.raises(BadInput, match="Input/output error"):
        nirconv.save(dense_graph(), tmp_path / "g.nir")
    with pytest.raises(BadInput, match="Input/output error"):
        atomic.atomic_write_text(tmp_path / "r.json", "{}")
    assert main(["simulate", str(files / "g.nir"), "--input", str(files / "x.npy"),
                 "--timesteps", "2", "-o", str(tmp_path / "o.npy")]) == 2
    assert os.listdir(tmp_path) == []


def test_unwritable_folder_names_the_os_reason(files, tmp_path, capsys, monkeypatch):
    """EACCES when the temporary file is created (root ignores chmod: simulated for everyone)."""
    real = os.open

    def deny(path, flags, *args, **kwargs):
        if flags & os.O_CREAT and ".nirconv-" in str(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    out = tmp_path / "dep.nir"
    assert main(["export", str(files / "g.nir"), "--target", "generic", "-o", str(out)]) == 2
    err = _one_line(capsys)
    assert "Permission denied" in err and str(out) in err and not out.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a 0o555 folder anyway; the "
                                              "EACCES path is covered by the test above")
def test_read_only_folder_is_refused_before_the_work(files, tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        out = folder / "dep.nir"
        assert main(["export", str(files / "g.nir"), "--target", "generic", "-o",
                     str(out)]) == 2
        err = _one_line(capsys)
        assert "Permission denied" in err and str(out) in err and os.listdir(folder) == []
    finally:
        folder.chmod(0o755)


def test_an_exception_while_writing_leaves_nothing(tmp_path):
    out = tmp_path / "out.bin"
    out.write_bytes(KEEP)
    with pytest.raises(ZeroDivisionError):
        with atomic.atomic_path(out) as tmp:
            tmp.write_bytes(b"half")
            1 / 0
    assert out.read_bytes() == KEEP and leftovers(tmp_path) == []


def test_new_files_get_the_usual_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        atomic.atomic_write_text(tmp_path / "a.json", "{}")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(os.stat(tmp_path / "a.json").st_mode) == 0o644


# ------------------------------------------------------------------ file size limit (ulimit -f)

FSIZE_SCRIPT = r"""
import contextlib, io, json, os, resource, sys
from nirconv.cli import main
folder = sys.argv[1]
_, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
results = {}
for name, args, limit in json.loads(sys.argv[2]):
    err = io.StringIO()
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = main(args)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    results[name] = [rc, err.getvalue()]
print(json.dumps(results))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE semantics of Linux")
def test_file_size_limit_is_exit_2_not_a_crash(files, tmp_path):
    """``ulimit -f``: h5py used to crash (SIGSEGV) and leave its temporary file. Each writer runs
    under a limit below the size of its output, in a subprocess (the limit is per process)."""
    g, x = str(files / "g.nir"), str(files / "x.npy")
    outs = {"export nir": (["export", g, "--target", "generic"], "dep.nir"),
            "export rockpool": (["export", g, "--target", "xylo", "--format", "rockpool"],
                                "dep.npz"),
            "export netx": (["export", g, "--target", "loihi2", "--format", "netx"], "dep.net"),
            "simulate": (["simulate", g, "--input", x, "--timesteps", "64"], "out.npy")}
    jobs = []
    for name, (args, out) in outs.items():  # the real size first, without a limit
        probe = tmp_path / f"probe-{out}"
        assert main(args + ["-o", str(probe)]) == 0
        (tmp_path / out).write_bytes(KEEP)
        jobs.append((name, args + ["-o", str(tmp_path / out)], probe.stat().st_size // 2))
        probe.unlink()
    proc = subprocess.run([sys.executable, "-c", FSIZE_SCRIPT, str(tmp_path), json.dumps(jobs)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for name, (rc, err) in json.loads(proc.stdout.splitlines()[-1]).items():
        assert rc == 2, (name, err)
        assert len(err.splitlines()) == 1 and "file size limit exceeded" in err, (name, err)
    for _, out in outs.values():
        assert (tmp_path / out).read_bytes() == KEEP
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------ temp naming and the sweep

def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temp_names_follow_one_scheme():
    name = atomic.temp_name("dep.nir")
    assert name.startswith(".dep.nir.nirconv-") and name.endswith(".tmp")
    assert atomic.is_our_temp(name) and f"-{os.getpid()}-" in name
    assert not atomic.is_our_temp(".dep.nir.tmp") and not atomic.is_our_temp("dep.nir")
    assert len(atomic.temp_name("x" * 255)) < 100  # NAME_MAX


def test_stale_temps_of_our_naming_are_swept_and_nothing_else(tmp_path):
    dead = _dead_pid()
    stale_file = tmp_path / f".out.nir.nirconv-{dead}-0123abcd.tmp"
    stale_dir = tmp_path / f".nirconv-demo.nirconv-{dead}-89abcdef.tmp"
    live = tmp_path / f".other.nir.nirconv-{os.getpid()}-00000000.tmp"
    old_live = tmp_path / f".old.nir.nirconv-{os.getpid()}-11111111.tmp"
    unrelated = [tmp_path / ".foo.tmp", tmp_path / f"nirconv-{dead}-0123abcd.tmp",
                 tmp_path / f".x.nirconv-{dead}-0123abcd.tmp.bak", tmp_path / "notes.txt"]
    for p in (stale_file, live, old_live, *unrelated):
        p.write_bytes(b"x" * 1000)
    stale_dir.mkdir()
    (stale_dir / "snn.nir").write_bytes(b"x")
    day_ago = time.time() - 2 * 24 * 3600
    os.utime(old_live, (day_ago, day_ago))
    target = tmp_path.parent / f"{tmp_path.name}-elsewhere.txt"
    target.write_text("not ours")
    link = tmp_path / f".link.nirconv-{dead}-22222222.tmp"
    link.symlink_to(target)

    atomic.atomic_write_bytes(tmp_path / "out.nir", b"new")

    assert not stale_file.exists() and not stale_dir.exists() and not old_live.exists()
    assert live.exists() and all(p.exists() for p in unrelated)
    assert link.is_symlink() and target.read_text() == "not ours"  # links are never ours
    assert (tmp_path / "out.nir").read_bytes() == b"new"


KILL9_SCRIPT = r"""
import sys, time
from nirconv.nir_io import atomic
real = atomic._write_all
def stuck(path, data):
    real(path, data[: len(data) // 2])
    print("ready", flush=True)
    time.sleep(60)
atomic._write_all = stuck
atomic.atomic_write_bytes(sys.argv[1], b"y" * 100000)
"""


def test_kill_9_leaves_a_temp_that_the_next_write_removes(tmp_path):
    out = tmp_path / "out.nir"
    out.write_bytes(KEEP)
    proc = subprocess.Popen([sys.executable, "-c", KILL9_SCRIPT, str(out)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
    finally:
        proc.kill()
        proc.wait()
    assert len(leftovers(tmp_path)) == 1 and out.read_bytes() == KEEP  # what kill -9 leaves
    atomic.atomic_write_bytes(tmp_path / "other.nir", b"z")
    assert leftovers(tmp_path) == [] and out.read_bytes() == KEEP


# ------------------------------------------------------------------ signals during a write

SIGNAL_SCRIPT = r"""
import os, signal, sys, time
from nirconv.cli import main
from nirconv.nir_io import atomic
real = atomic._write_all
def interrupted(path, data):
    real(path, data[: len(data) // 2])
    os.kill(os.getpid(), getattr(signal, sys.argv[2]))
    time.sleep(30)
    raise SystemExit("the signal did not interrupt the write")
atomic._write_all = interrupted
sys.exit(main(sys.argv[3:]))
"""


@pytest.mark.parametrize("sig,expected", [("SIGTERM", -signal.SIGTERM),
                                          ("SIGHUP", -signal.SIGHUP),
                                          ("SIGINT", 130)])  # KeyboardInterrupt -> 130
def test_a_signal_during_a_write_removes_the_temp_and_takes_its_course(files, tmp_path, sig,
                                                                        expected):
    out = tmp_path / "dep.nir"
    out.write_bytes(KEEP)
    args = ["export", str(files / "g.nir"), "--target", "generic", "-o", str(out)]
    proc = subprocess.run([sys.executable, "-c", SIGNAL_SCRIPT, str(out), sig, *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == expected, proc.stderr
    assert out.read_bytes() == KEEP and leftovers(tmp_path) == []


class _Handled(Exception):
    pass


def test_a_python_handler_runs_after_the_cleanup_and_is_restored(tmp_path, monkeypatch):
    def handler(signum, frame):
        raise _Handled(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        real = atomic._write_all

        def interrupted(path, data):
            real(path, data)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)

        monkeypatch.setattr(atomic, "_write_all", interrupted)
        with pytest.raises(_Handled):
            with atomic.temp_folder(tmp_path / "demo") as work:  # nested: folder + file
                atomic.atomic_write_bytes(work / "a.nir", b"data")
        assert signal.getsignal(signal.SIGTERM) is handler
        assert os.listdir(tmp_path) == []
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_handlers_are_restored_after_a_normal_write(tmp_path):
    before = {s: signal.getsignal(s) for s in atomic.CLEANUP_SIGNALS}
    xfsz = signal.getsignal(signal.SIGXFSZ)
    atomic.atomic_write_text(tmp_path / "a.json", "{}")
    assert {s: signal.getsignal(s) for s in atomic.CLEANUP_SIGNALS} == before
    assert signal.getsignal(signal.SIGXFSZ) == xfsz
