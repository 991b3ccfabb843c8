"""Working-time rules: docs/process.md's worked examples and reasoned edge cases.

Every expected instant below was worked out by hand from the Hub hours (Mon-Thu 08:30-17:15,
Fri 08:30-16:45, Europe/London) and the England bank holidays; the arithmetic is in the
comment beside each case.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest

from engine.calendar import WorkingCalendar
from engine.calendar_config import CalendarConfig, Closure, TimeRange

LONDON = ZoneInfo("Europe/London")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Europe/London wall-clock instant."""
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture(scope="module")
def hub() -> WorkingCalendar:
    return WorkingCalendar(CalendarConfig.default())


def closures_calendar(*closures: Closure) -> WorkingCalendar:
    return WorkingCalendar(CalendarConfig(closures=closures))


# --- docs/process.md worked examples, exactly -----------------------------------------------------


@pytest.mark.parametrize(
    ("start", "rule", "n", "deadline"),
    [
        (at(2026, 11, 23, 10), "working_hours", 4, at(2026, 11, 23, 14)),
        (at(2026, 11, 27, 15), "working_hours", 4, at(2026, 11, 30, 10, 45)),
        (at(2026, 11, 23, 16), "working_hours", 16, at(2026, 11, 25, 14, 30)),
        (at(2026, 12, 24, 15), "working_hours", 4, at(2026, 12, 29, 10, 15)),
        (at(2026, 11, 23, 10), "working_days", 5, at(2026, 11, 30, 17, 15)),
    ],
)
def test_domain_worked_examples(
    hub: WorkingCalendar, start: datetime, rule: str, n: int, deadline: datetime
) -> None:
    due = getattr(hub, rule)(n, start)
    assert due == deadline
    assert due.tzinfo is UTC


def test_domain_closing_time_example(hub: WorkingCalendar) -> None:
    # 13:15 Monday + 4 working hours = 17:15 Monday: the earliest instant, a closing time.
    assert hub.working_hours(4, at(2026, 11, 23, 13, 15)) == at(2026, 11, 23, 17, 15)


# --- working_hours edge cases ----------------------------------------------------------------

