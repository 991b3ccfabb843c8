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

# First response up to the call of Pathway 2.
TO_PATHWAY_2 = ["contact_received", "receive_contact", "look_up_case_records", "crime_gw",
                "crime_merge", "decide_start", "red_gw", "red_merge", "missing_gw", "to_missing_end",
                "sub_decide", "route_gw", "missing_received", "missing_receive", "missing_look_up",
                "allocated_gw"]


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
    # the decision (Pathway 2) was made at once, on receipt; no RAG timescale or outcome letter
    # on this branch
    assert [d["name"] for d in view["deadlines"]] == ["decision"]
    assert deadline(hub, contact, "decision") == (
        at("2026-11-23T10:00:00Z"), at("2026-11-24T17:15:00Z"), at("2026-11-23T10:00:00Z"), True)


def test_a_missing_person_report_can_start_the_pathway_on_its_own(hub: Hub) -> None:
    case_records(hub, ALLOCATED_CHILD)
    hub.advance(to="2026-11-23T14:00:00Z")
    data = merged(CONTACT, {"missing": True, "referrer": POLICE_REFERRER, "child": {"id": "C400"}})
    report = hub.start("missing_child", data)
    view = hub.view(report)
    assert view["path"] == ["missing_received", "missing_receive", "missing_look_up",
                            "allocated_gw", "send_missing_report"]
    [received] = [h["changes"] for h in view["history"] if h["element_id"] == "missing_receive"]
    assert received["received_at"] == "2026-11-23T14:00:00Z"
    assert len(sent(hub, report, "missing_person_report")) == 5


# -- the child has no allocated worker ------------------------------------------------------------


def test_a_missing_child_without_an_allocated_worker_is_bragged_opened_and_assessed_in_mash(
        hub: Hub) -> None:
    contact = report_missing(hub, "2026-11-23T10:00:00Z")
    assert hub.view(contact)["path"] == TO_PATHWAY_2
    assert open_tasks(hub, contact) == [("missing_brag", MANAGER)]
    hub.advance(to="2026-11-23T10:30:00Z")
    brag_missing(hub, contact, rag="RED")
    assert open_tasks(hub, contact) == [("missing_open_contact", "Business Support Officer")]
    hub.advance(to="2026-11-23T10:45:00Z")
    hub.complete(contact, "missing_open_contact", contact_reference="MOS-9")
    # the Record of Missing Child form and the MASH risk assessment go ahead together, both
    # due on the RAG timescale: RED, 4 working hours from 10:45
    tasks = {t["element_id"]: (t["role"], t["due"]) for t in hub.tasks(contact)}
    assert tasks == {
        "record_missing_child": ("CE & Missing Team Manager", at("2026-11-23T14:45:00Z")),
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
    assert took(view["path"], "allocated_gw", "missing_brag", "missing_open_contact",
                "missing_open", "missing_assess_start", "missing_split", "missing_join",
                "missing_decision", "missing_assess_end", "missing_assess", "missing_record",
                "missing_decided_end", "missing_pathway", "missing_end")
    assert took(view["path"], "missing_split", "record_missing_child", "missing_join")
    assert took(view["path"], "missing_split", "ra_start", "allocate_social_worker", "assess_risk",
                "hold_strategy_discussion", "draft_plans", "ra_end", "missing_risk_assessment",
                "missing_join")
    assert deadline(hub, contact, "rag_timescale") == (
        at("2026-11-23T10:45:00Z"), at("2026-11-23T14:45:00Z"), at("2026-11-23T14:00:00Z"), True)
    assert sent(hub, contact) == []
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
    # the join waits for the Record of Missing Child form too
    assert open_tasks(hub, contact) == [("record_missing_child", "CE & Missing Team Manager")]
    hub.complete(contact, "record_missing_child")
    hub.complete(contact, "missing_decision", outcome="early_help")
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
    assert took(view["path"], "flag_red", "alert_out_of_hours", "missing_gw", "to_missing_end",
                "missing_received", "allocated_gw")
    assert sent(hub, contact) == [
        ("out_of_hours_alert", "ChildrensOOHS@bcp.invalid", at("2026-11-23T22:00:00Z"))]
    assert open_tasks(hub, contact) == [("missing_brag", MANAGER)]
