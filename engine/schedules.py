"""Processes that start on a timer: one new instance at each occurrence (BPMN's timer start
event, as Camunda runs it), e.g. the daily PPN meeting at 10:00 on each Hub working day.

The next occurrence of each is kept in the `schedules` table, recomputed when diagrams are
deployed and after each start. An occurrence missed while the service was down starts once
when it comes back, then the schedule carries on from now.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from .bpmn.script_engine import MashScriptEngine
from .bpmn.specs import instant, is_iso_literal
from .expressions import ExpressionEnvironment
from .store import Store, schedules


def evaluate(expression: str, engine: MashScriptEngine) -> Any:
    if is_iso_literal(expression):
        return expression.strip()
    environment: ExpressionEnvironment = engine.environment
    return environment.evaluate(expression, {})


def next_occurrence(expression: str, after: datetime, engine: MashScriptEngine) -> datetime | None:
    """The first occurrence strictly after `after`, or None when there are no more."""
    value = evaluate(expression, engine)
    if isinstance(value, dict) and "working_days_at" in value:
        return engine.next_working_day_at(after, value["working_days_at"])
    if not isinstance(value, str):
        raise ValueError(f"a start timer gave {type(value).__name__}, not a time or cycle")
    text = value.strip().upper()
    if text.startswith("R"):
        parts = text.replace("--", "/").strip("R").split("/")
        if len(parts) == 2:  # R/duration: every duration from now
            parsed = TimerEventDefinition.parse_iso_duration(parts[1])
            return after + TimerEventDefinition.get_timedelta_from_start(parsed, after)
        cycles, start, duration = TimerEventDefinition.parse_iso_recurring_interval(text)
        if duration <= timedelta(0):
            raise ValueError(f"{value!r}: the interval must be longer than zero")
        occurrence, count = start, 0
        while occurrence <= after:
            occurrence += duration
            count += 1
            if 0 <= cycles <= count:
                return None
        return occurrence
    if text.startswith("P"):
        parsed = TimerEventDefinition.parse_iso_duration(text)
        return after + TimerEventDefinition.get_timedelta_from_start(parsed, after)
    at = instant(value)
    return at if at > after else None


def update_schedules(store: Store, start_timers: dict[str, str | None], now: datetime,
                     engine: MashScriptEngine) -> None:
    """After a deployment: each process's schedule follows its newest version's start timer
    (`None`: it has none). A schedule whose timer did not change keeps its next occurrence."""
    from .deployments import lock

    with store.transaction() as conn:
        lock(conn)  # another service deploying at once updates them after us
        current = {r.process_id: r for r in conn.execute(sa.select(schedules))}
        for process_id, expression in start_timers.items():
            row = current.get(process_id)
            if expression is None:
                if row is not None:
                    conn.execute(schedules.delete().where(schedules.c.process_id == process_id))
                continue
            if row is not None and row.expression == expression:
                continue
            next_at = next_occurrence(expression, now, engine)
            if row is None:
                conn.execute(schedules.insert().values(
                    process_id=process_id, expression=expression, next_at=next_at))
            else:
                conn.execute(schedules.update().where(schedules.c.process_id == process_id)
                             .values(expression=expression, next_at=next_at))
