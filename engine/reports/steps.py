"""The heat map's figures read from the raw history and task rows, by day: for each element,
the instances that passed it and the seconds spent there, bucketed by the Hub's local day.

Why by day: a year's heat map asks about 800,000 history rows and 96,000 finished tasks,
more than a page can read in its time. History is append-only and each row is written at the
engine's "now", so a day that has ended (by an hour's margin) can gain no row: its figures are
a pure function of rows that no longer change, and `DayMemo` keeps them. A page then reads
only the days not yet closed. Nothing is counted beside the history: the memo is rebuilt from
it whenever it is not known to hold (a new process, or a row found written into a closed day,
which `DayMemo.valid` checks on every use).

Counting an instance once per element over any run of days: each day counts the instances
with a step on the element that day (`Part.first`), and notes for each of those the last
earlier day the same instance had a step on it (`Part.before`); over days [a, b] the instances
that passed are the day counts less those whose earlier day is in [a, b] too. That is exact:
an instance counted on its k days in the period is taken off k-1 times.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..calendar import WorkingCalendar
from ..store import history, human_tasks, instances
from ..working_time import _NAIVE_EPOCH, EPOCH, micros, working_time
from .rows import driver_iter, driver_rows

FEW = 500  # instances in a period read by their ids (more: through the element-time index)
SETTLE = timedelta(hours=1)  # a day is closed once it ended this long ago
_DAY = 86_400_000_000


@dataclass
class Part:
    """One element's figures on one day."""

    first: int = 0  # instances with a step on the element that day
    before: list[int] = field(default_factory=list)  # of those, the last earlier day of one
    seconds: list[float] = field(default_factory=list)


Days = dict[int, dict[str, Part]]  # local day (ordinal) -> element id -> figures


@dataclass(frozen=True)
class Question:
    """What the heat map of one diagram file asks of the rows."""

    ids: tuple[str, ...]  # every element: passed
    people: tuple[str, ...]  # a person's task: working time from the task rows
    waiting: frozenset[str]  # waits: elapsed time since the flow's source
    sources: tuple[tuple[str, str], ...]  # sequence flow -> the element it leaves
    roots: tuple[str, ...] | None  # only instances of these processes (None: any)


class Calendar:
    """The local day of an instant, by binary search over the local midnights. Instants come
    as the database driver gives them (`raw`: text on SQLite, which sorts as time does in
    SQLAlchemy's fixed format; naive UTC datetimes on PostgreSQL), so a year's rows are
    bucketed without making a datetime of each."""

    def __init__(self, zone: ZoneInfo, text: bool) -> None:
        self.zone = zone
        self.text = text
        self._first = 0
        self._midnights: list[Any] = []

    def midnight(self, ordinal: int) -> int:
        local = datetime.combine(date.fromordinal(ordinal), datetime.min.time(), self.zone)
        return micros(local)

    def raw(self, at: int) -> Any:
        """An instant (microseconds) as the driver gives it."""
        naive = _NAIVE_EPOCH + timedelta(microseconds=at)
        return naive.strftime("%Y-%m-%d %H:%M:%S.%f") if self.text else naive

    def micros(self, value: Any) -> int:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return micros(value)

    def day_of(self, at: int) -> int:
        """The local day of an instant in microseconds."""
        return (EPOCH + timedelta(microseconds=at)).astimezone(self.zone).toordinal()

    def __call__(self, value: Any) -> int:
        """The local day (ordinal) of a raw instant."""
        i = bisect_right(self._midnights, value) - 1
        if 0 <= i < len(self._midnights) - 1:
            return self._first + i
        ordinal = self.day_of(self.micros(value))
        first, last = ordinal - 400, ordinal + 400  # (then the union with what is held)
        if self._midnights:
            first, last = min(first, self._first), max(last, self._first + len(self._midnights))
        self._midnights = [self.raw(self.midnight(d)) for d in range(first, last + 1)]
        self._first = first
        return ordinal


def collect(conn: Connection, calendar: WorkingCalendar, question: Question,
            start: int | None, end: int | None, bucket: Callable[[Any], int],
            days: Calendar) -> Days:
    """The figures of the steps and finished tasks in [start, end) (microseconds; None: no
    bound), by bucket (of a raw instant: a local day, or one bucket for all)."""
    found: Days = defaultdict(lambda: defaultdict(Part))
    if not question.ids:
        return found
    _steps(conn, question, start, end, bucket, days, found)
    _tasks(conn, calendar, question, start, end, bucket, days, found)
    return found


