"""The calendar configuration file: what loads, and how each mistake is reported."""

from __future__ import annotations

import os
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engine.calendar import WorkingCalendar
from engine.calendar_config import (
    CalendarConfig,
    CalendarConfigError,
    Closure,
    OutOfHours,
    TimeRange,
    calendar_for,
    load_calendar_config,
    parse_calendar_config,
)

REPOSITORY_FILE = Path(__file__).resolve().parents[2] / "processes" / "calendar.toml"
LONDON = ZoneInfo("Europe/London")

GOOD = """\
time_zone = "Europe/London"

[hub_hours]
monday = "08:30-17:15"
tuesday = "08:30-17:15"
wednesday = "08:30-17:15"
thursday = "08:30-17:15"
friday = "08:30-16:45"
saturday = "closed"
sunday = "Closed"

[out_of_hours]
weekdays = "17:00-09:00"
weekends = true
bank_holidays = true
closures = true

[bank_holidays]
country = "GB"
subdivision = "ENG"

[[closures]]
date = 2026-12-24
closed = "12:30-17:15"
reason = "Christmas Eve afternoon"

[[closures]]
date = "2027-06-15"
reason = "Training day"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "calendar.toml"
    path.write_text(text, encoding="utf-8")
    return path


def replace_line(number: int, new: str) -> str:
    """GOOD with line `number` (from 1) replaced."""
    lines = GOOD.splitlines()
    lines[number - 1] = new
    return "\n".join(lines) + "\n"


def error_for(text: str) -> str:
    with pytest.raises(CalendarConfigError) as caught:
        parse_calendar_config(text, "processes/calendar.toml")
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- files that load -----------------------------------------------------------------------


def test_repository_file_is_the_default() -> None:
    assert load_calendar_config(REPOSITORY_FILE) == CalendarConfig.default()


def test_good_file_loads(tmp_path: Path) -> None:
    config = load_calendar_config(write(tmp_path, GOOD))
    assert config.time_zone == "Europe/London"
    assert config.hub_hours[0] == TimeRange(time(8, 30), time(17, 15))
    assert config.hub_hours[4] == TimeRange(time(8, 30), time(16, 45))
    assert config.hub_hours[5:] == (None, None)
    assert config.out_of_hours == OutOfHours()
    assert (config.holiday_country, config.holiday_subdivision) == ("GB", "ENG")
    assert config.closures == (
        Closure(
            date(2026, 12, 24), TimeRange(time(12, 30), time(17, 15)), "Christmas Eve afternoon"
        ),
        Closure(date(2027, 6, 15), None, "Training day"),
    )


def test_loaded_closure_changes_deadlines(tmp_path: Path) -> None:
    calendar = WorkingCalendar(load_calendar_config(write(tmp_path, GOOD)))
    eve = datetime(2026, 12, 24, 10, tzinfo=LONDON)
    assert calendar.working_days(0, eve) == datetime(2026, 12, 24, 12, 30, tzinfo=LONDON)
    assert not calendar.is_working_day(date(2027, 6, 15))


def test_sections_left_out_take_the_bcp_defaults() -> None:
    assert parse_calendar_config("") == CalendarConfig.default()
    assert parse_calendar_config('time_zone = "Europe/London"\n') == CalendarConfig.default()


def test_other_hours_and_out_of_hours_window() -> None:
    config = parse_calendar_config(
        replace_line(8, 'friday = "09:00-16:00"').replace('"17:00-09:00"', '"18:00-08:00"')
    )
    assert config.hub_hours[4] == TimeRange(time(9), time(16))
    assert config.out_of_hours.weekdays == TimeRange(time(18), time(8))


# --- files that are refused, each at the right line --------------------------------------------


def test_bad_time_names_file_line_and_fix() -> None:
    assert error_for(replace_line(8, 'friday = "08:30-25:00"')) == (
        'processes/calendar.toml line 8: hub_hours.friday "08:30-25:00": 25:00 is not a time; '
        'write HH:MM-HH:MM or "closed"'
    )


@pytest.mark.parametrize(
    ("line", "new", "expected"),
    [
        (1, 'timezone = "Europe/London"', "unknown setting 'timezone'"),
        (1, 'time_zone = "Europe/Londres"', '"Europe/Londres" is not a known time zone'),
        (1, "time_zone = 0", "time_zone must be text in quotes"),
        (6, 'wednsday = "08:30-17:15"', "unknown setting 'hub_hours.wednsday'"),
        (4, 'monday = "17:15-08:30"', "08:30 is not after 17:15"),
        (4, 'monday = "08:30"', "not a range of times"),
        (4, 'monday = "8.30-17:15"', "8.30 is not a time"),
        (4, 'monday = "08:60-17:15"', "08:60 is not a time"),
        (4, "monday = 830", "hub_hours.monday must be text in quotes"),
        (4, 'monday = "open"', "not a range of times"),
        (13, 'weekdays = "17:00-17:00"', "starts and ends at the same time"),
        (13, 'weekdays = "5pm-9am"', "5pm is not a time"),
        (14, 'weekends = "yes"', "out_of_hours.weekends must be true or false"),
        (16, "closure = true", "unknown setting 'out_of_hours.closure'"),
        (19, 'country = "XX"', "Country XX not available"),
        (20, 'subdivision = "ENGL"', "does not have subdivision ENGL"),
        (23, "date = 2026-13-01", None),  # a TOML syntax error, reported by tomllib
        (23, 'date = "24/12/2026"', "closure date '24/12/2026' is not a date; write YYYY-MM-DD"),
        (24, 'closed = "12:30"', 'closures[1].closed "12:30": not a range of times'),
        (24, 'closed = "17:15-12:30"', "12:30 is not after 17:15"),
        (29, 'reasons = "Training day"', "unknown setting 'closures[2].reasons'"),
        (29, "reason = 7", "closures[2].reason must be text in quotes"),
        (4, 'monday = "08:30-17:15', None),  # unclosed quote: a syntax error
    ],
)
def test_mistake_is_reported_at_its_line(line: int, new: str, expected: str | None) -> None:
    message = error_for(replace_line(line, new))
    assert message.startswith(f"processes/calendar.toml line {line}: "), message
    if expected is not None:
        assert expected in message


def test_syntax_error_says_what_to_check() -> None:
    message = error_for(replace_line(13, "weekdays 17:00-09:00"))
    assert message.startswith("processes/calendar.toml line 13: ")
    assert "check the quotes" in message


def test_missing_day_points_at_the_table() -> None:
    message = error_for(replace_line(9, ""))
    assert message == (
        'processes/calendar.toml line 3: hub_hours has no saturday; add saturday = "HH:MM-HH:MM", '
        'or "closed" if the Hub does not open that day'
    )


def test_closure_without_a_date_points_at_its_entry() -> None:
    message = error_for(replace_line(28, ""))
    assert message.startswith("processes/calendar.toml line 27: a closure has no date")


def test_hub_never_open_is_refused() -> None:
    text = GOOD
    for day in ("monday", "tuesday", "wednesday", "thursday"):
        text = text.replace(f'{day} = "08:30-17:15"', f'{day} = "closed"')
    message = error_for(text.replace('friday = "08:30-16:45"', 'friday = "closed"'))
    assert message.startswith("processes/calendar.toml line 3: the Hub must open")


def test_dotted_keys_are_located_too() -> None:
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    text = "".join(f'hub_hours.{day} = "08:30-17:15"\n' for day in days)
    message = error_for(text.replace('friday = "08:30-17:15"', 'friday = "x"'))
    assert message.startswith('processes/calendar.toml line 5: hub_hours.friday "x"')
    message = error_for('time_zone = "Europe/London"\nhub_hours.friday = "08:30-16:45"\n')
    assert message.startswith("processes/calendar.toml line 2: hub_hours has no monday")


def test_closures_must_be_entries() -> None:
    message = error_for('time_zone = "Europe/London"\nclosures = "none"\n')
    assert message.startswith("processes/calendar.toml line 2: closures must be a list")


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(CalendarConfigError, match="cannot be read"):
        load_calendar_config(tmp_path / "missing.toml")


def test_load_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, replace_line(8, 'friday = "08:30-25:00"'))
    with pytest.raises(CalendarConfigError, match=r"calendar\.toml line 8: "):
        load_calendar_config(path)


# --- calendar_for -------------------------------------------------------------------------


def test_calendar_for_without_a_file_is_the_default(tmp_path: Path) -> None:
    assert calendar_for(tmp_path).config == CalendarConfig.default()


def test_calendar_for_caches_until_the_file_changes(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    first = calendar_for(tmp_path)
    assert calendar_for(tmp_path) is first
    path.write_text(replace_line(8, 'friday = "08:30-16:00"'), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = calendar_for(tmp_path)
    assert second is not first
    assert second.config.hub_hours[4] == TimeRange(time(8, 30), time(16))


def test_calendar_for_refuses_a_bad_file(tmp_path: Path) -> None:
    write(tmp_path, "time_zone = ")
    with pytest.raises(CalendarConfigError, match="line 1"):
        calendar_for(tmp_path)
