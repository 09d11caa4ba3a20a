"""Loading the models the CLI accepts, without ever unpickling.

* ``.pt2``: a ``torch.export`` program (``torch.export.save``), read with ``torch.export.load``.
* a ``state_dict`` file, read with ``torch.load(weights_only=True)`` (refuses arbitrary pickles),
  loaded into the module built by ``--arch module:callable`` (called without arguments).

Every failure is a one-line `BadInput` naming the file (and the field when known).
"""
from __future__ import annotations

import importlib
import sys
import warnings
import zipfile
from pathlib import Path

import torch

from ..errors import BadInput


def load_model(path, arch: str | None = None):
    """An ``nn.Module`` (eval mode) or a ``torch.export.ExportedProgram``."""
    path = Path(path)
    if not path.exists():
        raise BadInput("file not found", file=path)
    if not path.is_file():
        raise BadInput("not a file", file=path)
    if arch is None:
        if not zipfile.is_zipfile(path) or path.suffix != ".pt2":
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
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.export.load(str(path))
    except Exception as e:
        raise BadInput(f"cannot read the torch.export program ({type(e).__name__}: "
                       f"{_first_line(e)})", file=path, field="model") from None


def build_arch(arch: str):
    module_name, _, attr = arch.partition(":")
    if not module_name or not attr:
        raise BadInput(f"--arch must be 'module:callable', is {arch!r}", field="arch")
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # as `python -m` does: the user's own modules
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise BadInput(f"cannot import {arch!r} ({type(e).__name__}: {_first_line(e)})",
                       field="arch") from None
    try:
        model = factory()
    except Exception as e:
        raise BadInput(f"{arch!r}() failed ({type(e).__name__}: {_first_line(e)})",
                       field="arch") from None
    if not isinstance(model, torch.nn.Module):
        raise BadInput(f"{arch!r}() returned a {type(model).__name__}, not a torch.nn.Module",
                       field="arch")
    return model


def load_state_dict_model(path: Path, arch: str) -> torch.nn.Module:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # protocol notes from the weights-only unpickler
            state = torch.load(str(path), map_location="cpu", weights_only=True)
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


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return " ".join(text[0].split())[:200] if text else ""
