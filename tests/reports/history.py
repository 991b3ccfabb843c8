"""A known week at the front door, built on the virtual clock through the real diagrams, for
the management information tests to check every figure against (worked out by hand below).

Mon 23 Nov 2026 to Wed 2 Dec 2026, GMT (London time = UTC). Hub hours Mon–Thu 08:30–17:15,
Fri 08:30–16:45. "Now" is Wed 2 Dec 12:00. The period asked about is Mon 23 – Sun 29 Nov.

| contact | received (London)  | channel | what happens                                        |
| ------- | ------------------ | ------- | --------------------------------------------------- |
| H       | Sun 22 Nov 23:59   | email   | before the period; verify left open                 |
| A       | Mon 23 Nov 10:00   | email   | re-referral (team Assessment Team 1); RED; s47;     |
|         |                    |         | RAG timescale 15:15, decided 16:15: 1 h late        |
| B       | Mon 23 Nov 16:00   | phone   | public referrer; GREEN opened Tue 10:00 (72 h: Fri  |
|         |                    |         | 10:00), decided Mon 30 10:00: 72 elapsed h late     |
| C       | Tue 24 Nov 09:00   | portal  | AMBER opened Tue 10:00 (16 working h: Wed 25 17:15),|
|         |                    |         | still with the Pod ATM: 38 working h late so far    |
| D       | Wed 25 Nov 10:00   | email   | not accepted, NFA confirmed 11:00                   |
| F       | Sat 28 Nov 10:00   | phone   | verify left open: decision due Tue 1 Dec 17:15      |
| G       | Wed 2 Dec 11:00    | email   | after the period; verify open                       |

A disagreement about A is raised Tue 24 Nov 10:00; its Stage 1 (due Tue 1 Dec 17:15) is not
answered, so it moves on to Stage 2 then (missed, 0 h late); Stage 2 is answered Wed 2 Dec
09:30 (due Tue 8 Dec 17:15: met).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.pathways.harness import Hub

MANAGER = "MASH Team Manager / Early Help Decision Maker"
NOW = "2026-12-02T12:00:00Z"
PERIOD = ("2026-11-23", "2026-11-29")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class Week:
    hub: Hub
    ids: dict[str, str]
    disagreement: str


def _referrer(kind: str = "professional") -> dict[str, Any]:
    if kind == "public":
        return {"name": "Pat Public", "kind": "public", "agency": "", "email": "pat@home.invalid"}
    return {"name": "Sam Teacher", "kind": "professional", "agency": "Oakdale School",
            "email": "s.teacher@oakdale.invalid"}


def build(database_url: str) -> Week:
    hub = Hub(database_url, start="2026-11-23T09:00:00Z", case_records=[
        {"child_id": "C1", "status": "closed", "closed_on": "2026-10-20",
         "team": "Assessment Team 1"}])
    ids: dict[str, str] = {}

    def receive(name: str, when: str, channel: str, **changes: Any) -> None:
        if at(when) > hub.now():
            hub.advance(to=when)
        ids[name] = hub.contact(received_at=when, channel=channel, **changes)

    def step(name: str, element: str, when: str, **values: Any) -> None:
        hub.advance(to=when)
        hub.complete(ids[name], element, **values)

    receive("H", "2026-11-22T23:59:00Z", "email", child={"dob": "2012-01-01"})
    receive("A", "2026-11-23T10:00:00Z", "email", child={"id": "C1", "dob": "2015-04-01"})
    step("A", "verify", "2026-11-23T10:30:00Z", accepted=True)
    step("A", "brag", "2026-11-23T11:00:00Z", rag="RED", threshold_level=4,
         consent_decision="confirmed")
    step("A", "open_contact_task", "2026-11-23T11:15:00Z", contact_reference="MOS-A")
    step("A", "allocate_social_worker", "2026-11-23T11:30:00Z", social_worker="Bo Worker")
    step("A", "assess_risk", "2026-11-23T14:00:00Z", strategy_discussion=False,
         share_with_partners=False, risk_summary="Done.")
    step("A", "draft_plans", "2026-11-23T16:00:00Z", danger_statement="…", safety_plan="…")
    receive("B", "2026-11-23T16:00:00Z", "phone", referrer=_referrer("public"),
            child={"dob": "2026-05-01"})
    step("A", "decision", "2026-11-23T16:15:00Z", outcome="s47", reasons="Harm likely.")
    step("B", "verify", "2026-11-24T09:00:00Z", accepted=True)
    receive("C", "2026-11-24T09:00:00Z", "portal", child={"dob": "2010-11-24"})
    step("C", "verify", "2026-11-24T09:30:00Z", accepted=True)
    step("B", "brag", "2026-11-24T10:00:00Z", rag="GREEN", threshold_level=2,
         consent_decision="confirmed")
    step("C", "brag", "2026-11-24T10:00:00Z", rag="AMBER", threshold_level=3,
         consent_decision="confirmed")
    step("B", "open_contact_task", "2026-11-24T10:00:00Z", contact_reference="MOS-B")
    step("C", "open_contact_task", "2026-11-24T10:00:00Z", contact_reference="MOS-C")
    hub.advance(to="2026-11-24T10:00:00Z")
    disagreement = hub.start("escalation", {
        "summary": "We disagree.", "informal_attempt_failed": True, "about": ids["A"],
        "raised_by": {"name": "Pat Nurse", "agency": "Health", "email": "p.nurse@health.invalid"},
    }, about=ids["A"])
    receive("D", "2026-11-25T10:00:00Z", "email", child={"dob": None})
    step("D", "verify", "2026-11-25T10:30:00Z", accepted=False)
    step("D", "nfa_oversight", "2026-11-25T11:00:00Z", nfa_confirmed=True, reasons="Duplicate.")
    step("B", "early_help_research", "2026-11-26T10:00:00Z", recommendations="Family support.")
    receive("F", "2026-11-28T10:00:00Z", "phone", child={"dob": "2022-11-29"})
    step("B", "decision", "2026-11-30T10:00:00Z", outcome="early_help", reasons="Support.")
    hub.advance(to="2026-12-02T09:30:00Z")
    [stage] = [t for t in hub.tasks(disagreement) if t["element_id"] == "stage_2_response"]
    hub.engine.complete(stage["id"], {"resolved": True, "reasons": "Agreed."}, "tester")
    receive("G", "2026-12-02T11:00:00Z", "email")
    hub.advance(to=NOW)
    return Week(hub, ids, disagreement)
