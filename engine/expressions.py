"""Diagram expressions: gateway conditions, scripts and timer expressions, run safely.

A process owner writes small Python expressions in the diagram (`rag == "RED"`,
`working_hours(4, since=opened_at)`). They run against the task data and the functions the
engine offers, and nothing else: the source is parsed and every node checked against an
allow-list before it is compiled, so `__import__('os')`, `open(...)`, dunder attributes and
the like are refused with a message, at validation when the diagram is deployed and again
before anything runs. (Narrowing the builtins alone is not enough: `().__class__.__mro__`
reaches everything; so the language itself is narrowed here.)

They are bounded too, so one expression can neither hold the engine (and its writer lock)
nor exhaust its memory:

- refused when read (`check`): sources longer than `MAX_SOURCE`, nesting deeper than
  `MAX_DEPTH`, huge constants, repetition or nested comprehensions whose size can be seen
  to exceed `MAX_STATIC_SIZE`, format specs with huge widths;
- at run time, the checked tree is instrumented (`_Instrument`): every loop and comprehension
  step ticks a `Budget` that stops the evaluation past `MAX_STEPS` steps or `TIME_LIMIT`
  seconds, and every operation that can make a large object (`*`, `+`, `str`, f-strings,
  `join`, `replace`, `extend`, `sum`) checks its result's size first and counts it, so no
  object exceeds `MAX_SIZE` and an evaluation makes at most `MAX_ALLOCATED` in all.
  Past a limit it raises `ExpressionLimit`; a step's failure becomes an incident and nothing
  of it is kept. Expressions with no loop and no such operation run uninstrumented.
"""

from __future__ import annotations

import ast
import builtins
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache, partial
from types import CodeType
from typing import Any, Literal

from .ast_guard import compile_tree

Mode = Literal["eval", "exec"]

# What a diagram can write: a condition is a line, a script a few dozen.
MAX_SOURCE = {"eval": 2_000, "exec": 20_000}
MAX_DEPTH = 60  # nesting of the syntax tree; Python's own compiler recurses on it
MAX_INT_CONSTANT = 10**15
MAX_TEXT_CONSTANT = 1_000
MAX_STATIC_SIZE = 10_000  # a sequence or a comprehension whose size the source shows
MAX_FORMAT_WIDTH = 1_000
# At run time, per evaluation.
MAX_STEPS = 100_000  # loop and comprehension iterations, and sized operations
TIME_LIMIT = 0.5  # seconds of wall-clock time
MAX_SIZE = 100_000  # characters of a text, items of a list, made by one operation
MAX_ALLOCATED = 1_000_000  # characters and items made by all operations together
MAX_INT_BITS = 4_096


class ExpressionError(ValueError):
    """An expression a diagram may not run: says which construct and where."""


class ExpressionLimit(ExpressionError):
    """An expression ran past a time, step or size limit while running."""


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
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _where(node: ast.AST) -> str:
    line = getattr(node, "lineno", None)
    return f" (line {line})" if line is not None else ""


def parse(source: str, mode: Mode = "eval") -> ast.AST:
    """Parse within the bounds: refuses what is too long or too deep for the compiler."""
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("the expression is empty")
    if len(source) > MAX_SOURCE[mode]:
        raise ExpressionError(f"is {len(source)} characters long; the limit is "
                              f"{MAX_SOURCE[mode]}: split the work into several steps")
    try:
        tree = ast.parse(source.strip() if mode == "eval" else source, mode=mode)
    except SyntaxError as err:
        raise ExpressionError(f"is not valid Python: {err.msg} (line {err.lineno})") from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError(f"is nested too deeply (the limit is {MAX_DEPTH} levels)") from None
    depth = _depth(tree)
    if depth > MAX_DEPTH:
        raise ExpressionError(f"is nested {depth} levels deep; the limit is {MAX_DEPTH}")
    return tree