WORKING_HOURS_CASES = [
    # before opening: counting starts 08:30, +4h
    ("before opening", at(2026, 11, 23, 7), 4, at(2026, 11, 23, 12, 30)),
    ("exactly at opening", at(2026, 11, 23, 8, 30), 4, at(2026, 11, 23, 12, 30)),
    # half-open: 17:15 is closed, so counting starts Tue 08:30
    ("exactly at Mon-Thu closing", at(2026, 11, 23, 17, 15), 1, at(2026, 11, 24, 9, 30)),
    ("exactly at Friday closing", at(2026, 11, 27, 16, 45), 1, at(2026, 11, 30, 9, 30)),
    # 1 minute Monday, 59 minutes Tuesday
    ("one minute before closing", at(2026, 11, 23, 17, 14), 1, at(2026, 11, 24, 9, 29)),
    ("one minute before Friday closing", at(2026, 11, 27, 16, 44), 1, at(2026, 11, 30, 9, 29)),
    ("ends exactly at Friday closing", at(2026, 11, 27, 12, 45), 4, at(2026, 11, 27, 16, 45)),
    ("Thursday into Friday", at(2026, 11, 26, 16), 4, at(2026, 11, 27, 11, 15)),
    # Fri 1h45 + Mon 8h45 (10h30) + Tue 5h30 -> 14:00
    ("AMBER Friday into Tuesday", at(2026, 11, 27, 15), 16, at(2026, 12, 1, 14)),
    ("Saturday start", at(2026, 11, 28, 10), 4, at(2026, 11, 30, 12, 30)),
    ("Sunday night start", at(2026, 11, 29, 23, 59), 0.5, at(2026, 11, 30, 9)),
    ("night before a weekday", at(2026, 11, 24, 2), 1, at(2026, 11, 24, 9, 30)),
    ("quarter hour", at(2026, 11, 23, 10), 0.25, at(2026, 11, 23, 10, 15)),
    ("hour and a half", at(2026, 11, 23, 10), 1.5, at(2026, 11, 23, 11, 30)),
    ("zero inside hours is now", at(2026, 11, 23, 10), 0, at(2026, 11, 23, 10)),
    ("zero on Saturday is the next opening", at(2026, 11, 28, 12), 0, at(2026, 11, 30, 8, 30)),
    ("zero at closing is the next opening", at(2026, 11, 23, 17, 15), 0, at(2026, 11, 24, 8, 30)),
    # a whole week: 4 x 8h45 + 8h15 = 43h15
    ("a whole working week", at(2026, 11, 23, 8, 30), 43.25, at(2026, 11, 27, 16, 45)),
    # Easter 2026: Thu 2h15; Good Friday 3 Apr, Easter Monday 6 Apr; Tue 7 Apr 08:30 + 1h45
    ("Easter 2026", at(2026, 4, 2, 15), 4, at(2026, 4, 7, 10, 15)),
    # Easter 2027 (and the spring clock change on Easter Sunday 28 Mar): Thu 1h15;
    # Good Friday 26 Mar, Easter Monday 29 Mar; Tue 30 Mar 08:30 BST + 2h45
    ("Easter 2027 across the clock change", at(2027, 3, 25, 16), 4, at(2027, 3, 30, 11, 15)),
    # Wed 1h15 + Thu 24 Dec 8h45 = 10h; 25 Dec, weekend, 28 Dec substitute; Tue 29 + 6h
    ("Christmas 2026 AMBER", at(2026, 12, 23, 16), 16, at(2026, 12, 29, 14, 30)),
    # Thu 31 Dec 3h15; Fri 1 Jan 2027 bank holiday; Mon 4 Jan 08:30 + 45m
    ("New Year 2027", at(2026, 12, 31, 14), 4, at(2027, 1, 4, 9, 15)),
    # Fri 24 Dec 2027 2h45; 27 Dec and 28 Dec are substitutes; Wed 29 Dec 08:30 + 1h15
    ("Christmas 2027 substitutes", at(2027, 12, 24, 14), 4, at(2027, 12, 29, 9, 45)),
    # Fri 31 Dec 2027 45m; Sat 1 Jan 2028 -> substitute Mon 3 Jan; Tue 4 Jan 08:30 + 15m
    ("New Year 2028 substitute", at(2027, 12, 31, 16), 1, at(2028, 1, 4, 8, 45)),
    # Fri 1 May 2026 45m; Mon 4 May early May bank holiday; Tue 5 May 08:30 + 15m
    ("early May 2026", at(2026, 5, 1, 16), 1, at(2026, 5, 5, 8, 45)),
    # Fri 22 May 2026 1h45; Mon 25 May spring bank holiday; Tue 26 May 08:30 + 2h15
    ("spring bank holiday 2026", at(2026, 5, 22, 15), 4, at(2026, 5, 26, 10, 45)),
    ("early May 2027", at(2027, 4, 30, 16), 1, at(2027, 5, 4, 8, 45)),
    ("spring bank holiday 2027", at(2027, 5, 28, 15), 4, at(2027, 6, 1, 10, 45)),
    # clocks go forward Sun 29 Mar 2026: Fri 1h45 GMT, Mon 08:30 BST + 2h15
    ("spring clock change 2026", at(2026, 3, 27, 15), 4, at(2026, 3, 30, 10, 45)),
    # clocks go back Sun 25 Oct 2026: Fri 1h45 BST, Mon 08:30 GMT + 2h15
    ("autumn clock change 2026", at(2026, 10, 23, 15), 4, at(2026, 10, 26, 10, 45)),
    # Wed 24 Mar 2027 2h15 GMT + Thu 8h45; Easter; Tue 30 Mar 08:30 BST + 5h
    ("AMBER over Easter 2027", at(2027, 3, 24, 15), 16, at(2027, 3, 30, 13, 30)),
    # clocks go back Sun 31 Oct 2027: Fri 45m BST, Mon 1 Nov 08:30 GMT + 15m
    ("autumn clock change 2027", at(2027, 10, 29, 16), 1, at(2027, 11, 1, 8, 45)),
]


