"""Loading the models the CLI accepts, without ever unpickling or running code from the file.

* ``.pt2``: a ``torch.export`` program (``torch.export.save``). `pt2_archive.checked_archive` reads
  the zip itself and refuses every entry torch would unpickle or run, then ``torch.export.load``
  reads the checked copy inside `load_guard.no_code_from_files` (two independent defences).
* a ``state_dict`` file, read with ``torch.load(weights_only=True)`` (refuses arbitrary pickles),
  loaded into the module built by ``--arch module:callable`` (called without arguments). ``--arch``
  imports and runs the user's own code, by design.

Every failure is a one-line `BadInput` naming the file (and the field when known). See
docs/model_files.md.
"""
from __future__ import annotations

import contextlib
import importlib
import sys
import warnings
import zipfile
from pathlib import Path

import torch

from ..errors import BadInput
from . import load_guard, pt2_archive


def load_model(path, arch: str | None = None):
    """An ``nn.Module`` (eval mode) or a ``torch.export.ExportedProgram``."""
    path = Path(path)
    if not path.exists():
        raise BadInput("file not found", file=path)
    if not path.is_file():
        raise BadInput("not a file", file=path)
    if arch is None:
        if path.suffix != ".pt2":
            raise BadInput("not a torch.export program (.pt2); a state_dict needs "
                           "--arch module:callable", file=path, field="model")
        model = load_exported(path)
    else:
        model = load_state_dict_model(path, arch)
    check_finite(model, path)
    return model


def check_finite(model, path) -> None:
    """Every parameter and buffer finite (NaN/inf weights are bad input, whatever the command)."""
    if isinstance(model, torch.nn.Module):
        named = list(model.named_parameters()) + list(model.named_buffers())
    else:
        named = list(model.state_dict.items()) + list(getattr(model, "constants", {}).items())
    for name, value in named:
        if isinstance(value, torch.Tensor) and value.is_floating_point() and \
                not bool(torch.isfinite(value).all()):
            raise BadInput("contains NaN or infinite values", file=path, node=name, field="weight")


def load_exported(path: Path):
    """The ``ExportedProgram`` of a ``.pt2``, read so that nothing in it is unpickled or run."""
    archive = pt2_archive.checked_archive(path)
    logged: list[BaseException] = []
    try:
        with warnings.catch_warnings(), load_guard.no_code_from_files() as logged:
            warnings.simplefilter("ignore")
            program = torch.export.load(archive)
    except load_guard.Refused as e:
        raise BadInput(f"refused: the file asks torch for {e}", file=path, field="model") from None
    except Exception as e:
        cause = logged[0] if logged else e  # torch logs the real cause, then raises a generic one
        raise BadInput(f"cannot read the torch.export program ({type(cause).__name__}: "
                       f"{_first_line(cause)})", file=path, field="model") from None
    if not isinstance(program, torch.export.ExportedProgram):
        raise BadInput("does not hold a torch.export program", file=path, field="model")
    load_guard.check_loaded_program(program, path)
    return program


def build_arch(arch: str):
    """The module ``--arch module:callable`` builds: imports and runs the user's code, by design.

    The working folder is first on ``sys.path`` only while the module is imported (as with
    ``python -m``), so a ``rich.py`` or ``numpy.py`` lying there cannot shadow a library nirconv
    imports later. Anything the user's code raises, ``SystemExit`` included, is a `BadInput`
    naming ``arch``; only ``KeyboardInterrupt`` passes through.
    """
    module_name, _, attr = arch.partition(":")
    if not module_name or not attr:
        raise BadInput(f"--arch must be 'module:callable', is {arch!r}", field="arch")
    factory = _user_callable(arch, module_name, attr)
    try:
        model = factory()
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # the user's code: SystemExit(0) must not end nirconv with 0
        raise BadInput(f"{arch!r}() failed ({type(e).__name__}: {_first_line(e)})",
                       field="arch") from None
    if not isinstance(model, torch.nn.Module):
        raise BadInput(f"{arch!r}() returned a {type(model).__name__}, not a torch.nn.Module",
                       field="arch")
    return model


def _user_callable(arch: str, module_name: str, attr: str):
    try:
        with _working_folder_first_on_path():
            module = importlib.import_module(module_name)
        return getattr(module, attr)
    except KeyboardInterrupt:
        raise
    except (ImportError, AttributeError) as e:
        raise BadInput(f"cannot import {arch!r} ({type(e).__name__}: {_first_line(e)})",
                       field="arch") from None
    except BaseException as e:  # raised by the user's module while it was imported
        raise BadInput(f"importing {module_name!r} failed ({type(e).__name__}: "
                       f"{_first_line(e)})", field="arch") from None


@contextlib.contextmanager
def _working_folder_first_on_path():
    """The working folder first on ``sys.path`` for the block; ``sys.path`` restored exactly."""
    saved = list(sys.path)
    sys.path.insert(0, str(Path.cwd()))
    try:
        yield
    finally:
        sys.path[:] = saved


def load_state_dict_model(path: Path, arch: str) -> torch.nn.Module:
    _check_state_dict_size(path)
    try:
        with warnings.catch_warnings(), load_guard.no_code_from_files():
            warnings.simplefilter("ignore")  # protocol notes from the weights-only unpickler
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except load_guard.Refused as e:
        raise BadInput(f"refused: the file asks torch for {e}", file=path, field="model") from None
    except Exception as e:
        kind = "refused to unpickle: not a plain state_dict" if "weights_only" in str(e) or \
            "Unpickl" in type(e).__name__ else "cannot read a state_dict"
        raise BadInput(f"{kind} ({type(e).__name__})", file=path, field="model") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BadInput("not a state_dict (a dict of tensors)", file=path, field="model")
    model = build_arch(arch)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise BadInput(f"does not match --arch {arch} ({_first_line(e)})", file=path,
                       field="model") from None
    for name, value in state.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            node, _, field = name.rpartition(".")
            raise BadInput("contains NaN or infinite values", file=path, node=node or name,
                           field=field)
    return model.eval()


def _check_state_dict_size(path: Path) -> None:
    """A state_dict zip whose entries declare more than we would ever read is refused unread."""
    limit = pt2_archive.MAX_ARCHIVE_BYTES
    try:
        declared = path.stat().st_size
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                declared = max(declared, sum(info.file_size for info in zf.infolist()))
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as e:
        raise BadInput(f"cannot read a state_dict ({type(e).__name__})", file=path,
                       field="model") from None
    if declared > limit:
        raise BadInput(f"declares {declared} bytes, more than the {limit} allowed", file=path,
                       field="model")


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return " ".join(text[0].split())[:200] if text else ""
