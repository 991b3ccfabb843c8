"""The daily PPN meeting (processes/ppn_meeting.bpmn) and the PPNs that wait for it in First
response, on SQLite and PostgreSQL.

Seed 001: 'Daily PPN meeting with Police colleagues to discuss PPN's in relation to
appropriate thresholds and RAG rating.' The engine starts a meeting at 10:00 London time on
each Hub working day; a PPN waits for the next meeting, is rated there and carries on from
Step 4 with that rating.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.pathways.harness import Hub
from tests.pathways.test_first_response import (
    MANAGER,
    assess_in_mash,
    at,
    deadline,
    decide,
    open_tasks,
    open_the_contact,
    receive,
    took,
)

POLICE = {"name": "DC Sam Reed", "kind": "professional", "agency": "Dorset Police",
          "email": "s.reed@dorset.police.invalid", "phone": "101"}


def ppn(hub: Hub, received_at: str, **changes: Any) -> str:
    """A police notification (PPN) received at that instant."""
    return receive(hub, received_at, channel="ppn", referrer=POLICE,
                   concerns="Domestic abuse incident at the home; the child was present.",
                   **changes)


def meetings(hub: Hub) -> list[dict[str, Any]]:
    found = [hub.view(m["id"]) for m in hub.instances("ppn_meeting")]
    return sorted(found, key=lambda v: v["started_at"])


def meeting_at(hub: Hub, when: str) -> str:
    [found] = [m["id"] for m in meetings(hub) if m["started_at"] == at(when)]
    return str(found)


def listed(hub: Hub, meeting: str) -> list[str]:
    """The contacts the meeting's task lists (its data, as the manager sees it)."""
    [task] = [t for t in hub.tasks(meeting) if t["element_id"] == "hold_meeting"]
    return [p["instance_id"] for p in hub.engine.task_data(task["id"])["ppns"]]


def rate(hub: Hub, meeting: str, ratings: dict[str, tuple[str, int]]) -> None:
    """Hold the meeting and give each PPN (by its contact) its RAG rating and threshold."""
    hub.complete(meeting, "hold_meeting", attendees="DC Sam Reed (police); MASH Team Manager")
    tasks = [t for t in hub.tasks(meeting) if t["element_id"] == "rate_ppn"]
    assert len(tasks) == len(ratings)
    for task in tasks:
        assert task["role"] == MANAGER
        contact = hub.engine.task_data(task["id"])["ppn"]["instance_id"]
        rag, level = ratings[contact]
        hub.engine.complete(task["id"], {"rag": rag, "threshold_level": level}, "tester")


# -- the meeting ----------------------------------------------------------------------------------


def test_a_meeting_with_no_ppns_asks_nobody_anything(hub: Hub) -> None:
    hub.advance(through="2026-11-23T10:00:00Z")  # Mon 23 Nov 10:00 London
    [meeting] = meetings(hub)
    assert meeting["started_at"] == at("2026-11-23T10:00:00Z")
    assert meeting["state"] == "completed"
    # (the engine lists the timer start event after the step it led to: a cycle timer's start
    # event completes when its one cycle is spent; reported, so the order is not asserted)
    assert sorted(meeting["path"]) == sorted(["meeting_time", "gather_ppns", "any_ppns_gw",
                                              "no_ppns_end"])
    assert took(meeting["path"], "gather_ppns", "any_ppns_gw", "no_ppns_end")
    assert hub.tasks() == []
    assert meeting["notifications"] == []


@pytest.mark.parametrize(("start", "end", "expected"), [
    # Christmas 2026: Fri 25 Dec, and Boxing Day (a Saturday) moved to Mon 28 Dec
    ("2026-12-21T09:00:00Z", "2026-12-30T12:00:00Z", [
        "2026-12-21T10:00:00Z", "2026-12-22T10:00:00Z", "2026-12-23T10:00:00Z",
        "2026-12-24T10:00:00Z", "2026-12-29T10:00:00Z", "2026-12-30T10:00:00Z"]),
    # summer time from Sun 29 Mar 2026: 10:00 London is 09:00 UTC
    ("2026-03-26T09:00:00Z", "2026-03-31T12:00:00Z", [
        "2026-03-26T10:00:00Z", "2026-03-27T10:00:00Z", "2026-03-30T09:00:00Z",
        "2026-03-31T09:00:00Z"]),
])
def test_the_meeting_is_at_10_london_time_on_each_hub_working_day(
        database_url: str, start: str, end: str, expected: list[str]) -> None:
    hub = Hub(database_url, start=start)
    try:
        hub.advance(to=end)
        assert [m["started_at"] for m in meetings(hub)] == [at(e) for e in expected]
    finally:
        hub.close()


