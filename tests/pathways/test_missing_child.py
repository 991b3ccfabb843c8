"""Pathway 2, the missing child (processes/missing_child.bpmn), on SQLite and PostgreSQL.

A contact marked missing takes this pathway from First response (a call activity) whatever
its case record says; it can also be started on its own. Both branches of seed 001's
'Missing Child', who is emailed (one notification per recipient), who is asked, and the RAG
timescale that runs over the MASH risk assessment as it does in First response.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.service import FormRejected
from tests.pathways.harness import CONTACT, Hub, merged
from tests.pathways.test_first_response import (
    CONCERNS,
    MANAGER,
    MANAGERS_MAILBOX,
    assess_in_mash,
    at,
    case_records,
    deadline,
    open_tasks,
    receive,
    sent,
    took,
)

POLICE_REFERRER = {"name": "PC Jo Jones", "kind": "professional", "agency": "Dorset Police",
                   "email": "j.jones@dorset.police.invalid", "phone": "101"}
ALLOCATED_CHILD = {"child_id": "C400", "status": "open", "allocated_worker": "Alex Worker",
                   "worker_email": "a.worker@bcp.invalid", "team": "Assessment Team 2"}

# Pathway 2's own receipt: recorded, looked up, and a crime or immediate risk told at once
# (nothing twice: First response's receipt has told whoever had to be told).
MISSING_RECEIPT = ["missing_received", "missing_receive", "missing_look_up", *CONCERNS,
                   "missing_receipt_concerns", "allocated_gw"]
# First response up to the call of Pathway 2: straight from receipt, before Stages 1-2.
TO_PATHWAY_2 = ["contact_received", "receive_contact", "look_up_case_records", *CONCERNS,
                "receipt_concerns", "repeat_gw", "repeat_merge", "missing_gw", "missing_merge",
                *MISSING_RECEIPT]


def report_missing(hub: Hub, received_at: str, **changes: Any) -> str:
    return receive(hub, received_at, missing=True, referrer=POLICE_REFERRER,
                   concerns="Not returned home after school; last seen at the bus station.",
                   **changes)


def brag_missing(hub: Hub, contact: str, rag: str = "RED", threshold_level: int = 4) -> None:
    hub.complete(contact, "missing_brag", rag=rag, threshold_level=threshold_level,
                 consent_decision="confirmed")


# -- the child has an allocated worker ------------------------------------------------------------


def test_a_missing_child_with_an_allocated_worker_is_reported_to_the_allocated_team(
        hub: Hub) -> None:
    case_records(hub, ALLOCATED_CHILD)
    contact = report_missing(hub, "2026-11-23T10:00:00Z", child={"id": "C400"})
    assert hub.view(contact)["path"] == [*TO_PATHWAY_2, "send_missing_report"]
    # one email per recipient: the worker, their team's manager, assistant manager and
    # business support (directory.toml, Assessment Team 2), and the CE & Missing Team Manager
    assert sorted(sent(hub, contact)) == [
        ("missing_person_report", address, at("2026-11-23T10:00:00Z")) for address in sorted([
            "a.worker@bcp.invalid", "at2.manager@bcp.invalid", "at2.atm@bcp.invalid",
            "at2.bs@bcp.invalid", "ce.missing.tm@bcp.invalid"])]
    assert open_tasks(hub, contact) == [("open_missing_child_form", "Allocated worker's team")]
    hub.advance(to="2026-11-23T11:00:00Z")
    hub.complete(contact, "open_missing_child_form", form_reference="MCF-77")
    view = hub.view(contact)
    assert view["state"] == "completed"
    assert view["outcome"] == "missing_forwarded"
    assert view["path"] == [*TO_PATHWAY_2, "send_missing_report", "open_missing_child_form",
                            "missing_forwarded_end", "missing_pathway", "missing_end"]
    # not forwarded as an ordinary open case: the missing person report has its own branch
    assert "forward" not in view["path"]
    # the report went to the worker's team at once, on receipt: no BRAG, so no decision
    # deadline, and no RAG timescale or outcome letter on this branch
    assert view["deadlines"] == []


def test_a_missing_person_report_can_start_the_pathway_on_its_own(hub: Hub) -> None:
    case_records(hub, ALLOCATED_CHILD)
    hub.advance(to="2026-11-23T14:00:00Z")
    data = merged(CONTACT, {"missing": True, "referrer": POLICE_REFERRER, "child": {"id": "C400"}})
    report = hub.start("missing_child", data)
    view = hub.view(report)
    assert view["path"] == [*MISSING_RECEIPT, "send_missing_report"]
    [received] = [h["changes"] for h in view["history"] if h["element_id"] == "missing_receive"]
    assert received["received_at"] == "2026-11-23T14:00:00Z"
    assert len(sent(hub, report, "missing_person_report")) == 5


# -- the child has no allocated worker ------------------------------------------------------------


def test_a_missing_child_without_an_allocated_worker_is_bragged_opened_and_assessed_in_mash(
        hub: Hub) -> None:
    contact = report_missing(hub, "2026-11-23T10:00:00Z")
    assert hub.view(contact)["path"] == [*TO_PATHWAY_2, "bragged_gw"]
    assert open_tasks(hub, contact) == [("missing_brag", MANAGER)]
    hub.advance(to="2026-11-23T10:30:00Z")
    brag_missing(hub, contact, rag="RED")
    assert open_tasks(hub, contact) == [("missing_open_contact", "Business Support Officer")]
    hub.advance(to="2026-11-23T10:45:00Z")
    hub.complete(contact, "missing_open_contact", contact_reference="MOS-9")
    # the Record of Missing Child form and the MASH risk assessment go ahead together; the
    # assessment and decision are due on the RAG timescale: RED, 4 working hours from 10:45
    tasks = {t["element_id"]: (t["role"], t["due"]) for t in hub.tasks(contact)}
    assert tasks == {
        "record_missing_child": ("CE & Missing Team Manager", None),
        "allocate_social_worker": ("Pod Assistant Team Manager", at("2026-11-23T14:45:00Z"))}
    hub.advance(to="2026-11-23T12:00:00Z")
    hub.complete(contact, "record_missing_child", record_notes="Episode 3 this year.")
    assert open_tasks(hub, contact) == [("allocate_social_worker", "Pod Assistant Team Manager")]
    assess_in_mash(hub, contact, strategy=True)
    assert open_tasks(hub, contact) == [("missing_decision", MANAGER)]
    hub.advance(to="2026-11-23T14:00:00Z")
    hub.complete(contact, "missing_decision", outcome="s17", threshold_level=3,
                 reasons="Repeated missing episodes; child in need assessment.")
    view = hub.view(contact)
    assert view["outcome"] == "s17"
    assert view["rag"] == "RED"
    assert took(view["path"], "allocated_gw", "bragged_gw", "missing_brag",
                "missing_brag_concerns", "bragged_merge", "missing_open_contact", "missing_open",
                "missing_split", "record_missing_child", "record_done_end")
    assert took(view["path"], "missing_split", "missing_respond_start", "missing_respond_merge",
                "missing_assess_start", "ra_start", "allocate_social_worker", "assess_risk",
                "hold_strategy_discussion", "draft_plans", "ra_end", "missing_risk_assessment",
                "missing_found_red_gw", "missing_decision", "missing_decision_concerns",
                "missing_assess_end", "missing_assess", "missing_rerate_gw", "missing_reengage_gw",
                "missing_reengage_merge", "missing_tell_referrer", "missing_respond_end",
                "missing_respond", "missing_record", "missing_decided_end", "missing_pathway",
                "missing_end")
    assert "missing_ask_previous_worker" not in view["path"]
    assert deadline(hub, contact, "rag_timescale") == (
        at("2026-11-23T10:45:00Z"), at("2026-11-23T14:45:00Z"), at("2026-11-23T14:00:00Z"), True)
    # the referrer (the police officer who reported the child missing) is told the outcome in
    # writing when the decision is made: Mon 23 Nov 10:00 + 5 working days = Mon 30 Nov 17:15
    assert sent(hub, contact) == [
        ("outcome_to_referrer", POLICE_REFERRER["email"], at("2026-11-23T14:00:00Z"))]
    assert deadline(hub, contact, "referrer_outcome") == (
        at("2026-11-23T10:00:00Z"), at("2026-11-30T17:15:00Z"), at("2026-11-23T14:00:00Z"), True)
    assert [n["kind"] for n in hub.case_notes(contact)] == ["contact_opened", "outcome"]


def test_the_missing_pathways_rag_timescale_breach_is_told_and_the_work_carries_on(
        hub: Hub) -> None:
    contact = report_missing(hub, "2026-11-23T10:00:00Z")
    brag_missing(hub, contact, rag="AMBER", threshold_level=3)
    hub.advance(to="2026-11-23T16:00:00Z")
    hub.complete(contact, "missing_open_contact")
    # AMBER, 16 working hours from Mon 16:00: Wed 25 Nov 14:30
    hub.advance(to="2026-11-25T15:00:00Z")
    assert sent(hub, contact) == [("deadline_breach", MANAGERS_MAILBOX, at("2026-11-25T14:30:00Z"))]
    assert took(hub.view(contact)["path"], "missing_rag_timescale_due",
                "missing_rag_timescale_breach", "missing_rag_timescale_breach_end")
    assess_in_mash(hub, contact)
    # the decision does not wait for the Record of Missing Child form, nor the form for it:
    # the contact ends when both are done
    assert sorted(open_tasks(hub, contact)) == [
        ("missing_decision", MANAGER), ("record_missing_child", "CE & Missing Team Manager")]
    hub.complete(contact, "missing_decision", outcome="early_help")
    assert hub.view(contact)["state"] != "completed"
    hub.complete(contact, "record_missing_child")
    assert hub.view(contact)["state"] == "completed"
    assert hub.view(contact)["outcome"] == "early_help"
    assert deadline(hub, contact, "rag_timescale") == (
        at("2026-11-23T16:00:00Z"), at("2026-11-25T14:30:00Z"), at("2026-11-25T15:00:00Z"), False)


def test_the_missing_pathways_brag_keeps_the_consent_rule(hub: Hub) -> None:
    contact = report_missing(hub, "2026-11-23T10:00:00Z")
    with pytest.raises(FormRejected) as refused:
        hub.complete(contact, "missing_brag", rag="RED", threshold_level=3,
                     consent_decision="overridden", consent_override_reasons=["unjustified_delay"])
    assert [e["field"] for e in refused.value.errors] == ["consent_decision"]
    hub.complete(contact, "missing_brag", rag="RED", threshold_level=4,
                 consent_decision="overridden", consent_override_reasons=["unjustified_delay"])
    assert open_tasks(hub, contact) == [("missing_open_contact", "Business Support Officer")]


def test_a_missing_child_flagged_red_out_of_hours_alerts_out_of_hours_then_takes_pathway_2(
        hub: Hub) -> None:
    contact = report_missing(hub, "2026-11-23T22:00:00Z", immediate_risk=True)  # Mon 22:00
    view = hub.view(contact)
    assert view["flags"] == ["immediate_risk"]
    assert took(view["path"], "flag_red", "alert_out_of_hours", "receipt_concerns", "missing_gw",
                "missing_merge", "missing_received", "allocated_gw")
    assert sent(hub, contact) == [
        ("out_of_hours_alert", "ChildrensOOHS@bcp.invalid", at("2026-11-23T22:00:00Z"))]
    assert open_tasks(hub, contact) == [("missing_brag", MANAGER)]


# -- the outcome letter to the referrer (seed 003: in writing within 5 working days) -------------


def decide_missing(hub: Hub, contact: str, outcome: str, **values: Any) -> None:
    """From the open contact: the Record of Missing Child form, the MASH risk assessment and the
    management decision."""
    hub.complete(contact, "record_missing_child", record_notes="First episode.")
    assess_in_mash(hub, contact)
    hub.complete(contact, "missing_decision", outcome=outcome, **values)


def test_the_referrer_of_a_missing_child_without_a_worker_is_told_the_outcome_within_5_working_days(
        hub: Hub) -> None:
    # Fri 27 Nov 2026 16:00, inside Friday's hours (08:30-16:45): the clock starts on Friday, and
    # the 5th working day after it is Fri 4 Dec (Mon 30, Tue 1, Wed 2, Thu 3, Fri 4), which
    # closes at 16:45
    contact = report_missing(hub, "2026-11-27T16:00:00Z")
    brag_missing(hub, contact, rag="AMBER", threshold_level=3)
    hub.advance(to="2026-11-27T16:30:00Z")
    hub.complete(contact, "missing_open_contact", contact_reference="MOS-12")
    # armed when the contact is opened (as First response's Stage 3), counted from receipt
    due = hub.deadline(contact, "referrer_outcome")
    assert (due["started_at"], due["due"], due["done_at"]) == (
        at("2026-11-27T16:00:00Z"), at("2026-12-04T16:45:00Z"), None)
    hub.advance(to="2026-12-02T11:00:00Z")  # Wed 2 Dec
    decide_missing(hub, contact, "early_help", reasons="Support from the Early Help Hub.")
    view = hub.view(contact)
    assert view["outcome"] == "early_help"
    assert took(view["path"], "missing_decision", "missing_assess", "missing_reengage_gw",
                "missing_reengage_merge", "missing_tell_referrer", "missing_respond_end",
                "missing_respond", "missing_record", "missing_decided_end")
    # the letter goes when the decision is made; a professional referrer is told the reasons
    assert [(k, to, when) for k, to, when in sent(hub, contact) if k != "deadline_breach"] == [
        ("outcome_to_referrer", POLICE_REFERRER["email"], at("2026-12-02T11:00:00Z"))]
    [letter] = [n for n in hub.view(contact)["notifications"] if n["kind"] == "outcome_to_referrer"]
    assert deadline(hub, contact, "referrer_outcome") == (
        at("2026-11-27T16:00:00Z"), at("2026-12-04T16:45:00Z"), at("2026-12-02T11:00:00Z"), True)
    assert letter["sent_at"] == at("2026-12-02T11:00:00Z")


def test_a_late_letter_about_a_missing_child_is_told_to_the_manager_and_still_sent(
        hub: Hub) -> None:
    contact = report_missing(hub, "2026-11-23T10:00:00Z")  # Mon 23 Nov 10:00
    brag_missing(hub, contact, rag="GREEN", threshold_level=2)
    hub.complete(contact, "missing_open_contact")  # opened Mon 10:00: GREEN, 72 hours
    hub.advance(to="2026-12-01T09:00:00Z")  # Tue 1 Dec: nobody has decided
    # RAG timescale: Mon 23 Nov 10:00 + 72 elapsed hours = Thu 26 Nov 10:00;
    # letter: Mon 23 Nov 10:00 + 5 working days = Mon 30 Nov 17:15
    assert sent(hub, contact) == [
        ("deadline_breach", MANAGERS_MAILBOX, at("2026-11-26T10:00:00Z")),
        ("deadline_breach", MANAGERS_MAILBOX, at("2026-11-30T17:15:00Z"))]
    path = hub.view(contact)["path"]
    assert took(path, "missing_referrer_outcome_due", "missing_referrer_outcome_breach",
                "missing_referrer_outcome_breach_end")
    decide_missing(hub, contact, "advice")
    assert sent(hub, contact, "outcome_to_referrer") == [
        ("outcome_to_referrer", POLICE_REFERRER["email"], at("2026-12-01T09:00:00Z"))]
    assert deadline(hub, contact, "referrer_outcome") == (
        at("2026-11-23T10:00:00Z"), at("2026-11-30T17:15:00Z"), at("2026-12-01T09:00:00Z"), False)
    assert hub.view(contact)["outcome"] == "advice"


def test_a_missing_child_whose_social_worker_left_in_the_past_12_weeks_has_them_asked_back(
        hub: Hub) -> None:
    # closed on 15 Oct 2026 with a worker: no allocated worker now (Pathway 2's BRAG branch), but
    # within the 12 weeks of seed 003, so an assessment decision asks the worker to re-engage
    case_records(hub, {"child_id": "C410", "status": "closed", "closed_on": "2026-10-15",
                       "allocated_worker": "Sam Previous", "worker_email": "s.previous@bcp.invalid",
                       "team": "Assessment Team 1"})
    contact = report_missing(hub, "2026-11-23T10:00:00Z", child={"id": "C410"})
    assert open_tasks(hub, contact) == [("missing_brag", MANAGER)]
    brag_missing(hub, contact, rag="RED", threshold_level=4)
    hub.complete(contact, "missing_open_contact")
    hub.advance(to="2026-11-23T13:00:00Z")
    decide_missing(hub, contact, "s17")
    assert took(hub.view(contact)["path"], "missing_reengage_gw", "missing_ask_previous_worker",
                "missing_reengage_merge", "missing_tell_referrer")
    assert sorted(sent(hub, contact)) == [
        ("outcome_to_referrer", POLICE_REFERRER["email"], at("2026-11-23T13:00:00Z")),
        ("previous_worker_reengagement", "s.previous@bcp.invalid", at("2026-11-23T13:00:00Z"))]
