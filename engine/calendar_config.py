"""The Hub's working-time configuration: `processes/calendar.toml`.

A process owner edits that file, so every mistake must come back as one sentence that names
the file, the line and the fix. Unknown keys are refused: a misspelt day would otherwise be
silently ignored and the Hub would quietly be "closed" that day.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

if TYPE_CHECKING:
    from engine.calendar import WorkingCalendar

CALENDAR_FILE = "calendar.toml"

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

HUB_HOURS_HINT = 'write HH:MM-HH:MM or "closed"'
CLOSURE_HINT = "write HH:MM-HH:MM, or leave `closed` out to close the whole day"


class CalendarConfigError(ValueError):
    """The configuration file is unusable; the message says where and what to do."""


@dataclass(frozen=True)
class TimeRange:
    """A wall-clock range in the calendar's zone, e.g. 08:30-17:15 (may run past midnight)."""

    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    def covers(self, at: time) -> bool:
        """Half-open [start, end), wrapping past midnight when end is before start."""
        if self.overnight:
            return at >= self.start or at < self.end
        return self.start <= at < self.end


@dataclass(frozen=True)
class Closure:
    """A day the Hub is shut beyond bank holidays: the whole day, or part of it."""

    day: date
    closed: TimeRange | None = None  # None: closed all day
    reason: str = ""

    @property
    def whole_day(self) -> bool:
        return self.closed is None


@dataclass(frozen=True)
class OutOfHours:
    """When the Children's Social Care Out of Hours service is on duty (seed 000)."""

    weekdays: TimeRange = TimeRange(time(17, 0), time(9, 0))  # Monday to Friday
    weekends: bool = True  # all day Saturday and Sunday
    bank_holidays: bool = True  # all day on bank holidays
    closures: bool = True  # while the Hub is shut by a configured closure


BCP_HUB_HOURS: tuple[TimeRange | None, ...] = (
    *(TimeRange(time(8, 30), time(17, 15)),) * 4,  # Monday to Thursday
    TimeRange(time(8, 30), time(16, 45)),  # Friday
    None,  # Saturday
    None,  # Sunday
)


@dataclass(frozen=True)
class CalendarConfig:
    """Everything that decides working time. Hashable, so calendars can be cached by it."""

    time_zone: str = "Europe/London"
    hub_hours: tuple[TimeRange | None, ...] = BCP_HUB_HOURS  # Monday first; None = closed
    out_of_hours: OutOfHours = field(default_factory=OutOfHours)
    holiday_country: str = "GB"
    holiday_subdivision: str | None = "ENG"
    closures: tuple[Closure, ...] = ()

    def __post_init__(self) -> None:
        if len(self.hub_hours) != 7:
            raise ValueError("hub_hours needs seven entries, Monday first")
        if all(hours is None for hours in self.hub_hours):
            raise ValueError("the Hub must open on at least one day of the week")

    @classmethod
    def default(cls) -> CalendarConfig:
        """The BCP First Response Hub as the seed describes it."""
        return cls()


# --- reading the file -------------------------------------------------------------------


def load_calendar_config(path: str | os.PathLike[str]) -> CalendarConfig:
    """Read and validate a calendar file; any problem raises `CalendarConfigError`."""
    path = Path(path)
    shown = _display_name(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise CalendarConfigError(f"{shown}: cannot be read ({err.strerror})") from err
    return parse_calendar_config(text, shown)


def parse_calendar_config(text: str, source: str = CALENDAR_FILE) -> CalendarConfig:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise CalendarConfigError(_syntax_message(source, err, text)) from err
    return _Reader(source, _KeyLines(text)).config(document)


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)")
_TOML_AT_END = " (at end of document)"


def _syntax_message(source: str, err: tomllib.TOMLDecodeError, text: str) -> str:
    message = str(err)
    if found := _TOML_POSITION.search(message):
        line, what = found[1], f"{_TOML_POSITION.sub('', message)} (column {found[2]})"
    elif message.endswith(_TOML_AT_END):  # the last line is unfinished
        line, what = str(max(1, len(text.splitlines()))), message.removesuffix(_TOML_AT_END)
    else:
        return f"{source}: {message}; check the file is valid TOML"
    return f"{source} line {line}: {what}; check the quotes, brackets and `=` on that line"


def _display_name(path: Path) -> str:
    """Relative to the working directory when possible: shorter, and what people typed."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class _KeyLines:
    """Line numbers of keys, found by reading the text the way a person does.

    tomllib gives values but not positions, so semantic errors would otherwise have no line.
    Tracks `[table]` and `[[array]]` headers and `key =` lines; multi-line values are rare
    in this file and at worst point at the line where the key starts.
    """

    _ARRAY = re.compile(r"^\s*\[\[\s*([^\]]+?)\s*\]\]")
    _TABLE = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]")
    _KEY = re.compile(r"""^\s*([A-Za-z0-9_\-."' ]+?)\s*=""")

    def __init__(self, text: str) -> None:
        self._lines: dict[tuple[str | int, ...], int] = {}
        table: tuple[str | int, ...] = ()
        arrays: dict[tuple[str, ...], int] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if found := self._ARRAY.match(line):
                name = _key_path(found[1])
                arrays[name] = arrays.get(name, -1) + 1
                table = (*name, arrays[name])
                self._lines.setdefault(table, number)
                self._lines.setdefault(name, number)
            elif found := self._TABLE.match(line):
                table = _key_path(found[1])
                self._lines.setdefault(table, number)
            elif found := self._KEY.match(line):
                key = _key_path(found[1])
                # a dotted key (hub_hours.friday = ...) also stands for its tables
                for end in range(1, len(key) + 1):
                    self._lines.setdefault((*table, *key[:end]), number)

    def line(self, path: tuple[str | int, ...]) -> int | None:
        """The line of `path`, or of its nearest enclosing key or table."""
        while path:
            if path in self._lines:
                return self._lines[path]
            path = path[:-1]
        return None


def _key_path(key: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in key.split("."))


KeyPath = tuple[str | int, ...]

_TOP_KEYS = ("time_zone", "hub_hours", "out_of_hours", "bank_holidays", "closures")
_OUT_OF_HOURS_KEYS = ("weekdays", "weekends", "bank_holidays", "closures")
_BANK_HOLIDAY_KEYS = ("country", "subdivision")
_CLOSURE_KEYS = ("date", "closed", "reason")
_HH_MM = re.compile(r"^(\d{1,2}):(\d{2})$")


class _Reader:
    """Turns the parsed TOML document into a `CalendarConfig`, or fails at the right line."""

    def __init__(self, source: str, lines: _KeyLines) -> None:
        self._source = source
        self._lines = lines

    def fail(self, where: KeyPath, message: str) -> CalendarConfigError:
        line = self._lines.line(where)
        at = f"{self._source} line {line}" if line else self._source
        return CalendarConfigError(f"{at}: {message}")

    def config(self, document: Mapping[str, Any]) -> CalendarConfig:
        self._refuse_unknown(document, (), _TOP_KEYS)
        # Checked in the order the sections appear in the repository's file.
        time_zone = self._time_zone(document.get("time_zone", CalendarConfig.time_zone))
        hub_hours = self._hub_hours(document.get("hub_hours"))
        out_of_hours = self._out_of_hours(document.get("out_of_hours"))
        country, subdivision = self._bank_holidays(document.get("bank_holidays"))
        return CalendarConfig(
            time_zone=time_zone,
            hub_hours=hub_hours,
            out_of_hours=out_of_hours,
            holiday_country=country,
            holiday_subdivision=subdivision,
            closures=self._closures(document.get("closures", [])),
        )

    def _refuse_unknown(
        self, table: Mapping[str, Any], where: KeyPath, known: tuple[str, ...]
    ) -> None:
        for key in table:
            if key not in known:
                raise self.fail(
                    (*where, key),
                    f"unknown setting {_dotted((*where, key))!r}; the settings here are "
                    f"{', '.join(known)} (check the spelling)",
                )

    def _table(self, value: Any, where: KeyPath) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"{_dotted(where)} must be a table, e.g. [{_dotted(where)}]")
        return value

    def _string(self, value: Any, where: KeyPath, example: str) -> str:
        if not isinstance(value, str):
            raise self.fail(where, f"{_dotted(where)} must be text in quotes, e.g. {example}")
        return value

    def _boolean(self, value: Any, where: KeyPath) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, f"{_dotted(where)} must be true or false (no quotes)")
        return value

    def _time_zone(self, value: Any) -> str:
        name = self._string(value, ("time_zone",), '"Europe/London"')
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise self.fail(
                ("time_zone",),
                f'time_zone "{name}" is not a known time zone; write an IANA name such as '
                '"Europe/London"',
            ) from err
        return name

    def _hub_hours(self, value: Any) -> tuple[TimeRange | None, ...]:
        if value is None:
            return BCP_HUB_HOURS
        table = self._table(value, ("hub_hours",))
        self._refuse_unknown(table, ("hub_hours",), WEEKDAYS)
        given = {day: self._day_hours(table[day], day) for day in WEEKDAYS if day in table}
        # Wrong values first: they have a line of their own to point at.
        for day in WEEKDAYS:
            if day not in given:
                raise self.fail(
                    ("hub_hours",),
                    f'hub_hours has no {day}; add {day} = "HH:MM-HH:MM", or "closed" if the '
                    "Hub does not open that day",
                )
        week = tuple(given[day] for day in WEEKDAYS)
        if all(hours is None for hours in week):
            raise self.fail(("hub_hours",), "the Hub must open on at least one day of the week")
        return week

    def _day_hours(self, value: Any, day: str) -> TimeRange | None:
        where: KeyPath = ("hub_hours", day)
        text = self._string(value, where, '"08:30-17:15" or "closed"')
        if text.strip().lower() == "closed":
            return None
        return self._daytime_range(text, where, HUB_HOURS_HINT)

    def _out_of_hours(self, value: Any) -> OutOfHours:
        if value is None:
            return OutOfHours()
        table = self._table(value, ("out_of_hours",))
        self._refuse_unknown(table, ("out_of_hours",), _OUT_OF_HOURS_KEYS)
        default = OutOfHours()
        weekdays = default.weekdays
        if "weekdays" in table:
            where: KeyPath = ("out_of_hours", "weekdays")
            text = self._string(table["weekdays"], where, '"17:00-09:00"')
            weekdays = self._range(text, where, "write HH:MM-HH:MM, e.g. 17:00-09:00")
            if weekdays.start == weekdays.end:
                raise self.fail(
                    where,
                    f'{_dotted(where)} "{text}": starts and ends at the same time; '
                    "write HH:MM-HH:MM, e.g. 17:00-09:00",
                )
        flags = {
            key: self._boolean(table[key], ("out_of_hours", key))
            if key in table
            else getattr(default, key)
            for key in ("weekends", "bank_holidays", "closures")
        }
        return OutOfHours(weekdays=weekdays, **flags)

    def _bank_holidays(self, value: Any) -> tuple[str, str | None]:
        default = CalendarConfig.default()
        if value is None:
            return default.holiday_country, default.holiday_subdivision
        table = self._table(value, ("bank_holidays",))
        self._refuse_unknown(table, ("bank_holidays",), _BANK_HOLIDAY_KEYS)
        country = self._string(table.get("country", "GB"), ("bank_holidays", "country"), '"GB"')
        # No subdivision: only the holidays common to the whole country.
        subdivision = (
            self._string(table["subdivision"], ("bank_holidays", "subdivision"), '"ENG"')
            if "subdivision" in table
            else None
        )
        try:
            holidays.country_holidays(country, subdiv=subdivision)
        except NotImplementedError as err:
            bad_subdivision = subdivision and "does not have subdivision" in str(err)
            key = "subdivision" if bad_subdivision else "country"
            raise self.fail(
                ("bank_holidays", key),
                f"bank_holidays {country}/{subdivision or '-'}: {err}; write an ISO country "
                'code and subdivision as the holidays package knows them, e.g. "GB" and "ENG"',
            ) from err
        return country, subdivision

    def _closures(self, value: Any) -> tuple[Closure, ...]:
        if not isinstance(value, list):
            raise self.fail(
                ("closures",), "closures must be a list of [[closures]] entries, one per day"
            )
        return tuple(self._closure(entry, ("closures", index)) for index, entry in enumerate(value))

    def _closure(self, entry: Any, where: KeyPath) -> Closure:
        if not isinstance(entry, dict):
            raise self.fail(where, "each closure must be a [[closures]] entry with a date")
        self._refuse_unknown(entry, where, _CLOSURE_KEYS)
        if "date" not in entry:
            raise self.fail(where, "a closure has no date; add date = 2026-12-24 (YYYY-MM-DD)")
        day = self._date(entry["date"], (*where, "date"))
        closed = None
        if "closed" in entry:
            text = self._string(entry["closed"], (*where, "closed"), '"12:30-17:15"')
            closed = self._daytime_range(text, (*where, "closed"), CLOSURE_HINT)
        reason = self._string(entry.get("reason", ""), (*where, "reason"), '"Christmas Eve"')
        return Closure(day=day, closed=closed, reason=reason)

    def _date(self, value: Any, where: KeyPath) -> date:
        if isinstance(value, date) and not hasattr(value, "hour"):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        raise self.fail(where, f"closure date {value!r} is not a date; write YYYY-MM-DD")

    def _daytime_range(self, text: str, where: KeyPath, hint: str) -> TimeRange:
        """A range within one day: opening before closing, nothing past midnight."""
        hours = self._range(text, where, hint)
        if hours.overnight:
            raise self.fail(
                where,
                f'{_dotted(where)} "{text}": {hours.end:%H:%M} is not after '
                f"{hours.start:%H:%M}; {hint}",
            )
        return hours

    def _range(self, text: str, where: KeyPath, hint: str) -> TimeRange:
        parts = text.split("-")
        if len(parts) != 2:
            raise self.fail(where, f'{_dotted(where)} "{text}": not a range of times; {hint}')
        start, end = (self._clock_time(part.strip(), text, where, hint) for part in parts)
        return TimeRange(start, end)

    def _clock_time(self, part: str, text: str, where: KeyPath, hint: str) -> time:
        found = _HH_MM.match(part)
        if found and int(found[1]) < 24 and int(found[2]) < 60:
            return time(int(found[1]), int(found[2]))
        raise self.fail(where, f'{_dotted(where)} "{text}": {part} is not a time; {hint}')


def _dotted(where: KeyPath) -> str:
    """`closures[2].closed` style names, counting entries from 1 as people do."""
    text = ""
    for part in where:
        text += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


# --- the calendar for a folder of diagrams ------------------------------------------------

_calendars: dict[Path, tuple[int | None, WorkingCalendar]] = {}


def calendar_for(processes: Path) -> WorkingCalendar:
    """The working calendar for `<processes>/calendar.toml`, or the BCP default without one.

    Cached by path and modification time, so an edited file takes effect without a restart.
    """
    from engine.calendar import WorkingCalendar  # the calendar imports this module

    path = Path(processes) / CALENDAR_FILE
    try:
        stamp: int | None = path.stat().st_mtime_ns
    except FileNotFoundError:
        stamp = None
    cached = _calendars.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    config = CalendarConfig.default() if stamp is None else load_calendar_config(path)
    calendar = WorkingCalendar(config)
    _calendars[path] = (stamp, calendar)
    return calendar


# --- who is on duty ------------------------------------------------------------------------

# A week with no bank holiday in England, to read the weekly pattern from.
_PLAIN_WEEK = date(2026, 6, 8)  # a Monday


def duty_gaps(config: CalendarConfig) -> list[str]:
    """Times when neither the Hub nor the Out of Hours service is on duty: a contact then
    waits, and an immediate safeguarding concern alerts nobody (seed 000 gives each service's
    hours; these are the times between them). One sentence per gap, in local time."""
    from engine.calendar import WorkingCalendar

    calendar = WorkingCalendar(config)
    zone = ZoneInfo(config.time_zone)
    gaps: list[str] = []

    def uncovered(day: date) -> list[str]:
        runs: list[str] = []
        start: time | None = None
        for minute in range(24 * 60 + 1):
            wall = (time(minute // 60, minute % 60) if minute < 24 * 60 else None)
            covered = wall is None or _on_duty(calendar, day, wall, zone)
            if not covered and start is None:
                start = wall
            elif covered and start is not None:
                runs.append(f"{start:%H:%M}-{'24:00' if wall is None else f'{wall:%H:%M}'}")
                start = None
        return runs

    for offset in range(7):
        day = _PLAIN_WEEK + timedelta(days=offset)
        for run in uncovered(day):
            gaps.append(f"every {WEEKDAYS[day.weekday()]} {run}")
    for closure in config.closures:
        for run in uncovered(closure.day):
            gaps.append(f"{closure.day.isoformat()} ({closure.reason or 'closure'}) {run}")
    if not config.out_of_hours.bank_holidays:
        gaps.append("bank holidays, all day (out_of_hours.bank_holidays = false)")
    return gaps


def _on_duty(calendar: WorkingCalendar, day: date, wall: time, zone: ZoneInfo) -> bool:
    at = datetime.combine(day, wall, zone)
    return calendar.is_hub_open(at) or calendar.is_out_of_hours(at)
