"""What `mash validate` sees in a diagram expression beyond its safety (engine/expressions.py):
calls to the engine's functions with the wrong arguments, what a timer expression gives
(an instant, a duration, a cycle), and which names it reads from the task data.
"""

from __future__ import annotations

import ast
import inspect
from datetime import UTC, datetime
from functools import cache
from typing import Any

from .bpmn.script_engine import DIAGRAM_FUNCTIONS, LONGEST, diagram_functions, parse_local_time
from .bpmn.specs import EXAMPLES, instant, is_iso_literal, literal_problem, meant_as_iso
from .expressions import SAFE_BUILTIN_NAMES, ExpressionError, Mode, check

# What a diagram's expression may call: the engine's functions and plain data builtins.
CALLABLE = frozenset(DIAGRAM_FUNCTIONS) | frozenset(
    name for name in SAFE_BUILTIN_NAMES if name not in ("True", "False", "None"))
# Names an expression reads without the task data giving them.
PROVIDED = CALLABLE | {"True", "False", "None"}


@cache
def _signatures() -> dict[str, inspect.Signature]:
    from .calendar import WorkingCalendar
    from .clock import VirtualClock

    functions = diagram_functions(VirtualClock(datetime(2026, 1, 1, tzinfo=UTC)), WorkingCalendar())
    return {name: inspect.signature(function) for name, function in functions.items()}


def problems(source: str | None, mode: Mode = "eval") -> tuple[ast.AST | None, list[str]]:
    """The checked tree (None when it cannot run) and every problem found in it."""
    if source is None or not source.strip():
        return None, ["is empty"]
    try:
        tree = check(source, mode, CALLABLE)
    except ExpressionError as err:
        return None, [str(err)]
    return tree, _calls(tree)


def _calls(tree: ast.AST) -> list[str]:
    """Calls to the engine's functions that would fail: arguments missing or unknown,
    timescales that are no number or longer than any, a time of day that is no time."""
    found: list[str] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in DIAGRAM_FUNCTIONS):
            continue
        name = node.func.id
        try:
            _signatures()[name].bind(*node.args, **{k.arg or "**": k.value for k in node.keywords})
        except TypeError as err:
            found.append(f"{name}(): {err}")
            continue
        first = node.args[0] if node.args else None
        value = first.value if isinstance(first, ast.Constant) else None
        if name in LONGEST and isinstance(first, ast.Constant):
            if isinstance(value, bool) or not isinstance(value, int | float):
                found.append(f"{name}() counts a number of {name.replace('_', ' ')}, not {value!r}")
            elif name == "working_days" and not isinstance(value, int):
                found.append(f"working_days() counts whole days, not {value!r}")
            elif value < 0 or value > LONGEST[name]:
                found.append(f"{name}({value}) is not a timescale (0 to {LONGEST[name]:,})")
        if name == "each_working_day" and isinstance(first, ast.Constant):
            try:
                parse_local_time(value)  # type: ignore[arg-type]
            except ValueError as err:
                found.append(f"each_working_day(): {err}")
    return found


# --- what an expression gives -----------------------------------------------------------

INSTANT, DURATION, CYCLE, TEXT, NUMBER, BOOLEAN, NOTHING, UNKNOWN = (
    "an instant", "a duration", "a cycle", "text", "a number", "true or false", "nothing",
    "unknown")
_GIVES = {"working_hours": INSTANT, "working_days": INSTANT, "hours": INSTANT, "now": INSTANT,
          "is_hub_open": BOOLEAN, "is_out_of_hours": BOOLEAN, "each_working_day": CYCLE}
ACCEPTS = {"timeDate": {INSTANT}, "timeDuration": {INSTANT, DURATION}, "timeCycle": {CYCLE},
           "since": {INSTANT, NOTHING}}


def gives(node: ast.AST) -> set[str]:
    """What an expression's value can be, as far as the source shows."""
    if isinstance(node, ast.Expression):
        return gives(node.body)
    if isinstance(node, ast.IfExp):
        return gives(node.body) | gives(node.orelse)
    if isinstance(node, ast.BoolOp):
        return set().union(*(gives(v) for v in node.values))
    if isinstance(node, ast.Compare) or (isinstance(node, ast.UnaryOp)
                                         and isinstance(node.op, ast.Not)):
        return {BOOLEAN}
    if isinstance(node, ast.Constant):
        return {_constant(node.value)}
    if isinstance(node, ast.BinOp) and gives(node.left) == gives(node.right) == {NUMBER}:
        return {NUMBER}
    if isinstance(node, ast.UnaryOp) and gives(node.operand) == {NUMBER}:
        return {NUMBER}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id in _GIVES:
            return {_GIVES[node.func.id]}
        if node.func.id in ("max", "min") and node.args:
            return set().union(*(gives(a) for a in node.args))
    return {UNKNOWN}


