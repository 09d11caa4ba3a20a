"""While torch reads a model file nothing in it may run: the second of two defences.

`pt2_archive.checked_archive` already refuses every entry torch would unpickle or run, so for a
file that passed it nothing here ever fires. This guard is for a file crafted to get past that
check (or a torch that reads more than we know): for the duration of `no_code_from_files`, in the
thread that loads,

* ``torch.load`` runs with ``weights_only=True`` only (a request for ``weights_only=False`` or for
  another ``pickle_module`` is refused), and ``pickle``'s ``Unpickler``/``load``/``loads``,
  TorchScript's object unpickler and the AOTInductor loader refuse outright;
* ``sympy.sympify`` accepts only shape expressions (it ``eval``s strings);
* the Python source torch.fx generates from the loaded graph is checked before it is ``exec``'d;
* torch's loader prints nothing (it logs whole tracebacks for files it cannot read); what it
  logs is kept for the one-line error instead.

A refusal is raised as `Refused`, a ``BaseException``, so that torch's own ``except Exception``
fallbacks cannot swallow it; the caller turns it into `BadInput`. Every patch is undone when the
last guard exits, whatever happens. Other threads see the original functions' behaviour.
`check_loaded_program` then checks the loaded program itself, because ``ep.module()``,
``torch.export.unflatten`` and ``run_decompositions`` generate and run code from it later, outside
the guard. See docs/model_files.md.
"""
from __future__ import annotations

import contextlib
import logging
import pickle
import threading

import sympy
import torch
import torch.fx.graph_module

from ..errors import BadInput
from . import pt2_text

_state = threading.local()
_lock = threading.Lock()
_users = 0
_saved: list[tuple[object, str, object]] = []
_QUIET_LOGGERS = ("torch.export", "torch._export")


class Refused(BaseException):
    """Something in the file asked torch to unpickle or run code (a BaseException on purpose)."""


def _active() -> bool:
    return getattr(_state, "depth", 0) > 0


def _refuse(what: str):
    raise Refused(what)


@contextlib.contextmanager
def no_code_from_files():
    """Within this block (in this thread) no unrestricted unpickling and no code from the file.

    Yields the list of exceptions torch's loader logged instead of raising (it logs the real
    cause of a failure, then raises a generic error); nothing reaches the user's terminal.
    """
    _install()
    _state.depth = getattr(_state, "depth", 0) + 1
    recorder = _Recorder()
    saved = [(logger, logger.handlers, logger.propagate)
             for logger in map(logging.getLogger, _QUIET_LOGGERS)]
    try:
        for logger, _, _ in saved:
            logger.handlers, logger.propagate = [recorder], False
        yield recorder.errors
    finally:
        for logger, handlers, propagate in saved:
            logger.handlers, logger.propagate = handlers, propagate
        _state.depth -= 1
        _uninstall()


class _Recorder(logging.Handler):
    """Keeps the exceptions torch's loader logs (with their tracebacks) instead of printing them."""

    def __init__(self):
        super().__init__()
        self.errors: list[BaseException] = []

    def emit(self, record) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.errors.append(record.exc_info[1])


def _install() -> None:
    global _users
    with _lock:
        _users += 1
        if _users > 1:
            return
        for owner, name, make in _patches():
            original = getattr(owner, name, None)
            if original is None:
                continue  # another torch version: that way of running code does not exist there
            _saved.append((owner, name, original))
            setattr(owner, name, make(original))


def _uninstall() -> None:
    global _users
    with _lock:
        _users -= 1
        if _users > 0:
            return
        while _saved:
            owner, name, original = _saved.pop()
            setattr(owner, name, original)