@pytest.mark.parametrize(
    ("start", "n", "deadline"),
    [case[1:] for case in WORKING_HOURS_CASES],
    ids=[case[0] for case in WORKING_HOURS_CASES],
)
def test_working_hours(hub: WorkingCalendar, start: datetime, n: float, deadline: datetime) -> None:
    assert hub.working_hours(n, start) == deadline


def test_clock_change_keeps_wall_clock_and_moves_utc(hub: WorkingCalendar) -> None:
    # 10:45 BST on Mon 30 Mar 2026 is 09:45 UTC; 10:45 GMT on Mon 26 Oct 2026 is 10:45 UTC.
    assert hub.working_hours(4, at(2026, 3, 27, 15)) == utc(2026, 3, 30, 9, 45)
    assert hub.working_hours(4, at(2026, 10, 23, 15)) == utc(2026, 10, 26, 10, 45)


def test_start_given_in_another_offset(hub: WorkingCalendar) -> None:
    # 20:00 +05:00 is 15:00 GMT on Fri 27 Nov 2026: the worked example again.
    from datetime import timezone

    start = datetime(2026, 11, 27, 20, tzinfo=timezone(timedelta(hours=5)))
    assert hub.working_hours(4, start) == utc(2026, 11, 30, 10, 45)


def test_microseconds_are_kept(hub: WorkingCalendar) -> None:
    start = at(2026, 11, 23, 10) + timedelta(microseconds=7)
    assert hub.working_hours(1, start) == at(2026, 11, 23, 11) + timedelta(microseconds=7)


def test_add_working_time_is_working_hours(hub: WorkingCalendar) -> None:
    start = at(2026, 11, 27, 15)
    assert hub.add_working_time(start, timedelta(hours=4)) == at(2026, 11, 30, 10, 45)
    assert hub.add_working_time(start, timedelta(minutes=90)) == hub.working_hours(1.5, start)


# --- elapsed hours -------------------------------------------------------------------------------


def test_hours_across_spring_clock_change_are_real_hours(hub: WorkingCalendar) -> None:
    # Fri 27 Mar 2026 12:00 GMT + 72h = Mon 30 Mar 12:00 UTC, which reads 13:00 BST.
    due = hub.hours(72, at(2026, 3, 27, 12))
    assert due == utc(2026, 3, 30, 12)
    assert due == at(2026, 3, 30, 13)


def test_hours_across_autumn_clock_change_are_real_hours(hub: WorkingCalendar) -> None:
    # Fri 23 Oct 2026 12:00 BST (11:00 UTC) + 72h = Mon 26 Oct 11:00 UTC = 11:00 GMT.
    assert hub.hours(72, at(2026, 10, 23, 12)) == at(2026, 10, 26, 11)


def test_hours_ignore_weekends_and_bank_holidays(hub: WorkingCalendar) -> None:
    assert hub.hours(72, at(2026, 12, 24, 15)) == at(2026, 12, 27, 15)
    assert hub.hours(0.5, at(2026, 11, 28, 3)) == at(2026, 11, 28, 3, 30)


# --- working days ----------------------------------------------------------------------------