def _depth(tree: ast.AST) -> int:
    """The nesting depth of the tree, found without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def check(source: str, mode: Mode = "eval", functions: frozenset[str] | None = None) -> ast.AST:
    """Parse `source` and refuse anything outside the allow-list or its bounds; returns the
    tree. `functions`: when given, the only names the expression may call."""
    tree = parse(source, mode)
    allowed = _EXPRESSION_NODES + (_STATEMENT_NODES if mode == "exec" else ())
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        where = _where(node)
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
        if isinstance(node, ast.Attribute):
            if node.attr not in SAFE_ATTRIBUTES:
                raise ExpressionError(
                    f"'.{node.attr}' is not allowed{where}; expressions may call only "
                    f"{', '.join(sorted(SAFE_ATTRIBUTES))}"
                )
            if id(node) not in called:
                raise ExpressionError(f"'.{node.attr}' may only be called, as "
                                      f"'.{node.attr}(...)'{where}")
        _check_bounds(node, where)
    return tree


def _check_bounds(node: ast.AST, where: str) -> None:
    """What the source shows would be too big: refused before anything runs."""
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT_CONSTANT:
            raise ExpressionError(f"the number {str(value)[:20]}... is too large{where}; "
                                  f"the limit is {MAX_INT_CONSTANT:,}")
        if isinstance(value, str | bytes) and len(value) > MAX_TEXT_CONSTANT:
            raise ExpressionError(f"a text of {len(value)} characters is too long{where}; "
                                  f"the limit is {MAX_TEXT_CONSTANT}")
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        size = _static_size(node)
        if size is not None and size > MAX_STATIC_SIZE:
            raise ExpressionError(f"repetition makes {size:,} items{where}; the limit is "
                                  f"{MAX_STATIC_SIZE:,}")
        for sequence, other in ((node.left, node.right), (node.right, node.left)):
            factor = _constant_int(other)
            if factor is not None and factor > MAX_STATIC_SIZE and _is_sequence(sequence):
                raise ExpressionError(f"repetition by {factor:,}{where}; the limit is "
                                      f"{MAX_STATIC_SIZE:,}")
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and \
            isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
        raise ExpressionError(f"'%' formatting is not allowed{where}; write an f-string")
    elif isinstance(node, _COMPREHENSIONS):
        steps = 1
        for generator in node.generators:
            size = _static_size(generator.iter)
            if size is not None:
                steps *= max(size, 1)
        if steps > MAX_STATIC_SIZE:
            raise ExpressionError(f"the comprehension would take {steps:,} steps{where}; the "
                                  f"limit is {MAX_STATIC_SIZE:,}")
    elif isinstance(node, ast.FormattedValue) and node.format_spec is not None:
        spec = node.format_spec
        if not isinstance(spec, ast.JoinedStr) or not all(
                isinstance(v, ast.Constant) for v in spec.values):
            raise ExpressionError(f"a format spec must be written out, not computed{where}")
        text = "".join(str(v.value) for v in spec.values if isinstance(v, ast.Constant))
        widths = [int(n) for n in re.findall(r"\d+", text)]
        if any(w > MAX_FORMAT_WIDTH for w in widths):
            raise ExpressionError(f"a format width of {max(widths):,}{where}; the limit is "
                                  f"{MAX_FORMAT_WIDTH:,}")


def _constant_int(node: ast.AST) -> int | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, int) \
            and not isinstance(node.value, bool):
        return abs(node.value)
    return None


def _is_sequence(node: ast.AST) -> bool:
    return (isinstance(node, ast.Constant) and isinstance(node.value, str | bytes)) or \
        isinstance(node, (ast.List, ast.Tuple, ast.JoinedStr, *_COMPREHENSIONS)) or \
        (isinstance(node, ast.BinOp) and _is_sequence(node.left))


def _static_size(node: ast.AST) -> int | None:
    """The length of a sequence the source spells out, when it can be seen."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
        return len(node.value)
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return len(node.elts)
    if isinstance(node, ast.Dict):
        return len(node.keys)
    if isinstance(node, ast.BinOp):
        left, right = _static_size(node.left), _static_size(node.right)
        if isinstance(node.op, ast.Add) and left is not None and right is not None:
            return left + right
        if isinstance(node.op, ast.Mult):
            if left is not None and (factor := _constant_int(node.right)) is not None:
                return left * factor
            if right is not None and (factor := _constant_int(node.left)) is not None:
                return right * factor
    if isinstance(node, _COMPREHENSIONS):
        steps = 1
        for generator in node.generators:
            size = _static_size(generator.iter)
            if size is None:
                return None
            steps *= size
        return steps
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id in ("list", "tuple", "set", "sorted", "str", "enumerate") and node.args:
        return _static_size(node.args[0])
    return None