# -- a PPN waits for the meeting, is rated there, and carries on ----------------------------------


def test_a_ppn_waits_for_the_next_working_days_meeting_and_carries_on_with_its_rating(
        hub: Hub) -> None:
    contact = ppn(hub, "2026-11-27T15:00:00Z")  # Fri 27 Nov 15:00
    view = hub.view(contact)
    assert view["state"] == "waiting"
    assert view["path"][-2:] == ["bcp_merge", "ppn_gw"]
    assert hub.tasks(contact) == []  # nobody verifies or BRAGs a PPN: the meeting rates it
    hub.advance(through="2026-11-30T10:00:00Z")  # the weekend passes; Mon 30 Nov 10:00
    meeting = meeting_at(hub, "2026-11-30T10:00:00Z")
    assert open_tasks(hub, meeting) == [("hold_meeting", MANAGER)]
    assert listed(hub, meeting) == [contact]
    hub.advance(to="2026-11-30T10:20:00Z")
    rate(hub, meeting, {contact: ("RED", 4)})

    # one rating per PPN inside the multi-instance sub-process (listed for the instance and
    # for the sub-process as a whole), then the meeting ends
    assert took(hub.view(meeting)["path"], "gather_ppns", "any_ppns_gw", "hold_meeting",
                "rate_ppns_start", "rate_ppn", "release_ppn", "rate_ppns_end", "rate_ppns",
                "meeting_done_end")
    view = hub.view(contact)
    assert view["rag"] == "RED"
    assert view["path"][-6:] == ["ppn_gw", "await_ppn_meeting", "take_rating", "rated_end",
                                 "sub_decide", "route_gw"]
    assert open_tasks(hub, contact) == [("open_contact_task", "Business Support Officer")]
    assert "verify" not in view["path"] and "brag" not in view["path"]
    [rated] = [h["changes"] for h in view["history"] if h["element_id"] == "take_rating"]
    assert (rated["rag"], rated["threshold_level"]) == ("RED", 4)
    # decision: Fri 27 Nov 15:00 + 1 working day: the first working day after Friday is
    # Monday 30 Nov, closing at 17:15
    assert deadline(hub, contact, "decision") == (
        at("2026-11-27T15:00:00Z"), at("2026-11-30T17:15:00Z"), at("2026-11-30T10:20:00Z"), True)

    # from Step 4 on with the meeting's rating: RED, 4 working hours from 10:30
    hub.advance(to="2026-11-30T10:30:00Z")
    open_the_contact(hub, contact)
    assert hub.task(contact, "allocate_social_worker")["due"] == at("2026-11-30T14:30:00Z")
    assess_in_mash(hub, contact, strategy=True)
    decide(hub, contact, "s47")
    assert hub.view(contact)["outcome"] == "s47"


def test_a_ppn_arriving_after_the_meeting_waits_for_the_next_one(hub: Hub) -> None:
    early = ppn(hub, "2026-11-23T09:30:00Z")  # Mon 09:30, before the meeting
    hub.advance(through="2026-11-23T10:00:00Z")
    monday = meeting_at(hub, "2026-11-23T10:00:00Z")
    late = ppn(hub, "2026-11-23T10:30:00Z")  # Mon 10:30, the meeting has gathered its PPNs
    assert listed(hub, monday) == [early]
    rate(hub, monday, {early: ("AMBER", 3)})
    assert hub.view(early)["rag"] == "AMBER"
    assert hub.view(late)["state"] == "waiting" and hub.view(late)["rag"] is None

    hub.advance(through="2026-11-24T10:00:00Z")  # Tue 24 Nov 10:00
    tuesday = meeting_at(hub, "2026-11-24T10:00:00Z")
    assert listed(hub, tuesday) == [late]
    rate(hub, tuesday, {late: ("GREEN", 2)})
    assert hub.view(late)["rag"] == "GREEN"
    # Mon 10:30 + 1 working day = Tue 24 Nov 17:15: met at Tuesday's meeting
    assert deadline(hub, late, "decision") == (
        at("2026-11-23T10:30:00Z"), at("2026-11-24T17:15:00Z"), at("2026-11-24T10:00:00Z"), True)