WORKING_DAYS_CASES = [
    ("07:00 Monday starts Monday", at(2026, 11, 23, 7), 0, at(2026, 11, 23, 17, 15)),
    ("18:00 Monday starts Tuesday", at(2026, 11, 23, 18), 0, at(2026, 11, 24, 17, 15)),
    ("Saturday starts Monday", at(2026, 11, 28, 11), 0, at(2026, 11, 30, 17, 15)),
    ("inside hours, next day", at(2026, 11, 23, 10), 1, at(2026, 11, 24, 17, 15)),
    ("exactly at closing starts next day", at(2026, 11, 23, 17, 15), 1, at(2026, 11, 25, 17, 15)),
    ("one minute before closing", at(2026, 11, 23, 17, 14), 1, at(2026, 11, 24, 17, 15)),
    ("Thursday + 1 is Friday's earlier closing", at(2026, 11, 26, 10), 1, at(2026, 11, 27, 16, 45)),
    ("Friday closing starts Monday", at(2026, 11, 27, 16, 45), 0, at(2026, 11, 30, 17, 15)),
    ("Friday + 1 is Monday", at(2026, 11, 27, 9), 1, at(2026, 11, 30, 17, 15)),
    # Thu 24 Dec 2026 + 1: 25 Dec, weekend, 28 Dec substitute -> Tue 29 Dec
    ("over Christmas 2026", at(2026, 12, 24, 10), 1, at(2026, 12, 29, 17, 15)),
    # Fri 22 May 2026 + 1: Mon 25 May spring bank holiday -> Tue 26 May
    ("over spring bank holiday 2026", at(2026, 5, 22, 15), 1, at(2026, 5, 26, 17, 15)),
    ("over spring bank holiday 2027", at(2027, 5, 28, 10), 1, at(2027, 6, 1, 17, 15)),
    # Fri 27 Mar 2026 + 1 = Mon 30 Mar 17:15 BST = 16:15 UTC
    ("across the spring clock change", at(2026, 3, 27, 10), 1, utc(2026, 3, 30, 16, 15)),
    # Wed 1 Apr 2026 + 5: Thu 2, (Good Friday, Easter Monday), Tue 7, Wed 8, Thu 9, Fri 10
    ("outcome letter over Easter 2026", at(2026, 4, 1, 10), 5, at(2026, 4, 10, 16, 45)),
]


@pytest.mark.parametrize(
    ("start", "n", "deadline"),
    [case[1:] for case in WORKING_DAYS_CASES],
    ids=[case[0] for case in WORKING_DAYS_CASES],
)
def test_working_days(hub: WorkingCalendar, start: datetime, n: int, deadline: datetime) -> None:
    assert hub.working_days(n, start) == deadline


# --- who is on duty ------------------------------------------------------------------------

DUTY_CASES = [
    # (moment, Hub open, Out of Hours on duty)
    ("Monday 03:00", at(2026, 11, 23, 3), False, True),
    ("Monday 08:30, opening", at(2026, 11, 23, 8, 30), True, True),
    ("Monday 08:45, both on duty", at(2026, 11, 23, 8, 45), True, True),
    ("Monday 09:00, Out of Hours hands over", at(2026, 11, 23, 9), True, False),
    ("Monday noon", at(2026, 11, 23, 12), True, False),
    ("Monday 17:05, both on duty", at(2026, 11, 23, 17, 5), True, True),
    ("Monday 17:15, Hub closed", at(2026, 11, 23, 17, 15), False, True),
    ("Friday 16:50, neither", at(2026, 11, 27, 16, 50), False, False),
    ("Friday 17:00", at(2026, 11, 27, 17), False, True),
    ("Saturday", at(2026, 11, 28, 12), False, True),
    ("Sunday night", at(2026, 11, 29, 23), False, True),
    ("Christmas Day 2026", at(2026, 12, 25, 12), False, True),
    ("Boxing Day substitute Mon 28 Dec 2026", at(2026, 12, 28, 12), False, True),
    ("Good Friday 2027", at(2027, 3, 26, 12), False, True),
    ("Tuesday after Easter, BST", at(2026, 4, 7, 8, 45), True, True),
]


