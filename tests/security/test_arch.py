"""``--arch module:callable`` runs the user's code by design, but only that code, only once, and
never decides nirconv's exit code (docs/model_files.md)."""
from __future__ import annotations

import sys
import textwrap
import uuid

import numpy as np
import pytest
import torch

from nirconv.cli import main
from nirconv.conversion.model_io import build_arch
from nirconv.errors import BadInput

TINY = """
    import torch
    from torch import nn

    def tiny():
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))

    def exits():
        raise SystemExit(0)
"""

SHADOW = """
    open({marker!r}, "w").close()  # a library shadowed by a file in the working folder
    raise ImportError("this is not the real library")
"""


@pytest.fixture()
def work(tmp_path, monkeypatch):
    """A working folder with the user's module (a unique name: no stale ``sys.modules`` entry)."""
    module = f"user_models_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(TINY))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    torch.save(model.state_dict(), tmp_path / "tiny.pt")
    np.save(tmp_path / "calib.npy", np.random.default_rng(0).random((16, 6)).astype(np.float32))
    yield tmp_path, module
    sys.modules.pop(module, None)


def _fails_with_one_line(code, capsys, *words):
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, (word, err)


@pytest.mark.parametrize("command", ["convert", "export"])
def test_callable_raising_system_exit_0_is_exit_2(work, capsys, command):
    folder, module = work
    out = folder / "out.nir"
    args = [command, "tiny.pt", "--arch", f"{module}:exits", "--calibration", "calib.npy",
            "-o", str(out)]
    if command == "export":
        args += ["--target", "generic"]
    _fails_with_one_line(main(args), capsys, "arch", "SystemExit")
    assert not out.exists()


def test_module_raising_system_exit_on_import_is_exit_2(work, capsys):
    folder, _ = work
    (folder / "quits.py").write_text("raise SystemExit(0)\n")
    out = folder / "out.nir"
    try:
        code = main(["convert", "tiny.pt", "--arch", "quits:tiny", "--calibration", "calib.npy",
                     "-o", str(out)])
    finally:
        sys.modules.pop("quits", None)
    _fails_with_one_line(code, capsys, "arch", "SystemExit")
    assert not out.exists()


def test_keyboard_interrupt_still_interrupts(work):
    folder, _ = work
    (folder / "interrupts.py").write_text("def tiny():\n    raise KeyboardInterrupt\n")
    try:
        with pytest.raises(KeyboardInterrupt):
            build_arch("interrupts:tiny")
    finally:
        sys.modules.pop("interrupts", None)


def test_sys_path_is_restored_exactly(work):
    folder, module = work
    before = list(sys.path)
    assert isinstance(build_arch(f"{module}:tiny"), torch.nn.Module)
    assert sys.path == before
    with pytest.raises(BadInput, match="arch"):
        build_arch(f"{module}:exits")
    assert sys.path == before


def test_a_library_in_the_working_folder_is_not_imported(work, capsys, monkeypatch):
    """A ``rich.py`` beside the model: export prints its table with the real rich."""
    folder, module = work
    marker = folder / "PWNED"
    (folder / "rich.py").write_text(textwrap.dedent(SHADOW.format(marker=str(marker))))
    for name in [n for n in sys.modules if n == "rich" or n.startswith("rich.")]:
        monkeypatch.delitem(sys.modules, name)  # so that the command imports rich afresh
    out = folder / "out.nir"
    code = main(["export", "tiny.pt", "--arch", f"{module}:tiny", "--calibration", "calib.npy",
                 "--target", "generic", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    assert not marker.exists()
    assert out.exists()
    assert "rich" in sys.modules and not sys.modules["rich"].__file__.startswith(str(folder))


@pytest.mark.parametrize("command", ["convert", "export", "audit"])
def test_help_says_arch_runs_the_users_code(capsys, command):
    assert main([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--arch" in text
    assert "imports and runs" in text and "code" in text
