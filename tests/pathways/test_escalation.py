"""Pathway 3, professional disagreement (processes/escalation.bpmn), on SQLite and PostgreSQL.

Every outcome, every stage answered or left to run out, the exact deadlines across bank
holidays and summer-time changes (worked out by hand from DOMAIN.md, "Working time", and
checked with `mash deadline --working-days 5 --from ...`), who is told at each stage, the
forms, and the link to the contact a disagreement is about.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine import diagrams
from engine.service import Conflict, FormRejected
from tests.pathways.harness import PROCESSES, Hub

ROLE = {
    1: "Line / team manager",
    2: "Designated safeguarding lead / service manager",
    3: "Assistant / deputy director",
    4: "Safeguarding Children Partnership",
}
PROFESSIONAL = "Professional raising the disagreement"
RAISER = {"name": "Pat Nurse", "agency": "Oakdale Health Visiting",
          "email": "p.nurse@health.invalid"}
SUMMARY = "The decision of no further action overlooks the repeated bruising we reported."
START_PATH = ["disagreement_raised", "receive_disagreement", "informal_gw"]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def raise_disagreement(hub: Hub, *, raised_at: str | None = None, about: str | None = None,
                       **changes: Any) -> str:
    """A disagreement raised now (the hub's clock moved to `raised_at` first, if given)."""
    if raised_at is not None:
        hub.advance(to=raised_at)
    data: dict[str, Any] = {"summary": SUMMARY, "raised_by": dict(RAISER),
                            "informal_attempt_failed": True, "about": about}
    data.update(changes)
    return hub.start("escalation", data, about=about)


def stage_path(n: int) -> list[str]:
    return [f"stage_{n}_merge", f"notify_stage_{n}", f"stage_{n}_response", f"stage_{n}_gw"]


def notices(hub: Hub, instance: str) -> list[tuple[str, datetime]]:
    return [(n["to"], n["sent_at"]) for n in hub.notifications(instance, "escalation_notice")]


def mailbox(hub: Hub, stage: int) -> str:
    [address] = hub.engine.directory.addresses(ROLE[stage])
    return address


def changes_of(hub: Hub, instance: str, element: str) -> list[dict[str, Any]]:
    return [h["changes"] for h in hub.view(instance)["history"]
            if h["element_id"] == element and h["action"] == "completed"]


# -- the professional-to-professional attempt -------------------------------------------------


def test_resolved_professional_to_professional_ends_before_stage_1(hub: Hub) -> None:
    instance = raise_disagreement(hub, informal_attempt_failed=False)
    [task] = hub.tasks(instance)
    assert task["element_id"] == "resolve_informally"
    assert task["role"] == PROFESSIONAL
    assert task["due"] is None  # the seed leaves the timescale to the two professionals
    hub.complete(instance, "resolve_informally", resolved=True,
                 reasons="Agreed after a call with the school's safeguarding lead.")
    view = hub.view(instance)
    assert view["state"] == "completed"
    assert view["outcome"] == "resolved_informally"
    assert view["path"] == [*START_PATH, "resolve_informally", "informal_gw2",
                            "resolved_informally_end"]
    assert view["deadlines"] == []
    assert view["notifications"] == []


def test_not_resolved_professional_to_professional_goes_to_stage_1(hub: Hub) -> None:
    instance = raise_disagreement(hub, raised_at="2026-11-23T10:00:00Z",
                                  informal_attempt_failed=False)
    hub.advance(to="2026-11-24T11:00:00Z")  # no deadline on the informal attempt
    hub.complete(instance, "resolve_informally", resolved=False,
                 reasons="The duty manager stands by the decision.")
    view = hub.view(instance)
    assert view["path"] == [*START_PATH, "resolve_informally", "informal_gw2",
                            "stage_1_merge", "notify_stage_1"]
    [task] = view["open_tasks"]
    assert (task["element_id"], task["role"]) == ("stage_1_response", ROLE[1])
    # Stage 1 starts when the attempt fails: Tue 24 Nov 11:00 + 5 working days
    assert task["due"] == at("2026-12-01T17:15:00Z")
    assert sorted(notices(hub, instance)) == sorted([
        (mailbox(hub, 1), at("2026-11-24T11:00:00Z")),
        (RAISER["email"], at("2026-11-24T11:00:00Z"))])


def test_an_attempt_already_made_goes_straight_to_stage_1(hub: Hub) -> None:
    instance = raise_disagreement(hub)
    view = hub.view(instance)
    assert view["path"] == [*START_PATH, "stage_1_merge", "notify_stage_1"]
    assert [t["element_id"] for t in view["open_tasks"]] == ["stage_1_response"]


# -- stages answered --------------------------------------------------------------------------


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_resolved_at_a_stage_after_unresolved_answers(hub: Hub, stage: int) -> None:
    instance = raise_disagreement(hub, raised_at="2026-11-23T10:00:00Z")
    path = [*START_PATH]
    for n in range(1, stage + 1):
        [task] = hub.tasks(instance)
        assert (task["element_id"], task["role"]) == (f"stage_{n}_response", ROLE[n])
        hub.advance(by=timedelta(hours=2))
        resolved = n == stage
        hub.complete(instance, f"stage_{n}_response", resolved=resolved,
                     reasons=f"Stage {n}: {'agreed' if resolved else 'not agreed'}.")
        path += stage_path(n)
    view = hub.view(instance)
    assert view["state"] == "completed"
    assert view["outcome"] == f"resolved_stage_{stage}"
    assert view["path"] == [*path, f"resolved_stage_{stage}_end"]
    # every stage that ran has its deadline, met, and its answer with its reasons
    deadlines = view["deadlines"]
    assert [d["name"] for d in deadlines] == [f"stage_{n}_response" for n in range(1, stage + 1)]
    assert all(d["met"] is True and d["done_at"] is not None for d in deadlines)
    for n in range(1, stage + 1):
        assert changes_of(hub, instance, f"stage_{n}_response") == [{
            "resolved": n == stage,
            "reasons": f"Stage {n}: {'agreed' if n == stage else 'not agreed'}."}]
    # each stage reached was told, once per recipient, and so was the raiser
    expected = [(mailbox(hub, n), RAISER["email"]) for n in range(1, stage + 1)]
    sent = [to for to, _ in notices(hub, instance)]
    assert sorted(sent) == sorted(a for pair in expected for a in pair)


def test_unresolved_at_every_stage_goes_to_the_partnership(hub: Hub) -> None:
    instance = raise_disagreement(hub, raised_at="2026-11-23T10:00:00Z")
    for n in (1, 2, 3):
        hub.advance(by=timedelta(hours=1))
        hub.complete(instance, f"stage_{n}_response", resolved=False, reasons=f"No ({n}).")
    view = hub.view(instance)
    assert view["outcome"] == "partnership"
    assert view["path"] == [*START_PATH, *stage_path(1), *stage_path(2), *stage_path(3),
                            "stage_4_merge", "notify_partnership", "partnership_end"]
    assert [d["met"] for d in view["deadlines"]] == [True, True, True]
    last = at("2026-11-23T13:00:00Z")
    assert sorted(n for n in notices(hub, instance) if n[1] == last) == sorted([
        (mailbox(hub, 4), last), (RAISER["email"], last)])
    assert len(notices(hub, instance)) == 8


# -- stages not answered ----------------------------------------------------------------------


def test_a_stage_not_answered_moves_on_at_its_due_instant(hub: Hub) -> None:
    # Mon 23 Nov 2026 10:00 + 5 working days = Mon 30 Nov 17:15 (DOMAIN.md's worked example)
    instance = raise_disagreement(hub, raised_at="2026-11-23T10:00:00Z")
    due = at("2026-11-30T17:15:00Z")
    hub.advance(to=due - timedelta(seconds=1))
    assert [t["element_id"] for t in hub.tasks(instance)] == ["stage_1_response"]
    assert hub.deadline(instance, "stage_1_response")["met"] is None
    hub.advance(to=due)
    first = hub.deadline(instance, "stage_1_response")
    assert first["started_at"] == at("2026-11-23T10:00:00Z")
    assert first["due"] == due
    assert first["breached_at"] == due
    assert first["met"] is False and first["done_at"] is None
    [task] = hub.tasks(instance)
    assert (task["element_id"], task["role"]) == ("stage_2_response", ROLE[2])
    # Stage 2 starts at 17:15, closing time: it counts from Tue 1 Dec -> Tue 8 Dec 17:15
    second = hub.deadline(instance, "stage_2_response")
    assert second["started_at"] == due
    assert second["due"] == at("2026-12-08T17:15:00Z")
    assert task["due"] == second["due"]
    # stage 2 and the raiser are told at that instant, one notice each
    assert sorted(n for n in notices(hub, instance) if n[1] == due) == sorted([
        (mailbox(hub, 2), due), (RAISER["email"], due)])
    view = hub.view(instance)
    assert view["path"] == [*START_PATH, *stage_path(1)[:2], "stage_1_due", "stage_2_merge",
                            "notify_stage_2"]
    history = [h for h in view["history"] if h["action"] == "deadline_breached"]
    assert [(h["element_id"], h["at"]) for h in history] == [("stage_1_due", due)]


def test_nobody_answers_and_it_reaches_the_partnership(hub: Hub) -> None:
    instance = raise_disagreement(hub, raised_at="2026-11-23T10:00:00Z")
    hub.advance(to="2026-12-20T12:00:00Z")
    view = hub.view(instance)
    assert view["outcome"] == "partnership"
    assert view["ended_at"] == at("2026-12-16T17:15:00Z")
    assert view["path"] == [*START_PATH, *stage_path(1)[:2], "stage_1_due",
                            *stage_path(2)[:2], "stage_2_due", *stage_path(3)[:2], "stage_3_due",
                            "stage_4_merge", "notify_partnership", "partnership_end"]
    assert [(d["name"], d["due"], d["breached_at"], d["met"], d["done_at"])
            for d in view["deadlines"]] == [
        ("stage_1_response", at("2026-11-30T17:15:00Z"), at("2026-11-30T17:15:00Z"), False, None),
        ("stage_2_response", at("2026-12-08T17:15:00Z"), at("2026-12-08T17:15:00Z"), False, None),
        ("stage_3_response", at("2026-12-16T17:15:00Z"), at("2026-12-16T17:15:00Z"), False, None),
    ]
    assert view["open_tasks"] == []
