"""Hub working time between two instants, by lookup: for reports that ask it of every
finished task in a year (96,000 questions for the heat map).

`WorkingCalendar.working_time_between` walks the days between its two instants; here the
opening periods of a run of years are laid out once as integer microseconds since the epoch
(UTC), each with the working time before it, so the working time up to any instant is one
binary search, and between two instants the difference of two. Exact to the microsecond:
the same periods (hours less bank holidays and closures, on the wall clock across clock
changes), added in integers. tests/unit/test_working_time.py checks it against the
calendar's own answer.
"""

from __future__ import annotations

import weakref
from bisect import bisect_right
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .calendar import WorkingCalendar

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_MICRO = timedelta(microseconds=1)
_YEAR_DAYS = 366
_DAY = 86_400_000_000  # microseconds


def micros(at: datetime) -> int:
    """An instant as microseconds since the epoch; a naive one is taken as UTC (as the
    database driver gives instants stored in UTC)."""
    if at.tzinfo is None:
        return (at - _NAIVE_EPOCH) // _MICRO
    return (at - EPOCH) // _MICRO


class WorkingTime:
    """The opening periods of a calendar, indexed. Grows by whole years as it is asked
    about instants beyond what it holds."""

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.calendar = calendar
        self._first = 0  # ordinals of the local days held: [first, last)
        self._last = 0
        self._low = self._high = 0  # instants safely within them (a day's margin)
        self._opens: list[int] = []
        self._closes: list[int] = []
        self._before: list[int] = []  # working microseconds before each period opens

    def _cover(self, first: int, last: int) -> None:
        """Hold at least the local days [first, last) (ordinals), and a year either side."""
        if self._first <= first and last <= self._last and self._opens:
            return
        if self._opens:
            first, last = min(first, self._first), max(last, self._last)
        first, last = first - _YEAR_DAYS, last + _YEAR_DAYS
        opens: list[int] = []
        closes: list[int] = []
        before: list[int] = []
        total = 0
        periods = self.calendar._periods  # (cached per local day)
        for day in range(first, last):
            for start, end in periods(day):
                a, b = (start - EPOCH) // _MICRO, (end - EPOCH) // _MICRO
                opens.append(a)
                closes.append(b)
                before.append(total)
                total += b - a
        self._first, self._last = first, last
        # (a local day's periods lie within that day, give or take its offset from UTC: a
        # day's margin either side holds every period an instant between these could touch)
        self._low, self._high = self._edge(first) + _DAY, self._edge(last) - _DAY
        self._opens, self._closes, self._before = opens, closes, before

    def _day(self, at: int) -> int:
        """The local date of an instant, as an ordinal."""
        instant = EPOCH + _MICRO * at
        return instant.astimezone(self.calendar.zone).toordinal()

    def _upto(self, at: int) -> int:
        """Working microseconds from the first period held to `at`."""
        i = bisect_right(self._opens, at) - 1
        if i < 0:
            return 0
        return self._before[i] + min(at, self._closes[i]) - self._opens[i]

    def between_micros(self, start: int, end: int) -> int:
        """Working microseconds from `start` to `end` (microseconds since the epoch); zero
        when `end` is not after `start`."""
        if end <= start:
            return 0
        if not (self._low <= start and end <= self._high and self._opens):
            self._cover(self._day(start) - 1, self._day(end) + 2)
        return self._upto(end) - self._upto(start)

    def _edge(self, ordinal: int) -> int:
        """Midnight UTC at the start of a date, as microseconds since the epoch."""
        return (date.fromordinal(ordinal) - date(1970, 1, 1)).days * _DAY

    def between(self, start: datetime, end: datetime) -> timedelta:
        """`WorkingCalendar.working_time_between`, by lookup."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("instants without a time zone; give aware datetimes")
        return timedelta(microseconds=self.between_micros(micros(start), micros(end)))


_held: weakref.WeakKeyDictionary[WorkingCalendar, WorkingTime] = weakref.WeakKeyDictionary()


def working_time(calendar: WorkingCalendar) -> WorkingTime:
    """The lookup of a calendar (one each, kept while the calendar is)."""
    found = _held.get(calendar)
    if found is None:
        found = _held[calendar] = WorkingTime(calendar)
    return found
