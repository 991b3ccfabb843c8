"""The heat map read by day with closed days memoised (engine/reports/steps.py) gives exactly
what the earlier reading gave: one SQL question per figure over the period (kept below as
the oracle), for every period within the known week, for every diagram; after the week goes
on (days close, the memo catches up); and after a step is written into a day the memo holds
(it is found and the memo rebuilt). On SQLite and PostgreSQL (the week fixture)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.calendar import WorkingCalendar
from engine.reports import heatmap, steps
from engine.reports.reader import reports_for
from engine.store import history, human_tasks, instances
from tests.reports.history import Week

PROCESSES = ("first_response", "escalation", "missing_child")


def oracle(conn: Connection, calendar: WorkingCalendar, elements: dict[str, heatmap.Element],
           flows: dict[str, str], roots: list[str] | None, start: datetime | None,
           end: datetime | None) -> dict[str, tuple[int, list[float]]]:
    """The heat map's figures as first written: count(DISTINCT) per element, the task rows
    through the calendar, and a correlated subquery for the step before each wait."""
    passed_by: dict[str, int] = defaultdict(int)
    seconds_by: dict[str, list[float]] = defaultdict(list)
    ids = sorted(elements)

    def within(column: Any) -> list[Any]:
        return ([column >= start] if start else []) + ([column < end] if end else [])

    def of_roots(query: Any, instance_id: Any) -> Any:
        if roots is None:
            return query
        return query.join(instances, instances.c.id == instance_id)\
            .where(instances.c.process_id.in_(roots))

    passed = of_roots(sa.select(history.c.element_id,
                                sa.func.count(sa.distinct(history.c.instance_id))),
                      history.c.instance_id)\
        .where(history.c.element_id.in_(ids), *within(history.c.at))\
        .group_by(history.c.element_id)
    for element_id, count in conn.execute(passed):
        passed_by[element_id] = int(count)
    people = sorted(e.id for e in elements.values() if e.kind == "person")
    tasks = of_roots(sa.select(human_tasks.c.element_id, human_tasks.c.created_at,
                               human_tasks.c.completed_at, human_tasks.c.status),
                     human_tasks.c.instance_id)\
        .where(human_tasks.c.element_id.in_(people), *within(human_tasks.c.completed_at))
    for element_id, opened, done, status in conn.execute(tasks):
        if status == "completed":
            seconds_by[element_id].append(
                calendar.working_time_between(opened, done).total_seconds())
    waiting = sorted(e.id for e in elements.values() if e.kind == "waiting")
    sources = {f: s for f, s in flows.items() if s in elements}
    before = history.alias("before")
    since = sa.select(sa.func.max(before.c.at))\
        .where(before.c.instance_id == history.c.instance_id,
               before.c.element_id == sa.case(sources, value=history.c.flow_id),
               before.c.at <= history.c.at).scalar_subquery()
    waits = of_roots(sa.select(history.c.element_id, history.c.at, since.label("since")),
                     history.c.instance_id)\
        .where(history.c.element_id.in_(waiting), history.c.action == "completed",
               history.c.flow_id.is_not(None), *within(history.c.at))
    for element_id, at, began in conn.execute(waits):
        if began is not None:
            began = datetime.fromisoformat(began) if isinstance(began, str) else began
            began = began if began.tzinfo else began.replace(tzinfo=UTC)
            seconds_by[element_id].append(max(0.0, (at - began).total_seconds()))
    return {e: (passed_by[e], sorted(seconds_by[e])) for e in set(passed_by) | set(seconds_by)}


def _question(week: Week, process_id: str) -> tuple[Any, ...]:
    engine = week.hub.engine
    version = engine.deployments.latest(process_id)
    file = version.models[process_id].file
    models = [m for m in version.models.values() if m.file == file]
    elements = heatmap.elements_of(models)
    with engine.store.reading() as conn:
        roots = heatmap.roots_using(conn, engine.deployments, {m.id for m in models})
    return elements, heatmap.flows_of(models), roots


def _memoised(week: Week, process_id: str, start: datetime | None, end: datetime | None
              ) -> dict[str, tuple[int, list[float]]]:
    engine = week.hub.engine
    reports = reports_for(engine)
    elements, flows, roots = _question(week, process_id)
    with engine.store.reading() as conn:
        memo = steps.for_question(reports._memos, heatmap.question(elements, flows, roots),
                                  engine.calendar.zone, conn.dialect.name == "sqlite")
        found = steps.period_figures(conn, engine.calendar, memo, engine.clock.now(), start, end)
    return {e: (n, sorted(s)) for e, (n, s) in found.items() if n or s}


def _expected(week: Week, process_id: str, start: datetime | None, end: datetime | None
              ) -> dict[str, tuple[int, list[float]]]:
    engine = week.hub.engine
    elements, flows, roots = _question(week, process_id)
    with engine.store.reading() as conn:
        found = oracle(conn, engine.calendar, elements, flows, roots, start, end)
        direct = heatmap.samples(conn, engine.calendar, elements, flows, roots, start, end)
    # the one-pass reading without the memo (the simulation's) agrees too
    assert {e: (s.passed, sorted(s.seconds)) for e, s in direct.items() if s.passed or s.seconds} \
        == {e: v for e, v in found.items() if v[0] or v[1]}
    return {e: v for e, v in found.items() if v[0] or v[1]}


def _periods(week: Week) -> list[tuple[datetime | None, datetime | None]]:
    reports = reports_for(week.hub.engine)
    days = [date(2026, 11, 21) + timedelta(days=i) for i in range(14)]
    found: list[tuple[datetime | None, datetime | None]] = [(None, None)]
    for first in days:  # (each day alone, runs of 2, 3 and 7 days, and to the end)
        for last in sorted({first + timedelta(days=n) for n in (0, 1, 2, 6)} | {days[-1]}):
            if last > days[-1]:
                continue
            period = reports.period(first.isoformat(), last.isoformat())
            found.append((period.start, period.end))
    return found


def _check_every_period(week: Week) -> int:
    checked = 0
    for process_id in PROCESSES:
        for start, end in _periods(week):
            assert _memoised(week, process_id, start, end) == \
                _expected(week, process_id, start, end), (process_id, start, end)
            checked += 1
    return checked


def test_every_period_of_the_week_as_the_sql_reading_gave(week: Week) -> None:
    assert _check_every_period(week) == 3 * (1 + 14 + 13 + 12 + 8 + 10)
    # the days before today's (less an hour) are held, and were read once
    memo = next(iter(reports_for(week.hub.engine)._memos.values()))
    assert memo.closed == date(2026, 12, 2).toordinal() and memo.days


def test_the_memo_catches_up_as_days_close_and_rebuilds_on_a_step_in_a_closed_day(
        week: Week) -> None:
    hub = week.hub
    hub.advance(to="2026-12-03T10:00:00Z")  # Wednesday closes: G's day
    hub.complete(week.ids["G"], "verify", accepted=True)
    hub.advance(to="2026-12-04T12:00:00Z")
    assert _check_every_period(week)
    memo = reports_for(hub.engine)._memos[heatmap.question(*_question(week, "first_response"))]
    assert memo.closed == date(2026, 12, 4).toordinal()
    # An instance passing a step on several days (counted once over a period holding them):
    # written straight into days the memo holds, which it must notice.
    with hub.engine.store.transaction() as conn:
        for day in ("2026-11-24T12:00:00", "2026-11-26T12:00:00", "2026-12-01T12:00:00"):
            conn.execute(history.insert().values(
                instance_id=week.ids["A"], at=datetime.fromisoformat(day).replace(tzinfo=UTC),
                actor="tester", action="completed", element_id="look_up_case_records"))
    with hub.engine.store.reading() as conn:
        assert not memo.valid(conn)
    assert _check_every_period(week)
    assert memo.closed == date(2026, 12, 4).toordinal()  # rebuilt
    with hub.engine.store.reading() as conn:
        assert memo.valid(conn)
    whole = _memoised(week, "first_response", None, None)
    assert whole["look_up_case_records"][0] == 7  # the seven contacts, A once
    reports = reports_for(hub.engine)
    days = reports.period("2026-11-24", "2026-11-26")  # C, D and A (on two days): three
    assert _memoised(week, "first_response", days.start, days.end)[
        "look_up_case_records"][0] == 3


def test_a_day_is_counted_once_and_earlier_days_within_the_period_are_taken_off() -> None:
    # one instance on days 10, 12 and 15; another on day 12 only
    days: steps.Days = {
        10: {"x": steps.Part(first=1)},
        12: {"x": steps.Part(first=2, before=[10])},
        15: {"x": steps.Part(first=1, before=[12], seconds=[3.0])},
    }

    def passed(first: int | None, last: int) -> int:
        held = [(d, p) for d, p in days.items() if (first is None or d >= first) and d <= last]
        return steps.merge(held, first).get("x", (0, []))[0]

    assert passed(None, 20) == 2
    assert passed(10, 20) == 2
    assert passed(11, 20) == 2  # from 12: both instances
    assert passed(13, 20) == 1  # day 15 only
    assert passed(10, 11) == 1
    assert passed(12, 12) == 2
    assert steps.merge(list(days.items()), None)["x"][1] == [3.0]
