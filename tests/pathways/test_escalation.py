"""Pathway 3, professional disagreement (processes/escalation.bpmn), on SQLite and PostgreSQL.

Every outcome, every stage answered or left to run out, the exact deadlines across bank
holidays and summer-time changes (worked out by hand from docs/process.md, "Working time", and
checked with `mash deadline --working-days 5 --from ...`), who is told at each stage, the
forms, and the link to the contact a disagreement is about.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine import diagrams
from engine.service import Forbidden, FormRejected
from engine.store import notifications
from tests.pathways.harness import PROCESSES, Hub, modeller_saved

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
    # Mon 23 Nov 2026 10:00 + 5 working days = Mon 30 Nov 17:15 (docs/process.md's worked example)
    instance = raise_disagreement(hub, raised_at="2026-11-23T10:00:00Z")
    due = at("2026-11-30T17:15:00Z")
    hub.advance(to=due - timedelta(seconds=1))
    assert [t["element_id"] for t in hub.tasks(instance)] == ["stage_1_response"]
    assert hub.deadline(instance, "stage_1_response")["met"] is None
    hub.advance(to=due)
    assert hub.deadline(instance, "stage_1_response")["met"] is None  # work now still meets it
    hub.advance(through=due)
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


def test_an_answer_before_the_deadline_meets_it(hub: Hub) -> None:
    instance = raise_disagreement(hub, raised_at="2026-11-23T10:00:00Z")
    hub.advance(to="2026-11-30T17:14:59Z")
    hub.complete(instance, "stage_1_response", resolved=True, reasons="Agreed in time.")
    [deadline] = hub.view(instance)["deadlines"]
    assert deadline["done_at"] == at("2026-11-30T17:14:59Z")
    assert deadline["met"] is True and deadline["breached_at"] is None
    assert hub.view(instance)["outcome"] == "resolved_stage_1"


def test_an_answer_at_exactly_the_due_instant_meets_the_deadline(hub: Hub) -> None:
    instance = raise_disagreement(hub, raised_at="2026-11-23T10:00:00Z")
    hub.advance(to="2026-11-30T17:14:00Z")
    hub.clock.set(at("2026-11-30T17:15:00Z"))  # the answer lands before the scheduler runs
    hub.complete(instance, "stage_1_response", resolved=True, reasons="Agreed at the last minute.")
    [deadline] = hub.view(instance)["deadlines"]
    assert deadline["met"] is True


# -- exact deadlines: each worked out by hand from docs/process.md ----------------------------------
# working_days(5): the Hub's closing time (Mon-Thu 17:15, Fri 16:45, Europe/London) on the 5th
# working day after the day the clock starts; a clock started outside Hub hours, or at
# closing time exactly, starts at the next opening. Each stage starts when the one before ran
# out, at its closing time, so it counts from the next working day. Checked with
# `mash deadline --working-days 5 --from ...`.

DEADLINES = {
    # Thu 17 Dec 10:00 GMT: Fri 18, Mon 21, Tue 22, Wed 23, Thu 24 -> Thu 24 Dec 17:15 GMT.
    # From Thu 24 Dec 17:15: Fri 25 (Christmas), Mon 28 (Boxing Day, substitute) are bank
    # holidays, so it starts Tue 29: Wed 30, Thu 31, (Fri 1 Jan bank holiday), Mon 4, Tue 5,
    # Wed 6 -> Wed 6 Jan 17:15. Then Thu 7: Fri 8, Mon 11, Tue 12, Wed 13, Thu 14 Jan 17:15.
    "christmas 2026": ("2026-12-17T10:00:00Z",
                       ["2026-12-24T17:15:00Z", "2027-01-06T17:15:00Z", "2027-01-14T17:15:00Z"]),
    # Tue 23 Mar 2027 10:00 GMT: Wed 24, Thu 25, (Good Friday 26, weekend - summer time
    # starts Sun 28 -, Easter Monday 29), Tue 30, Wed 31, Thu 1 Apr -> 17:15 BST = 16:15Z.
    # Then Fri 2 Apr: Mon 5, Tue 6, Wed 7, Thu 8, Fri 9 -> 16:45 BST (Friday) = 15:45Z.
    # Then Mon 12: Tue 13, Wed 14, Thu 15, Fri 16, Mon 19 -> 17:15 BST = 16:15Z.
    "easter 2027, summer time starts": (
        "2027-03-23T10:00:00Z",
        ["2027-04-01T16:15:00Z", "2027-04-09T15:45:00Z", "2027-04-19T16:15:00Z"]),
    # Wed 27 Oct 2027 10:00 BST (09:00Z): Thu 28, Fri 29, (summer time ends Sun 31),
    # Mon 1 Nov, Tue 2, Wed 3 -> 17:15 GMT. Then Thu 4: Fri 5, Mon 8, Tue 9, Wed 10, Thu 11
    # -> 17:15. Then Fri 12: Mon 15, Tue 16, Wed 17, Thu 18, Fri 19 -> 16:45 (Friday).
    "summer time ends 2027": ("2027-10-27T09:00:00Z",
                              ["2027-11-03T17:15:00Z", "2027-11-11T17:15:00Z",
                               "2027-11-19T16:45:00Z"]),
    # Fri 27 Nov 2026 16:50, after Friday's 16:45 closing: the clock starts Mon 30 Nov:
    # Tue 1, Wed 2, Thu 3, Fri 4, Mon 7 Dec -> 17:15. Then Tue 8: ... Tue 15; Wed 16: ... Wed 23.
    "raised after closing on a Friday": (
        "2026-11-27T16:50:00Z",
        ["2026-12-07T17:15:00Z", "2026-12-15T17:15:00Z", "2026-12-23T17:15:00Z"]),
    # Saturday: the clock starts Monday 30 Nov, as above.
    "raised on a Saturday": ("2026-11-28T11:00:00Z",
                             ["2026-12-07T17:15:00Z", "2026-12-15T17:15:00Z",
                              "2026-12-23T17:15:00Z"]),
}


@pytest.mark.parametrize("case", sorted(DEADLINES))
def test_exact_deadlines_of_stages_left_to_run_out(hub: Hub, case: str) -> None:
    raised, dues = DEADLINES[case]
    instance = raise_disagreement(hub, raised_at=raised)
    started = at(raised)
    for n, due_text in enumerate(dues, start=1):
        due = at(due_text)
        deadline = hub.deadline(instance, f"stage_{n}_response")
        assert (deadline["started_at"], deadline["due"]) == (started, due), f"stage {n}"
        assert hub.task(instance, f"stage_{n}_response")["due"] == due
        hub.advance(to=due - timedelta(seconds=1))
        assert hub.deadline(instance, f"stage_{n}_response")["breached_at"] is None
        hub.advance(to=due)
        assert hub.deadline(instance, f"stage_{n}_response")["breached_at"] is None
        hub.advance(through=due)
        deadline = hub.deadline(instance, f"stage_{n}_response")
        assert deadline["breached_at"] == due
        assert deadline["met"] is False and deadline["done_at"] is None
        # the next stage (or the Partnership) and the raiser are told at that instant
        told = sorted(to for to, sent_at in notices(hub, instance) if sent_at == due)
        assert told == sorted([mailbox(hub, n + 1), RAISER["email"]]), f"stage {n + 1}"
        started = due
    assert hub.view(instance)["outcome"] == "partnership"


# -- who is told ------------------------------------------------------------------------------


@pytest.mark.parametrize("raised_by", [
    {"name": "A. Officer", "agency": "Dorset Police"},
    {"name": "A. Officer", "agency": "Dorset Police", "email": ""},
    None,
])
def test_no_notice_to_a_raiser_with_no_email(hub: Hub, raised_by: dict[str, str] | None) -> None:
    instance = raise_disagreement(hub, raised_at="2026-11-23T10:00:00Z", raised_by=raised_by)
    hub.advance(through="2026-11-30T17:15:00Z")  # stage 1 runs out: stage 2 is told
    hub.complete(instance, "stage_2_response", resolved=False, reasons="Still disagree.")
    assert [to for to, _ in notices(hub, instance)] == [mailbox(hub, 1), mailbox(hub, 2),
                                                        mailbox(hub, 3)]


def test_the_notice_says_what_the_stage_must_do(hub: Hub) -> None:
    instance = raise_disagreement(hub, raised_at="2026-11-23T10:00:00Z",
                                  informal_attempt_failed=False)
    hub.complete(instance, "resolve_informally", resolved=False,
                 reasons="The team manager would not review the decision.")
    with hub.store.reading() as conn:
        rows = conn.execute(sa.select(notifications).where(
            notifications.c.instance_id == instance)).all()
    by_recipient = {r.recipient: r for r in rows}
    assert set(by_recipient) == {mailbox(hub, 1), RAISER["email"]}
    mail = by_recipient[mailbox(hub, 1)]
    reference = instance.split("-")[0].upper()
    assert mail.subject == (f"Professional disagreement at stage 1 of the escalation policy "
                            f"(ref {reference})")
    assert "Escalate to stage 1: Line / team manager." in mail.body
    assert "\u201cStage 1 response\u201d" in mail.body and "5 working days" in mail.body
    assert SUMMARY in mail.body
    assert "The team manager would not review the decision." in mail.body
    assert "$" not in mail.body + mail.subject  # every placeholder filled


# -- forms ------------------------------------------------------------------------------------


@pytest.mark.parametrize("values", [
    {"resolved": True},
    {"resolved": False, "reasons": ""},
    {"reasons": "No answer to the question itself."},
])
def test_an_answer_without_its_reasons_or_result_is_refused(hub: Hub,
                                                            values: dict[str, Any]) -> None:
    informal = raise_disagreement(hub, informal_attempt_failed=False)
    staged = raise_disagreement(hub)
    for instance, element in ((informal, "resolve_informally"), (staged, "stage_1_response")):
        with pytest.raises(FormRejected) as refused:
            hub.complete(instance, element, **values)
        missing = {"resolved", "reasons"} - {k for k, v in values.items() if v not in ("", None)}
        assert {e["field"] for e in refused.value.errors} == missing
        assert [t["element_id"] for t in hub.tasks(instance)] == [element]  # nothing applied


def test_only_the_stage_role_answers(hub: Hub) -> None:
    instance = raise_disagreement(hub)
    with pytest.raises(Forbidden):
        hub.complete(instance, "stage_1_response", roles={ROLE[2]}, resolved=True, reasons="x")
    hub.complete(instance, "stage_1_response", roles={ROLE[1]}, resolved=True, reasons="Agreed.")
    assert hub.view(instance)["outcome"] == "resolved_stage_1"


# -- what is recorded, and what it is about ---------------------------------------------------


def test_a_disagreement_about_a_contact_is_linked_to_it(hub: Hub) -> None:
    # A real contact when first response is drawn (the hub deploys processes/ only when every
    # diagram there validates); else any instance id, which is what `about` holds.
    drawn = (PROCESSES / "first_response.bpmn").exists()
    contact = hub.contact() if drawn else str(uuid.uuid4())
    instance = raise_disagreement(hub, raised_at="2026-11-23T10:00:00Z", about=contact)
    view = hub.view(instance)
    assert view["about"] == contact
    assert view["process"] == "escalation"
    if contact in {i["id"] for i in hub.instances("first_response")}:
        assert hub.view(contact)["state"] != "incident"  # the contact carries on regardless
    [task] = hub.tasks(instance)
    data = hub.engine.task_data(task["id"])
    assert data["about"] == contact
    assert data["raised_at"] == "2026-11-23T10:00:00Z"
    assert data["raised_by"] == RAISER
    assert (data["summary"], data["informal_attempt_failed"]) == (SUMMARY, True)
    assert (data["resolved"], data["reasons"]) == (None, None)


def test_another_agencys_decision_has_no_contact_and_defaults_are_recorded(hub: Hub) -> None:
    hub.advance(to="2026-11-24T14:30:00Z")
    instance = hub.start("escalation", {})
    assert hub.view(instance)["about"] is None
    [task] = hub.tasks(instance)
    assert task["element_id"] == "resolve_informally"  # not yet tried professional to professional
    data = hub.engine.task_data(task["id"])
    assert data["raised_at"] == "2026-11-24T14:30:00Z"
    assert (data["about"], data["raised_by"], data["summary"]) == (None, None, "")
    assert (data["informal_attempt_failed"], data["resolved"], data["reasons"]) == (
        False, None, None)


def test_a_given_raised_at_is_kept_in_utc(hub: Hub) -> None:
    instance = raise_disagreement(hub, raised_at="2026-11-24T10:00:00Z")
    other = hub.start("escalation", {"raised_at": "2026-11-24T09:15:00+00:00",
                                     "informal_attempt_failed": True})
    for found, expected in ((instance, "2026-11-24T10:00:00Z"), (other, "2026-11-24T09:15:00Z")):
        [task] = hub.tasks(found)
        assert hub.engine.task_data(task["id"])["raised_at"] == expected


@pytest.mark.parametrize("data, field", [
    ({"raised_by": "Pat Nurse"}, "raised_by"),
    ({"raised_by": {"email": 42}}, "raised_by.email"),
    ({"informal_attempt_failed": "no"}, "informal_attempt_failed"),
    ({"raised_at": "last Tuesday"}, "raised_at"),
    ({"raised_at": "2026-11-24T09:15:00"}, "raised_at"),
    ({"summary": ["a", "list"]}, "summary"),
    ({"about": 7}, "about"),
])
def test_a_disagreement_of_the_wrong_shape_is_an_incident_naming_the_field(
        hub: Hub, data: dict[str, Any], field: str) -> None:
    instance = hub.start("escalation", data)
    view = hub.view(instance)
    assert view["state"] == "incident"
    assert field in view["error"]
    assert view["open_tasks"] == [] and view["notifications"] == []


# -- the diagram as a process owner saves it ---------------------------------------------------

def _run_sample(processes: Path, database: Path) -> dict[str, Any]:
    hub = Hub(f"sqlite:///{database}", start="2026-12-17T10:00:00Z", processes=processes)
    try:
        instance = raise_disagreement(hub, informal_attempt_failed=False)
        hub.complete(instance, "resolve_informally", resolved=False, reasons="No.")
        hub.advance(through="2026-12-24T17:15:00Z")  # stage 1 runs out
        hub.complete(instance, "stage_2_response", resolved=False, reasons="Still no.")
        hub.complete(instance, "stage_3_response", resolved=True, reasons="Agreed.")
        view = hub.view(instance)
        return {"outcome": view["outcome"], "path": view["path"], "flows": view["flows"],
                "deadlines": view["deadlines"],
                "notifications": [(n["kind"], n["to"], n["sent_at"])
                                  for n in view["notifications"]]}
    finally:
        hub.close()


def test_the_engine_runs_the_diagram_saved_by_the_modeller_as_the_original(
        tmp_path: Path) -> None:
    original, saved = modeller_saved(("escalation.bpmn",), tmp_path)
    diagrams.load([saved / "escalation.bpmn"])  # validates as the original does
    expected = _run_sample(original, tmp_path / "original.sqlite")
    assert expected["outcome"] == "resolved_stage_3"
    assert _run_sample(saved, tmp_path / "saved.sqlite") == expected
