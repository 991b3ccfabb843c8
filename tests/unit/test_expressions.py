"""Diagram expressions run against the task data and the engine's functions, and nothing else."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from engine.expressions import ExpressionEnvironment, ExpressionError, ExpressionLimit, check

ESCAPES = [
    ("__import__('os').system('id')", "'.system' is not allowed"),
    ("__import__('os')", "the name '__import__' is not allowed"),
    ("().__class__.__mro__[1].__subclasses__()", "'.__subclasses__' is not allowed"),
    ("'{0.__class__}'.format(1)", "'.format' is not allowed"),
    ("(lambda: 1)()", "lambda is not allowed"),
    ("[x for x in range(10)].__len__()", "'.__len__' is not allowed"),
    ("2 ** 100000000", "the ** operator is not allowed"),
    ("(y := 1)", "the := operator is not allowed"),
    ("gi.gi_frame.f_globals", "'.f_globals' is not allowed"),
]


@pytest.mark.parametrize(("source", "message"), ESCAPES)
def test_escapes_are_refused_before_anything_runs(source: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        check(source)


@pytest.mark.parametrize("script", [
    "import os", "from os import system", "def f():\n    pass", "while True:\n    pass",
    "class A:\n    pass", "global x", "try:\n    x = 1\nexcept Exception:\n    pass",
    "with open('x') as f:\n    pass", "raise ValueError()",
])
def test_statements_that_reach_outside_are_refused_in_scripts(script: str) -> None:
    with pytest.raises(ExpressionError, match="is not allowed"):
        check(script, "exec")


def test_builtins_that_reach_files_or_processes_do_not_exist() -> None:
    environment = ExpressionEnvironment({})
    for source in ("open('/etc/passwd')", "eval('1')", "exec('1')", "getattr(1, 'real')",
                   "globals()", "vars()", "compile('1', 'x', 'eval')", "input()"):
        with pytest.raises(NameError):
            environment.evaluate(source, {})


def test_conditions_read_the_task_data_and_the_engines_functions() -> None:
    environment = ExpressionEnvironment({"double": lambda n: n * 2})
    data = {"rag": "RED", "flags": ["re_referral"], "child": {"name": "A"}}
    assert environment.evaluate('rag in ("RED", "AMBER")', data) is True
    assert environment.evaluate('"re_referral" in flags and child.get("name") == "A"', data)
    assert environment.evaluate("double(21)", {}) == 42
    assert environment.evaluate("len([f for f in flags if f])", data) == 1


def test_a_script_changes_the_data_only_when_it_succeeds() -> None:
    environment = ExpressionEnvironment({})
    data = {"rag": "RED"}
    assert environment.execute('rag = "AMBER"\nlevel = 3', data) is True
    assert data == {"rag": "AMBER", "level": 3}
    with pytest.raises(ZeroDivisionError):
        environment.execute('rag = "GREEN"\nbroken = 1 / 0', data)
    assert data == {"rag": "AMBER", "level": 3}


def test_data_may_not_hide_an_engine_function() -> None:
    environment = ExpressionEnvironment({"working_hours": lambda n: n})
    with pytest.raises(ExpressionError, match="working_hours"):
        environment.execute("x = 1", {"working_hours": 4})


@pytest.mark.parametrize("source", ["", "   ", "rag ==", "1 +"])
def test_empty_or_broken_expressions_are_named(source: str) -> None:
    with pytest.raises(ExpressionError):
        check(source)


# --- bounds (issue 15.3, 15.4) -----------------------------------------------------------

SEEN_AT_VALIDATION = [
    ("sum(1 for a in 'x'*100000 for b in 'x'*100000)", "limit is 10,000"),
    ("'a'*3000000000", "repetition makes 3,000,000,000 items"),
    ("3000000000 * ['a']", "repetition makes 3,000,000,000 items"),
    ("[c for c in 'abc' for d in 'x' * 5000]", "would take 15,000 steps"),
    ("x * 100000000", None),  # a number times a number: left to the run-time bound
    ("threshold_level == 99999999999999999999", "is too large"),
    ("'%999999999s' % rag", "'%' formatting is not allowed"),
    ("f'{rag:>999999999}'", "a format width of 999,999,999"),
    ("f'{rag:>{width}}'", "a format spec must be written out"),
    ("'-'.join", "may only be called"),
    ("max(items, key=sep.join)", "may only be called"),
    ("-" * 100_000 + "1", "the limit is 2000"),
    ("-" * 1_900 + "1", "nested"),
    ("1" + "+1" * 990, "nested"),
    ("[" * 150 + "1" + "]" * 150, "nested"),
]


@pytest.mark.parametrize(("source", "message"), SEEN_AT_VALIDATION)
def test_what_the_source_shows_is_too_big_is_refused_when_validated(
        source: str, message: str | None) -> None:
    started = time.perf_counter()
    if message is None:
        check(source)
    else:
        with pytest.raises(ExpressionError, match=re.escape(message)):
            check(source)
    assert time.perf_counter() - started < 0.5


def test_a_script_is_bounded_when_validated_too() -> None:
    with pytest.raises(ExpressionError, match="nested"):
        check("x = " + "-" * 15_000 + "1", "exec")
    with pytest.raises(ExpressionError, match="the limit is 20000"):
        check("x = 1\n" * 5_000, "exec")


BIG = "x" * 100_000

AT_RUN_TIME = [
    # what the source cannot show: the sizes come from the task data
    ("sum(1 for a in s for b in s)", {"s": BIG}, "limit of 100,000 steps"),
    ("len([1 for a in items for b in items])", {"items": list(range(1_000))}, "steps"),
    ("s * n", {"s": "a", "n": 3_000_000_000}, "would make 3,000,000,000"),
    ("n * items", {"items": [1], "n": 10**12}, "would make"),
    ("s + s", {"s": BIG}, "would make 200,000"),
    ("sep.join(items)", {"sep": BIG, "items": ["a"] * 1_000}, "would make"),
    ("s.replace('', s)", {"s": BIG[:1_000]}, "would make"),
    ("str(items)", {"items": [BIG] * 1_000}, "would make"),
    ("f'{items}'", {"items": [BIG] * 1_000}, "would make"),
    ("max(items, key=str)", {"items": [[BIG] * 10] * 10}, "would make"),
    ("sum(items, [])", {"items": [[1] * 1_000] * 1_000}, "characters or items"),
    ("t % rag", {"t": "%s", "rag": "RED"}, "'%' formatting is not allowed"),
    ("[s + 'x' for c in s[:50]]", {"s": BIG[:50_000]}, "in all"),
    ("n * n * n * n * n * n * n * n", {"n": 2**600}, "bits"),
    ("working_days(1000000)", {}, "longer than any timescale"),
]


@pytest.mark.parametrize(("source", "data", "message"), AT_RUN_TIME)
def test_what_runs_past_a_limit_is_stopped_quickly(source: str, data: dict[str, Any],
                                                   message: str) -> None:
    from engine.bpmn.script_engine import diagram_functions
    from engine.calendar import WorkingCalendar
    from engine.clock import VirtualClock

    functions = diagram_functions(VirtualClock(datetime(2026, 11, 23, 9, tzinfo=UTC)),
                                  WorkingCalendar())
    environment = ExpressionEnvironment(functions)
    check(source)  # nothing to see in the source
    started = time.perf_counter()
    with pytest.raises((ExpressionLimit, ExpressionError, ValueError), match=re.escape(message)):
        environment.evaluate(source, data)
    assert time.perf_counter() - started < 0.5


def test_a_script_past_a_limit_changes_nothing() -> None:
    environment = ExpressionEnvironment({})
    data: dict[str, Any] = {"items": [1, 2], "total": 0}
    script = "total = 1\nfor i in items:\n    items.extend(items)\n"
    started = time.perf_counter()
    with pytest.raises(ExpressionLimit):
        environment.execute(script, data)
    assert time.perf_counter() - started < 0.5
    assert data["total"] == 0


def test_a_loop_past_its_time_is_stopped_by_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.expressions as expressions

    monkeypatch.setattr(expressions, "TIME_LIMIT", 0.05)
    monkeypatch.setattr(expressions, "MAX_STEPS", 10**9)
    environment = ExpressionEnvironment({})
    started = time.perf_counter()
    with pytest.raises(ExpressionLimit, match=re.escape("time limit of 0.05 s")):
        environment.evaluate("sum(len(s) for a in s for b in s)", {"s": BIG})
    assert time.perf_counter() - started < 0.5


def test_bounded_operations_give_the_same_answers() -> None:
    environment = ExpressionEnvironment({})
    data = {"flags": ["a", "b"], "n": 3, "name": "Ann", "items": [[1], [2]]}
    cases = {
        "'ab' * n": "ababab", "n * [0]": [0, 0, 0], "name + '!'": "Ann!", "n * 2 + 1": 7,
        "', '.join(flags)": "a, b", "name.replace('n', 'N')": "ANN", "str(n)": "3",
        "f'{name:>5}|{n:03d}'": "  Ann|003", "sum([1, 2, n])": 6, "sum(items, [])": [1, 2],
        "sorted(['b', 'a'], key=str)": ["a", "b"], "[f for f in flags if f != 'a']": ["b"],
        "{f: len(f) for f in flags}": {"a": 1, "b": 1}, "7 % n": 1,
    }
    for source, expected in cases.items():
        assert environment.evaluate(source, dict(data)) == expected, source
    script = "out = []\nfor f in flags:\n    out.append(f)\nout.extend(['c'])\nn += 1\nn *= 2\n"
    scripted = dict(data)
    environment.execute(script, scripted)
    assert scripted["out"] == ["a", "b", "c"] and scripted["n"] == 8
    assert not any(k.startswith("__") for k in scripted)
