"""The architecture rules of docs/architecture.md, checked on the source (ast, not grep).

Every import is read: module-level and function-level (``ast.walk``), absolute and relative
(resolved against the importing module's package). A *part* is a subpackage or top-level module of
nirconv, or one backend (`part`); `LAYERS` is the layer table of docs/architecture.md.
"""
from __future__ import annotations

import ast
import inspect
from functools import lru_cache
from pathlib import Path

import nir
import pytest

import nirconv

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"nirconv": ROOT / "nirconv", "nirconv.backends": ROOT / "backends"}

# docs/architecture.md, "Layers": a part may import only parts of its own or lower layers
LAYERS = {
    "nirconv._version": 0, "nirconv.errors": 0, "nirconv.equations": 0, "nirconv.passes": 0,
    "nirconv.arguments": 0,
    "nirconv.targets": 1,
    "nirconv.nir_io": 2,
    "nirconv.reading": 3, "nirconv.writing": 3,
    "nirconv.conversion": 4, "nirconv.quantization": 4,
    "nirconv.backends": 5, "nirconv.backends.event": 5, "nirconv.backends.torch": 5,
    "nirconv.backends.constraints": 5,
    "nirconv.fidelity": 6, "nirconv.vendors": 6, "nirconv.simulation": 6, "nirconv.deploy": 6,
    "nirconv": 7,  # the facade, nirconv/__init__.py
    "nirconv.cli": 8, "nirconv.demo": 8,
}
APART = {3, 5}  # the parts of these layers never import each other (reading/writing, backends)
BACKEND_MAY_IMPORT = {0, 1}  # a backend sees a Program and a Target, nothing else
TOP = ("nirconv.cli", "nirconv.demo")  # nothing imports these but themselves

# Violations that exist while issue 14's renovation is under way: (file, imported part). The test
# fails on any violation not listed here AND on any entry that no longer occurs, so the list only
# shrinks. Each entry says why it is still there.
KNOWN_VIOLATIONS: set[tuple[str, str]] = set()


def module_name(path: Path) -> tuple[str, bool]:
    """(dotted module name, whether it is a package's __init__) of a source file."""
    for package, folder in SOURCES.items():
        if path.is_relative_to(folder):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            return ".".join([package] + parts[:-1 if is_package else None]), is_package
    raise ValueError(path)


@lru_cache(maxsize=None)
def library_files() -> tuple[Path, ...]:
    return tuple(sorted(p for folder in SOURCES.values() for p in folder.rglob("*.py")))


@lru_cache(maxsize=None)
def known_modules() -> frozenset[str]:
    return frozenset(module_name(p)[0] for p in library_files())


def imports(path: Path, package: str | None = None):
    """(line, imported module) for every import in ``path``. ``package``: the package relative
    imports are resolved against (None: from the file's place in nirconv). ``from X import name``
    yields ``X.name`` when that is a module of nirconv, else ``X``; ``backends.*`` yields
    ``nirconv.backends.*`` (the bare spelling is its own rule)."""
    if package is None:
        name, is_package = module_name(path)
        package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            for alias in node.names:
                full = f"{stem}.{alias.name}"
                yield node.lineno, full if full in known_modules() else stem


def part(module: str) -> str:
    """The part a nirconv module belongs to (a backend is a part of its own)."""
    if module == "backends" or module.startswith("backends."):
        module = "nirconv." + module
    p = module.split(".")
    if p[:2] == ["nirconv", "backends"]:
        return ".".join(p[:3])
    return ".".join(p[:2])


def _is_nirconv(module: str) -> bool:
    return module == "nirconv" or module.startswith("nirconv.")


def library_imports():
    """(file relative to the root, line, importing part, imported part) across parts."""
    for path in library_files():
        src = part(module_name(path)[0])
        for line, module in imports(path):
            if _is_nirconv(module) and part(module) != src:
                yield str(path.relative_to(ROOT)), line, src, part(module)


