"""Working time: when the First Response Hub is open, and when a timescale runs out.

Pure rules: no I/O, no clock. Every public method takes timezone-aware instants and returns
aware instants in UTC. The rules are applied on the wall clock of the configured zone
(Europe/London), so 08:30 stays 08:30 on both sides of a summer-time change, while the
arithmetic is done in UTC, so elapsed time is real time.

Speed: each local date's opening periods are worked out once, as UTC instants, and cached;
a deadline then jumps period by period, never minute by minute.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from engine.calendar_config import CalendarConfig, Closure, TimeRange
from engine.clock import as_utc

# An opening period: [opens, closes) in UTC.
Period = tuple[datetime, datetime]

# No real calendar goes this long without opening; beyond it the configuration is broken
# (for example a run of closures covering years) and a loop must not spin for ever.
MAX_DAYS_CLOSED = 3 * 366

_ZERO = timedelta(0)


class WorkingCalendar:
    """Hub hours, bank holidays and closures from a `CalendarConfig`, as working time."""

    def __init__(self, config: CalendarConfig | None = None) -> None:
        self.config = config or CalendarConfig.default()
        self.zone = ZoneInfo(self.config.time_zone)
        self._closures: dict[date, tuple[Closure, ...]] = {}
        for closure in self.config.closures:
            self._closures[closure.day] = (*self._closures.get(closure.day, ()), closure)
        # Per instance, so two calendars never share answers; keyed by the date's ordinal.
        self._periods = lru_cache(maxsize=8192)(self._periods_of_day)
        self._bank_holidays_of_year = lru_cache(maxsize=64)(self._bank_holidays_in)

    # --- timescales -----------------------------------------------------------------------

    def working_hours(self, n: float, since: datetime) -> datetime:
        """The earliest instant at which n Hub hours have passed since `since`.

        Counting starts at `since` if the Hub is open then, otherwise at the next opening
        (a start exactly at closing time is outside). The result may be a closing time.
        """
        return self._spend(_duration(n, "working hours"), as_utc(since))

    def add_working_time(self, since: datetime, duration: timedelta) -> datetime:
        """`working_hours` for a timedelta."""
        if duration < _ZERO:
            raise ValueError(f"working time cannot be negative, got {duration}")
        return self._spend(duration, as_utc(since))

    def working_days(self, n: int, since: datetime) -> datetime:
        """The Hub's closing time on the n-th working day after the day the clock starts.

        A clock started outside Hub hours starts at the next opening, so 18:00 Monday starts
        on Tuesday. n=0 gives the closing time of the start day.
        """
        if isinstance(n, bool) or not isinstance(n, int):
            raise ValueError(f"working days must be a whole number, got {n!r}")
        if n < 0:
            raise ValueError(f"working days cannot be negative, got {n}")
        day = self._ordinal(self.next_opening(since))
        days = self._working_days_from(day + 1)
        for _ in range(n):
            day = next(days)
        return self._periods(day)[-1][1]

    def hours(self, n: float, since: datetime) -> datetime:
        """n elapsed hours, any day: real time, so 72 hours across a clock change is 72."""
        return as_utc(since) + _duration(n, "hours")

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Hub time elapsed from `start` to `end`; zero when `end` is not after `start`."""
        start, end = as_utc(start), as_utc(end)
        total = _ZERO
        if end <= start:
            return total
        for day in range(self._ordinal(start), self._ordinal(end) + 1):
            for opens, closes in self._periods(day):
                overlap = min(closes, end) - max(opens, start)
                if overlap > _ZERO:
                    total += overlap
        return total

    # --- who is on duty -------------------------------------------------------------------

    def is_hub_open(self, at: datetime) -> bool:
        at = as_utc(at)
        return any(opens <= at < closes for opens, closes in self._periods(self._ordinal(at)))

    def is_out_of_hours(self, at: datetime) -> bool:
        """Whether the Out of Hours service is on duty at `at`.

        Its hours are its own, not "whenever the Hub is closed": both services are on duty
        08:30-09:00 and 17:00-17:15, and on a Friday neither is between 16:45 and 17:00.
        """
        local = as_utc(at).astimezone(self.zone)
        day, wall = local.date(), local.time()
        rules = self.config.out_of_hours
        weekend = day.weekday() >= 5
        if weekend and rules.weekends:
            return True
        if rules.bank_holidays and day in self._bank_holidays(day.year):
            return True
        if rules.closures and any(
            closure.closed is None or closure.closed.covers(wall)
            for closure in self._closures.get(day, ())
        ):
            return True
        return not weekend and rules.weekdays.covers(wall)

    def next_opening(self, at: datetime) -> datetime:
        """`at` itself when the Hub is open, otherwise the start of the next opening period."""
        at = as_utc(at)
        for opens, closes in self._periods_from(self._ordinal(at)):
            if at < closes:
                return opens if opens > at else at
        raise AssertionError("unreachable: _periods_from does not end")

    def closing_time(self, at: datetime) -> datetime:
        """The closing time of the working day a clock started at `at` belongs to."""
        return self.working_days(0, at)

    def next_working_day_at(self, after: datetime, local_time: time) -> datetime:
        """The first instant strictly after `after` on a Hub working day at `local_time`.

        For fixed daily events such as the PPN meeting at 10:00 each working day.
        """
        if local_time.tzinfo is not None:
            raise ValueError(
                "local_time is a wall-clock time in the calendar's zone; drop its tzinfo"
            )
        after = as_utc(after)
        for day in self._working_days_from(self._ordinal(after)):
            candidate = datetime.combine(date.fromordinal(day), local_time, self.zone)
            if candidate.astimezone(UTC) > after:
                return candidate.astimezone(UTC)
        raise AssertionError("unreachable: _working_days_from does not end")

    def is_working_day(self, day: date) -> bool:
        """Whether the Hub opens at all on this local date (a part-day closure still counts)."""
        return bool(self._periods(day.toordinal()))

    # --- internals ------------------------------------------------------------------------

    def _spend(self, remaining: timedelta, cursor: datetime) -> datetime:
        """Use up `remaining` Hub time from `cursor`, jumping one opening period at a time."""
        for opens, closes in self._periods_from(self._ordinal(cursor)):
            if closes <= cursor:
                continue
            start = opens if opens > cursor else cursor
            available = closes - start
            if remaining <= available:
                return start + remaining
            remaining -= available
        raise AssertionError("unreachable: _periods_from does not end")

    def _ordinal(self, at: datetime) -> int:
        """The local date of a UTC instant, as an ordinal (cheap to step and to hash)."""
        return at.astimezone(self.zone).toordinal()

    def _periods_from(self, day: int) -> Iterator[Period]:
        """Opening periods in time order from local date `day` on, without end."""
        for working_day in self._working_days_from(day):
            yield from self._periods(working_day)

    def _working_days_from(self, day: int) -> Iterator[int]:
        """Ordinals of working days from `day` on (inclusive)."""
        closed_run = 0
        while True:
            if self._periods(day):
                closed_run = 0
                yield day
            else:
                closed_run += 1
                if closed_run > MAX_DAYS_CLOSED:
                    raise ValueError(
                        f"the Hub does not open for {MAX_DAYS_CLOSED} days after "
                        f"{date.fromordinal(day - closed_run + 1)}; check the closures in the "
                        "calendar configuration"
                    )
            day += 1

    def _periods_of_day(self, day: int) -> tuple[Period, ...]:
        """The Hub's opening periods on a local date, in UTC: hours less closures."""
        local_day = date.fromordinal(day)
        hours = self.config.hub_hours[local_day.weekday()]
        if hours is None or local_day in self._bank_holidays(local_day.year):
            return ()
        ranges = [(hours.start, hours.end)]
        for closure in self._closures.get(local_day, ()):
            if closure.closed is None:
                return ()
            ranges = _subtract(ranges, closure.closed)
        return tuple(
            (self._utc(local_day, start), self._utc(local_day, end)) for start, end in ranges
        )

    def _utc(self, day: date, wall: time) -> datetime:
        return datetime.combine(day, wall, self.zone).astimezone(UTC)

    def _bank_holidays(self, year: int) -> frozenset[date]:
        return self._bank_holidays_of_year(year)

    def _bank_holidays_in(self, year: int) -> frozenset[date]:
        # Neighbouring years too, in case a substitute day falls across New Year.
        found = holidays.country_holidays(
            self.config.holiday_country,
            subdiv=self.config.holiday_subdivision,
            years=range(year - 1, year + 2),
        )
        return frozenset(day for day in found if day.year == year)


def _subtract(ranges: list[tuple[time, time]], closed: TimeRange) -> list[tuple[time, time]]:
    """Wall-clock ranges less a closure; pieces that vanish are dropped."""
    left: list[tuple[time, time]] = []
    for start, end in ranges:
        if closed.start > start:
            left.append((start, min(end, closed.start)))
        if closed.end < end:
            left.append((max(start, closed.end), end))
    return [(start, end) for start, end in left if start < end]


def _duration(n: float, what: str) -> timedelta:
    if isinstance(n, bool) or not isinstance(n, int | float):
        raise ValueError(f"{what} must be a number, got {n!r}")
    if not math.isfinite(n):
        raise ValueError(f"{what} must be a finite number, got {n}")
    if n < 0:
        raise ValueError(f"{what} cannot be negative, got {n}")
    try:
        return timedelta(hours=n)
    except OverflowError:
        raise ValueError(f"{what} {n} is too large to be a deadline") from None