def _constant(value: Any) -> str:
    if value is None:
        return NOTHING
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int | float):
        return NUMBER
    if isinstance(value, str):
        if is_iso_literal(value):
            text = value.strip().upper()
            return CYCLE if text.startswith("R") else DURATION if text.startswith("P") else INSTANT
        try:
            instant(value)
            return INSTANT
        except ValueError:
            return TEXT
    return UNKNOWN


def timer_problems(kind: str, text: str | None) -> list[str]:
    """Problems of a timer's value, `kind` being timeDate, timeDuration, timeCycle or since
    (a deadline's start): an ISO 8601 value parsed fully, or an expression that must give
    what the timer needs."""
    if text is None or not text.strip():
        return ["is empty"]
    if kind != "since" and (is_iso_literal(text) or meant_as_iso(text)):
        problem = literal_problem(kind, text)
        return [f"{problem}; write e.g. {EXAMPLES[kind]}"] if problem else []
    tree, found = problems(text)
    if tree is None or found:
        return found
    wrong = gives(tree) - ACCEPTS[kind] - {UNKNOWN}
    if wrong:
        needs = " or ".join(sorted(ACCEPTS[kind] - {NOTHING}))
        found.append(f"gives {' or '.join(sorted(wrong))}, but a {kind} needs {needs}"
                     + (' such as each_working_day("10:00") or R/PT1H' if kind == "timeCycle"
                        else ""))
    return found


# --- the names an expression reads ----------------------------------------------------------


def reads(tree: ast.AST) -> set[str]:
    """Names an expression takes from the task data (not the engine's functions, builtins or
    a comprehension's own variables)."""
    found: set[str] = set()
    _reads(tree, frozenset(), found)
    return found


def _reads(node: ast.AST, bound: frozenset[str], found: set[str]) -> None:
    if isinstance(node, ast.Name):
        if isinstance(node.ctx, ast.Load) and node.id not in bound and node.id not in PROVIDED:
            found.add(node.id)
        return
    if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
        inner = bound
        for generator in node.generators:
            _reads(generator.iter, inner, found)
            inner = inner | _targets(generator.target)
            for condition in generator.ifs:
                _reads(condition, inner, found)
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        for part in parts:
            _reads(part, inner, found)
        return
    for child in ast.iter_child_nodes(node):
        _reads(child, bound, found)


def _targets(node: ast.AST) -> frozenset[str]:
    return frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name))


def script_names(tree: ast.AST) -> tuple[set[str], set[str]]:
    """A script's (names read before it sets them, names it sets), statement by statement."""
    read: set[str] = set()
    written: set[str] = set()

    def statements(body: list[ast.stmt]) -> None:
        for statement in body:
            if isinstance(statement, ast.Assign):
                read.update(reads(statement.value) - written)
                for target in statement.targets:
                    _store(target)
            elif isinstance(statement, ast.AugAssign):
                read.update((reads(statement.value) | _loaded(statement.target)) - written)
                _store(statement.target)
            elif isinstance(statement, ast.For):
                read.update(reads(statement.iter) - written)
                _store(statement.target)
                statements(statement.body)
                statements(statement.orelse)
            elif isinstance(statement, ast.If):
                read.update(reads(statement.test) - written)
                statements(statement.body)
                statements(statement.orelse)
            else:
                read.update(reads(statement) - written)

    def _store(target: ast.AST) -> None:
        if isinstance(target, ast.Name):
            written.add(target.id)
        else:  # items[0] = ..., a, b = ...: reads the container, or sets each name
            for node in ast.walk(target):
                if isinstance(node, ast.Name):
                    if isinstance(node.ctx, ast.Store):
                        written.add(node.id)
                    elif node.id not in written and node.id not in PROVIDED:
                        read.add(node.id)

    statements(tree.body if isinstance(tree, ast.Module) else [])
    return read, written


def _loaded(target: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name) and n.id not in PROVIDED}
