"""Diagram expressions: gateway conditions, scripts and timer expressions, run safely.

A process owner writes small Python expressions in the diagram (`rag == "RED"`,
`working_hours(4, since=opened_at)`). They run against the task data and the functions the
engine offers, and nothing else: the source is parsed and every node checked against an
allow-list before it is compiled, so `__import__('os')`, `open(...)`, dunder attributes and
the like are refused with a message, at validation when the diagram is deployed and again
before anything runs. (Narrowing the builtins alone is not enough: `().__class__.__mro__`
reaches everything; so the language itself is narrowed here.)
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable, Mapping
from functools import lru_cache
from types import CodeType
from typing import Any, Literal

Mode = Literal["eval", "exec"]


class ExpressionError(ValueError):
    """An expression a diagram may not run: says which construct and where."""


# Plain data builtins only: nothing that reaches files, processes, the network, the
# interpreter's internals or attribute lookup by name.
SAFE_BUILTIN_NAMES = (
    "abs", "all", "any", "bool", "dict", "enumerate", "float", "int", "len", "list", "max",
    "min", "round", "set", "sorted", "str", "sum", "tuple", "zip", "True", "False", "None",
)
SAFE_BUILTINS: dict[str, Any] = {name: getattr(builtins, name) for name in SAFE_BUILTIN_NAMES}

# Methods of str, dict and list that a condition or a script may reasonably call.
SAFE_ATTRIBUTES = frozenset({
    "get", "keys", "values", "items", "lower", "upper", "strip", "lstrip", "rstrip", "title",
    "casefold", "startswith", "endswith", "split", "join", "replace", "count", "index",
    "isdigit", "append", "extend",
})

_EXPRESSION_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.BinOp, ast.Add, ast.Sub, ast.Mult,
    ast.Div, ast.FloorDiv, ast.Mod, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.Compare,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot,
    ast.IfExp, ast.Call, ast.keyword, ast.Name, ast.Load, ast.Store, ast.Del, ast.Constant,
    ast.List, ast.Tuple, ast.Dict, ast.Set, ast.Subscript, ast.Slice, ast.Attribute,
    ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.comprehension,
    ast.JoinedStr, ast.FormattedValue,
)
_STATEMENT_NODES: tuple[type[ast.AST], ...] = (
    ast.Module, ast.Expr, ast.Assign, ast.AugAssign, ast.If, ast.For, ast.Pass, ast.Delete,
)

_DESCRIPTIONS: dict[type[ast.AST], str] = {
    ast.Import: "import", ast.ImportFrom: "import", ast.Lambda: "lambda",
    ast.FunctionDef: "a function definition", ast.ClassDef: "a class definition",
    ast.While: "a while loop", ast.Pow: "the ** operator", ast.Global: "global",
    ast.Nonlocal: "nonlocal", ast.Try: "try", ast.Raise: "raise", ast.With: "with",
    ast.Await: "await", ast.Yield: "yield", ast.NamedExpr: "the := operator",
    ast.Starred: "a *starred expression",
}


def check(source: str, mode: Mode = "eval", functions: frozenset[str] | None = None) -> ast.AST:
    """Parse `source` and refuse anything outside the allow-list; returns the tree.
    `functions`: when given, the only names the expression may call."""
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("the expression is empty")
    try:
        tree = ast.parse(source.strip() if mode == "eval" else source, mode=mode)
    except SyntaxError as err:
        raise ExpressionError(f"is not valid Python: {err.msg} (line {err.lineno})") from None
    allowed = _EXPRESSION_NODES + (_STATEMENT_NODES if mode == "exec" else ())
    for node in ast.walk(tree):
        where = f" (line {node.lineno})" if hasattr(node, "lineno") else ""
        if not isinstance(node, allowed):
            what = _DESCRIPTIONS.get(type(node), type(node).__name__)
            raise ExpressionError(f"{what} is not allowed in a diagram expression{where}")
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            raise ExpressionError(f"the name {node.id!r} is not allowed{where}")
        if functions is not None and isinstance(node, ast.Call) and \
                isinstance(node.func, ast.Name) and node.func.id not in functions:
            raise ExpressionError(
                f"{node.func.id}() is not a function diagrams can call{where}; "
                f"they can call {', '.join(sorted(functions))}"
            )
        if isinstance(node, ast.Attribute) and node.attr not in SAFE_ATTRIBUTES:
            raise ExpressionError(
                f"'.{node.attr}' is not allowed{where}; expressions may call only "
                f"{', '.join(sorted(SAFE_ATTRIBUTES))}"
            )
    return tree


@lru_cache(maxsize=4096)
def compile_checked(source: str, mode: Mode = "eval") -> CodeType:
    """Checked and compiled once per distinct source text (diagrams repeat them)."""
    tree = check(source, mode)
    return compile(tree, "<diagram>", mode)  # type: ignore[call-overload]


class ExpressionEnvironment:
    """Evaluates checked expressions against task data plus the engine's functions.

    Implements the interface SpiffWorkflow's script engine expects from an environment
    (`evaluate`, `execute`), with the task data as the only variables.
    """

    def __init__(self, functions: Mapping[str, Callable[..., Any]]) -> None:
        self.globals: dict[str, Any] = {"__builtins__": SAFE_BUILTINS, **functions}

    def evaluate(
        self, expression: str, context: dict[str, Any], external_context: Any = None
    ) -> Any:
        code = compile_checked(expression, "eval")
        namespace = {**self.globals, **(external_context or {}), **context}
        namespace["__builtins__"] = SAFE_BUILTINS
        return eval(code, namespace)

    def execute(self, script: str, context: dict[str, Any], external_context: Any = None) -> bool:
        """Run a script task; the task data changes only if the whole script succeeds."""
        code = compile_checked(script, "exec")
        clash = set(self.globals).intersection(context) - {"__builtins__"}
        if clash:
            raise ExpressionError(
                f"task data {sorted(clash)} would hide the engine function of the same name; "
                "rename the field"
            )
        namespace = {**self.globals, **(external_context or {}), **context}
        namespace["__builtins__"] = SAFE_BUILTINS
        exec(code, namespace)
        reserved = set(self.globals) | set(external_context or {})
        result = {k: v for k, v in namespace.items() if k not in reserved}
        context.clear()
        context.update(result)
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        raise NotImplementedError("service tasks are run by the engine's handlers")