@pytest.mark.parametrize(
    ("moment", "hub_open", "out_of_hours"),
    [case[1:] for case in DUTY_CASES],
    ids=[case[0] for case in DUTY_CASES],
)
def test_who_is_on_duty(
    hub: WorkingCalendar, moment: datetime, hub_open: bool, out_of_hours: bool
) -> None:
    assert hub.is_hub_open(moment) is hub_open
    assert hub.is_out_of_hours(moment) is out_of_hours


def test_next_opening_and_closing_time(hub: WorkingCalendar) -> None:
    assert hub.next_opening(at(2026, 11, 23, 10)) == at(2026, 11, 23, 10)
    assert hub.next_opening(at(2026, 11, 27, 16, 45)) == at(2026, 11, 30, 8, 30)
    assert hub.next_opening(at(2026, 12, 24, 18)) == at(2026, 12, 29, 8, 30)
    assert hub.closing_time(at(2026, 11, 23, 10)) == at(2026, 11, 23, 17, 15)
    assert hub.closing_time(at(2026, 11, 27, 10)) == at(2026, 11, 27, 16, 45)


# --- the daily PPN meeting -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (at(2026, 11, 23, 9), at(2026, 11, 23, 10)),  # later the same day
        (at(2026, 11, 23, 10), at(2026, 11, 24, 10)),  # strictly after
        (at(2026, 11, 27, 10, 30), at(2026, 11, 30, 10)),  # Friday -> Monday
        (at(2026, 12, 24, 11), at(2026, 12, 29, 10)),  # over Christmas 2026
        (at(2026, 3, 27, 11), utc(2026, 3, 30, 9)),  # 10:00 BST after the change
    ],
)
def test_next_working_day_at(hub: WorkingCalendar, after: datetime, expected: datetime) -> None:
    assert hub.next_working_day_at(after, time(10)) == expected


def test_next_working_day_at_wants_a_wall_clock_time(hub: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="wall-clock"):
        hub.next_working_day_at(at(2026, 11, 23, 9), time(10, tzinfo=UTC))


# --- time elapsed --------------------------------------------------------------------------


def test_working_time_between(hub: WorkingCalendar) -> None:
    assert hub.working_time_between(at(2026, 11, 27, 15), at(2026, 11, 30, 10, 45)) == timedelta(
        hours=4
    )
    assert hub.working_time_between(at(2026, 11, 23, 12), at(2026, 11, 23, 10)) == timedelta(0)
    assert hub.working_time_between(at(2026, 11, 28), at(2026, 11, 30)) == timedelta(0)
    # a whole week, Monday midnight to Monday midnight: 4 x 8h45 + 8h15
    assert hub.working_time_between(at(2026, 11, 23), at(2026, 11, 30)) == timedelta(
        hours=43, minutes=15
    )


# --- closures from configuration -------------------------------------------------------------

CHRISTMAS_EVE_AFTERNOON = Closure(
    date(2026, 12, 24), TimeRange(time(12, 30), time(17, 15)), "Christmas Eve afternoon"
)


def test_part_day_closure_shortens_the_day() -> None:
    calendar = closures_calendar(CHRISTMAS_EVE_AFTERNOON)
    # Thu 11:00-12:30 is 1h30; then Tue 29 Dec 08:30 + 2h30
    assert calendar.working_hours(4, at(2026, 12, 24, 11)) == at(2026, 12, 29, 11)
    # the worked example now starts inside the closure: Tue 29 Dec 08:30 + 4h
    assert calendar.working_hours(4, at(2026, 12, 24, 15)) == at(2026, 12, 29, 12, 30)
    # that day's closing time is the start of the closure
    assert calendar.working_days(0, at(2026, 12, 24, 10)) == at(2026, 12, 24, 12, 30)
    assert calendar.is_hub_open(at(2026, 12, 24, 14)) is False
    assert calendar.is_out_of_hours(at(2026, 12, 24, 14)) is True
    assert calendar.is_out_of_hours(at(2026, 12, 24, 11)) is False