def rule_broken(src: str, dst: str) -> str | None:
    """Why ``src`` may not import ``dst``, or None when it may."""
    if dst in TOP and src not in TOP:
        return f"nothing imports {dst} (the top of the stack)"
    if src.startswith("nirconv.backends.") and LAYERS[dst] not in BACKEND_MAY_IMPORT:
        return f"a backend imports only layers 0-1, {dst} is layer {LAYERS[dst]}"
    if LAYERS[dst] > LAYERS[src]:
        return f"layer {LAYERS[src]} imports layer {LAYERS[dst]}"
    if LAYERS[dst] == LAYERS[src] and LAYERS[src] in APART:
        return f"the parts of layer {LAYERS[src]} do not import each other"
    return None


def violations() -> dict[tuple[str, str], str]:
    """(file, imported part) -> the first offending line and the rule it breaks."""
    found = {}
    for file, line, src, dst in library_imports():
        why = rule_broken(src, dst)
        if why and (file, dst) not in found:
            found[(file, dst)] = f"{file}:{line} imports {dst}: {why}"
    return found


def test_every_part_has_a_layer():
    parts = {part(module_name(p)[0]) for p in library_files()}
    missing = sorted(parts - set(LAYERS))
    assert not missing, f"parts without a layer (add them to docs/architecture.md): {missing}"


def test_imports_follow_the_layer_order():
    found = violations()
    new = sorted(why for key, why in found.items() if key not in KNOWN_VIOLATIONS)
    assert not new, "imports against docs/architecture.md:\n" + "\n".join(new)


def test_known_violations_still_occur():
    gone = sorted(KNOWN_VIOLATIONS - set(violations()))
    assert not gone, f"fixed: remove these from KNOWN_VIOLATIONS: {gone}"


def test_import_reader_sees_function_level_and_relative_imports(tmp_path):
    source = tmp_path / "probe.py"
    source.write_text("import numpy\nfrom .. import targets\nfrom ..cli import common\n"
                      "def f():\n    from .pipeline import quantize\n"
                      "    from nirconv import errors\n")
    found = {m for _, m in imports(source, package="nirconv.quantization")}
    assert found == {"numpy", "nirconv.targets", "nirconv.cli.common",
                     "nirconv.quantization.pipeline", "nirconv.errors"}
    assert rule_broken("nirconv.reading", "nirconv.cli") and rule_broken("nirconv.errors",
                                                                          "nirconv.targets")
    assert rule_broken("nirconv.backends.event", "nirconv.reading")
    assert rule_broken("nirconv.reading", "nirconv.writing")
    assert rule_broken("nirconv.cli", "nirconv.demo") is None


@pytest.mark.parametrize("side,other", [("event", "torch"), ("torch", "event")])
def test_simulators_do_not_import_each_other(side, other):
    offenders = [f"{p.relative_to(ROOT)}:{line} imports {m}"
                 for p in library_files() if part(module_name(p)[0]) == f"nirconv.backends.{side}"
                 for line, m in imports(p) if part(m) == f"nirconv.backends.{other}"]
    assert not offenders, offenders


def test_nothing_imports_the_cli_or_the_demo():
    offenders = [f"{file}:{line} imports {dst}" for file, line, src, dst in library_imports()
                 if dst in TOP and src not in TOP]
    assert not offenders, offenders


def test_backends_are_only_imported_as_nirconv_backends():
    folders = ("nirconv", "backends", "tests", "benchmarks", "examples", "scripts")
    offenders = []
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module or ""] if isinstance(node, ast.ImportFrom)
                         and not node.level else [])
                offenders += [f"{path.relative_to(ROOT)}:{node.lineno} imports {n}"
                              for n in names if n == "backends" or n.startswith("backends.")]
    assert not offenders, offenders


@pytest.mark.parametrize("name", ["convert", "to_nir", "export", "check", "simulate", "audit",
                                  "save", "load"])
def test_facade_functions_stay_callable(name):
    # importing every module must not rebind a facade name to a module
    import importlib
    for module in sorted(known_modules()):
        importlib.import_module(module)
    assert callable(getattr(nirconv, name))


def test_every_nir_primitive_is_lowered_or_refused_with_reason():
    from nirconv.reading.ops import BUILDERS, UNSUPPORTED
    classes = [c for _, c in inspect.getmembers(nir.ir, inspect.isclass)
               if issubclass(c, nir.NIRNode) and c not in (nir.NIRNode, nir.NIRGraph, nir.Input)]
    missing = [c.__name__ for c in classes if c not in BUILDERS and c.__name__ not in UNSUPPORTED]
    assert not missing, missing
