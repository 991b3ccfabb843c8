"""Whether a deadline counts Hub working time or elapsed time, read from its timer.

Lateness is shown in hours on the deadline's own clock: a deadline set with
`working_hours(…)` or `working_days(…)` is late by the Hub working hours past its due
instant; one set with `hours(…)` (GREEN's 72 hours) by elapsed hours. The timer expression
is the diagram's (the process owner may change it), so it is read from the deployed version
and, where it chooses by RAG (`working_hours(4, …) if rag == "RED" else …`), evaluated with
the contact's RAG and stand-ins for the time functions.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from ..calendar import WorkingCalendar
from ..expressions import ExpressionEnvironment
from ..working_time import working_time

Basis = Literal["working", "elapsed"]
WORKING: Basis = "working"
ELAPSED: Basis = "elapsed"


class Versions(Protocol):
    def version(self, version_id: int) -> Any: ...


def _timer_specs(version: Any) -> Iterator[Any]:
    for spec in [version.spec, *version.subprocess_specs.values()]:
        yield from spec.task_specs.values()


def _decided(version: Any, name: str) -> str | None:
    """A timer that waits for a name a decision table sets (the RAG timescale's `rag_due`,
    processes/rag_timescale.dmn): the table's cells for it, as one expression."""
    from ..bpmn.dmn import as_expression

    for spec in _timer_specs(version):
        table = getattr(getattr(spec, "dmnEngine", None), "decision_table", None)
        if table is not None and not getattr(spec, "result_variable", None):
            found = as_expression(table, name)
            if found is not None:
                return found
    return None


def basis_of_expression(expression: str, rag: str | None) -> Basis:
    """Which clock a timer expression uses for a contact of this RAG."""
    marks = {"working_hours": lambda *a, **k: WORKING, "working_days": lambda *a, **k: WORKING,
             "hours": lambda *a, **k: ELAPSED}
    try:
        # every name the expression reads is unknown here (None) but the RAG
        names = {n.id: None for n in ast.walk(ast.parse(expression.strip(), mode="eval"))
                 if isinstance(n, ast.Name) and n.id not in marks}
        found = ExpressionEnvironment(marks).evaluate(expression, {**names, "rag": rag})
    except Exception:  # not evaluable without the contact's data
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
            if found is not None and found.strip().isidentifier() and version is not None:
                found = _decided(version, found.strip()) or found
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
        return working_time(self.calendar).between(due, done)  # (by lookup: the same)