def _patches():
    import torch.serialization
    try:
        import torch.export.pt2_archive._package as package
    except ImportError:
        package = None

    return [
        (torch, "load", _weights_only_load),
        (torch.serialization, "load", _weights_only_load),
        (pickle, "load", _refusing("pickle.load")),
        (pickle, "loads", _refusing("pickle.loads")),
        (pickle, "_load", _refusing("pickle.load")),
        (pickle, "_loads", _refusing("pickle.loads")),
        (pickle, "Unpickler", _refusing_unpickler),
        (pickle, "_Unpickler", _refusing_unpickler),
        (torch._C, "_pickle_load_obj", _refusing("TorchScript unpickling of a custom object")),
        (package, "_load_aoti", _refusing("loading compiled AOTInductor code")),
        (sympy, "sympify", _checked_sympify),
        (torch.fx.graph_module, "_exec_with_source", _checked_exec),
    ]


def _weights_only_load(original):
    def load(*args, **kwargs):
        if _active():
            if kwargs.get("weights_only") is False or kwargs.get("pickle_module") is not None \
                    or (len(args) > 2 and args[2] is not None):
                _refuse("torch.load(weights_only=False) (unrestricted unpickling)")
            kwargs["weights_only"] = True
        return original(*args, **kwargs)
    return load


def _refusing(what: str):
    def make(original):
        def refusing(*args, **kwargs):
            if _active():
                _refuse(what)
            return original(*args, **kwargs)
        return refusing
    return make


def _refusing_unpickler(original):
    class GuardedUnpickler(original):
        def __init__(self, *args, **kwargs):
            if _active():
                _refuse("pickle.Unpickler")
            super().__init__(*args, **kwargs)
    GuardedUnpickler.__name__ = GuardedUnpickler.__qualname__ = original.__name__
    return GuardedUnpickler


def _checked_sympify(original):
    def sympify(a, *args, **kwargs):
        if _active() and isinstance(a, str):
            problem = pt2_text.sympy_problem(a)
            if problem:
                _refuse(f"sympy.sympify of {problem}")
        return original(a, *args, **kwargs)
    return sympify


def _checked_exec(original):
    def exec_with_source(src, globals, *args, **kwargs):
        if _active():
            problem = pt2_text.generated_source_problem(src, globals)
            if problem:
                _refuse(f"running code generated from the file ({problem})")
        return original(src, globals, *args, **kwargs)
    return exec_with_source


# --- the loaded program ------------------------------------------------------------------------

def check_loaded_program(program, path) -> None:
    """What later code generation reads from ``program`` has the forms torch itself writes."""
    problem = _loaded_program_problem(program)
    if problem:
        raise BadInput(f"refused: {problem}", file=path, field="model")


def _loaded_program_problem(program) -> str | None:
    for guard in getattr(program, "_guards_code", None) or []:
        if problem := pt2_text.guard_problem(guard):
            return f"guards_code: {problem}"
    names = list(program.state_dict) + list(program.constants)
    for spec in program.graph_signature.input_specs + program.graph_signature.output_specs:
        if isinstance(spec.target, str):
            names.append(spec.target)
    for entry in program.module_call_graph:
        names.append(entry.fqn)
        for arg_name in (entry.signature.forward_arg_names or []) if entry.signature else []:
            if problem := pt2_text.identifier_problem(arg_name):
                return f"forward_arg_names: {problem}"
    for name in names:
        if problem := pt2_text.fqn_problem(name):
            return problem
    for module in program.graph_module.modules():
        if isinstance(module, torch.fx.GraphModule):
            if problem := _graph_problem(module.graph):
                return problem
    return None


def _graph_problem(graph) -> str | None:
    for node in graph.nodes:
        if problem := pt2_text.identifier_problem(node.name):
            return f"node name {problem}"
        if node.op == "get_attr" and (problem := pt2_text.fqn_problem(node.target)):
            return f"node {node.name}: {problem}"
        for path, _ in (node.meta.get("nn_module_stack") or {}).values():
            if problem := pt2_text.fqn_problem(path):
                return f"node {node.name}: nn_module_stack {problem}"
    return None
