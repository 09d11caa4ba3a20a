"""The architecture rules of docs/architecture.md, checked on the source (ast, not grep)."""
from __future__ import annotations

import ast
import inspect
from pathlib import Path

import nir
import pytest

import nirconv

ROOT = Path(__file__).resolve().parents[1]


def _imports(folder: Path):
    """(file, imported module name) for every import in the .py files under ``folder``."""
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text())
        package = "nirconv." + ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if folder.name != "nirconv" and path.relative_to(ROOT).parts[0] == "backends":
            package = "nirconv." + ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    yield path, a.name
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level]
                    mod = ".".join(base + ([node.module] if node.module else []))
                    if node.module is None:
                        for a in node.names:
                            yield path, f"{mod}.{a.name}"
                        continue
                    yield path, mod
                else:
                    yield path, node.module


@pytest.mark.parametrize("side,other", [("event", "torch"), ("torch", "event")])
def test_simulators_do_not_import_each_other(side, other):
    offenders = [f"{p.relative_to(ROOT)} imports {m}" for p, m in _imports(ROOT / "backends" / side)
                 if m.startswith(f"nirconv.backends.{other}") or m == f"backends.{other}"]
    assert not offenders, offenders


def test_nothing_imports_the_cli():
    offenders = []
    for folder in (ROOT / "nirconv", ROOT / "backends"):
        for p, m in _imports(folder):
            if m.startswith("nirconv.cli") and "cli" not in p.relative_to(ROOT).parts:
                offenders.append(f"{p.relative_to(ROOT)} imports {m}")
    assert not offenders, offenders


def test_backends_are_only_imported_as_nirconv_backends():
    offenders = [f"{p.relative_to(ROOT)} imports {m}"
                 for folder in (ROOT / "nirconv", ROOT / "backends", ROOT / "tests")
                 for p, m in _imports(folder) if m == "backends" or m.startswith("backends.")]
    assert not offenders, offenders


@pytest.mark.parametrize("name", ["convert", "to_nir", "export", "check", "simulate", "audit",
                                  "save", "load"])
def test_facade_functions_stay_callable(name):
    # importing every subpackage must not rebind a facade name to a module
    import importlib
    import pkgutil
    for info in pkgutil.walk_packages(nirconv.__path__, "nirconv."):
        if ".cli" in info.name:
            continue
        try:
            importlib.import_module(info.name)
        except ImportError:
            pass  # optional peers
    assert callable(getattr(nirconv, name))


def test_every_nir_primitive_is_lowered_or_refused_with_reason():
    from nirconv.reading.ops import BUILDERS, UNSUPPORTED
    classes = [c for _, c in inspect.getmembers(nir.ir, inspect.isclass)
               if issubclass(c, nir.NIRNode) and c not in (nir.NIRNode, nir.NIRGraph, nir.Input)]
    missing = [c.__name__ for c in classes if c not in BUILDERS and c.__name__ not in UNSUPPORTED]
    assert not missing, missing
