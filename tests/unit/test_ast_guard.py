"""Parsing is serialised across threads (engine/ast_guard.py): CPython before 3.13 shares
the AST converter's recursion counter between threads, which made services deploying
together fail on a good decision table now and then."""

from __future__ import annotations

import ast
import sys
import threading

import engine  # noqa: F401  (installs the guard)
from engine import ast_guard
from engine.expressions import compile_checked


def test_every_parse_in_the_process_waits_for_the_one_in_progress() -> None:
    if sys.version_info >= (3, 13):  # the counter is per thread there: nothing to guard
        assert ast.parse is not ast_guard.parse
        return
    assert ast.parse is ast_guard.parse  # SpiffWorkflow's calls go through it too
    done = threading.Event()

    def parse() -> None:
        ast.parse("working_hours(4, since=rag_since)")
        done.set()

    with ast_guard.LOCK:  # a parse in progress elsewhere
        thread = threading.Thread(target=parse)
        thread.start()
        assert not done.wait(0.3)
    assert done.wait(5)
    thread.join()


def test_expressions_compile_under_the_lock() -> None:
    compile_checked.cache_clear()
    done = threading.Event()

    def build() -> None:
        compile_checked("rag == 'RED' and threshold_level >= 3")
        done.set()

    with ast_guard.LOCK:
        thread = threading.Thread(target=build)
        thread.start()
        assert not done.wait(0.3)
    assert done.wait(5)
    thread.join()


def test_many_threads_parse_the_diagrams_expressions_together() -> None:
    sources = ["working_hours(4, since=rag_since)", "rag in ('RED', 'AMBER')",
               " + ".join(["hours(1)"] * 150)]
    failed: list[BaseException] = []

    def parse() -> None:
        try:
            for _ in range(200):
                for source in sources:
                    ast.parse(source, mode="eval")
        except BaseException as err:  # any failure is the finding
            failed.append(err)

    threads = [threading.Thread(target=parse) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == []
