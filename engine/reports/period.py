"""The period and the filters of a report, as a manager chooses them.

A period is a run of whole days on the Hub's wall clock (Europe/London), first and last
day included; it is counted from the instants the engine stores, in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from . import ReportError

DEFAULT_DAYS = 28
LONGEST = 3 * 366  # days: a report longer than this is a mistake, not a question
RAGS = ("RED", "AMBER", "GREEN")
CHANNELS = ("email", "phone", "portal", "ppn")
NOT_RATED = "none"


@dataclass(frozen=True)
class Period:
    first: date
    last: date
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        """The first instant of the first day."""
        return datetime.combine(self.first, datetime.min.time(), self.zone)

    @property
    def end(self) -> datetime:
        """The first instant after the last day."""
        return datetime.combine(self.last + timedelta(days=1), datetime.min.time(), self.zone)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def holds(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat(),
                "days": self.days, "time_zone": str(self.zone)}


def default_period(now: datetime, zone: ZoneInfo, days: int = DEFAULT_DAYS) -> Period:
    """The `days` days up to and including today."""
    today = now.astimezone(zone).date()
    return Period(today - timedelta(days=days - 1), today, zone)


def _day(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ReportError(field, f"{text!r} is not a date YYYY-MM-DD") from None


def period_from(first: str | None, last: str | None, now: datetime, zone: ZoneInfo) -> Period:
    """A period from the request's `from` and `to` (either may be left out: the default
    period's ends are used)."""
    default = default_period(now, zone)
    begin = _day(first, "from") if first else None
    end = _day(last, "to") if last else None
    if begin is None and end is None:
        return default
    if begin is None:
        assert end is not None
        begin = end - timedelta(days=DEFAULT_DAYS - 1)
    if end is None:
        end = max(begin, default.last)
    if end < begin:
        raise ReportError("to", "is before from; give a period whose last day is on or after its "
                                "first")
    if (end - begin).days + 1 > LONGEST:
        raise ReportError("to", f"the period is longer than {LONGEST} days; choose a shorter one")
    return Period(begin, end, zone)


@dataclass(frozen=True)
class Filters:
    """Narrow the contacts counted. `rag` "none" means not rated; `team` is the team of a
    child already known to the case records."""

    rag: str | None = None
    channel: str | None = None
    outcome: str | None = None
    team: str | None = None

    @property
    def any(self) -> bool:
        return any((self.rag, self.channel, self.outcome, self.team))

    def as_dict(self) -> dict[str, str | None]:
        return {"rag": self.rag, "channel": self.channel, "outcome": self.outcome,
                "team": self.team}

    def wants(self, rag: str | None, channel: str | None, outcome: str | None,
              team: str | None, *, open_work: bool = False) -> bool:
        """Whether a contact with these is counted. Open work has no outcome yet, so the
        outcome filter does not narrow it."""
        if self.rag and (rag or NOT_RATED) != self.rag:
            return False
        if self.channel and channel != self.channel:
            return False
        if self.outcome and not open_work and outcome != self.outcome:
            return False
        return not (self.team and team != self.team)


def filters_from(rag: str | None = None, channel: str | None = None, outcome: str | None = None,
                 team: str | None = None) -> Filters:
    rag = (rag or "").strip() or None
    if rag is not None:
        rag = rag.upper() if rag.upper() in RAGS else rag.lower()
        if rag not in (*RAGS, NOT_RATED):
            raise ReportError("rag", f"must be one of {', '.join(RAGS)} or {NOT_RATED}")
    channel = (channel or "").strip().lower() or None
    if channel is not None and channel not in CHANNELS:
        raise ReportError("channel", f"must be one of {', '.join(CHANNELS)}")
    outcome = (outcome or "").strip() or None
    if outcome is not None and len(outcome) > 64:
        raise ReportError("outcome", "is longer than 64 characters")
    team = (team or "").strip() or None
    if team is not None and len(team) > 256:
        raise ReportError("team", "is longer than 256 characters")
    return Filters(rag, channel, outcome, team)
