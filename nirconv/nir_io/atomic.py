"""The one writer of every file nirconv produces: check the destination, write a temporary file
beside it, rename. No partial output, no surviving temporary file, one-line errors.

Guarantees (README, "Security and untrusted files"):

* The destination is checked first: an existing folder, character or block device, fifo or socket
  (also behind a symbolic link) is refused (`BadInput`, exit 2) and left untouched; so is a missing
  or unwritable folder (the OS reason, e.g. "Permission denied", is in the message). An existing
  file stays intact until the new one is complete and flushed (``fsync``, then ``os.replace``; a
  symbolic link to a file is replaced by the new file, never written through).
* Temporary files are named ``.<name>.nirconv-<pid>-<random>.tmp`` (folders for the demo the same
  way). Every write sweeps its folder of stale ones: our naming, and a writer process that is no
  longer alive (``kill -9``) or older than `STALE_AFTER_S`. Nothing else is ever removed.
* Faults: an ``OSError`` while writing (full disk ENOSPC, file size limit EFBIG from
  ``ulimit -f``, quota, I/O error) becomes a `BadInput` naming the path and the OS reason, with
  the temporary file removed. SIGXFSZ is ignored while writing so that a size limit is an error
  and not a kill. SIGTERM, SIGINT and SIGHUP during a write remove the temporary file, then take
  their usual course (the previous handler, or the default action: the process ends by that
  signal). Writers that use a library (h5py, numpy) serialize into memory first and hand the bytes
  to `atomic_write_bytes`, so a failing write happens in our own code, never inside h5py.
"""
from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import signal
import stat
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from ..errors import BadInput

TEMP_SUFFIX = ".tmp"
TEMP_RE = re.compile(r"^\..*\.nirconv-(?P<pid>\d{1,10})-[0-9a-f]{8}\.tmp$", re.DOTALL)
STALE_AFTER_S = 24 * 3600  # a temp of a live pid this old is from a reused pid: stale as well
CLEANUP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGINT", "SIGHUP")
                        if hasattr(signal, n))
_NOT_A_FILE = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe (fifo)"),
               (stat.S_ISSOCK, "a socket"))


# ---------------------------------------------------------------- destination checks

def check_destination(path) -> Path:
    """``path`` as a `Path` if a regular file may be written there; `BadInput` otherwise.

    Called early by the commands (before long work) and again by every write."""
    path = Path(path)
    if path.name in ("", ".", ".."):
        raise BadInput("is not a file name", file=path)
    _refuse_non_file(path, _stat(path))
    _check_folder(path, path.parent if str(path.parent) else Path("."))
    return path


def check_folder_destination(path) -> Path:
    """``path`` as a `Path` if it is, or can become, a folder of outputs (the demo's ``--out``)."""
    path = Path(path)
    st = _stat(path)
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise BadInput(f"is {_kind(st.st_mode)}, not a folder", file=path)
    if st is not None:
        _check_writable(path, path)
    else:
        _check_folder(path, path.parent if str(path.parent) else Path("."))
    return path


def _stat(path: Path):
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise BadInput("a parent of the output path is not a folder", file=path) from None
    except OSError as e:
        raise BadInput(f"cannot use as output ({_reason(e)})", file=path) from None


def _kind(mode: int) -> str:
    for test, name in _NOT_A_FILE:
        if test(mode):
            return name
    return "not a regular file"


def _refuse_non_file(path: Path, st) -> None:
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise BadInput(f"is {_kind(st.st_mode)}, not a regular file: nirconv writes only "
                       "regular files and leaves this one untouched", file=path)


def _check_folder(path: Path, folder: Path) -> None:
    st = _stat(folder)
    if st is None:
        raise BadInput("output folder does not exist", file=path)
    if not stat.S_ISDIR(st.st_mode):
        raise BadInput("a parent of the output path is not a folder", file=path)
    _check_writable(path, folder)


def _check_writable(path: Path, folder: Path) -> None:
    if os.access(folder, os.W_OK | os.X_OK):
        return
    reason = os.strerror(errno.EROFS if _read_only_fs(folder) else errno.EACCES)
    raise BadInput(f"cannot write into the output folder ({reason})", file=path)


