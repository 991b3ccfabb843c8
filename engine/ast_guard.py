"""One parse at a time: CPython before 3.13 keeps the counter that guards its AST converter
against deep recursion per interpreter, not per thread (python/cpython gh-106905, gh-95185).
Two threads converting at once (a request's expression beside the scheduler's, or services
deploying together) can then fail with "AST constructor recursion depth mismatch" on a
perfectly good expression. The service runs several threads, and SpiffWorkflow parses too
(DMN output entries, scripts), so every `ast.parse` in the process, and our `compile` of an
AST, goes through one lock. Parsing is quick and holds the GIL anyway: nothing is lost."""

from __future__ import annotations

import ast
import sys
import threading
from types import CodeType
from typing import Any

LOCK = threading.RLock()
_parse = ast.parse


def parse(*args: Any, **kwargs: Any) -> Any:
    with LOCK:
        return _parse(*args, **kwargs)


def compile_tree(tree: ast.Module | ast.Expression, filename: str, mode: str) -> CodeType:
    """`compile` of an AST object converts it back (the same counter)."""
    with LOCK:
        return compile(tree, filename, mode)


def install() -> None:
    """Route `ast.parse` through the lock, for every caller in the process (idempotent)."""
    if sys.version_info < (3, 13) and ast.parse is not parse:
        ast.parse = parse
