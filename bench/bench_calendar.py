"""How fast is a working-hours deadline? Run: .venv/bin/python bench/bench_calendar.py

Times `WorkingCalendar.working_hours(16, since)` (the AMBER timescale) from varied starts
across two years, on one core, against a naive minute-by-minute count written here as a
baseline and measured in the same run. Also checks the two agree. Exits 1 below the target.
"""

from __future__ import annotations

import random
import sys
import time as timer
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

from engine.calendar import WorkingCalendar
from engine.calendar_config import CalendarConfig

TARGET_PER_SECOND = 50_000
HOURS = 16
FAST_STARTS = 200_000
NAIVE_STARTS = 300
LONDON = ZoneInfo("Europe/London")
ENGLAND = holidays.country_holidays("GB", subdiv="ENG", years=range(2025, 2030))


def varied_starts(count: int, seed: int) -> list[datetime]:
    """Whole-minute instants spread over 2026-2027: nights, weekends, holidays, clock changes."""
    chooser = random.Random(seed)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    span = 2 * 365 * 24 * 60
    return [base + timedelta(minutes=chooser.randrange(span)) for _ in range(count)]


def naive_is_open(at: datetime) -> bool:
    local = at.astimezone(LONDON)
    if local.weekday() >= 5 or local.date() in ENGLAND:
        return False
    closes = time(16, 45) if local.weekday() == 4 else time(17, 15)
    return time(8, 30) <= local.time() < closes


def naive_working_hours(hours: float, since: datetime) -> datetime:
    """The obvious way: step a minute at a time, counting the minutes the Hub is open."""
    minutes = round(hours * 60)
    cursor = since
    while not naive_is_open(cursor):
        cursor += timedelta(minutes=1)
    while minutes:
        if naive_is_open(cursor):
            minutes -= 1
        cursor += timedelta(minutes=1)
    return cursor


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


def main() -> int:
    calendar = WorkingCalendar(CalendarConfig.default())
    starts = varied_starts(FAST_STARTS, seed=2026)

    began = timer.perf_counter()
    for since in starts:
        calendar.working_hours(HOURS, since)
    fast_seconds = timer.perf_counter() - began

    sample = starts[:NAIVE_STARTS]
    began = timer.perf_counter()
    naive = [naive_working_hours(HOURS, since) for since in sample]
    naive_seconds = timer.perf_counter() - began

    pairs = zip(sample, naive, strict=True)
    mismatches = sum(calendar.working_hours(HOURS, since) != due for since, due in pairs)
    fast_rate = rate(FAST_STARTS, fast_seconds)
    naive_rate = rate(NAIVE_STARTS, naive_seconds)
    print(
        f"working_hours({HOURS}): {fast_rate:,.0f} deadlines/s "
        f"({FAST_STARTS:,} varied starts in {fast_seconds:.2f} s, one core)"
    )
    print(
        f"naive minute-stepping baseline: {naive_rate:,.0f} deadlines/s "
        f"({NAIVE_STARTS} starts in {naive_seconds:.2f} s)"
    )
    print(f"ratio: {fast_rate / naive_rate:,.0f}x faster than the baseline")
    print(f"agreement with the baseline: {NAIVE_STARTS - mismatches}/{NAIVE_STARTS}")
    met = fast_rate >= TARGET_PER_SECOND and mismatches == 0
    print(f"target {TARGET_PER_SECOND:,}/s: {'met' if met else 'NOT MET'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