def test_whole_day_closure_is_not_a_working_day() -> None:
    calendar = closures_calendar(Closure(date(2026, 11, 25), None, "training day"))
    # Tue 16:15-17:15 is 1h; Wed closed; Thu 08:30 + 1h
    assert calendar.working_hours(2, at(2026, 11, 24, 16, 15)) == at(2026, 11, 26, 9, 30)
    assert calendar.working_days(1, at(2026, 11, 24, 10)) == at(2026, 11, 26, 17, 15)
    assert calendar.is_working_day(date(2026, 11, 25)) is False
    assert calendar.is_out_of_hours(at(2026, 11, 25, 12)) is True


def test_midday_closure_splits_the_day() -> None:
    lunch = Closure(date(2026, 11, 23), TimeRange(time(12), time(13)), "all-staff briefing")
    calendar = closures_calendar(lunch)
    # 10:00-12:00 is 2h; 13:00 + 2h
    assert calendar.working_hours(4, at(2026, 11, 23, 10)) == at(2026, 11, 23, 15)
    assert calendar.working_hours(2, at(2026, 11, 23, 10)) == at(2026, 11, 23, 12)
    assert calendar.next_opening(at(2026, 11, 23, 12, 30)) == at(2026, 11, 23, 13)
    assert calendar.working_days(0, at(2026, 11, 23, 10)) == at(2026, 11, 23, 17, 15)


# --- bank holidays really come from the holidays package -------------------------------------


def test_holidays_package_has_the_substitute_days() -> None:
    england = holidays.country_holidays("GB", subdiv="ENG", years=[2026, 2027, 2028])
    for day in [
        date(2026, 4, 3), date(2026, 4, 6), date(2027, 3, 26), date(2027, 3, 29),
        date(2026, 12, 25), date(2026, 12, 28), date(2027, 1, 1),
        date(2027, 12, 27), date(2027, 12, 28), date(2028, 1, 3),
        date(2026, 5, 4), date(2026, 5, 25), date(2027, 5, 3), date(2027, 5, 31),
    ]:  # fmt: skip
        assert day in england, day
    assert date(2026, 12, 29) not in england


def test_substitute_days_are_not_working_days(hub: WorkingCalendar) -> None:
    assert not hub.is_working_day(date(2026, 12, 28))
    assert not hub.is_working_day(date(2027, 12, 27))
    assert not hub.is_working_day(date(2027, 12, 28))
    assert not hub.is_working_day(date(2028, 1, 3))
    assert hub.is_working_day(date(2026, 12, 29))


# --- refusals ----------------------------------------------------------------------------------


def test_naive_instants_are_refused(hub: WorkingCalendar) -> None:
    naive = datetime(2026, 11, 23, 10)
    for call in (
        lambda: hub.working_hours(4, naive),
        lambda: hub.working_days(1, naive),
        lambda: hub.hours(72, naive),
        lambda: hub.is_hub_open(naive),
        lambda: hub.is_out_of_hours(naive),
        lambda: hub.next_opening(naive),
        lambda: hub.working_time_between(naive, naive),
        lambda: hub.next_working_day_at(naive, time(10)),
    ):
        with pytest.raises(ValueError, match="no time zone"):
            call()


@pytest.mark.parametrize("n", [-1, -0.25, float("nan"), float("inf")])
def test_bad_hours_are_refused(hub: WorkingCalendar, n: float) -> None:
    with pytest.raises(ValueError):
        hub.working_hours(n, at(2026, 11, 23, 10))
    with pytest.raises(ValueError):
        hub.hours(n, at(2026, 11, 23, 10))


@pytest.mark.parametrize("n", [-1, 1.5])
def test_bad_working_days_are_refused(hub: WorkingCalendar, n: int) -> None:
    with pytest.raises(ValueError):
        hub.working_days(n, at(2026, 11, 23, 10))


def test_negative_duration_is_refused(hub: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="negative"):
        hub.add_working_time(at(2026, 11, 23, 10), timedelta(minutes=-1))
