"""The timeliness figures of the known week (tests/reports/history.py), each worked out by
hand there: contacts by day, week and channel; every deadline met, missed and how late, on
its own clock; escalation stages; outcomes; re-referrals; open work now; the filters."""

from __future__ import annotations

from typing import Any

import pytest

from engine.queries import jsonable
from engine.reports import ReportError
from engine.reports.period import filters_from
from engine.reports.reader import reports_for
from engine.reports.timescales import ELAPSED, WORKING, basis_of_expression
from tests.reports.history import PERIOD, Week

BSIO = "Business Support Information Officer"
POD = "Pod Assistant Team Manager"


def dashboard(week: Week, **filters: str) -> dict[str, Any]:
    reports = reports_for(week.hub.engine)
    found = reports.timeliness(reports.period(*PERIOD), reports.filters(**filters))
    return jsonable(found)  # type: ignore[no-any-return]


def figures(rows: list[dict[str, Any]]) -> dict[tuple[str, str | None], tuple[Any, ...]]:
    """(deadline, RAG) -> (clock, met, done late, still open, never done, running, share met,
    lateness bands, median, p90, max)."""
    return {(r["deadline"], r["rag"]): (
        r["basis"], r["met"], r["late"], r["late_open"], r["not_done"], r["running"],
        r["met_share"], [b["count"] for b in r["lateness"]["bands"]],
        r["lateness"]["median_hours"], r["lateness"]["p90_hours"], r["lateness"]["max_hours"])
        for r in rows}


def test_contacts_received_by_day_week_and_channel(week: Week) -> None:
    found = dashboard(week)["contacts"]
    # H (Sun 22 Nov 23:59, started when the clock began, Mon 09:00) and G (Wed 2 Dec) are
    # outside Mon 23 – Sun 29 Nov: received is when the contact came, not when it was keyed.
    assert found["total"] == 5
    assert found["by_channel"] == {"email": 2, "phone": 2, "portal": 1}
    assert [(d["date"], d["email"], d["phone"], d["portal"], d["total"]) for d in found["by_day"]] == [
        ("2026-11-23", 1, 1, 0, 2), ("2026-11-24", 0, 0, 1, 1), ("2026-11-25", 1, 0, 0, 1),
        ("2026-11-26", 0, 0, 0, 0), ("2026-11-27", 0, 0, 0, 0), ("2026-11-28", 0, 1, 0, 1),
        ("2026-11-29", 0, 0, 0, 0)]
    assert found["by_week"] == [{"week_starting": "2026-11-23", "total": 5, "email": 2,
                                 "phone": 2, "portal": 1}]


def test_every_deadline_met_and_how_late_on_its_own_clock(week: Week) -> None:
    bands = [0, 0, 0, 0, 0, 0]  # up to 1 h, 1-4, 4-8, 8-24, 24-72, over 72

    def b(**at: int) -> list[int]:
        found = list(bands)
        for index, count in at.items():
            found[int(index[1:])] = count
        return found

    assert figures(dashboard(week)["deadlines"]) == {
        # A, B, C and D decided within a working day; F (Sat 10:00: due Tue 1 Dec 17:15) is
        # still at verification: Wed 08:30-12:00 = 3.5 working hours late so far.
        ("decision", None): ("working", 4, 0, 1, 0, 0, 0.8, b(i1=1), 3.5, 3.5, 3.5),
        # A RED: due Mon 15:15, decided 16:15: 1 working hour. C AMBER: due Wed 25 17:15, open:
        # Thu 8.75 + Fri 8.25 + Mon 8.75 + Tue 8.75 + Wed 3.5 = 38 working hours. B GREEN:
        # 72 elapsed hours from Tue 10:00 = Fri 10:00, decided Mon 30 10:00: 72 elapsed hours.
        ("rag_timescale", None): ("mixed", 0, 2, 1, 0, 0, 0.0, b(i0=1, i4=2), 38.0, 72.0, 72.0),
        ("rag_timescale", "RED"): ("working", 0, 1, 0, 0, 0, 0.0, b(i0=1), 1.0, 1.0, 1.0),
        ("rag_timescale", "AMBER"): ("working", 0, 0, 1, 0, 0, 0.0, b(i4=1), 38.0, 38.0, 38.0),
        ("rag_timescale", "GREEN"): ("elapsed", 0, 1, 0, 0, 0, 0.0, b(i4=1), 72.0, 72.0, 72.0),
        # A and B told in time; C's letter was due Tue 1 Dec 17:15: 3.5 working hours late so
        # far. D (NFA) has no outcome letter deadline, F's runs to Mon 7 Dec.
        ("referrer_outcome", None): ("working", 2, 0, 1, 0, 0, 0.6667, b(i1=1), 3.5, 3.5, 3.5),
    }


def test_escalation_stages_missed_and_met(week: Week) -> None:
    found = dashboard(week)["disagreements"]
    assert found["raised"] == 1
    assert figures(found["deadlines"]) == {
        # Stage 1 ran out at Tue 1 Dec 17:15 and moved on: missed, never to be done.
        ("stage_1_response", None): ("working", 0, 0, 0, 1, 0, 0.0, [0] * 6, None, None, None),
        ("stage_2_response", None): ("working", 1, 0, 0, 0, 0, 1.0, [0] * 6, None, None, None),
    }