# --- run-time bounds -------------------------------------------------------------------

_PREFIX = "__mash_"  # names diagrams cannot write (no name may start with "_")


class Budget:
    """The limits of one evaluation: steps, wall-clock time and what it makes."""

    __slots__ = ("allocated", "deadline", "steps")

    def __init__(self) -> None:
        self.steps = 0
        self.allocated = 0
        self.deadline = time.monotonic() + TIME_LIMIT

    def tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise ExpressionLimit(f"the expression ran past its limit of {MAX_STEPS:,} steps")
        if not self.steps & 63 and time.monotonic() > self.deadline:
            raise ExpressionLimit(f"the expression ran past its time limit of {TIME_LIMIT} s")

    def made(self, size: int) -> None:
        """Before making an object of `size` characters or items: refuse what is too big."""
        self.tick()
        if size > MAX_SIZE:
            raise ExpressionLimit(f"the expression would make {size:,} characters or items; "
                                  f"the limit is {MAX_SIZE:,}")
        self.allocated += size
        if self.allocated > MAX_ALLOCATED:
            raise ExpressionLimit(f"the expression made more than {MAX_ALLOCATED:,} characters "
                                  "or items in all")

    def number(self, value: Any) -> Any:
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise ExpressionLimit(f"the expression made a number of more than {MAX_INT_BITS} "
                                  "bits")
        return value

    # The helpers instrumented code calls, by name `__mash_<name>`.

    def each(self, iterable: Iterable[Any]) -> Iterator[Any]:
        for item in iterable:
            self.tick()
            yield item

    def mul(self, left: Any, right: Any) -> Any:
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, str | bytes | list | tuple) and isinstance(times, int):
                self.made(len(seq) * max(times, 0))
                return left * right
        if isinstance(left, int) and isinstance(right, int) and \
                left.bit_length() + right.bit_length() > MAX_INT_BITS + 1:
            raise ExpressionLimit(f"the expression would make a number of more than "
                                  f"{MAX_INT_BITS} bits")
        return self.number(left * right)

    def add(self, left: Any, right: Any) -> Any:
        if isinstance(left, str | bytes | list | tuple) and isinstance(right, str | bytes | list | tuple):
            self.made(len(left) + len(right))
        return self.number(left + right)

    def mod(self, left: Any, right: Any) -> Any:
        if isinstance(left, str | bytes):
            raise ExpressionError("'%' formatting is not allowed; write an f-string")
        return left % right

    def text(self, value: Any) -> Any:
        """A value about to be turned into text (`str`, an f-string)."""
        self.made(_text_size(value))
        return value

    def to_text(self, *args: Any) -> str:
        if args:
            self.text(args[0])
        return str(*args)

    def total(self, iterable: Iterable[Any], start: Any = 0) -> Any:
        total = start
        for item in iterable:
            total = self.add(total, item)
        return total

    def join(self, separator: Any, *args: Any) -> Any:
        if isinstance(separator, str | bytes) and len(args) == 1:
            items = list(self.each(args[0]))
            self.made(sum(len(i) if isinstance(i, str | bytes) else 0 for i in items)
                      + len(separator) * max(len(items) - 1, 0))
            return separator.join(items)
        return separator.join(*args)

    def replace(self, text: Any, *args: Any) -> Any:
        if isinstance(text, str) and len(args) >= 2 and isinstance(args[0], str) and \
                isinstance(args[1], str):
            old, new = args[0], args[1]
            times = text.count(old) if old else len(text) + 1
            if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
                times = min(times, args[2])
            self.made(len(text) + times * max(len(new) - len(old), 0))
        return text.replace(*args)

    def extend(self, items: Any, *args: Any) -> Any:
        if isinstance(items, list) and len(args) == 1:
            more = list(self.each(args[0]))
            self.made(len(items) + len(more))
            return items.extend(more)
        return items.extend(*args)

    def append(self, items: Any, *args: Any) -> Any:
        if isinstance(items, list):
            self.made(len(items) + 1)
        return items.append(*args)



