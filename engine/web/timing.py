"""Time as the pages show it: local wall-clock times and what is left in Hub working time.

Pure functions over the engine's calendar and an instant the caller got from the engine's
clock; nothing here reads the time itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Calendar(Protocol):
    zone: ZoneInfo

    def working_time_between(self, start: datetime, end: datetime) -> timedelta: ...

    def is_hub_open(self, at: datetime) -> bool: ...


@dataclass(frozen=True)
class TimeLeft:
    """How a due instant stands against now, counted in Hub working time."""

    overdue: bool
    working: timedelta  # left (or, when overdue, past the due instant) in Hub hours
    text: str


def duration_text(span: timedelta) -> str:
    """'3 h 15 min', '45 min', '0 min': working time is counted in hours, never days."""
    minutes = int(span.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    if hours:
        return f"{hours} h"
    return f"{minutes} min"


def time_left(calendar: Calendar, now: datetime, due: datetime | None) -> TimeLeft | None:
    if due is None:
        return None
    if due > now:
        left = calendar.working_time_between(now, due)
        return TimeLeft(False, left, f"{duration_text(left)} working time left")
    past = calendar.working_time_between(due, now)
    if past > timedelta(0):
        return TimeLeft(True, past, f"overdue by {duration_text(past)} working time")
    return TimeLeft(True, past, "overdue (since the Hub closed)")


def local(at: datetime | None, zone: ZoneInfo) -> str:
    """'Mon 23 Nov 2026, 13:00' on the Hub's wall clock."""
    if at is None:
        return ""
    wall = at.astimezone(zone)
    return f"{wall:%a} {wall.day} {wall:%b %Y, %H:%M}"


def local_date(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


def end_of_local_day(at: datetime, zone: ZoneInfo) -> datetime:
    """The first instant of the next local day (what 'due today' runs up to)."""
    day = local_date(at, zone) + timedelta(days=1)
    return datetime.combine(day, datetime.min.time(), zone)
