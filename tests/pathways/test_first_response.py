"""Pathway 1, first response (processes/first_response.bpmn), on SQLite and PostgreSQL.

Every outcome and every branch of Stages 1-3 and of the MASH risk assessment, driven through
the real diagram on the virtual clock: the path taken, who is asked (the lane of each task),
who is told, the flags, and the deadlines with instants worked out by hand from docs/process.md,
"Working time" (Hub Mon-Thu 08:30-17:15, Fri 08:30-16:45, Europe/London, bank holidays).
November and December 2026 are GMT, so London time and UTC agree there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine import diagrams
from engine.service import FormRejected
from engine.store import notifications
from handlers.case_records import seed_children
from tests.pathways.harness import CONTACT, Hub, modeller_saved

MANAGER = "MASH Team Manager / Early Help Decision Maker"
MANAGERS_MAILBOX = "mash.managers@bcp.invalid"
REFERRER = CONTACT["referrer"]["email"]

# raise_concerns.bpmn, called after receipt and after each person's step, when nothing new
# was recorded (no crime for the Police, no immediate risk): it tells nobody.
CONCERNS = ["concerns_start", "police_gw", "police_merge", "red_gw", "red_merge", "worker_gw",
            "worker_merge", "concerns_end"]
# Step 1 for every contact: recorded, looked up, and the police told at once if a crime is
# suspected (seed 002), before anything else is done with it.
RECEIPT = ["contact_received", "receive_contact", "look_up_case_records", *CONCERNS,
           "receipt_concerns", "repeat_gw", "repeat_merge", "missing_gw"]
# Stages 1-2 begin: who the child is is settled (no near match to confirm) and no other
# contact about the child is in progress (issue 17).
KNOWN = ["decide_start", "near_gw", "near_merge", "join_gw", "join_merge"]
# Stage 1 for a contact that is none of the special cases, up to verification: the case
# records first (an open case is forwarded whatever the postcode), then the postcode.
FRONT = [*RECEIPT, *KNOWN, "immediate_gw", "open_case_gw", "check_postcode",
         "postcode_gw", "bcp_merge", "ppn_gw"]
# After a person's step that recorded nothing new.
VERIFIED = ["verify", *CONCERNS, "verify_concerns", "verify_gw"]
BRAGGED = ["brag", *CONCERNS, "brag_concerns", "brag_end"]


# -- helpers ------------------------------------------------------------------------------------


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def receive(hub: Hub, received_at: str | None = None, **changes: Any) -> str:
    """A contact received now, or at `received_at` (the hub's clock is moved there first)."""
    if received_at is not None:
        hub.advance(to=received_at)
    return hub.contact(received_at=hub.now(), **changes)


def case_records(hub: Hub, *records: dict[str, Any]) -> None:
    with hub.store.transaction() as conn:
        seed_children(conn, list(records))


def open_tasks(hub: Hub, contact: str) -> list[tuple[str, str]]:
    return [(t["element_id"], t["role"]) for t in hub.tasks(contact)]


def took(path: list[str], *steps: str) -> bool:
    """The steps appear in the path in this order (not necessarily next to each other)."""
    position = 0
    for step in steps:
        try:
            position = path.index(step, position) + 1
        except ValueError:
            return False
    return True


def sent(hub: Hub, contact: str, kind: str | None = None) -> list[tuple[str, str, datetime]]:
    return [(n["kind"], n["to"], n["sent_at"]) for n in hub.notifications(contact, kind)]


def deadline(hub: Hub, contact: str, name: str) -> tuple[Any, ...]:
    d = hub.deadline(contact, name)
    return d["started_at"], d["due"], d["done_at"], d["met"]


def verify(hub: Hub, contact: str, **values: Any) -> None:
    hub.complete(contact, "verify", accepted=values.pop("accepted", True), **values)


def brag(hub: Hub, contact: str, rag: str = "AMBER", threshold_level: int = 3,
         **values: Any) -> None:
    values.setdefault("consent_decision", "confirmed")
    hub.complete(contact, "brag", rag=rag, threshold_level=threshold_level, **values)


def open_the_contact(hub: Hub, contact: str) -> None:
    hub.complete(contact, "open_contact_task", contact_reference="MOS-1")


def assess_in_mash(hub: Hub, contact: str, strategy: bool = False, partners: bool = False) -> None:
    """The MASH risk assessment (RED/AMBER), to its end."""
    hub.complete(contact, "allocate_social_worker", social_worker="Bo Worker")
    hub.complete(contact, "assess_risk", strategy_discussion=strategy, share_with_partners=partners,
                 risk_summary="Signs of Safety analysis and chronology done.")
    if partners:
        hub.complete(contact, "share_information", partner_information="School and GP checks.")
    if strategy:
        hub.complete(contact, "hold_strategy_discussion", strategy_outcome="Section 47 agreed.")
    hub.complete(contact, "draft_plans", danger_statement="...", safety_plan="...")


def decide(hub: Hub, contact: str, outcome: str, **values: Any) -> None:
    hub.complete(contact, "decision", outcome=outcome, **values)


def through_stage_3(hub: Hub, contact: str, rag: str, outcome: str, **assessment: bool) -> None:
    """From the open contact (Step 4) to the decision."""
    open_the_contact(hub, contact)
    if rag == "GREEN":
        hub.complete(contact, "early_help_research", recommendations="Family support worker.")
    else:
        assess_in_mash(hub, contact, **assessment)
    decide(hub, contact, outcome, reasons="As assessed.")


# -- the main road and every decision of service ----------------------------------------------


def test_a_contact_takes_the_main_road_to_a_section_47_enquiry(hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z")  # Mon 23 Nov 10:00 London
    assert open_tasks(hub, contact) == [("verify", "Business Support Information Officer")]
    hub.advance(to="2026-11-23T10:30:00Z")
    verify(hub, contact, research="Known to the school; no social care history.")
    assert open_tasks(hub, contact) == [("brag", MANAGER)]
    hub.advance(to="2026-11-23T11:00:00Z")
    brag(hub, contact, rag="RED", threshold_level=4)
    assert open_tasks(hub, contact) == [("open_contact_task", "Business Support Officer")]
    hub.advance(to="2026-11-23T11:15:00Z")
    open_the_contact(hub, contact)
    [task] = hub.tasks(contact)
    assert (task["element_id"], task["role"]) == (
        "allocate_social_worker", "Pod Assistant Team Manager")
    assert task["due"] == at("2026-11-23T15:15:00Z")  # RED: 4 working hours from 11:15
    hub.advance(to="2026-11-23T14:00:00Z")
    assess_in_mash(hub, contact, strategy=True, partners=True)
    assert open_tasks(hub, contact) == [("decision", MANAGER)]
    hub.advance(to="2026-11-23T15:00:00Z")
    decide(hub, contact, "s47", threshold_level=4, reasons="Significant harm likely.")

    view = hub.view(contact)
    assert view["state"] == "completed"
    assert view["outcome"] == "s47"
    assert view["rag"] == "RED"
    assert view["path"] == [
        *FRONT, *VERIFIED, "brag_merge", *BRAGGED, "sub_decide", "route_gw",
        "open_contact_task", "open_contact", "respond_start", "respond_merge", "decide_rag_due",
        "assess_start",
        "rag_gw", "ra_start", "ra_resume_gw", "allocate_social_worker", "assess_risk", *CONCERNS,
        "assess_concerns", "ra_red_gw", "ra_resume_merge", "partners_gw", "share_information",
        "partners_merge", "strategy_gw", "hold_strategy_discussion", "strategy_merge", "draft_plans",
        "ra_end", "risk_assessment_call", "assessed_merge", "found_red_gw", "decision", *CONCERNS,
        "decision_concerns", "assess_end", "sub_assess", "rerate_gw", "reengage_gw",
        "reengage_merge", "tell_referrer", "record_decision", "respond_end", "sub_respond",
        "outcome_gw", "s47_end"]
    # decision: Mon 10:00 + 1 working day = Tue 24 Nov 17:15; made at the BRAG, Mon 11:00
    assert deadline(hub, contact, "decision") == (
        at("2026-11-23T10:00:00Z"), at("2026-11-24T17:15:00Z"), at("2026-11-23T11:00:00Z"), True)
    # RAG timescale from opening the contact, Mon 11:15, RED 4 working hours: Mon 15:15
    assert deadline(hub, contact, "rag_timescale") == (
        at("2026-11-23T11:15:00Z"), at("2026-11-23T15:15:00Z"), at("2026-11-23T15:00:00Z"), True)
    # outcome letter: Mon 23 Nov 10:00 + 5 working days = Mon 30 Nov 17:15 (docs/process.md example)
    assert deadline(hub, contact, "referrer_outcome") == (
        at("2026-11-23T10:00:00Z"), at("2026-11-30T17:15:00Z"), at("2026-11-23T15:00:00Z"), True)
    assert sent(hub, contact) == [("outcome_to_referrer", REFERRER, at("2026-11-23T15:00:00Z"))]
    assert view["flags"] == []
    notes = [(n["kind"], n["text"]) for n in hub.case_notes(contact)]
    assert notes[0][0] == "contact_opened"
    assert notes[-1] == ("outcome", "Outcome: s47. Significant harm likely.")


@pytest.mark.parametrize(("rag", "outcome", "end"), [
    ("AMBER", "s17", "s17_end"),
    ("GREEN", "early_help", "early_help_end"),
    ("GREEN", "signpost", "signpost_end"),
    ("AMBER", "advice", "advice_end"),
])
def test_each_decision_of_service_is_the_outcome(hub: Hub, rag: str, outcome: str,
                                                 end: str) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z")
    verify(hub, contact)
    brag(hub, contact, rag=rag)
    through_stage_3(hub, contact, rag, outcome)
    view = hub.view(contact)
    assert view["outcome"] == outcome
    assert view["path"][-2:] == ["outcome_gw", end]
    assert sent(hub, contact, "outcome_to_referrer") == [
        ("outcome_to_referrer", REFERRER, at("2026-11-23T10:00:00Z"))]


def test_a_green_contact_goes_to_the_early_help_hub_on_a_72_hour_timescale(hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z")
    verify(hub, contact)
    brag(hub, contact, rag="GREEN", threshold_level=2)
    hub.advance(to="2026-11-23T16:00:00Z")
    open_the_contact(hub, contact)
    [task] = hub.tasks(contact)
    assert (task["element_id"], task["role"]) == ("early_help_research", "Early Help Hub")
    # GREEN is 72 elapsed hours (the seed says "hours"): Mon 16:00 -> Thu 26 Nov 16:00
    assert task["due"] == at("2026-11-26T16:00:00Z")
    hub.advance(to="2026-11-25T12:00:00Z")
    hub.complete(contact, "early_help_research", recommendations="Family support worker.")
    decide(hub, contact, "early_help")
    view = hub.view(contact)
    assert took(view["path"], "rag_gw", "early_help_research", "assessed_merge", "decision")
    assert "risk_assessment_call" not in view["path"]
    assert deadline(hub, contact, "rag_timescale") == (
        at("2026-11-23T16:00:00Z"), at("2026-11-26T16:00:00Z"), at("2026-11-25T12:00:00Z"), True)


def test_an_amber_contact_opened_late_in_the_day_counts_16_working_hours(hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z")
    verify(hub, contact)
    brag(hub, contact, rag="AMBER")
    hub.advance(to="2026-11-23T16:00:00Z")  # Mon 16:00
    open_the_contact(hub, contact)
    # Mon 16:00-17:15 (1h15) + Tue 08:30-17:15 (8h45) + Wed 08:30-14:30 (6h) = 16 working hours
    assert hub.task(contact, "allocate_social_worker")["due"] == at("2026-11-25T14:30:00Z")


def test_a_red_contact_opened_on_christmas_eve_counts_working_hours_over_the_holidays(
        hub: Hub) -> None:
    contact = receive(hub, "2026-12-24T10:00:00Z")  # Thu 24 Dec 2026
    verify(hub, contact)
    brag(hub, contact, rag="RED", threshold_level=4)
    hub.advance(to="2026-12-24T15:00:00Z")
    open_the_contact(hub, contact)
    # Thu 15:00-17:15 (2h15); Fri 25 Dec Christmas, Mon 28 Dec Boxing Day (substitute),
    # so Tue 29 Dec 08:30 + 1h45 = 10:15 (docs/process.md's worked example)
    assert hub.task(contact, "allocate_social_worker")["due"] == at("2026-12-29T10:15:00Z")
    # the decision: Thu 24 Dec 10:00 + 1 working day = Tue 29 Dec 17:15
    assert hub.deadline(contact, "decision")["due"] == at("2026-12-29T17:15:00Z")


def test_the_rag_timescale_keeps_to_london_hours_across_the_change_to_summer_time(
        database_url: str) -> None:
    hub = Hub(database_url, start="2026-03-27T09:00:00Z")  # Fri 27 Mar 2026, GMT
    try:
        contact = receive(hub, "2026-03-27T10:00:00Z")
        verify(hub, contact)
        brag(hub, contact, rag="AMBER")
        hub.advance(to="2026-03-27T15:00:00Z")  # Fri 15:00 GMT
        open_the_contact(hub, contact)
        # Fri 15:00-16:45 (1h45); the clocks go forward on Sun 29 Mar; Mon 30 Mar 08:30-17:15
        # BST (8h45); Tue 31 Mar 08:30 BST + 5h30 = 14:00 BST = 13:00 UTC
        assert hub.task(contact, "allocate_social_worker")["due"] == at("2026-03-31T13:00:00Z")
    finally:
        hub.close()


# -- RED: immediate safeguarding concerns -------------------------------------------------------


def test_a_red_contact_in_hub_hours_goes_straight_to_a_manager_without_an_alert(hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z", immediate_risk=True, child={"postcode": ""})
    view = hub.view(contact)
    assert view["flags"] == ["immediate_risk"]
    assert view["path"] == [
        "contact_received", "receive_contact", "look_up_case_records", "concerns_start",
        "police_gw", "police_merge", "red_gw", "flag_red", "ooh_gw", "ooh_merge", "red_merge",
        "worker_gw", "worker_merge", "concerns_end", "receipt_concerns", "repeat_gw",
        "repeat_merge", "missing_gw", *KNOWN, "immediate_gw", "brag_merge"]
    # no postcode check, no verification: the manager's BRAG is the first task
    assert open_tasks(hub, contact) == [("brag", MANAGER)]
    assert sent(hub, contact) == []


def test_a_red_contact_out_of_hours_alerts_the_out_of_hours_service(hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T18:00:00Z", immediate_risk=True)  # Mon 18:00
    view = hub.view(contact)
    assert view["flags"] == ["immediate_risk"]
    assert took(view["path"], "flag_red", "ooh_gw", "alert_out_of_hours", "ooh_merge",
                "immediate_gw", "brag_merge")
    assert sent(hub, contact) == [
        ("out_of_hours_alert", "ChildrensOOHS@bcp.invalid", at("2026-11-23T18:00:00Z"))]
    # the contact still reaches the Hub's manager; the decision clock starts when the Hub
    # opens, Tue 08:30, so one working day runs to Wed 25 Nov 17:15
    assert open_tasks(hub, contact) == [("brag", MANAGER)]
    assert hub.deadline(contact, "decision")["due"] == at("2026-11-25T17:15:00Z")
    hub.advance(to="2026-11-24T08:45:00Z")
    brag(hub, contact, rag="RED", threshold_level=4)
    assert deadline(hub, contact, "decision") == (
        at("2026-11-23T18:00:00Z"), at("2026-11-25T17:15:00Z"), at("2026-11-24T08:45:00Z"), True)


def test_a_red_contact_after_friday_closing_alerts_out_of_hours_before_it_comes_on_duty(
        hub: Hub) -> None:
    # Fri 27 Nov 16:50: the Hub closed at 16:45 and Out of Hours starts at 17:00; the alert
    # goes now rather than leave a RED contact unseen until Monday
    contact = receive(hub, "2026-11-27T16:50:00Z", immediate_risk=True)
    assert sent(hub, contact) == [
        ("out_of_hours_alert", "ChildrensOOHS@bcp.invalid", at("2026-11-27T16:50:00Z"))]


def test_a_red_contact_at_opening_time_alerts_out_of_hours_still_on_duty(hub: Hub) -> None:
    # Tue 08:30: the Hub opens, and the Out of Hours service is on duty until 09:00 (seed 000,
    # '5pm to 9am'): both are told (docs/process.md, RED); from 09:00 the Hub is alone (test_front_door)
    contact = receive(hub, "2026-11-24T08:30:00Z", immediate_risk=True)
    assert sent(hub, contact) == [
        ("out_of_hours_alert", "ChildrensOOHS@bcp.invalid", at("2026-11-24T08:30:00Z"))]
    assert open_tasks(hub, contact) == [("brag", MANAGER)]


# -- Stage 1 disposals ----------------------------------------------------------------------------


def test_a_postcode_in_another_authority_is_redirected_there(hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z", child={"postcode": "BH19 1AA"})  # Swanage
    assert open_tasks(hub, contact) == [("redirect", "Business Support Information Officer")]
    changes = [h["changes"] for h in hub.view(contact)["history"]
               if h["element_id"] == "check_postcode"]
    assert changes[0]["authority"] == "Dorset Council"  # prefills the redirect
    hub.advance(to="2026-11-23T10:20:00Z")
    hub.complete(contact, "redirect", authority="Dorset Council")
    view = hub.view(contact)
    assert view["outcome"] == "redirected"
    assert view["path"] == [
        *FRONT[:-2], "redirect_merge", "redirect", "send_redirect", "redirected_end", "sub_decide",
        "route_gw", "front_door_end"]
    assert sent(hub, contact) == [
        ("redirect_to_local_authority", "childrens.advice@dorset.invalid",
         at("2026-11-23T10:20:00Z"))]
    assert deadline(hub, contact, "decision")[2:] == (at("2026-11-23T10:20:00Z"), True)
    assert [d["name"] for d in hub.view(contact)["deadlines"]] == ["decision"]


def test_an_unknown_postcode_checked_by_a_person_and_found_in_bcp_carries_on(hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z", child={"postcode": "BH13 7AA"})  # split sector
    assert open_tasks(hub, contact) == [("check_address", "Business Support Information Officer")]
    with pytest.raises(FormRejected) as refused:
        hub.complete(contact, "check_address", in_bcp=False)
    assert refused.value.errors == [{"field": "authority", "message": "is required"}]
    hub.complete(contact, "check_address", in_bcp=True)
    assert took(hub.view(contact)["path"], "open_case_gw", "postcode_gw", "check_address",
                "address_gw", "bcp_merge", "ppn_gw")
    assert open_tasks(hub, contact) == [("verify", "Business Support Information Officer")]


def test_an_unknown_postcode_checked_and_found_elsewhere_is_redirected(hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z", child={"postcode": "not known"})
    hub.complete(contact, "check_address", in_bcp=False, authority="Hampshire County Council")
    hub.complete(contact, "redirect", authority="Hampshire County Council",
                 authority_email="mash@hants-duty.invalid")
    view = hub.view(contact)
    assert view["outcome"] == "redirected"
    assert took(view["path"], "check_address", "address_gw", "redirect_merge", "redirect",
                "send_redirect", "redirected_end")
    # the address the person gave wins over the directory's
    assert [(k, to) for k, to, _ in sent(hub, contact)] == [
        ("redirect_to_local_authority", "mash@hants-duty.invalid")]


def test_a_child_open_to_social_care_is_forwarded_to_the_allocated_worker(hub: Hub) -> None:
    case_records(hub, {"child_id": "C100", "status": "open", "allocated_worker": "Alex Worker",
                       "worker_email": "a.worker@bcp.invalid", "team": "Assessment Team 2"})
    contact = receive(hub, "2026-11-23T10:00:00Z", child={"id": "C100"})
    assert open_tasks(hub, contact) == [("forward", "Business Support Officer")]
    hub.advance(to="2026-11-23T10:40:00Z")
    hub.complete(contact, "forward", case_note="School reports new bruising.")
    view = hub.view(contact)
    assert view["outcome"] == "forwarded_to_allocated_worker"
    assert view["path"] == [*FRONT[:-4], "forward", "send_forward", "forwarded_end",
                            "sub_decide", "route_gw", "front_door_end"]
    assert sent(hub, contact) == [
        ("forward_to_allocated_worker", "a.worker@bcp.invalid", at("2026-11-23T10:40:00Z"))]
    [note] = hub.case_notes(contact)
    assert (note["child_id"], note["kind"]) == ("C100", "forward_to_allocated_worker")


def test_not_accepted_and_confirmed_by_a_manager_is_no_further_action(hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z")
    verify(hub, contact, accepted=False, research="Duplicate of a contact already dealt with.")
    assert open_tasks(hub, contact) == [("nfa_oversight", MANAGER)]
    hub.advance(to="2026-11-23T11:00:00Z")
    hub.complete(contact, "nfa_oversight", nfa_confirmed=True, reasons="Duplicate.")
    view = hub.view(contact)
    assert view["outcome"] == "nfa"
    assert view["path"] == [*FRONT, *VERIFIED, "nfa_oversight", *CONCERNS, "nfa_concerns",
                            "nfa_gw", "send_nfa", "archive", "nfa_end", "sub_decide", "route_gw",
                            "front_door_end"]
    assert sent(hub, contact) == [("nfa_to_referrer", REFERRER, at("2026-11-23T11:00:00Z"))]
    assert [n["kind"] for n in hub.case_notes(contact)] == ["archived"]


def test_no_further_action_not_confirmed_by_the_manager_goes_to_brag(hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z")
    verify(hub, contact, accepted=False)
    hub.complete(contact, "nfa_oversight", nfa_confirmed=False, reasons="Needs a BRAG.")
    assert open_tasks(hub, contact) == [("brag", MANAGER)]
    brag(hub, contact, rag="GREEN", threshold_level=2)
    through_stage_3(hub, contact, "GREEN", "signpost")
    view = hub.view(contact)
    assert view["outcome"] == "signpost"
    assert took(view["path"], "nfa_oversight", "nfa_gw", "brag_merge", "brag")
    assert "send_nfa" not in view["path"]


def test_an_information_request_is_collated_and_sent_after_management_oversight(hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z", information_request=True,
                      referrer={"kind": "professional", "agency": "Dorset Police"})
    verify(hub, contact)
    assert open_tasks(hub, contact) == [("collate_information", "Business Support Officer")]
    hub.complete(contact, "collate_information", information="Known to Early Help in 2024.")
    assert open_tasks(hub, contact) == [("approve_information", MANAGER)]
    # sent back once, then approved
    hub.complete(contact, "approve_information", approved=False, send_back=True,
                 reasons="Remove the sibling's details.")
    assert open_tasks(hub, contact) == [("collate_information", "Business Support Officer")]
    hub.complete(contact, "collate_information",
                 information="Known to Early Help in 2024 (child only).")
    hub.advance(to="2026-11-23T12:00:00Z")
    hub.complete(contact, "approve_information", approved=True)
    view = hub.view(contact)
    assert view["outcome"] == "information_shared"
    assert view["path"] == [
        *FRONT, *VERIFIED, "collate_merge", "collate_information",
        "approve_information", "approve_gw", "collate_merge", "collate_information",
        "approve_information", "approve_gw", "send_information", "information_end", "sub_decide",
        "route_gw", "front_door_end"]
    assert sent(hub, contact) == [
        ("information_to_requester", REFERRER, at("2026-11-23T12:00:00Z"))]


def test_a_referrer_without_an_email_gets_their_letter_by_post_from_business_support(
        hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z",
                      referrer={"name": "A Neighbour", "kind": "public", "email": None})
    verify(hub, contact, accepted=False)
    hub.complete(contact, "nfa_oversight", nfa_confirmed=True)
    assert [(k, to) for k, to, _ in sent(hub, contact)] == [
        ("nfa_to_referrer", "business.support@bcp.invalid")]


def letters(hub: Hub, contact: str, kind: str) -> list[str]:
    with hub.store.reading() as conn:
        return [r.body for r in conn.execute(sa.select(notifications.c.body).where(
            notifications.c.instance_id == contact, notifications.c.kind == kind))]


def test_the_outcome_letter_keeps_the_managers_reasons_from_a_member_of_the_public(
        hub: Hub) -> None:
    # seed 002: feedback to non-professional referrers 'in a manner consistent with respecting
    # the confidentiality of the child'; professional referrers are told the reasons
    public = receive(hub, "2026-11-23T10:00:00Z",
                     referrer={"name": "A Neighbour", "kind": "public", "email": "n@home.invalid"})
    professional = receive(hub, "2026-11-23T10:00:00Z")
    for contact in (public, professional):
        verify(hub, contact)
        brag(hub, contact, rag="GREEN", threshold_level=2)
        open_the_contact(hub, contact)
        hub.complete(contact, "early_help_research")
        decide(hub, contact, "early_help", reasons="Mother disclosed depression to the GP.")
    [to_public] = letters(hub, public, "outcome_to_referrer")
    [to_professional] = letters(hub, professional, "outcome_to_referrer")
    assert "stepped across to Early Help" in to_public
    assert "depression" not in to_public
    assert "Mother disclosed depression to the GP." in to_professional


# -- Step 3: BRAG, consent and re-referrals ------------------------------------------------------


def test_consent_may_be_overridden_only_at_level_4_with_reasons(hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z")
    verify(hub, contact)
    with pytest.raises(FormRejected) as refused:
        brag(hub, contact, rag="AMBER", threshold_level=3, consent_decision="overridden",
             consent_override_reasons=["risk_of_harm"])
    assert refused.value.errors == [{"field": "consent_decision", "message": (
        "consent may be overridden only at level 4 (significant unmet needs and high risk), "
        "with management oversight and recorded reasons")}]
    with pytest.raises(FormRejected) as refused:
        brag(hub, contact, rag="RED", threshold_level=4, consent_decision="overridden")
    assert refused.value.errors == [{"field": "consent_override_reasons", "message": "is required"}]
    with pytest.raises(FormRejected) as refused:
        brag(hub, contact, rag="RED", threshold_level=4, consent_decision="overridden",
             consent_override_reasons=["because"])
    assert refused.value.errors[0]["field"] == "consent_override_reasons"
    assert open_tasks(hub, contact) == [("brag", MANAGER)]  # nothing half-done

    brag(hub, contact, rag="RED", threshold_level=4, consent_decision="overridden",
         consent_override_reasons=["risk_of_harm", "crime_detection"],
         history_analysis="Two previous contacts about bruising.")
    [recorded] = [h["changes"] for h in hub.view(contact)["history"] if h["element_id"] == "brag"]
    # the crime, immediate risk and missing fields are the contact's, prefilled and kept
    assert recorded == {"rag": "RED", "consent_decision": "overridden",
                        "consent_override_reasons": ["risk_of_harm", "crime_detection"],
                        "threshold_level": 4,
                        "history_analysis": "Two previous contacts about bruising.",
                        "crime_suspected": False, "immediate_risk": False, "missing": False}


def test_a_re_referral_within_3_months_of_closure_is_flagged_for_the_brag(hub: Hub) -> None:
    case_records(hub, {"child_id": "C200", "status": "closed", "closed_on": "2026-09-01",
                       "team": "Early Help"})
    contact = receive(hub, "2026-11-23T10:00:00Z", child={"id": "C200"})
    assert hub.view(contact)["flags"] == ["re_referral"]
    verify(hub, contact)
    [task] = hub.tasks(contact)
    assert (task["element_id"], task["flags"]) == ("brag", ["re_referral"])


def test_a_closure_more_than_3_months_ago_is_not_a_re_referral(hub: Hub) -> None:
    case_records(hub, {"child_id": "C201", "status": "closed", "closed_on": "2026-08-22",
                       "team": "Early Help"})
    contact = receive(hub, "2026-11-23T10:00:00Z", child={"id": "C201"})
    assert hub.view(contact)["flags"] == []


# -- a suspected crime: the police are told at receipt (seed 002) --------------------------------

POLICE_MAILBOX = "mash.police@dorset.police.invalid"


def test_a_suspected_crime_is_notified_to_the_police_at_receipt_before_any_work(hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z", crime_suspected=True)  # Mon 23 Nov 10:00
    # told at once, before verification has started: nobody has had to do anything yet
    assert sent(hub, contact) == [("police_notification", POLICE_MAILBOX, at("2026-11-23T10:00:00Z"))]
    assert hub.view(contact)["path"][:8] == [
        "contact_received", "receive_contact", "look_up_case_records", "concerns_start",
        "police_gw", "notify_police", "police_told", "police_merge"]
    assert open_tasks(hub, contact) == [("verify", "Business Support Information Officer")]
    # rated and opened later: Stage 3 starts with the RAG rating and the police are not told twice
    verify(hub, contact)
    brag(hub, contact, rag="RED", threshold_level=4)
    hub.advance(to="2026-11-23T11:00:00Z")
    through_stage_3(hub, contact, "RED", "s47")
    view = hub.view(contact)
    assert took(view["path"], "respond_start", "respond_merge", "assess_start", "rag_gw",
                "ra_start")
    assert view["path"].count("notify_police") == 1
    assert sent(hub, contact, "police_notification") == [
        ("police_notification", POLICE_MAILBOX, at("2026-11-23T10:00:00Z"))]


def test_a_crime_suspected_contact_that_is_not_accepted_still_notified_the_police_at_receipt(
        hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z", crime_suspected=True)
    hub.advance(to="2026-11-23T10:30:00Z")
    verify(hub, contact, accepted=False, research="Already reported to the police by the school.")
    hub.advance(to="2026-11-23T11:00:00Z")
    hub.complete(contact, "nfa_oversight", nfa_confirmed=True, reasons="Police already involved.")
    view = hub.view(contact)
    assert view["outcome"] == "nfa"
    assert view["path"] == [
        "contact_received", "receive_contact", "look_up_case_records", "concerns_start",
        "police_gw", "notify_police", "police_told", "police_merge", *FRONT[6:], *VERIFIED,
        "nfa_oversight", *CONCERNS, "nfa_concerns", "nfa_gw", "send_nfa", "archive", "nfa_end",
        "sub_decide", "route_gw", "front_door_end"]
    # the police at receipt (Mon 10:00), the referrer's standardised email at the NFA (11:00)
    assert sent(hub, contact) == [
        ("police_notification", POLICE_MAILBOX, at("2026-11-23T10:00:00Z")),
        ("nfa_to_referrer", REFERRER, at("2026-11-23T11:00:00Z"))]


def test_a_crime_suspected_out_of_hours_is_notified_at_once_not_when_the_hub_opens(
        hub: Hub) -> None:
    # Sat 28 Nov 2026 02:00: the Hub is closed until Mon 30 Nov 08:30; the police are told now
    contact = receive(hub, "2026-11-28T02:00:00Z", crime_suspected=True)
    assert sent(hub, contact) == [("police_notification", POLICE_MAILBOX, at("2026-11-28T02:00:00Z"))]
    # the decision clock still starts when the Hub opens: Mon 30 Nov -> Tue 1 Dec 17:15
    assert hub.deadline(contact, "decision")["due"] == at("2026-12-01T17:15:00Z")


@pytest.mark.parametrize(("changes", "records", "first_task"), [
    ({"child": {"postcode": "BH19 1AA"}}, [], "redirect"),                      # not BCP
    ({"child": {"id": "C150"}}, [{"child_id": "C150", "status": "open", "allocated_worker": "Alex Worker",
                                  "worker_email": "a.worker@bcp.invalid", "team": "Assessment Team 2"}],
     "forward"),                                                                # open case
    ({"information_request": True}, [], "verify"),                              # BLUE
    ({"missing": True}, [], "missing_brag"),                                    # Pathway 2
    ({"channel": "ppn"}, [], None),                                             # waits for the meeting
])
def test_a_crime_suspected_contact_notifies_the_police_whatever_happens_to_it_next(
        hub: Hub, changes: dict[str, Any], records: list[dict[str, Any]],
        first_task: str | None) -> None:
    if records:
        case_records(hub, *records)
    contact = receive(hub, "2026-11-23T10:00:00Z", crime_suspected=True, **changes)
    assert sent(hub, contact) == [("police_notification", POLICE_MAILBOX, at("2026-11-23T10:00:00Z"))]
    assert took(hub.view(contact)["path"], "police_gw", "notify_police", "police_told",
                "police_merge", "receipt_concerns", "missing_gw")
    assert [task for task, _ in open_tasks(hub, contact)] == ([first_task] if first_task else [])


def test_a_contact_with_no_crime_suspected_does_not_notify_the_police(hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z")
    path = hub.view(contact)["path"]
    assert took(path, "look_up_case_records", "police_gw", "police_merge", "receipt_concerns")
    assert "notify_police" not in path
    assert sent(hub, contact) == []


# -- Stage 3: previous worker, risk assessment branches -------------------------------------------


def test_a_family_with_a_social_worker_in_the_past_12_weeks_has_them_asked_to_re_engage(
        hub: Hub) -> None:
    case_records(hub, {"child_id": "C300", "status": "closed", "closed_on": "2026-10-01",
                       "allocated_worker": "Sam Previous", "worker_email": "s.previous@bcp.invalid",
                       "team": "Assessment Team 1"})
    contact = receive(hub, "2026-11-23T10:00:00Z", child={"id": "C300"})
    verify(hub, contact)
    brag(hub, contact, rag="AMBER")
    open_the_contact(hub, contact)
    assess_in_mash(hub, contact)
    hub.advance(to="2026-11-24T09:00:00Z")
    decide(hub, contact, "s17")
    view = hub.view(contact)
    assert view["outcome"] == "s17"
    assert took(view["path"], "reengage_gw", "ask_previous_worker", "reengage_merge",
                "tell_referrer")
    assert sorted(sent(hub, contact)) == [
        ("outcome_to_referrer", REFERRER, at("2026-11-24T09:00:00Z")),
        ("previous_worker_reengagement", "s.previous@bcp.invalid", at("2026-11-24T09:00:00Z"))]


def test_a_previous_worker_is_not_asked_when_the_decision_is_not_an_assessment(hub: Hub) -> None:
    case_records(hub, {"child_id": "C301", "status": "closed", "closed_on": "2026-10-01",
                       "allocated_worker": "Sam Previous", "worker_email": "s.previous@bcp.invalid",
                       "team": "Assessment Team 1"})
    contact = receive(hub, "2026-11-23T10:00:00Z", child={"id": "C301"})
    verify(hub, contact)
    brag(hub, contact, rag="GREEN", threshold_level=2)
    through_stage_3(hub, contact, "GREEN", "early_help")
    assert [k for k, _, _ in sent(hub, contact)] == ["outcome_to_referrer"]


def test_a_risk_assessment_without_partners_or_strategy_discussion_goes_straight_to_drafts(
        hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z")
    verify(hub, contact)
    brag(hub, contact, rag="AMBER")
    open_the_contact(hub, contact)
    hub.complete(contact, "allocate_social_worker", social_worker="Bo Worker")
    hub.complete(contact, "assess_risk", strategy_discussion=False)
    assert open_tasks(hub, contact) == [("draft_plans", "MASH Social Worker")]
    path = hub.view(contact)["path"]
    assert took(path, "assess_risk", "partners_gw", "partners_merge", "strategy_gw",
                "strategy_merge")
    assert "share_information" not in path and "hold_strategy_discussion" not in path


def test_a_strategy_discussion_without_partner_sharing(hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z")
    verify(hub, contact)
    brag(hub, contact, rag="RED", threshold_level=4)
    open_the_contact(hub, contact)
    hub.complete(contact, "allocate_social_worker", social_worker="Bo Worker")
    hub.complete(contact, "assess_risk", strategy_discussion=True, share_with_partners=False)
    assert open_tasks(hub, contact) == [("hold_strategy_discussion", "MASH Social Worker")]
    hub.complete(contact, "hold_strategy_discussion", strategy_outcome="S47 enquiry agreed.")
    assert open_tasks(hub, contact) == [("draft_plans", "MASH Social Worker")]


# -- missed deadlines ---------------------------------------------------------------------------


def test_a_missed_decision_is_told_to_the_manager_and_the_work_carries_on(hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z")
    hub.advance(to="2026-11-24T17:14:59Z")
    assert sent(hub, contact) == []
    hub.advance(to="2026-11-24T17:15:00Z")  # Tue 24 Nov 17:15, exactly when it falls due
    assert sent(hub, contact) == []  # work done at the due instant would still meet it
    hub.advance(through="2026-11-24T17:15:00Z")  # none was: breached at 17:15
    assert sent(hub, contact) == [("deadline_breach", MANAGERS_MAILBOX, at("2026-11-24T17:15:00Z"))]
    d = hub.deadline(contact, "decision")
    assert (d["breached_at"], d["met"], d["done_at"]) == (at("2026-11-24T17:15:00Z"), False, None)
    assert took(hub.view(contact)["path"], "decision_due", "decision_breach", "decision_breach_end")
    assert open_tasks(hub, contact) == [("verify", "Business Support Information Officer")]
    hub.advance(to="2026-11-25T09:00:00Z")
    verify(hub, contact)
    brag(hub, contact, rag="GREEN", threshold_level=2)
    assert deadline(hub, contact, "decision") == (
        at("2026-11-23T10:00:00Z"), at("2026-11-24T17:15:00Z"), at("2026-11-25T09:00:00Z"), False)


def test_a_late_management_decision_misses_the_rag_timescale_and_the_outcome_letter(
        hub: Hub) -> None:
    contact = receive(hub, "2026-11-23T10:00:00Z")
    verify(hub, contact)
    brag(hub, contact, rag="RED", threshold_level=4)
    hub.advance(to="2026-11-23T11:00:00Z")
    open_the_contact(hub, contact)
    assess_in_mash(hub, contact)
    hub.advance(to="2026-12-01T09:00:00Z")  # Tue 1 Dec: nobody decided
    assert sent(hub, contact, "deadline_breach") == [
        ("deadline_breach", MANAGERS_MAILBOX, at("2026-11-23T15:00:00Z")),   # RED: 11:00 + 4h
        ("deadline_breach", MANAGERS_MAILBOX, at("2026-11-30T17:15:00Z"))]   # 5 working days
    path = hub.view(contact)["path"]
    assert took(path, "rag_timescale_due", "rag_timescale_breach", "rag_timescale_breach_end")
    assert took(path, "referrer_outcome_due", "referrer_outcome_breach",
                "referrer_outcome_breach_end")
    assert open_tasks(hub, contact) == [("decision", MANAGER)]
    decide(hub, contact, "s17")
    assert hub.view(contact)["outcome"] == "s17"
    assert deadline(hub, contact, "rag_timescale") == (
        at("2026-11-23T11:00:00Z"), at("2026-11-23T15:00:00Z"), at("2026-12-01T09:00:00Z"), False)
    assert deadline(hub, contact, "referrer_outcome") == (
        at("2026-11-23T10:00:00Z"), at("2026-11-30T17:15:00Z"), at("2026-12-01T09:00:00Z"), False)


# -- the diagrams as a process owner saves them -------------------------------------------------

OURS = ("first_response.bpmn", "missing_child.bpmn", "ppn_meeting.bpmn", "raise_concerns.bpmn")


def _run_samples(processes: Path, database: Path) -> list[dict[str, Any]]:
    """A RED contact out of hours through the MASH risk assessment, a missing child with no
    allocated worker, and a PPN rated at the next meeting: what each did."""
    hub = Hub(f"sqlite:///{database}", start="2026-11-23T09:00:00Z", processes=processes)
    try:
        red = receive(hub, "2026-11-23T18:00:00Z", immediate_risk=True, crime_suspected=True)
        police = receive(hub, "2026-11-23T18:30:00Z", channel="ppn")
        missing = receive(hub, "2026-11-23T19:00:00Z", missing=True)
        # the redirect's authority prefilled (defaultValue) and the crime recorded at
        # verification (a form field prefilled from the contact) survive the modeller too
        dorset = receive(hub, "2026-11-23T19:30:00Z", child={"postcode": "DT1 1AA"})
        hub.advance(to="2026-11-24T09:00:00Z")
        brag(hub, red, rag="RED", threshold_level=4, consent_decision="overridden",
             consent_override_reasons=["risk_of_harm"])
        through_stage_3(hub, red, "RED", "s47", strategy=True, partners=True)
        hub.complete(missing, "missing_brag", rag="AMBER", threshold_level=3,
                     consent_decision="confirmed")
        hub.complete(missing, "missing_open_contact")
        hub.complete(missing, "record_missing_child")
        assess_in_mash(hub, missing)
        hub.complete(missing, "missing_decision", outcome="early_help")
        hub.advance(through="2026-11-24T10:00:00Z")
        [meeting] = [m["id"] for m in hub.instances("ppn_meeting") if m["state"] == "waiting"]
        hub.complete(meeting, "hold_meeting")
        hub.complete(meeting, "rate_ppn", rag="GREEN", threshold_level=2)
        through_stage_3(hub, police, "GREEN", "signpost")
        hub.complete(dorset, "redirect")
        views = [hub.view(i) for i in (red, missing, police, meeting, dorset)]
        return [{"outcome": v["outcome"], "path": v["path"], "flows": v["flows"],
                 "deadlines": v["deadlines"], "flags": v["flags"],
                 "tasks": [(h["element_id"], h["role"]) for h in v["history"]
                           if h["actor"] == "tester"],
                 "notifications": [(n["kind"], n["to"], n["sent_at"]) for n in v["notifications"]]}
                for v in views]
    finally:
        hub.close()


def test_the_engine_runs_the_diagrams_saved_by_the_modeller_as_the_originals(
        tmp_path: Path) -> None:
    original, saved = modeller_saved(OURS, tmp_path)
    diagrams.load([saved])  # validates as the originals do
    expected = _run_samples(original, tmp_path / "original.sqlite")
    assert [e["outcome"] for e in expected] == ["s47", "early_help", "signpost", None, "redirected"]
    assert expected[-1]["notifications"][0][:2] == ("redirect_to_local_authority",
                                                    "childrens.advice@dorset.invalid")
    assert _run_samples(saved, tmp_path / "saved.sqlite") == expected
