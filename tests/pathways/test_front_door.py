"""Issue 14, the front door as the seeds describe it: who hears first, who is told, and what a
person handling a contact can raise later (a crime, an immediate risk, a missing child).

Each test drives the real diagrams on the virtual clock (SQLite and PostgreSQL). Instants are
UTC; late November 2026 is GMT, so they are London times too. Hub hours Mon-Thu 08:30-17:15,
Fri 08:30-16:45; the Out of Hours service is on duty 17:00-09:00 on weekdays and all weekend.
"""

from __future__ import annotations

import string
from typing import Any

import pytest
import sqlalchemy as sa

from engine import queries
from engine.service import FormRejected
from engine.store import notifications
from tests.pathways.harness import CONTACT, Hub, merged
from tests.pathways.test_first_response import (
    MANAGER,
    MANAGERS_MAILBOX,
    POLICE_MAILBOX,
    assess_in_mash,
    at,
    brag,
    case_records,
    decide,
    open_tasks,
    open_the_contact,
    receive,
    sent,
    through_stage_3,
    took,
    verify,
)

OUT_OF_HOURS = "ChildrensOOHS@bcp.invalid"
# A child this council looks after, placed with foster carers in Dorchester (Dorset Council).
LOOKED_AFTER = {"child_id": "C500", "status": "open", "allocated_worker": "Lee Worker",
                "worker_email": "l.worker@bcp.invalid", "team": "Assessment Team 1"}
NEIGHBOUR = {"name": "Jane Neighbour", "kind": "public", "email": "jane.n@home.invalid",
             "phone": "07700 900123"}


def rag_timescales(hub: Hub, contact: str) -> list[tuple[Any, ...]]:
    return [(d["started_at"], d["due"], d["done_at"], d["met"])
            for d in hub.view(contact)["deadlines"] if d["name"] == "rag_timescale"]


def bodies(hub: Hub, contact: str, kind: str) -> list[str]:
    with hub.store.reading() as conn:
        return [r.subject + "\n" + r.body for r in conn.execute(
            sa.select(notifications.c.subject, notifications.c.body).where(
                notifications.c.instance_id == contact, notifications.c.kind == kind))]


# -- 1. case records first ------------------------------------------------------------------------


@pytest.mark.parametrize("postcode", ["DT1 1AA", "BH19 1AA", "BH13 7AA", ""])
def test_a_child_open_to_social_care_is_forwarded_to_the_worker_whatever_the_postcode(
        hub: Hub, postcode: str) -> None:
    # seed 002: 'Any significant information received about a child who is currently open to a
    # Social Care Team should be passed to the child's allocated worker' - a looked-after child
    # placed out of area is not redirected to the council where they live
    case_records(hub, LOOKED_AFTER)
    contact = receive(hub, "2026-11-23T10:00:00Z", child={"id": "C500", "postcode": postcode})
    assert open_tasks(hub, contact) == [("forward", "Business Support Officer")]
    hub.advance(to="2026-11-23T10:30:00Z")
    hub.complete(contact, "forward", case_note="School reports the child distressed.")
    view = hub.view(contact)
    assert view["outcome"] == "forwarded_to_allocated_worker"
    assert not {"check_postcode", "check_address", "redirect"} & set(view["path"])
    assert sent(hub, contact) == [
        ("forward_to_allocated_worker", "l.worker@bcp.invalid", at("2026-11-23T10:30:00Z"))]


# -- 2. RED about a child with an allocated worker -----------------------------------------------


def test_a_red_contact_about_a_child_with_a_worker_tells_the_worker_and_goes_to_a_manager(
        hub: Hub) -> None:
    case_records(hub, LOOKED_AFTER)
    contact = receive(hub, "2026-11-23T10:00:00Z", immediate_risk=True,
                      child={"id": "C500", "postcode": "DT1 1AA"})
    # the worker hears at once, with a case note; the contact does not end with the forward
    assert sent(hub, contact) == [
        ("forward_to_allocated_worker", "l.worker@bcp.invalid", at("2026-11-23T10:00:00Z"))]
    assert [(n["child_id"], n["kind"]) for n in hub.case_notes(contact)] == [
        ("C500", "forward_to_allocated_worker")]
    assert open_tasks(hub, contact) == [("brag", MANAGER)]
    assert hub.view(contact)["flags"] == ["immediate_risk"]
    hub.advance(to="2026-11-23T10:20:00Z")
    brag(hub, contact, rag="RED", threshold_level=4)
    through_stage_3(hub, contact, "RED", "s47", strategy=True)
    view = hub.view(contact)
    assert view["outcome"] == "s47"
    assert [k for k, _, _ in sent(hub, contact)] == [
        "forward_to_allocated_worker", "outcome_to_referrer"]