def _read_only_fs(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _reason(e: OSError) -> str:
    return e.strerror or type(e).__name__


def write_error(e: OSError, path) -> BadInput:
    """An OSError met while writing ``path`` as the one-line `BadInput` users see."""
    if e.errno == errno.EFBIG:
        return BadInput(f"could not write: file size limit exceeded ({_reason(e)}; see "
                        "'ulimit -f')", file=path)
    return BadInput(f"could not write: {_reason(e)}", file=path)


# ---------------------------------------------------------------- temporary names and the sweep

def temp_name(name: str) -> str:
    """``.<name>.nirconv-<pid>-<random>.tmp`` (the name cut to 40 characters: NAME_MAX)."""
    return f".{name[:40]}.nirconv-{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}"


def is_our_temp(name: str) -> bool:
    return TEMP_RE.match(name) is not None


def sweep_stale(folder) -> list[Path]:
    """Remove temporaries of our naming in ``folder`` whose writer is gone (``kill -9``, power
    loss) or that are older than `STALE_AFTER_S`; return what was removed. Never touches any
    other name, never follows a link; errors are ignored (a sweep is housekeeping)."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = TEMP_RE.match(entry.name)
        if match is None or not _is_stale(entry, int(match["pid"]), now):
            continue
        if _remove(Path(entry.path)):
            removed.append(Path(entry.path))
    return removed


def _is_stale(entry: os.DirEntry, pid: int, now: float) -> bool:
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return False
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        return False  # we never make links, devices or pipes: not ours
    return not _pid_alive(pid) or now - st.st_mtime > STALE_AFTER_S


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False  # os.kill(0, ...) would mean our process group
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    except (OverflowError, OSError):
        return False
    return True


def _remove(path: Path) -> bool:
    """Remove a temp file or temp folder of ours; True if something was removed."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    try:
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    except OSError:
        return False
    return True


# ---------------------------------------------------------------- signals during a write

class _Interrupted(BaseException):
    """Raised by our handler to unwind a write (its ``finally`` removes the temp); re-delivered
    by the outermost guard. A BaseException so that ``except Exception`` does not swallow it."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


_guard_state = {"depth": 0, "previous": {}, "owner": None}


def _on_signal(signum, frame):
    if os.getpid() != _guard_state["owner"]:  # a forked child: not our write
        _redeliver(signum, _guard_state["previous"].get(signum, signal.SIG_DFL), frame)
        return
    raise _Interrupted(signum)


def _install() -> None:
    previous = {}
    for sig in CLEANUP_SIGNALS:
        current = signal.getsignal(sig)
        if current is signal.SIG_DFL or callable(current):  # not SIG_IGN (nohup), not foreign C
            previous[sig] = current
            signal.signal(sig, _on_signal)
    xfsz = getattr(signal, "SIGXFSZ", None)  # a size limit must be EFBIG, not a kill
    if xfsz is not None and signal.getsignal(xfsz) not in (signal.SIG_IGN, None):
        previous[xfsz] = signal.signal(xfsz, signal.SIG_IGN)
    _guard_state.update(previous=previous, owner=os.getpid())


def _restore() -> None:
    for sig, handler in _guard_state["previous"].items():
        signal.signal(sig, handler)
    _guard_state["previous"] = {}


def _redeliver(signum: int, handler, frame=None) -> None:
    """Let the signal take its usual course now that nothing of ours is left behind."""
    if callable(handler):
        handler(signum, frame)  # e.g. SIGINT's default_int_handler raises KeyboardInterrupt
        return
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)  # the default action ends the process by this signal


@contextmanager
def _guarded(path: Path):
    """Signals during the block unwind it (its ``finally`` clauses remove the temps) and are then
    re-delivered. Only the main thread can hold handlers; writes in other threads rely on their
    ``finally`` and on the sweep."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    outermost = _guard_state["depth"] == 0
    if outermost:
        _install()
    _guard_state["depth"] += 1
    interrupted, previous = None, {}
    try:
        yield
    except _Interrupted as e:
        if not outermost:
            raise
        interrupted = e.signum
    finally:
        _guard_state["depth"] -= 1
        if outermost:
            previous = dict(_guard_state["previous"])
            _restore()
    if interrupted is not None:
        _redeliver(interrupted, previous.get(interrupted, signal.SIG_DFL))
        raise BadInput(f"interrupted by {signal.Signals(interrupted).name}; nothing written",
                       file=path)


# ---------------------------------------------------------------- the writers

def _create_temp(dest: Path) -> Path:
    folder = dest.parent if str(dest.parent) else Path(".")
    for _ in range(16):
        tmp = folder / temp_name(dest.name)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                         0o666)  # the umask applies, as for any new file
        except FileExistsError:
            continue
        except OSError as e:
            raise BadInput(f"cannot create a file in the output folder ({_reason(e)})",
                           file=dest) from None
        os.close(fd)
        return tmp
    raise BadInput("cannot create a temporary file in the output folder", file=dest)


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path`` (our naming), renamed onto ``path`` when the block
    succeeds and removed otherwise. For writers that need a path; a library that writes to the
    path itself may crash on a failed write (h5py does), so serialize into memory and use
    `atomic_write_bytes` where you can."""
    dest = check_destination(path)
    sweep_stale(dest.parent if str(dest.parent) else Path("."))
    tmp = None
    with _guarded(dest):
        try:
            tmp = _create_temp(dest)
            yield tmp
            _refuse_non_file(dest, _stat(dest))  # it may have changed while we wrote
            os.replace(tmp, dest)
        except OSError as e:
            raise write_error(e, dest) from None
        finally:
            if tmp is not None:
                _remove_file(tmp)


def _remove_file(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError:
        pass  # the sweep of the next write takes it


def _write_all(path: Path, data) -> None:
    """os.write until every byte is out (short writes happen), then fsync."""
    view = memoryview(data).cast("B")
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0))
    try:
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path, data) -> Path:
    """Write ``data`` (bytes-like) to ``path`` atomically; faults are `BadInput` naming it."""
    with atomic_path(path) as tmp:
        _write_all(tmp, data)
    return Path(path)


def atomic_write_text(path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


@contextmanager
def temp_folder(beside):
    """A fresh folder named like our temp files next to ``beside`` (the demo builds its outputs
    there); removed when the block ends, whatever happens, and swept if the process is killed."""
    beside = Path(beside)
    parent = beside.parent if str(beside.parent) else Path(".")
    sweep_stale(parent)
    with _guarded(beside):
        work = _create_temp_folder(parent, beside)
        try:
            yield work
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _create_temp_folder(parent: Path, beside: Path) -> Path:
    for _ in range(16):
        work = parent / temp_name(beside.name)
        try:
            os.mkdir(work)
        except FileExistsError:
            continue
        except OSError as e:
            raise BadInput(f"cannot create a folder beside the output ({_reason(e)})",
                           file=beside) from None
        return work
    raise BadInput("cannot create a temporary folder beside the output", file=beside)
