"""The one place that reads the time.

Everything in the engine asks a `Clock` for "now": the service uses `SystemClock`, tests and
the simulation use `VirtualClock`, which only moves when told to.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class VirtualClock:
    """A clock that stands still until moved: for tests, training and `mash simulate`."""

    def __init__(self, start: datetime) -> None:
        self._now = as_utc(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, to: datetime) -> None:
        to = as_utc(to)
        with self._lock:
            if to < self._now:
                raise ValueError(
                    f"the virtual clock cannot go back: it is {self._now.isoformat()}, "
                    f"asked for {to.isoformat()}"
                )
            self._now = to

    def advance(self, by: timedelta) -> None:
        if by < timedelta(0):
            raise ValueError("the virtual clock cannot go back")
        with self._lock:
            self._now += by


def as_utc(at: datetime) -> datetime:
    """An aware instant in UTC; a naive one is refused, since its zone would be a guess."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"instant {at.isoformat()} has no time zone; give an offset or Z")
    return at.astimezone(UTC)


def iso_z(at: datetime) -> str:
    """ISO 8601 in UTC ending in Z, to the second (or microsecond when it has one)."""
    text = as_utc(at).isoformat()
    return text.replace("+00:00", "Z")
