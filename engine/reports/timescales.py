"""Whether a deadline counts Hub working time or elapsed time, read from its timer.

Lateness is shown in hours on the deadline's own clock: a deadline set with
`working_hours(…)` or `working_days(…)` is late by the Hub working hours past its due
instant; one set with `hours(…)` (GREEN's 72 hours) by elapsed hours. The timer expression
is the diagram's (the process owner may change it), so it is read from the deployed version
and, where it chooses by RAG (`working_hours(4, …) if rag == "RED" else …`), evaluated with
the contact's RAG and stand-ins for the time functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from ..calendar import WorkingCalendar
from ..expressions import SAFE_BUILTINS, ExpressionError, compile_checked

Basis = Literal["working", "elapsed"]
WORKING: Basis = "working"
ELAPSED: Basis = "elapsed"


class Versions(Protocol):
    def version(self, version_id: int) -> Any: ...


class _Anything(dict[str, Any]):
    """The data an expression reads: every name but the RAG is unknown here."""

    def __missing__(self, key: str) -> Any:
        return None


def _timer_specs(version: Any) -> Iterator[Any]:
    for spec in [version.spec, *version.subprocess_specs.values()]:
        yield from spec.task_specs.values()


def basis_of_expression(expression: str, rag: str | None) -> Basis:
    """Which clock a timer expression uses for a contact of this RAG."""
    marks = {"working_hours": lambda *a, **k: WORKING, "working_days": lambda *a, **k: WORKING,
             "hours": lambda *a, **k: ELAPSED}
    try:
        code = compile_checked(expression, "eval")
        namespace = _Anything(marks, rag=rag, __builtins__=SAFE_BUILTINS)
        found = eval(code, namespace)  # checked by engine.expressions: diagram-safe only
    except (ExpressionError, Exception):
        found = None
    if found in (WORKING, ELAPSED):
        return WORKING if found == WORKING else ELAPSED
    # Not evaluable here: say what the expression mostly uses; the Hub counts working time.
    return ELAPSED if "hours(" in expression and "working_" not in expression else WORKING


class Timescales:
    """The clock of each deadline (by version, timer element and RAG), and lateness on it."""

    def __init__(self, versions: Versions, calendar: WorkingCalendar) -> None:
        self.versions = versions
        self.calendar = calendar
        self._expressions: dict[tuple[int, str], str | None] = {}
        self._basis: dict[tuple[int, str, str | None], Basis] = {}

    def _expression(self, version_id: int, element_id: str) -> str | None:
        key = (version_id, element_id)
        if key not in self._expressions:
            found = None
            try:
                version = self.versions.version(version_id)
            except Exception:  # a version no longer loadable: count working time
                version = None
            if version is not None:
                for spec in _timer_specs(version):
                    if spec.bpmn_id == element_id:
                        found = getattr(getattr(spec, "event_definition", None), "expression", None)
                        break
            self._expressions[key] = found
        return self._expressions[key]

    def basis(self, version_id: int, element_id: str, rag: str | None) -> Basis:
        key = (version_id, element_id, rag)
        found = self._basis.get(key)
        if found is None:
            expression = self._expression(version_id, element_id)
            found = basis_of_expression(expression, rag) if expression else WORKING
            self._basis[key] = found
        return found

    def late_by(self, basis: Basis, due: datetime, done: datetime) -> timedelta:
        """How late work done at `done` was against `due`, on the deadline's clock."""
        if done <= due:
            return timedelta(0)
        if basis == ELAPSED:
            return done - due
        return self.calendar.working_time_between(due, done)