def _as_time(at: int) -> datetime:
    return EPOCH + timedelta(microseconds=at)


def _of_roots(query: Any, instance_id: Any, roots: tuple[str, ...] | None) -> Any:
    if roots is None:
        return query
    return query.join(instances, instances.c.id == instance_id)\
        .where(instances.c.process_id.in_(roots))


def _steps(conn: Connection, question: Question, start: int | None, end: int | None,
           bucket: Callable[[Any], int], days: Calendar, found: Days) -> None:
    h = history.c
    sources = dict(question.sources)
    # Every step on these elements of the instances with a step in the period, up to its end,
    # by element and time (the element-time index, read alone): those before the start too,
    # for an instance's earlier day on an element and the step before a wait.
    steps = _of_roots(sa.select(h.element_id, h.at, h.instance_id), h.instance_id,
                      question.roots).where(h.element_id.in_(question.ids))
    waits = _of_roots(sa.select(h.instance_id, h.element_id, h.at, h.flow_id), h.instance_id,
                      question.roots)\
        .where(h.element_id.in_(sorted(question.waiting)), h.action == "completed",
               h.flow_id.is_not(None))
    if end is not None:
        steps = steps.where(h.at < _as_time(end))
        waits = waits.where(h.at < _as_time(end))
    if start is not None:
        # (the instances with a step in the period: found through the same index)
        active: Any = sa.select(history.c.instance_id).where(
            history.c.element_id.in_(question.ids), history.c.at >= _as_time(start),
            *([history.c.at < _as_time(end)] if end is not None else [])).distinct()
        few = [i for (i,) in driver_rows(conn, active.limit(FEW + 1))]
        steps = steps.where(h.instance_id.in_(active))
        waits = waits.where(h.at >= _as_time(start))
    waited = driver_rows(conn, waits) if question.waiting and sources else []
    rows: Iterable[tuple[Any, ...]]
    if start is not None and len(few) <= FEW:
        # Few instances (today's, say): their steps read by instance (ix_history_instance),
        # not by element over all time, which a database of years makes slow.
        wanted, high = set(question.ids), days.raw(end) if end is not None else None
        rows = sorted((r for r in driver_rows(conn, _of_roots(
            sa.select(h.element_id, h.at, h.instance_id), h.instance_id, question.roots)
            .where(h.instance_id.in_(few)))
            if r[0] in wanted and (high is None or r[1] < high)), key=lambda r: (r[0], r[1]))
    else:
        rows = driver_iter(conn, steps.order_by(h.element_id, h.at))  # (read once, as it comes)
    # the elements the waits were left from: their steps are kept as they pass
    from_source = {sources[f] for _, _, _, f in waited if f in sources}
    low = days.raw(start) if start is not None else None
    at_source: dict[tuple[str, str], list[Any]] = defaultdict(list)
    search, midnights = bisect_right, days._midnights
    element: Any = None
    last_day: dict[str, int] = {}  # of the element: instance -> the last day it had a step
    keep = False
    for element_id, at, instance_id in rows:
        if element_id != element:
            element, last_day = element_id, {}
            keep = element_id in from_source
        if keep:
            at_source[instance_id, element_id].append(at)
        i = search(midnights, at) - 1  # (the calendar's bucket, inline: 800,000 calls)
        if bucket is days and 0 <= i < len(midnights) - 1:
            day = days._first + i
        else:
            day = bucket(at)
            midnights = days._midnights
        last = last_day.get(instance_id)
        if day != last:
            if low is None or at >= low:  # (before the period: only its day is noted)
                part = found[day][element_id]
                part.first += 1
                if last is not None:
                    part.before.append(last)
            last_day[instance_id] = day
    for instance_id, element_id, at, flow_id in waited:
        source = sources.get(flow_id)
        # The last step of the flow's source in the same instance, up to this one.
        earlier = at_source.get((instance_id, source)) if source is not None else None
        i = bisect_right(earlier, at) - 1 if earlier else -1
        if i >= 0:
            assert earlier is not None
            spent = days.micros(at) - days.micros(earlier[i])
            found[bucket(at)][element_id].seconds.append(max(0, spent) / 1_000_000)