def test_outcomes_re_referrals_and_open_work_now(week: Week) -> None:
    found = dashboard(week)
    assert [(o["outcome"], o["count"], o["share"]) for o in found["outcomes"]] == [
        ("early_help", 1, 0.2), ("nfa", 1, 0.2), ("s47", 1, 0.2), ("not decided yet", 2, 0.4)]
    assert found["re_referrals"] == {"count": 1, "share": 0.2}  # A: closed 20 Oct, team known
    assert found["teams"] == ["Assessment Team 1"]
    # Open now, whatever the period: verification of H (opened Mon 23 09:00, overdue), F
    # (overdue) and G (due Thu); C's allocation (opened Tue 24 10:00, due Wed 25 17:15).
    # H has waited Mon 8.25 + Tue-Thu 3 x 8.75 + Fri 8.25 + Mon, Tue 2 x 8.75 + Wed 3.5 h.
    assert found["open_work"] == [
        {"role": BSIO, "open": 3, "overdue": 2, "oldest_created_at": "2026-11-23T09:00:00Z",
         "oldest_waiting_working_hours": 63.75},
        {"role": POD, "open": 1, "overdue": 1, "oldest_created_at": "2026-11-24T10:00:00Z",
         "oldest_waiting_working_hours": 54.0},
    ]


def test_filters_narrow_the_contacts_their_deadlines_and_the_open_work(week: Week) -> None:
    red = dashboard(week, rag="RED")
    assert red["contacts"]["total"] == 1 and red["outcomes"][0]["outcome"] == "s47"
    assert {(r["deadline"], r["rag"]) for r in red["deadlines"]} == {
        ("decision", None), ("rag_timescale", None), ("rag_timescale", "RED"),
        ("referrer_outcome", None)}
    assert red["disagreements"]["raised"] == 1  # about A
    assert red["open_work"] == []
    phone = dashboard(week, channel="phone")
    assert phone["contacts"]["total"] == 2 and phone["contacts"]["by_channel"] == {"phone": 2}
    assert phone["disagreements"]["raised"] == 0
    assert [(w["role"], w["open"]) for w in phone["open_work"]] == [(BSIO, 1)]  # F
    assert dashboard(week, rag="none")["contacts"]["total"] == 2  # D and F
    assert dashboard(week, outcome="nfa")["contacts"]["total"] == 1
    team = dashboard(week, team="Assessment Team 1")
    assert team["contacts"]["total"] == 1 and team["re_referrals"]["count"] == 1
    assert dashboard(week, team="Early Help")["contacts"]["total"] == 0


@pytest.mark.parametrize(("values", "field"), [
    ({"rag": "PURPLE"}, "rag"), ({"channel": "fax"}, "channel"), ({"outcome": "x" * 65}, "outcome")])
def test_a_filter_that_cannot_be_is_refused_by_name(values: dict[str, str], field: str) -> None:
    with pytest.raises(ReportError) as raised:
        filters_from(**values)
    assert raised.value.field == field


def test_periods_are_whole_local_days_and_refuse_nonsense(week: Week) -> None:
    reports = reports_for(week.hub.engine)
    period = reports.period("2026-11-23", "2026-11-29")
    assert (period.days, period.start.isoformat(), period.end.isoformat()) == (
        7, "2026-11-23T00:00:00+00:00", "2026-11-30T00:00:00+00:00")
    default = reports.period()  # the 28 days up to today (Wed 2 Dec)
    assert (default.first.isoformat(), default.last.isoformat()) == ("2026-11-05", "2026-12-02")
    for first, last, field in (("2026-11-30", "2026-11-01", "to"), ("23/11/2026", None, "from"),
                               ("2020-01-01", "2026-01-01", "to")):
        with pytest.raises(ReportError) as raised:
            reports.period(first, last)
        assert raised.value.field == field


def test_a_summer_day_is_counted_on_the_london_clock() -> None:
    from datetime import date
    from zoneinfo import ZoneInfo

    from engine.reports.period import Period

    day = Period(date(2026, 7, 1), date(2026, 7, 1), ZoneInfo("Europe/London"))
    assert day.start.astimezone(ZoneInfo("UTC")).isoformat() == "2026-06-30T23:00:00+00:00"


def test_the_clock_of_a_deadline_is_read_from_its_timer_expression() -> None:
    rag = ('working_hours(4, since=opened_at) if rag == "RED" else working_hours(16, '
           'since=opened_at) if rag == "AMBER" else hours(72, since=opened_at)')
    assert [basis_of_expression(rag, r) for r in ("RED", "AMBER", "GREEN", None)] == [
        WORKING, WORKING, ELAPSED, ELAPSED]
    assert basis_of_expression("working_days(5, since=received_at)", None) == WORKING
    # A process owner who makes GREEN count working hours changes how its lateness is shown.
    assert basis_of_expression(rag.replace("hours(72", "working_hours(24"), "GREEN") == WORKING
    assert basis_of_expression("hours(2) + oops(", "RED") == ELAPSED  # not evaluable: by its words