# What instrumented code calls: `__mash_<name>(__mash_budget, ...)`, the evaluation's Budget
# first. Unbound, so they are put in the globals once and only the Budget is made per call.
_BUDGET = _PREFIX + "budget"
_HELPERS: dict[str, Callable[..., Any]] = {
    _PREFIX + name: getattr(Budget, method) for name, method in (
        *((n, n) for n in ("each", "mul", "add", "mod", "text", "join", "replace", "extend",
                           "append")),
        ("str", "to_text"), ("sum", "total"))}
_HELPERS[_PREFIX + "bound"] = lambda budget, name: partial(_HELPERS[name], budget)
_CHECKED_METHODS = ("join", "replace", "extend", "append")
_CHECKED_BUILTINS = ("str", "sum")
_BINARY = {ast.Mult: "mul", ast.Add: "add", ast.Mod: "mod"}


def _text_size(value: Any, limit: int = MAX_SIZE + 1) -> int:
    """About how many characters `value` prints as; counting stops past `limit`."""
    size, stack, seen = 0, [value], set()
    while stack and size <= limit:
        item = stack.pop()
        if isinstance(item, str | bytes):
            size += len(item) + 2
        elif isinstance(item, bool) or item is None:
            size += 5
        elif isinstance(item, int):
            size += item.bit_length() // 3 + 2
        elif isinstance(item, list | tuple | set | frozenset | dict):
            if id(item) in seen:
                size += 5
                continue
            seen.add(id(item))
            size += 2 + 2 * len(item)
            stack.extend(item.items() if isinstance(item, dict) else item)
        else:
            size += 30
    return size


