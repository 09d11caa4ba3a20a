"""The strings of a ``.pt2`` that torch turns into code, and the forms we let through.

``torch.export.load`` does more than read tensors: it ``eval``s shape expressions
(``sympy.sympify``), writes node names and module paths into Python source that it ``exec``s (FX
code generation), and ``ep.module()`` later ``exec``s the program's ``guards_code``. A crafted file
can put code in any of them. Each check here accepts only what ``torch.export.save`` writes for an
ordinary model and returns a reason (a short phrase) for anything else, ``None`` when the text is
fine. See docs/model_files.md.
"""
from __future__ import annotations

import ast
import keyword
import re

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# a part of a module path: FX writes it as `self.part` or, when it is no identifier, as
# getattr(self, "part"), so quotes, backslashes and control characters would break out of the string
_FQN_PART = re.compile(r"[^\"'\\\x00-\x1f\x7f]+\Z")
# torch.ops.<namespace>.<op>[.<overload>], operator / math functions, torch's sym_* helpers
_OP_TARGET = re.compile(r"(torch\.ops\.[A-Za-z_]\w*\.[A-Za-z_]\w*(\.[A-Za-z_]\w*)?"
                        r"|_operator\.[a-z]\w*|math\.[a-z]\w*|torch\._?sym_[a-z]\w*)\Z")

# Names a shape expression may call or mention: sympy's constructors and the functions torch's
# deserializer puts in scope (torch/_export/serde/serialize.py, ``sympy_functions``).
SYMPY_NAMES = frozenset("""
    Symbol Integer Float Rational Max Min Mod Abs Eq Ne Lt Le Gt Ge And Or Not floor ceiling oo zoo
    Piecewise ITE Pow Mul Add sqrt True False None
    positive integer nonnegative negative nonpositive real finite infinite zero nonzero even odd
    FloorDiv ModularIndexing Where PythonMod CleanDiv CeilToInt FloorToInt CeilDiv LShift RShift
    PowByNatural FloatPow FloatTrueDiv IntTrueDiv IsNonOverlappingAndDenseIndicator TruncToFloat
    TruncToInt RoundToInt RoundDecimal ToFloat Identity
""".split())
_SYMBOL = re.compile(r"[a-z]+[0-9]+\Z")  # torch's shape symbols: s0, u3, s31, ...
_SYMPY_TOKEN = re.compile(r"""\s+|(?P<number>\d+(\.\d*)?([eE][+-]?\d+)?)|(?P<name>[A-Za-z_]\w*)
                              |(?P<string>'[A-Za-z0-9_]*')|(?P<op>\*\*|[-+*/%(),<>=!&|~^])""",
                          re.VERBOSE)

MAX_TEXT_CHARS = 100_000  # longer than any expression or guard torch writes for a real model


def identifier_problem(text) -> str | None:
    """A name FX writes into Python source as is (node, argument and value names)."""
    if not isinstance(text, str) or not _IDENTIFIER.match(text) or keyword.iskeyword(text):
        return f"{_short(text)} is not a plain Python identifier"
    if text.startswith("__"):
        return f"{_short(text)} starts with '__'"
    return None


def fqn_problem(text) -> str | None:
    """A dotted module path (``blocks.0.weight``, ``heads.left-eye.bias``); FX writes each part
    into source, as an attribute or inside a double-quoted string."""
    if not isinstance(text, str):
        return f"{_short(text)} is not a module path"
    if text == "":
        return None
    if not all(_FQN_PART.match(part) and not part.startswith("__") for part in text.split(".")):
        return f"{_short(text)} is not a module path (quotes, backslashes, control characters " \
               "or '__' parts)"
    return None


def op_target_problem(text) -> str | None:
    """The target of a graph node: a torch op, an ``operator``/``math`` function, a sym helper."""
    if not isinstance(text, str) or not _OP_TARGET.match(text) or "__" in text:
        return f"{_short(text)} is not a torch operator"
    return None


def sympy_problem(text) -> str | None:
    """A shape expression torch hands to ``sympy.sympify`` (which ``eval``s it)."""
    if not isinstance(text, str) or len(text) > MAX_TEXT_CHARS:
        return f"{_short(text)} is not a shape expression"
    pos = 0
    while pos < len(text):
        match = _SYMPY_TOKEN.match(text, pos)
        if match is None:
            return f"{_short(text)} is not a shape expression (at {text[pos:pos + 10]!r})"
        name = match.group("name")
        if name is not None and name not in SYMPY_NAMES and not _SYMBOL.match(name):
            return f"{_short(text)} is not a shape expression ({name!r} is not a sympy name)"
        pos = match.end()
    return None


