"""The working-time lookup (engine/working_time.py) gives exactly the calendar's own
`working_time_between`, on the Hub's calendar and on calendars hypothesis draws: other hours,
days closed, part-day closures, other zones; instants to the microsecond from 2025 to 2029
(bank holidays, substitute days and eight clock changes in range), in any order."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.calendar import WorkingCalendar
from engine.calendar_config import CalendarConfig, Closure, TimeRange
from engine.working_time import WorkingTime, micros, working_time

HUB = WorkingCalendar(CalendarConfig.default())
BASE = datetime(2025, 1, 1, tzinfo=UTC)
SPAN = 5 * 366 * 24 * 3600 * 1_000_000  # microseconds

instants = st.integers(0, SPAN).map(lambda us: BASE + timedelta(microseconds=us))
# Instants near the Hub's opening and closing times, where an off-by-one would show.
edges = st.tuples(st.integers(0, 5 * 366), st.sampled_from([(8, 30), (17, 0), (16, 45), (0, 0),
                                                            (1, 0), (2, 0)]),
                  st.integers(-2, 2)).map(
    lambda t: datetime.combine(date(2025, 1, 1) + timedelta(days=t[0]), time(*t[1]),
                               ZoneInfo("Europe/London")) + timedelta(microseconds=t[2]))
any_instant = st.one_of(instants, edges)


@given(start=any_instant, end=any_instant)
@settings(max_examples=400)
def test_the_hub_lookup_is_working_time_between(start: datetime, end: datetime) -> None:
    assert working_time(HUB).between(start, end) == HUB.working_time_between(start, end)


def _range(start_minute: int, length: int) -> TimeRange:
    start = min(start_minute, 24 * 60 - 2)
    end = min(start + max(1, length), 24 * 60 - 1)
    return TimeRange(time(start // 60, start % 60), time(end // 60, end % 60))


days = st.one_of(st.none(), st.builds(_range, st.integers(0, 24 * 60), st.integers(1, 14 * 60)))
closures = st.builds(
    Closure,
    st.integers(0, 4 * 366).map(lambda d: date(2025, 1, 1) + timedelta(days=d)),
    st.one_of(st.none(), st.builds(_range, st.integers(0, 24 * 60), st.integers(1, 6 * 60))))
calendars = st.builds(
    lambda hours, closed, zone: WorkingCalendar(CalendarConfig(
        time_zone=zone, hub_hours=tuple(hours),
        closures=tuple({c.day: c for c in closed}.values()))),
    st.lists(days, min_size=7, max_size=7).filter(lambda h: any(h)),
    st.lists(closures, max_size=12),
    st.sampled_from(["Europe/London", "America/New_York", "Australia/Sydney", "UTC"]))


@given(calendar=calendars, pairs=st.lists(st.tuples(any_instant, any_instant), min_size=1,
                                          max_size=6))
@settings(max_examples=150, deadline=None)
def test_any_calendar_lookup_is_working_time_between(
        calendar: WorkingCalendar, pairs: list[tuple[datetime, datetime]]) -> None:
    lookup = WorkingTime(calendar)  # one lookup asked in turn, growing as it is asked
    for start, end in pairs:
        assert lookup.between(start, end) == calendar.working_time_between(start, end)


def test_closures_and_bank_holidays_count_nothing() -> None:
    closed = date(2026, 3, 4)  # a Wednesday
    calendar = WorkingCalendar(CalendarConfig(closures=(
        Closure(closed), Closure(date(2026, 3, 5), TimeRange(time(12), time(14))))))
    lookup = WorkingTime(calendar)
    london = ZoneInfo("Europe/London")
    day = datetime(2026, 3, 4, 0, 0, tzinfo=london)
    assert lookup.between(day, day + timedelta(days=1)) == timedelta(0)
    thursday = datetime(2026, 3, 5, 0, 0, tzinfo=london)
    assert lookup.between(thursday, thursday + timedelta(days=1)) == \
        calendar.working_time_between(thursday, thursday + timedelta(days=1)) == \
        timedelta(hours=6, minutes=45)  # 08:30-17:15 less 12:00-14:00
    christmas = datetime(2026, 12, 25, 0, 0, tzinfo=london)
    assert lookup.between(christmas, christmas + timedelta(days=1)) == timedelta(0)


def test_naive_instants_are_refused_and_the_driver_s_naive_utc_is_read_as_utc() -> None:
    with pytest.raises(ValueError):
        working_time(HUB).between(datetime(2026, 1, 5, 9), datetime(2026, 1, 5, 10, tzinfo=UTC))
    assert micros(datetime(2026, 1, 5, 9)) == micros(datetime(2026, 1, 5, 9, tzinfo=UTC))