def _tasks(conn: Connection, calendar: WorkingCalendar, question: Question, start: int | None,
           end: int | None, bucket: Callable[[Any], int], days: Calendar, found: Days) -> None:
    if not question.people:
        return
    t = human_tasks.c
    # Finished tasks by element and time; a cancelled one (its deadline moved the case on)
    # has a completion time too, and is left out.
    query = _of_roots(sa.select(t.element_id, t.created_at, t.completed_at), t.instance_id,
                      question.roots)\
        .where(t.element_id.in_(question.people), t.status == "completed")
    if start is not None:
        query = query.where(t.completed_at >= _as_time(start))
    if end is not None:
        query = query.where(t.completed_at < _as_time(end))
    spent = working_time(calendar).between_micros
    as_micros = days.micros
    for element_id, opened, done in driver_rows(conn, query):
        found[bucket(done)][element_id].seconds.append(
            spent(as_micros(opened), as_micros(done)) / 1_000_000)


def merge(days: Iterable[tuple[int, dict[str, Part]]], first: int | None
          ) -> dict[str, tuple[int, list[float]]]:
    """Per element over the given days: the instances that passed (each once) and the
    seconds. `first`: the period's first day (None: from the beginning)."""
    passed: dict[str, int] = defaultdict(int)
    seconds: dict[str, list[float]] = defaultdict(list)
    for _, parts in days:
        for element_id, part in parts.items():
            again = len(part.before) if first is None else \
                sum(1 for d in part.before if d >= first)
            passed[element_id] += part.first - again
            seconds[element_id].extend(part.seconds)
    return {e: (passed[e], seconds[e]) for e in set(passed) | set(seconds)}


class DayMemo:
    """The figures of the closed days of one question, from the first step on."""

    def __init__(self, question: Question, zone: ZoneInfo, text: bool) -> None:
        self.question = question
        self.calendar = Calendar(zone, text)
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.days: Days = {}
        self.closed = 0  # the days before this ordinal are held
        self.seen = 0  # history rows with a greater id were not yet written when read

    def valid(self, conn: Connection) -> bool:
        """No step written, since the memo read the history, into a day it holds."""
        if self.closed == 0:
            return True
        late = conn.execute(sa.select(history.c.id).where(
            history.c.id > self.seen, history.c.at < _as_time(self.calendar.midnight(
                self.closed))).limit(1)).first()
        return late is None

    def catch_up(self, conn: Connection, calendar: WorkingCalendar, now: datetime) -> None:
        """Hold every day closed by now."""
        closed = self.calendar.day_of(micros(now - SETTLE))  # the days before it have ended
        if closed <= self.closed:
            return
        seen = conn.execute(sa.select(sa.func.coalesce(sa.func.max(history.c.id), 0))).scalar()
        start = self.calendar.midnight(self.closed) if self.closed else None
        found = collect(conn, calendar, self.question, start, self.calendar.midnight(closed),
                        self.calendar, self.calendar)
        for day, parts in found.items():
            self.days[day] = dict(parts)
        self.closed, self.seen = closed, int(seen or 0)


def period_figures(conn: Connection, calendar: WorkingCalendar, memo: DayMemo, now: datetime,
            start: datetime | None, end: datetime | None) -> dict[str, tuple[int, list[float]]]:
    """The heat map's figures for [start, end) (local midnights; None: no bound): the closed
    days from the memo (brought up to date first), the rest from the rows."""
    with memo.lock:
        if not memo.valid(conn):
            memo.reset()
        memo.catch_up(conn, calendar, now)
        first = memo.calendar.day_of(micros(start)) if start is not None else None
        last = memo.calendar.day_of(micros(end) - 1) if end is not None else None
        held = [(d, parts) for d, parts in memo.days.items()
                if (first is None or d >= first) and (last is None or d <= last)]
        tail_from = memo.calendar.midnight(memo.closed)
        if start is not None:
            tail_from = max(tail_from, micros(start))
        live: Days = {}
        if end is None or tail_from < micros(end):
            live = collect(conn, calendar, memo.question, tail_from,
                           micros(end) if end is not None else None, memo.calendar,
                           memo.calendar)
    return merge([*held, *live.items()], first)


def for_question(memos: dict[Question, DayMemo], question: Question, zone: ZoneInfo,
                 text: bool) -> DayMemo:
    found = memos.get(question)
    if found is None:
        if len(memos) >= 16:  # (diagrams redeployed many times: keep the newest questions)
            memos.pop(next(iter(memos)))
        found = memos[question] = DayMemo(question, zone, text)
    return found

