"""Diagram expressions run against the task data and the engine's functions, and nothing else."""

from __future__ import annotations

import re

import pytest

from engine.expressions import ExpressionEnvironment, ExpressionError, check

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