def test_each_ppn_at_a_meeting_gets_its_own_rating(hub: Hub) -> None:
    first = ppn(hub, "2026-11-23T09:10:00Z", child={"name": "Ash One"})
    second = ppn(hub, "2026-11-23T09:20:00Z", child={"name": "Bea Two"})
    hub.advance(through="2026-11-23T10:00:00Z")
    meeting = meeting_at(hub, "2026-11-23T10:00:00Z")
    assert listed(hub, meeting) == [first, second]
    rate(hub, meeting, {first: ("GREEN", 2), second: ("AMBER", 3)})
    assert (hub.view(first)["rag"], hub.view(second)["rag"]) == ("GREEN", "AMBER")
    open_the_contact(hub, first)
    open_the_contact(hub, second)
    assert open_tasks(hub, first) == [("early_help_research", "Early Help Hub")]
    assert open_tasks(hub, second) == [("allocate_social_worker", "Pod Assistant Team Manager")]


def test_a_ppn_not_rated_within_a_working_day_breaches_the_decision_deadline(hub: Hub) -> None:
    contact = ppn(hub, "2026-11-23T10:30:00Z")
    hub.advance(through="2026-11-24T10:00:00Z")
    tuesday = meeting_at(hub, "2026-11-24T10:00:00Z")
    hub.advance(through="2026-11-24T17:15:00Z")  # the meeting never finished rating it
    d = hub.deadline(contact, "decision")
    assert (d["due"], d["breached_at"], d["met"]) == (
        at("2026-11-24T17:15:00Z"), at("2026-11-24T17:15:00Z"), False)
    rate(hub, tuesday, {contact: ("AMBER", 3)})
    assert hub.view(contact)["rag"] == "AMBER"


def test_a_ppn_still_being_rated_is_not_listed_again_at_the_next_meeting(hub: Hub) -> None:
    first = ppn(hub, "2026-11-23T10:30:00Z")
    hub.advance(through="2026-11-24T10:00:00Z")
    tuesday = meeting_at(hub, "2026-11-24T10:00:00Z")
    assert listed(hub, tuesday) == [first]
    second = ppn(hub, "2026-11-24T11:00:00Z")
    hub.advance(through="2026-11-25T10:00:00Z")  # Tuesday's meeting has not finished rating
    wednesday = meeting_at(hub, "2026-11-25T10:00:00Z")
    assert listed(hub, wednesday) == [second]
    rate(hub, tuesday, {first: ("RED", 4)})
    rate(hub, wednesday, {second: ("GREEN", 2)})
    assert (hub.view(first)["rag"], hub.view(second)["rag"]) == ("RED", "GREEN")


def test_a_meeting_part_way_through_rating_finishes_after_the_service_restarts(hub: Hub) -> None:
    """A restart between two ratings: the meeting still hears its last rating and ends (the
    multi-instance activity is wired to its instances when a version is built, not only when
    SpiffWorkflow creates an instance in this process)."""
    from engine.service import Engine

    first = ppn(hub, "2026-11-23T09:10:00Z", child={"name": "Ash One"})
    second = ppn(hub, "2026-11-23T09:20:00Z", child={"name": "Bea Two"})
    hub.advance(through="2026-11-23T10:00:00Z")
    meeting = meeting_at(hub, "2026-11-23T10:00:00Z")
    hub.complete(meeting, "hold_meeting", attendees="DC Sam Reed (police); MASH Team Manager")
    tasks = {hub.engine.task_data(t["id"])["ppn"]["instance_id"]: t["id"]
             for t in hub.tasks(meeting) if t["element_id"] == "rate_ppn"}
    hub.engine.complete(tasks[first], {"rag": "GREEN", "threshold_level": 2}, "tester")
    hub.engine = Engine(hub.store, hub.clock, hub.engine.processes)  # the service restarted
    hub.engine.complete(tasks[second], {"rag": "AMBER", "threshold_level": 3}, "tester")
    assert hub.view(meeting)["state"] == "completed"
    assert (hub.view(first)["rag"], hub.view(second)["rag"]) == ("GREEN", "AMBER")