class _Instrument(ast.NodeTransformer):
    """Routes loops and size-making operations through the evaluation's `Budget`."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def helper(self, name: str, node: ast.AST) -> ast.Name:
        self.used.add(_PREFIX + name)
        return ast.copy_location(ast.Name(id=_PREFIX + name, ctx=ast.Load()), node)

    def budget(self, node: ast.AST) -> ast.Name:
        return ast.copy_location(ast.Name(id=_BUDGET, ctx=ast.Load()), node)

    def call(self, name: str, node: ast.AST, *args: ast.expr) -> ast.Call:
        return ast.copy_location(ast.Call(func=self.helper(name, node),
                                          args=[self.budget(node), *args], keywords=[]), node)

    def visit_comprehension(self, node: ast.comprehension) -> ast.comprehension:
        self.generic_visit(node)
        node.iter = self.call("each", node.iter, node.iter)
        return node

    def visit_For(self, node: ast.For) -> ast.For:
        self.generic_visit(node)
        node.iter = self.call("each", node.iter, node.iter)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        name = _BINARY.get(type(node.op))
        return self.call(name, node, node.left, node.right) if name else node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.stmt:
        self.generic_visit(node)
        name = _BINARY.get(type(node.op))
        if name is None:
            return node
        current = _as_load(node.target)
        return ast.copy_location(ast.Assign(targets=[node.target],
                                            value=self.call(name, node, current, node.value)), node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.FormattedValue:
        self.generic_visit(node)
        node.value = self.call("text", node.value, node.value)
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        func = node.func
        if isinstance(func, ast.Name) and func.id in _CHECKED_BUILTINS:
            node.args = [self.visit(a) for a in node.args]
            node.keywords = [self.visit(k) for k in node.keywords]
            node.func = self.helper(func.id, func)
            node.args = [self.budget(func), *node.args]
            return node
        self.generic_visit(node)
        if isinstance(func, ast.Attribute) and func.attr in _CHECKED_METHODS:
            node.func = self.helper(func.attr, func)
            node.args = [self.budget(func), func.value, *node.args]
        return node

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if isinstance(node.ctx, ast.Load) and node.id in _CHECKED_BUILTINS:
            # `str` and `sum` may also be passed on (`key=str`): bound to this evaluation
            self.used |= {_PREFIX + "bound", _PREFIX + node.id}
            return ast.copy_location(ast.Call(
                func=ast.Name(id=_PREFIX + "bound", ctx=ast.Load()),
                args=[self.budget(node), ast.Constant(_PREFIX + node.id)], keywords=[]), node)
        return node


def _as_load(target: ast.expr) -> ast.expr:
    """The value an augmented assignment's target reads (`x` of `x += 1`)."""
    copied = ast.parse(ast.unparse(target), mode="eval").body
    return ast.copy_location(copied, target)


@dataclass(frozen=True)
class Compiled:
    code: CodeType
    helpers: dict[str, Callable[..., Any]]  # none: it neither loops nor makes sized objects


@lru_cache(maxsize=4096)
def compile_checked(source: str, mode: Mode = "eval") -> Compiled:
    """Checked, instrumented and compiled once per distinct source text (diagrams repeat
    them)."""
    tree = check(source, mode)
    instrument = _Instrument()
    tree = ast.fix_missing_locations(instrument.visit(tree))
    code = compile_tree(tree, "<diagram>", mode)
    return Compiled(code, {name: _HELPERS[name] for name in sorted(instrument.used)})


class ExpressionEnvironment:
    """Evaluates checked expressions against task data plus the engine's functions.

    Implements the interface SpiffWorkflow's script engine expects from an environment
    (`evaluate`, `execute`), with the task data as the only variables.
    """

    def __init__(self, functions: Mapping[str, Callable[..., Any]]) -> None:
        self.globals: dict[str, Any] = {"__builtins__": SAFE_BUILTINS, **functions}

    def _namespace(self, compiled: Compiled, context: dict[str, Any],
                   external_context: Any) -> dict[str, Any]:
        namespace = {**self.globals, **(external_context or {}), **context}
        namespace["__builtins__"] = SAFE_BUILTINS
        if compiled.helpers:
            namespace.update(compiled.helpers)  # after the data: task data cannot hide them
            namespace[_BUDGET] = Budget()
        return namespace

    def evaluate(
        self, expression: str, context: dict[str, Any], external_context: Any = None
    ) -> Any:
        compiled = compile_checked(expression, "eval")
        return eval(compiled.code, self._namespace(compiled, context, external_context))

    def execute(self, script: str, context: dict[str, Any], external_context: Any = None) -> bool:
        """Run a script task; the task data changes only if the whole script succeeds."""
        compiled = compile_checked(script, "exec")
        clash = set(self.globals).intersection(context) - {"__builtins__"}
        if clash:
            raise ExpressionError(
                f"task data {sorted(clash)} would hide the engine function of the same name; "
                "rename the field"
            )
        namespace = self._namespace(compiled, context, external_context)
        exec(compiled.code, namespace)
        reserved = set(self.globals) | set(external_context or {})
        result = {k: v for k, v in namespace.items()
                  if k not in reserved and not k.startswith(_PREFIX)}
        context.clear()
        context.update(result)
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        raise NotImplementedError("service tasks are run by the engine's handlers")