# -- 3. Out of Hours from 17:00 -----------------------------------------------------------------


@pytest.mark.parametrize(("received_at", "alerted"), [
    ("2026-11-23T17:10:00Z", True),   # Mon 17:10: the Hub is open until 17:15, OOH from 17:00
    ("2026-11-23T17:00:00Z", True),   # Mon 17:00: OOH comes on duty
    ("2026-11-23T16:59:00Z", False),  # Mon 16:59: the Hub's alone
    ("2026-11-24T08:45:00Z", True),   # Tue 08:45: the Hub is open, OOH on duty until 09:00
    ("2026-11-24T09:00:00Z", False),  # Tue 09:00: OOH off duty
])
def test_a_red_contact_alerts_out_of_hours_whenever_it_is_on_duty(
        hub: Hub, received_at: str, alerted: bool) -> None:
    contact = receive(hub, received_at, immediate_risk=True)
    expected = [("out_of_hours_alert", OUT_OF_HOURS, at(received_at))] if alerted else []
    assert sent(hub, contact) == expected
    assert open_tasks(hub, contact) == [("brag", MANAGER)]


# -- 4. the police, an immediate risk and a missing child, found later ----------------------------

DISCLOSURE = "The child told her teacher that an adult at home sexually assaulted her."


def test_a_disclosure_recorded_at_verification_tells_the_police_then_and_only_once(
        hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z", concerns=DISCLOSURE, crime_suspected=False)
    assert sent(hub, contact) == []
    hub.advance(to="2026-11-23T10:30:00Z")
    verify(hub, contact, crime_suspected=True, research="Disclosure of sexual assault.")
    assert sent(hub, contact) == [("police_notification", POLICE_MAILBOX, at("2026-11-23T10:30:00Z"))]
    hub.advance(to="2026-11-23T11:00:00Z")
    # the manager and the social worker see it recorded (prefilled) and record it again: the
    # police are not told twice
    brag(hub, contact, rag="RED", threshold_level=4, crime_suspected=True)
    open_the_contact(hub, contact)
    hub.complete(contact, "allocate_social_worker", social_worker="Bo Worker")
    hub.complete(contact, "assess_risk", strategy_discussion=True, crime_suspected=True)
    hub.complete(contact, "hold_strategy_discussion", strategy_outcome="S47 with the police.")
    hub.complete(contact, "draft_plans")
    decide(hub, contact, "s47", crime_suspected=True)
    view = hub.view(contact)
    assert view["outcome"] == "s47"
    assert sent(hub, contact, "police_notification") == [
        ("police_notification", POLICE_MAILBOX, at("2026-11-23T10:30:00Z"))]
    [recorded] = [h["changes"] for h in view["history"] if h["element_id"] == "police_told"]
    assert recorded == {"police_notified": "2026-11-23T10:30:00Z"}


def test_a_crime_the_contact_already_reported_is_not_told_to_the_police_again_later(
        hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z", crime_suspected=True)
    hub.advance(to="2026-11-23T10:30:00Z")
    verify(hub, contact)  # left as it was: crime suspected
    brag(hub, contact, rag="AMBER")
    assert sent(hub, contact) == [("police_notification", POLICE_MAILBOX, at("2026-11-23T10:00:00Z"))]


def _to_brag(hub: Hub, contact: str) -> None:
    verify(hub, contact)


def _to_assess_risk(hub: Hub, contact: str) -> None:
    verify(hub, contact)
    brag(hub, contact, rag="AMBER")
    open_the_contact(hub, contact)
    hub.complete(contact, "allocate_social_worker", social_worker="Bo Worker")


def _to_early_help(hub: Hub, contact: str) -> None:
    verify(hub, contact)
    brag(hub, contact, rag="GREEN", threshold_level=2)
    open_the_contact(hub, contact)


def _to_decision(hub: Hub, contact: str) -> None:
    verify(hub, contact)
    brag(hub, contact, rag="GREEN", threshold_level=2)
    open_the_contact(hub, contact)
    hub.complete(contact, "early_help_research")


def _nfa(hub: Hub, contact: str) -> None:
    verify(hub, contact, accepted=False)


REQUIRED = {"brag": {"rag": "AMBER", "threshold_level": 3, "consent_decision": "confirmed"},
            "assess_risk": {"strategy_discussion": False}, "early_help_research": {},
            "decision": {"outcome": "early_help"}, "nfa_oversight": {"nfa_confirmed": True}}


@pytest.mark.parametrize(("before", "task"), [
    (_to_brag, "brag"), (_to_assess_risk, "assess_risk"), (_to_early_help, "early_help_research"),
    (_to_decision, "decision"), (_nfa, "nfa_oversight")])
def test_a_crime_recorded_at_any_later_step_tells_the_police_at_that_moment(
        hub: Hub, before: Any, task: str) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z")
    before(hub, contact)
    hub.advance(to="2026-11-23T12:34:00Z")
    hub.complete(contact, task, crime_suspected=True, **REQUIRED[task])
    assert sent(hub, contact, "police_notification") == [
        ("police_notification", POLICE_MAILBOX, at("2026-11-23T12:34:00Z"))]


def test_an_immediate_risk_found_at_verification_goes_straight_to_a_manager_as_red(
        hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T16:30:00Z")  # Mon 16:30
    hub.advance(to="2026-11-23T17:05:00Z")  # Out of Hours on duty from 17:00
    verify(hub, contact, accepted=True, immediate_risk=True, research="Threats to the child.")
    view = hub.view(contact)
    assert view["flags"] == ["immediate_risk"]
    assert sent(hub, contact) == [("out_of_hours_alert", OUT_OF_HOURS, at("2026-11-23T17:05:00Z"))]
    assert open_tasks(hub, contact) == [("brag", MANAGER)]
    # the BRAG rates it RED: an immediate risk cannot be rated lower while it stands
    with pytest.raises(FormRejected) as refused:
        brag(hub, contact, rag="AMBER")
    assert [e["field"] for e in refused.value.errors] == ["rag"]
    brag(hub, contact, rag="RED", threshold_level=4)
    assert open_tasks(hub, contact) == [("open_contact_task", "Business Support Officer")]


def test_an_information_request_with_an_immediate_risk_is_bragged_not_answered(hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z", information_request=True)
    verify(hub, contact, immediate_risk=True)
    assert open_tasks(hub, contact) == [("brag", MANAGER)]


def test_an_immediate_risk_raised_at_the_brag_is_rated_red_and_flagged(hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z")
    verify(hub, contact)
    with pytest.raises(FormRejected):
        brag(hub, contact, rag="GREEN", threshold_level=2, immediate_risk=True)
    brag(hub, contact, rag="RED", threshold_level=4, immediate_risk=True)
    assert hub.view(contact)["flags"] == ["immediate_risk"]
    assert sent(hub, contact) == []  # in Hub hours, Out of Hours is not on duty


def test_a_manager_may_rate_a_referrers_red_lower_by_recording_no_immediate_risk(
        hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z", immediate_risk=True)
    brag(hub, contact, rag="AMBER", immediate_risk=False,
         history_analysis="Known family; the child is safe with grandparents tonight.")
    through_stage_3(hub, contact, "AMBER", "s17")
    view = hub.view(contact)
    assert (view["outcome"], view["rag"]) == ("s17", "AMBER")
    assert len(rag_timescales(hub, contact)) == 1


def test_a_green_contact_with_an_immediate_risk_found_by_early_help_becomes_red_from_then(
        hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z")
    verify(hub, contact)
    brag(hub, contact, rag="GREEN", threshold_level=2)
    hub.advance(to="2026-11-23T11:00:00Z")
    open_the_contact(hub, contact)
    hub.advance(to="2026-11-23T14:00:00Z")
    hub.complete(contact, "early_help_research", immediate_risk=True,
                 recommendations="Mother's partner has returned; threats made today.")
    view = hub.view(contact)
    assert view["rag"] == "RED" and view["flags"] == ["immediate_risk"]
    # to the MASH risk assessment, on the RED timescale from 14:00: Mon 14:00-17:15 (3h15) and
    # Tue 08:30 + 45 min = Tue 09:15
    [task] = hub.tasks(contact)
    assert (task["element_id"], task["role"], task["due"]) == (
        "allocate_social_worker", "Pod Assistant Team Manager", at("2026-11-24T09:15:00Z"))
    assess_in_mash(hub, contact, strategy=True)
    hub.advance(to="2026-11-24T09:00:00Z")
    decide(hub, contact, "s47")
    assert hub.view(contact)["outcome"] == "s47"
    # GREEN's 72 hours ended when the contact was re-rated; RED's 4 working hours ran from then
    assert rag_timescales(hub, contact) == [
        (at("2026-11-23T11:00:00Z"), at("2026-11-26T11:00:00Z"), at("2026-11-23T14:00:00Z"), True),
        (at("2026-11-23T14:00:00Z"), at("2026-11-24T09:15:00Z"), at("2026-11-24T09:00:00Z"), True)]
    assert took(view["path"], "early_help_research", "found_red_gw", "rerated_end", "sub_assess",
                "rerate_gw", "rerate", "respond_merge", "assess_start", "rag_gw", "ra_start")


def test_an_amber_assessment_that_finds_an_immediate_risk_carries_on_as_red(hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z")
    verify(hub, contact)
    brag(hub, contact, rag="AMBER")
    hub.advance(to="2026-11-23T11:00:00Z")
    open_the_contact(hub, contact)  # AMBER: 16 working hours, Wed 25 Nov 09:30
    hub.complete(contact, "allocate_social_worker", social_worker="Bo Worker")
    hub.advance(to="2026-11-23T13:00:00Z")
    hub.complete(contact, "assess_risk", strategy_discussion=True, immediate_risk=True,
                 risk_summary="Father threatened to take the child abroad tonight.")
    # RED from 13:00: 4 working hours, Mon 17:00; the assessment carries on where it was
    [task] = hub.tasks(contact)
    assert (task["element_id"], task["due"]) == ("hold_strategy_discussion",
                                                 at("2026-11-23T17:00:00Z"))
    hub.complete(contact, "hold_strategy_discussion", strategy_outcome="Police protection.")
    hub.complete(contact, "draft_plans")
    hub.advance(to="2026-11-23T16:00:00Z")
    decide(hub, contact, "s47")
    view = hub.view(contact)
    assert (view["outcome"], view["rag"]) == ("s47", "RED")
    assert view["path"].count("allocate_social_worker") == 1
    assert view["path"].count("assess_risk") == 1
    assert rag_timescales(hub, contact) == [
        (at("2026-11-23T11:00:00Z"), at("2026-11-25T09:30:00Z"), at("2026-11-23T13:00:00Z"), True),
        (at("2026-11-23T13:00:00Z"), at("2026-11-23T17:00:00Z"), at("2026-11-23T16:00:00Z"), True)]


def test_an_immediate_risk_recorded_with_the_decision_is_flagged_and_the_decision_stands(
        hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z")
    verify(hub, contact)
    brag(hub, contact, rag="GREEN", threshold_level=2)
    open_the_contact(hub, contact)
    hub.complete(contact, "early_help_research")
    hub.advance(to="2026-11-23T17:30:00Z")
    decide(hub, contact, "s47", immediate_risk=True)
    view = hub.view(contact)
    assert view["outcome"] == "s47" and view["flags"] == ["immediate_risk"]
    assert ("out_of_hours_alert", OUT_OF_HOURS, at("2026-11-23T17:30:00Z")) in sent(hub, contact)


@pytest.mark.parametrize("where", ["verify", "brag"])
def test_a_child_found_missing_later_takes_pathway_2_after_the_brag(hub: Hub, where: str) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z")
    hub.advance(to="2026-11-23T10:30:00Z")
    if where == "verify":
        verify(hub, contact, missing=True, research="Police report her missing since Saturday.")
        assert open_tasks(hub, contact) == [("brag", MANAGER)]
        brag(hub, contact, rag="RED", threshold_level=4)
    else:
        verify(hub, contact)
        brag(hub, contact, rag="RED", threshold_level=4, missing=True)
    # BRAG-ed once, in First response (the decision clock is met there); Pathway 2 opens the
    # contact and the Record of Missing Child form without a second BRAG
    assert {t for t, _ in open_tasks(hub, contact)} == {"missing_open_contact"}
    view = hub.view(contact)
    assert took(view["path"], "brag", "route_gw", "missing_merge", "missing_received",
                "allocated_gw", "bragged_gw", "bragged_merge")
    assert "missing_brag" not in view["path"]
    assert [(d["name"], d["met"]) for d in view["deadlines"]] == [("decision", True)]


# -- 4 and 9 in Pathway 2 -------------------------------------------------------------------------

POLICE_REFERRER = {"name": "PC Jo Jones", "kind": "professional", "agency": "Dorset Police",
                   "email": "j.jones@dorset.police.invalid", "phone": "101"}


def report_missing(hub: Hub, received_at: str, **changes: Any) -> str:
    return receive(hub, received_at, missing=True, referrer=POLICE_REFERRER,
                   concerns="Not returned home after school.", **changes)


def test_a_missing_childs_brag_is_on_the_decision_deadline_and_a_late_one_is_reported(
        hub: Hub) -> None:
    contact = report_missing(hub, "2026-11-23T10:00:00Z")  # Mon 10:00: due Tue 24 Nov 17:15
    assert [d["name"] for d in hub.view(contact)["deadlines"]] == ["decision"]
    assert hub.deadline(contact, "decision")["done_at"] is None
    hub.advance(to="2026-11-26T10:00:00Z")  # Thu: nobody BRAG-ed it
    assert sent(hub, contact) == [("deadline_breach", MANAGERS_MAILBOX, at("2026-11-24T17:15:00Z"))]
    hub.complete(contact, "missing_brag", rag="AMBER", threshold_level=3,
                 consent_decision="confirmed")
    d = hub.deadline(contact, "decision")
    assert (d["started_at"], d["due"], d["done_at"], d["met"]) == (
        at("2026-11-23T10:00:00Z"), at("2026-11-24T17:15:00Z"), at("2026-11-26T10:00:00Z"), False)
    assert took(hub.view(contact)["path"], "missing_decision_due", "missing_decision_breach",
                "missing_decision_breach_end")


def test_a_missing_childs_brag_in_time_meets_the_decision_deadline(hub: Hub) -> None:
    contact = report_missing(hub, "2026-11-23T10:00:00Z")
    hub.advance(to="2026-11-23T11:00:00Z")
    hub.complete(contact, "missing_brag", rag="RED", threshold_level=4,
                 consent_decision="confirmed", crime_suspected=True)
    d = hub.deadline(contact, "decision")
    assert (d["done_at"], d["met"]) == (at("2026-11-23T11:00:00Z"), True)
    # the crime recorded at the BRAG reaches the police then
    assert sent(hub, contact) == [("police_notification", POLICE_MAILBOX, at("2026-11-23T11:00:00Z"))]


def test_a_missing_childs_assessment_that_finds_an_immediate_risk_carries_on_as_red(
        hub: Hub) -> None:
    contact = report_missing(hub, "2026-11-23T10:00:00Z")
    hub.complete(contact, "missing_brag", rag="AMBER", threshold_level=3,
                 consent_decision="confirmed")
    hub.advance(to="2026-11-23T11:00:00Z")
    hub.complete(contact, "missing_open_contact")
    hub.complete(contact, "allocate_social_worker", social_worker="Bo Worker")
    hub.advance(to="2026-11-23T13:00:00Z")
    hub.complete(contact, "assess_risk", strategy_discussion=False, immediate_risk=True)
    tasks = {t["element_id"]: t["due"] for t in hub.tasks(contact)}
    assert tasks == {"draft_plans": at("2026-11-23T17:00:00Z"), "record_missing_child": None}
    hub.complete(contact, "record_missing_child")  # the CE & Missing Team Manager's own form
    hub.complete(contact, "draft_plans")
    hub.complete(contact, "missing_decision", outcome="s47")
    view = hub.view(contact)
    assert (view["outcome"], view["rag"], view["flags"]) == ("s47", "RED", ["immediate_risk"])
    assert rag_timescales(hub, contact) == [
        (at("2026-11-23T11:00:00Z"), at("2026-11-25T09:30:00Z"), at("2026-11-23T13:00:00Z"), True),
        (at("2026-11-23T13:00:00Z"), at("2026-11-23T17:00:00Z"), at("2026-11-23T13:00:00Z"), True)]


def test_the_record_form_completed_after_a_re_rating_leaves_the_contact_shown_red(
        hub: Hub) -> None:
    # The CE & Missing Team Manager's form runs beside the assessment with the data it had
    # when it opened (AMBER); completed after the re-rating, it must not show AMBER again.
    contact = report_missing(hub, "2026-11-23T10:00:00Z")
    hub.complete(contact, "missing_brag", rag="AMBER", threshold_level=3,
                 consent_decision="confirmed")
    hub.complete(contact, "missing_open_contact")
    hub.complete(contact, "allocate_social_worker", social_worker="Bo Worker")
    hub.complete(contact, "assess_risk", strategy_discussion=False, immediate_risk=True)
    assert (hub.view(contact)["rag"], hub.view(contact)["flags"]) == ("RED", ["immediate_risk"])
    hub.complete(contact, "record_missing_child")
    view = hub.view(contact)
    assert (view["rag"], view["flags"]) == ("RED", ["immediate_risk"])
    with hub.store.reading() as conn:  # and the lists, which read the summary, agree
        [listed] = [t for t in queries.open_tasks(conn) if t["instance_id"] == contact]
    assert (listed["rag"], listed["flags"]) == ("RED", ["immediate_risk"])


def test_a_missing_person_report_started_on_its_own_tells_the_police_of_a_crime(
        hub: Hub) -> None:
    hub.advance(to="2026-11-23T14:00:00Z")
    report = hub.start("missing_child", merged(CONTACT, {"missing": True,
                                                         "crime_suspected": True}))
    assert sent(hub, report) == [("police_notification", POLICE_MAILBOX, at("2026-11-23T14:00:00Z"))]


# -- 5. information requests can be declined ----------------------------------------------------


def test_an_information_request_declined_by_oversight_tells_the_requester(hub: Hub) -> None:
    requester = {"name": "DC Sam Lee", "kind": "professional", "agency": "Dorset Police",
                 "email": "s.lee@dorset.police.invalid"}
    contact = receive(hub, "2026-11-23T10:00:00Z", information_request=True, referrer=requester)
    verify(hub, contact)
    hub.complete(contact, "collate_information", information="School attendance 2025-26.")
    with pytest.raises(FormRejected) as refused:
        hub.complete(contact, "approve_information", approved=False)
    assert refused.value.errors == [{"field": "reasons", "message": "is required"}]
    hub.advance(to="2026-11-23T11:00:00Z")
    hub.complete(contact, "approve_information", approved=False,
                 reasons="No lawful basis given for sharing.")
    view = hub.view(contact)
    assert view["state"] == "completed" and view["outcome"] == "information_declined"
    assert sent(hub, contact) == [
        ("information_declined", "s.lee@dorset.police.invalid", at("2026-11-23T11:00:00Z"))]
    [letter] = bodies(hub, contact, "information_declined")
    assert "No lawful basis given for sharing." in letter
    assert "School attendance" not in letter  # nothing is shared
    assert took(view["path"], "approve_gw", "send_declined", "declined_end")


def test_an_information_request_sent_back_to_be_changed_is_collated_again(hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z", information_request=True)
    verify(hub, contact)
    hub.complete(contact, "collate_information", information="Both children's records.")
    hub.complete(contact, "approve_information", approved=False, send_back=True,
                 reasons="Remove the sibling's details.")
    assert open_tasks(hub, contact) == [("collate_information", "Business Support Officer")]
    hub.complete(contact, "collate_information", information="The child's record only.")
    hub.complete(contact, "approve_information", approved=True)
    assert hub.view(contact)["outcome"] == "information_shared"


# -- 6. referrer confidentiality ----------------------------------------------------------------


def _identity_in(text: str) -> list[str]:
    digits = "".join(ch for ch in text if ch.isdigit())
    found = [part for part in (NEIGHBOUR["name"], NEIGHBOUR["email"]) if part in text]
    if "07700900123" in digits:
        found.append(NEIGHBOUR["phone"])
    return found


def test_a_redirect_does_not_name_a_member_of_the_public(hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z", referrer=NEIGHBOUR,
                      child={"postcode": "BH19 1AA"}, crime_suspected=True,
                      concerns="Jane Neighbour (07700 900123) hears the child screaming at night.")
    hub.complete(contact, "redirect")
    for kind in ("redirect_to_local_authority", "police_notification"):
        [body] = bodies(hub, contact, kind)
        assert _identity_in(body) == [], kind
        assert "member of the public" in body


def test_a_professional_referrer_is_named_to_the_other_authority(hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z", child={"postcode": "BH19 1AA"})
    hub.complete(contact, "redirect")
    [body] = bodies(hub, contact, "redirect_to_local_authority")
    assert "Sam Teacher" in body and "Oakdale School" in body


# -- 7. the authority for a postcode outside BH -------------------------------------------------


@pytest.mark.parametrize(("postcode", "authority", "address"), [
    ("DT1 1AA", "Dorset Council", "childrens.advice@dorset.invalid"),
    ("SO14 2AA", "Southampton City Council", "childrens.front.door@southampton.invalid"),
    ("SP10 1AA", "Hampshire County Council", "childrens.reception@hants.invalid"),
    ("SP1 1AA", "Wiltshire Council", "childrens.front.door@wiltshire.invalid"),
])
def test_a_postcode_outside_bh_names_its_authority_for_a_person_to_confirm(
        hub: Hub, postcode: str, authority: str, address: str) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z", child={"postcode": postcode})
    [task] = hub.tasks(contact)
    assert task["element_id"] == "redirect"
    [field] = [f for f in task["form"] if f["id"] == "authority"]
    assert field["default"] == "${authority}"
    hub.complete(contact, "redirect")  # the person confirms the authority the data names
    assert [(k, to) for k, to, _ in sent(hub, contact)] == [("redirect_to_local_authority", address)]
    [changes] = [h["changes"] for h in hub.view(contact)["history"] if h["element_id"] == "redirect"]
    assert changes["authority"] == authority


@pytest.mark.parametrize("postcode", ["DT9 5AA", "SP7 8AA", "EX1 1AA"])
def test_a_postcode_outside_bh_the_data_cannot_place_is_named_by_a_person(
        hub: Hub, postcode: str) -> None:
    # DT9 (Sherborne) holds addresses in Dorset and Somerset, SP7 (Shaftesbury) in Dorset and
    # Wiltshire; EX is not in the data: never BCP, so a redirect, but a person names the council
    contact = receive(hub, "2026-11-23T10:00:00Z", child={"postcode": postcode})
    assert open_tasks(hub, contact) == [("redirect", "Business Support Information Officer")]
    with pytest.raises(FormRejected) as refused:
        hub.complete(contact, "redirect")
    assert refused.value.errors == [{"field": "authority", "message": "is required"}]
    hub.complete(contact, "redirect", authority="Dorset Council")
    assert hub.view(contact)["outcome"] == "redirected"


def test_every_template_keeps_a_public_referrer_from_other_agencies(hub: Hub) -> None:
    """Each notification template rendered for a member of the public who referred, as the
    notify handler renders it for a recipient outside BCP Children's Services."""
    from handlers import notify

    for path in sorted(notify.TEMPLATES.glob("*.txt")):
        values = notify.public_view({
            "referrer_name": NEIGHBOUR["name"], "referrer_agency": "",
            "concerns": f"{NEIGHBOUR['name']} on {NEIGHBOUR['phone']} or {NEIGHBOUR['email']}",
            "information": f"Call {NEIGHBOUR['name']}", "reasons": NEIGHBOUR["email"],
            "summary": NEIGHBOUR["phone"]}, NEIGHBOUR)
        subject, body = notify.template(path.stem)
        rendered = string.Template(subject).safe_substitute(values) + body.safe_substitute(values)
        assert _identity_in(rendered) == [], path.name


def test_only_bcps_own_services_are_told_who_a_member_of_the_public_is() -> None:
    """Every notify step of every diagram: the referrer may be named (names_referrer) only to
    the allocated worker and the Out of Hours service, never to another council, an agency,
    the Police or the Safeguarding Children Partnership."""
    from engine import diagrams
    from tests.pathways.harness import PROCESSES

    named = set()
    for model in diagrams.load([PROCESSES]).models.values():
        for element in model.elements.values():
            props = element.properties
            if props.get("names_referrer", "").lower() == "true":
                named.add((element.id, props["to"]))
    assert named == {("tell_allocated_worker", "allocated_worker"),
                     ("alert_out_of_hours", "role:Out of Hours service")}