def guard_problem(text) -> str | None:
    """One entry of ``guards_code``: a condition on input shapes (``L['x'].size()[0] <= 8``)."""
    if not isinstance(text, str) or len(text) > MAX_TEXT_CHARS:
        return f"{_short(text)} is not a shape guard"
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return f"{_short(text)} is not a shape guard (not an expression)"
    for node in ast.walk(tree):
        if not isinstance(node, _GUARD_NODES):
            return f"{_short(text)} is not a shape guard ({type(node).__name__})"
        if isinstance(node, ast.Name) and node.id not in _GUARD_NAMES:
            return f"{_short(text)} is not a shape guard (name {node.id!r})"
        if isinstance(node, ast.Attribute) and node.attr not in _GUARD_ATTRIBUTES:
            return f"{_short(text)} is not a shape guard (attribute {node.attr!r})"
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str)):
            return f"{_short(text)} is not a shape guard (constant {node.value!r})"
    return None


_GUARD_NODES = (ast.Expression, ast.Compare, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Call,
                ast.Subscript, ast.Attribute, ast.Name, ast.Constant, ast.Load, ast.Tuple,
                ast.cmpop, ast.boolop, ast.operator, ast.unaryop)
_GUARD_NAMES = frozenset({"L", "math", "Max", "Min", "Mod", "FloorDiv", "CleanDiv", "floor",
                          "ceiling", "Abs", "PythonMod", "CeilToInt", "FloorToInt", "TruncToInt",
                          "IntTrueDiv", "FloatTrueDiv", "ToFloat"})
_GUARD_ATTRIBUTES = frozenset({"size", "stride", "storage_offset", "dim", "numel", "floor", "ceil",
                               "trunc", "sqrt"})


def generated_source_problem(source: str, scope: dict) -> str | None:
    """Python source that torch.fx generated from a loaded graph, before it is ``exec``'d.

    FX writes ``def forward(self, <names>): <name> = <callee>(<args>) ... return ...``. Names in it
    come from the file, so a crafted name could smuggle code in (a default argument, a call of a
    builtin). We accept one plain function per source whose calls go to the callables FX put in
    ``scope`` (torch ops, pytree helpers, ``getattr``) or to ``self``'s submodules.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return "generated code does not parse"
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    if len(tree.body) != 1 or len(functions) != 1:
        return "generated code is not one function"
    args = functions[0].args
    if functions[0].decorator_list or args.defaults or any(args.kw_defaults):
        return "generated function has defaults or decorators"
    for node in ast.walk(tree):
        problem = _source_node_problem(node, scope)
        if problem:
            return problem
    return None


_SOURCE_REFUSED = (ast.Import, ast.ImportFrom, ast.Lambda, ast.ClassDef, ast.AsyncFunctionDef,
                   ast.Global, ast.Nonlocal, ast.With, ast.AsyncWith, ast.Try, ast.While, ast.For,
                   ast.AsyncFor, ast.Await, ast.Yield, ast.YieldFrom, ast.ListComp, ast.SetComp,
                   ast.DictComp, ast.GeneratorExp, ast.JoinedStr, ast.NamedExpr)


def _source_node_problem(node, scope: dict) -> str | None:
    if isinstance(node, _SOURCE_REFUSED):
        return f"generated code holds {type(node).__name__}"
    if isinstance(node, ast.FunctionDef) and node.name != "forward":
        return f"generated code defines {node.name!r}"
    if isinstance(node, ast.Name) and node.id.startswith("__"):
        return f"generated code names {node.id!r}"
    if isinstance(node, ast.Attribute) and node.attr.startswith("__"):
        return f"generated code reads attribute {node.attr!r}"
    if isinstance(node, ast.Call):
        return _call_problem(node, scope)
    return None


def _call_problem(call: ast.Call, scope: dict) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        if func.id == "getattr":
            return _getattr_problem(call)
        return None if func.id in scope else f"generated code calls {func.id!r}"
    chain = []
    while isinstance(func, ast.Attribute):
        chain.append(func.attr)
        func = func.value
    chain.reverse()
    if _on_self(func):
        return None  # self.block(...), getattr(self, "0")(...): the model's own submodules
    if not isinstance(func, ast.Name):
        return "generated code calls the result of an expression"
    root = func.id
    if root not in scope:
        return f"generated code calls a method of {root!r}"
    if root == "torch" and not (chain and (chain[0] == "ops" or chain[0].startswith(
            ("sym_", "_sym_", "_assert", "_check")))):
        return f"generated code calls torch.{'.'.join(chain)}"
    return None


def _on_self(node) -> bool:
    """``self``, ``self.a.b`` or ``getattr(self, "0").c``: an attribute path on the module."""
    while True:
        if isinstance(node, ast.Name):
            return node.id == "self"
        if isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id == "getattr" and node.args:
            node = node.args[0]
        else:
            return False


def _getattr_problem(call: ast.Call) -> str | None:
    if len(call.args) != 2 or call.keywords:
        return "generated code calls getattr unusually"
    name = call.args[1]
    if not (isinstance(name, ast.Constant) and isinstance(name.value, str)
            and "__" not in name.value):
        return "generated code calls getattr with a computed or private name"
    return None


def _short(text) -> str:
    text = repr(text)
    return text if len(text) <= 60 else text[:57] + "..."
