"""The public API documents itself: ``help(nirconv.<function>)`` is the reference (issue 14).

Every facade function takes explicit parameters (no ``*args``/``**kwargs``), and its docstring has
an ``Args:`` entry for every parameter, written ``name (type[, default X]): meaning`` with the
signature's own default, a ``Returns:`` section and a ``Raises:`` section naming errors of
`nirconv.errors`.
"""
from __future__ import annotations

import inspect
import re

import pytest

import nirconv
from nirconv import errors

FACADE = ["convert", "to_nir", "export", "check", "simulate", "audit", "save", "load"]
ENTRY = re.compile(r"^(\w+) \(([^)]*?)(?:, default (.+?))?\):(.*)$", re.S)


def _section(doc: str, name: str) -> list[str]:
    """The lines of the docstring section ``name:`` (up to the next blank line)."""
    lines = inspect.cleandoc(doc).splitlines()
    start = lines.index(f"{name}:") + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return ["    " + line for line in lines[start:end]]


def _entries(fn) -> dict[str, tuple[str, str | None, str]]:
    """name -> (type, default text or None, meaning) from the ``Args:`` section."""
    items: list[str] = []
    for line in _section(fn.__doc__, "Args"):
        if line.startswith(" " * 12):  # the entry goes on
            items[-1] += " " + line.strip()
        else:
            items.append(line.strip())
    out = {}
    for item in items:
        m = ENTRY.match(item)
        assert m, f"{fn.__name__}: not 'name (type[, default X]): meaning': {item[:60]}"
        out[m.group(1)] = (m.group(2), m.group(3), m.group(4).strip())
    return out


@pytest.mark.parametrize("name", FACADE)
def test_no_facade_function_takes_var_arguments(name):
    kinds = {p.kind for p in inspect.signature(getattr(nirconv, name)).parameters.values()}
    assert inspect.Parameter.VAR_KEYWORD not in kinds, f"{name} takes **kwargs"
    assert inspect.Parameter.VAR_POSITIONAL not in kinds, f"{name} takes *args"


@pytest.mark.parametrize("name", FACADE)
def test_every_parameter_is_documented_with_type_and_default(name):
    fn = getattr(nirconv, name)
    entries = _entries(fn)
    params = inspect.signature(fn).parameters
    assert list(entries) == list(params), f"{name}: Args entries {list(entries)} vs {list(params)}"
    for pname, param in params.items():
        kind, default, meaning = entries[pname]
        assert kind.strip(), f"{name}({pname}): no type"
        assert len(meaning) > 10, f"{name}({pname}): no meaning"
        if param.default is inspect.Parameter.empty:
            assert default is None, f"{name}({pname}) has no default, the doc says {default}"
        else:
            expected = ('"%s"' % param.default if isinstance(param.default, str)
                        else repr(param.default))
            assert default == expected, f"{name}({pname}): doc default {default}, is {expected}"


@pytest.mark.parametrize("name", FACADE)
def test_return_value_and_errors_are_documented(name):
    doc = getattr(nirconv, name).__doc__
    returns = _section(doc, "Returns")
    assert returns and re.match(r"^ {8}\S.*: \S", returns[0]), f"{name}: Returns: 'type: meaning'"
    raised = [m.group(1) for line in _section(doc, "Raises")
              if (m := re.match(r"^ {8}(\w+): \S", line))]
    assert "BadInput" in raised, name
    for error in raised:
        assert issubclass(getattr(errors, error, type), errors.NirconvError), f"{name}: {error}"


def test_units_are_given_for_physical_parameters():
    for name in ("export", "check", "simulate"):
        assert "seconds" in _entries(getattr(nirconv, name))["dt"][2], name
    assert "percentage points" in _entries(nirconv.audit)["tolerance"][2]


def test_every_facade_function_is_reachable_through_help(capsys):
    for name in FACADE:
        help(getattr(nirconv, name))
        text = capsys.readouterr().out
        assert "Args:" in text and "Returns:" in text and "Raises:" in text, name
