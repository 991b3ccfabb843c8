"""What the pages show, worked out without a browser: working time left, the order of the
inbox, the deadlines board."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from engine.calendar import WorkingCalendar
from engine.web import timing, views

CALENDAR = WorkingCalendar()
MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # London is on GMT in November


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def test_time_left_counts_hub_hours_only() -> None:
    left = timing.time_left(CALENDAR, at(23, 16), at(24, 10))  # 1h15 Monday, 1h30 Tuesday
    assert left is not None and not left.overdue
    assert left.working == timedelta(hours=2, minutes=45)
    assert left.text == "2 h 45 min working time left"


def test_overdue_counts_the_working_time_since_the_due_instant() -> None:
    late = timing.time_left(CALENDAR, at(24, 9, 30), at(23, 17))  # 15 min Mon, 1 h Tue
    assert late is not None and late.overdue
    assert late.text == "overdue by 1 h 15 min working time"
    closed = timing.time_left(CALENDAR, at(23, 18), at(23, 17, 15))
    assert closed is not None and closed.overdue and closed.text == "overdue (since the Hub closed)"
    assert timing.time_left(CALENDAR, MONDAY_9, None) is None


def test_times_are_shown_on_the_hubs_wall_clock() -> None:
    assert timing.local(at(23, 13), CALENDAR.zone) == "Mon 23 Nov 2026, 13:00"
    summer = datetime(2026, 7, 6, 8, 30, tzinfo=UTC)
    assert timing.local(summer, CALENDAR.zone) == "Mon 6 Jul 2026, 09:30"


def task(task_id: str, due: datetime | None) -> dict[str, Any]:
    return {"id": task_id, "instance_id": "i-" + task_id, "name": "BRAG", "role": "R",
            "due": due, "rag": None, "flags": [], "reference": None}


def test_the_inbox_puts_overdue_tasks_first_then_the_soonest_due() -> None:
    tasks = [task("later", at(25, 12)), task("none", None), task("late", at(23, 8, 45)),
             task("soon", at(23, 11)), task("later_late", at(23, 8, 50))]
    rows = views.inbox_rows(tasks, {"i-soon": {"child_name": "Sam", "child_id": "C1"}},
                            CALENDAR, MONDAY_9)
    assert [r.task_id for r in rows] == ["late", "later_late", "soon", "later", "none"]
    assert [r.due.overdue for r in rows] == [True, True, False, False, False]
    assert rows[2].child_name == "Sam" and rows[2].child_id == "C1"


def deadline(name: str, due: datetime, role: str | None, rag: str | None, met: bool | None = None,
             done_at: datetime | None = None, breached_at: datetime | None = None
             ) -> dict[str, Any]:
    return {"instance_id": "i-" + name, "name": name, "due": due, "done_at": done_at,
            "breached_at": breached_at, "met": met, "role": role, "task_name": "T",
            "rag": rag, "summary": {"child_name": name.title()}, "reference": None}


def test_the_board_splits_breached_from_due_today_and_counts_by_role_and_rag() -> None:
    now = at(23, 14)
    found = [
        deadline("open_late", at(23, 13), "Business Support Officer", "RED", met=False,
                 breached_at=at(23, 13)),
        deadline("done_late", at(23, 10), "Business Support Officer", "RED", met=False,
                 done_at=at(23, 11), breached_at=at(23, 10)),
        deadline("today", at(23, 16), "MASH Social Worker", "AMBER"),
        deadline("tomorrow", at(24, 16), "MASH Social Worker", "AMBER"),
        deadline("met", at(23, 16), "MASH Social Worker", "GREEN", met=True, done_at=at(23, 12)),
        deadline("lane", at(23, 15), None, None),
    ]
    board = views.board(found, CALENDAR, now, None, None)
    assert [r.deadline for r in board.breached] == ["Open late", "Done late"]
    assert board.breached[0].status == "still open"
    assert board.breached[1].status.startswith("done late")
    assert [r.deadline for r in board.due_today] == ["Lane", "Today"]
    counts = dict(board.counts)
    assert counts["Business Support Officer"]["RED"] == (1, 0)
    assert counts["MASH Social Worker"]["AMBER"] == (0, 1)
    assert counts[views.NO_ROLE]["Not rated"] == (0, 1)

    narrowed = views.board(found, CALENDAR, now, "MASH Social Worker", "AMBER")
    assert [r.deadline for r in narrowed.due_today] == ["Today"] and not narrowed.breached


def test_recorded_answers_use_the_words_of_the_forms() -> None:
    names = views.Names.of([[{"id": "consent_override_reasons", "label": "Reasons",
                              "options": [{"id": "risk_of_harm", "name": "Risk of harm"}]}]])
    assert names.label("consent_override_reasons") == "Reasons"
    assert names.show("consent_override_reasons", ["risk_of_harm"], CALENDAR) == "Risk of harm"
    assert names.label("rag_timescale") == "RAG timescale"
    assert views.show(True, CALENDAR) == "Yes"
    assert views.show("2026-11-23T13:00:00Z", CALENDAR) == "Mon 23 Nov 2026, 13:00"


def test_a_case_not_about_a_child_is_named_by_its_kind() -> None:
    assert views.subject({"child_name": "Sam"}) == "Sam"
    assert views.subject({}, "escalation") == "Professional disagreement"
    assert views.subject({"process": "ppn_meeting"}) == "PPN meeting"
    assert views.subject({}, "first_response") == "Name not given"
