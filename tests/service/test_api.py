"""The HTTP API as its clients use it (docs/api.md), over real HTTP on loopback."""

from __future__ import annotations

import itertools
import json
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.service.conftest import Service

CONTACT: dict[str, Any] = {
    "channel": "email",
    "referrer": {"name": "Sam Teacher", "kind": "professional", "agency": "Oakdale School",
                 "email": "s.teacher@oakdale.invalid"},
    "child": {"name": "Alex Example", "dob": "2015-04-01", "postcode": "BH1 1AA"},
    "concerns": "Bruising noticed at school.",
    "immediate_risk": False, "missing": False, "information_request": False,
    "crime_suspected": False, "consent": "given",
}


BORN = itertools.count()
KEYED: dict[str, int] = {}


def a_child_of_its_own(n: int) -> dict[str, Any]:
    """The test contact's child, born in a year of its own: not the same child as any other
    contact's, nor a near match (issue 17: a child named again is a repeat contact)."""
    return {**CONTACT["child"], "dob": (date(2015, 4, 1) - timedelta(days=400 * n)).isoformat()}


def submit(service: Service, who: str = "bso", **headers: str) -> dict[str, Any]:
    """A contact about a child of its own (the same one again for a repeated key)."""
    key = headers.get("Idempotency-Key")
    child = a_child_of_its_own(KEYED.setdefault(key, next(BORN)) if key else next(BORN))
    answer = service.call(who, "POST", "/contacts", json={**CONTACT, "child": child},
                          headers=headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def task_of(service: Service, who: str, instance_id: str) -> dict[str, Any]:
    tasks = service.call(who, "GET", "/tasks").json()
    mine = [t for t in tasks if t["instance_id"] == instance_id]
    assert len(mine) == 1, tasks
    return dict(mine[0])


def test_health_needs_no_token(service: Service) -> None:
    answer = service.call(None, "GET", "/healthz")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer"])
def test_every_other_call_needs_a_valid_token(service: Service, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    answer = service.call(None, "GET", "/tasks", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["errors"][0]["field"] == "authorization"


def test_a_contact_goes_to_verification_and_on_to_brag(service: Service) -> None:
    created = submit(service)
    assert created["received_at"] == "2026-11-23T09:00:00Z"
    verify = task_of(service, "bsio", created["id"])
    assert verify["name"].startswith("Verification and research")
    assert verify["due"] == "2026-11-24T17:15:00Z"  # decision: working_days(1) from Mon 09:00
    assert {f["id"] for f in verify["form"]} >= {"accepted"}
    done = service.call("bsio", "POST", f"/tasks/{verify['id']}/complete",
                        json={"data": {"accepted": True}})
    assert done.status_code == 200 and done.json() == {"instance_id": created["id"],
                                                       "state": "waiting"}
    assert task_of(service, "manager", created["id"])["element_id"] == "brag"


def test_completing_twice_is_a_conflict_and_another_role_is_refused(service: Service) -> None:
    created = submit(service)
    verify = task_of(service, "bsio", created["id"])
    path = f"/tasks/{verify['id']}/complete"
    refused = service.call("manager", "POST", path, json={"data": {"accepted": True}})
    assert refused.status_code == 403
    assert service.call("bsio", "POST", path, json={"data": {"accepted": True}}).status_code == 200
    again = service.call("bsio", "POST", path, json={"data": {"accepted": False}})
    assert again.status_code == 409
    assert "already completed by bsio" in again.json()["errors"][0]["message"]


def test_a_refused_form_names_each_field_and_changes_nothing(service: Service) -> None:
    created = submit(service)
    verify = task_of(service, "bsio", created["id"])
    path = f"/tasks/{verify['id']}/complete"
    answer = service.call("bsio", "POST", path, json={"data": {"accepted": "yes", "colour": 1}})
    assert answer.status_code == 422
    assert {e["field"] for e in answer.json()["errors"]} == {"accepted", "colour"}
    assert service.call("bsio", "POST", path, json={"data": {}}).json()["errors"] == [
        {"field": "accepted", "message": "is required"}]
    assert task_of(service, "bsio", created["id"])["id"] == verify["id"]


def test_a_repeated_idempotency_key_answers_the_same_and_changes_nothing(service: Service) -> None:
    first = submit(service, **{"Idempotency-Key": "contact-42"})
    second = submit(service, **{"Idempotency-Key": "contact-42"})
    assert first == second
    tasks = [t for t in service.call("bsio", "GET", "/tasks").json()]
    assert len(tasks) == 1
    other = submit(service, **{"Idempotency-Key": "contact-43"})
    assert other["id"] != first["id"]
    verify = task_of(service, "bsio", first["id"])
    path = f"/tasks/{verify['id']}/complete"
    key = {"Idempotency-Key": "done-1"}
    one = service.call("bsio", "POST", path, json={"data": {"accepted": True}}, headers=key)
    two = service.call("bsio", "POST", path, json={"data": {"accepted": True}}, headers=key)
    assert one.status_code == two.status_code == 200 and one.json() == two.json()


@pytest.mark.parametrize(("body", "status", "field"), [
    (b"{not json", 400, "body"),
    (json.dumps({**CONTACT, "colour": "red"}).encode(), 422, "colour"),
    (json.dumps({**CONTACT, "channel": "fax"}).encode(), 422, "channel"),
    (json.dumps({k: v for k, v in CONTACT.items() if k != "concerns"}).encode(), 422, "concerns"),
    (json.dumps({**CONTACT, "received_at": "2026-02-30T10:00:00Z"}).encode(), 422, "received_at"),
    (json.dumps({**CONTACT, "child": {"dob": "2015-13-01"}}).encode(), 422, "child.dob"),
    (json.dumps({**CONTACT, "immediate_risk": "yes"}).encode(), 422, "immediate_risk"),
    (json.dumps({**CONTACT, "concerns": "x" * 300_000}).encode(), 413, "body"),
])
def test_bad_contacts_are_refused_at_the_door_naming_the_field(
        service: Service, body: bytes, status: int, field: str) -> None:
    answer = service.call("bso", "POST", "/contacts", content=body,
                          headers={"Content-Type": "application/json"})
    assert answer.status_code == status, answer.text
    assert field in {e["field"] for e in answer.json()["errors"]}
    assert service.call("bsio", "GET", "/tasks").json() == []  # nothing stored half-way


def test_a_missing_postcode_is_not_refused_a_person_checks_it(service: Service) -> None:
    body = {**CONTACT, "child": {"name": "No Postcode"}}
    created = service.call("bso", "POST", "/contacts", json=body)
    assert created.status_code == 201
    task = task_of(service, "bsio", created.json()["id"])
    assert task["element_id"] == "check_address"


def test_reading_an_instance_needs_a_task_in_it_and_is_audited(service: Service) -> None:
    created = submit(service)
    path = f"/instances/{created['id']}"
    assert service.call("early_help", "GET", path).status_code == 403
    assert service.call("early_help", "GET", "/instances/no-such-id").status_code == 403
    assert service.call("admin", "GET", "/instances/no-such-id").status_code == 404
    seen = service.call("bsio", "GET", path)
    assert seen.status_code == 200
    view = seen.json()
    assert view["process"] == "first_response" and view["state"] == "waiting"
    assert [d["name"] for d in view["deadlines"]] == ["decision"]
    audit = service.call("admin", "GET", path).json()["history"]
    assert [h["actor"] for h in audit if h["action"] == "viewed"] == ["bsio", "admin"]


def test_deadlines_due_and_breached_as_the_virtual_clock_moves(service: Service) -> None:
    created = submit(service)
    due = service.call("bsio", "GET", "/deadlines", params={"state": "due"}).json()
    assert due == [{"instance_id": created["id"], "name": "decision",
                    "due": "2026-11-24T17:15:00Z", "done_at": None, "met": None}]
    assert service.call("bsio", "GET", "/deadlines",
                        params={"state": "soon"}).status_code == 422
    assert service.call("manager", "POST", "/clock/advance",
                        json={"by": "PT48H"}).status_code == 403
    moved = service.call("admin", "POST", "/clock/advance", json={"to": "2026-11-25T09:00:00Z"})
    assert moved.json() == {"now": "2026-11-25T09:00:00Z"}
    breached = service.call("bsio", "GET", "/deadlines", params={"state": "breached"}).json()
    assert [(b["name"], b["met"]) for b in breached] == [("decision", False)]
    # since: still open breached deadlines always, those done late only since then
    since = service.call("bsio", "GET", "/deadlines",
                         params={"state": "breached", "since": "2026-11-25T09:00:00Z"}).json()
    assert since == breached
    naive = service.call("bsio", "GET", "/deadlines",
                         params={"state": "breached", "since": "2026-11-25T09:00:00"})
    assert naive.status_code == 422 and "since" in naive.text
    assert service.call("admin", "POST", "/clock/advance", json={"by": "later"}).status_code == 422


def test_metrics_are_counts_only_and_for_admin(service: Service) -> None:
    submit(service)
    assert service.call("bso", "GET", "/metrics").status_code == 403
    text = service.call("admin", "GET", "/metrics").text
    assert 'mash_instances{process="first_response",state="waiting"} 1' in text
    assert 'mash_open_tasks{role="Business Support Information Officer"} 1' in text
    assert "Alex" not in text and "BH1" not in text


def test_a_disagreement_links_to_its_contact_and_never_blocks_it(service: Service) -> None:
    created = submit(service)
    raised = service.call("bsio", "POST", "/disagreements",
                          json={"raised_by": "Dr A. Partner", "about": created["id"],
                                "summary": "We think the threshold is met."})
    assert raised.status_code == 201  # first, professional to professional
    assert task_of(service, "professional", raised.json()["id"])["element_id"] == \
        "resolve_informally"
    escalated = service.call("bsio", "POST", "/disagreements",
                             json={"raised_by": {"name": "Dr A. Partner", "agency": "GP"},
                                   "about": created["id"], "informal_attempt_failed": True})
    assert task_of(service, "stage1", escalated.json()["id"])["element_id"] == "stage_1_response"
    assert task_of(service, "bsio", created["id"])["element_id"] == "verify"
    wrong = service.call("bsio", "POST", "/disagreements",
                         json={"raised_by": "x", "about": "no-such-contact"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "about"


def test_a_role_may_list_only_its_own_tasks(service: Service) -> None:
    assert service.call("bso", "GET", "/tasks",
                        params={"role": "MASH Social Worker"}).status_code == 403
    assert service.call("admin", "GET", "/tasks",
                        params={"role": "MASH Social Worker"}).status_code == 200


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30),
                         lambda inner: st.lists(inner, max_size=4)
                         | st.dictionaries(st.sampled_from(
                             [*CONTACT, "received_at", "name", "kind", "dob", "x"]),
                             inner, max_size=6), max_leaves=20))
def test_no_body_makes_the_contacts_call_fail_with_a_500(service: Service, body: Any) -> None:
    answer = service.call("bso", "POST", "/contacts", json=body)
    assert answer.status_code in (201, 400, 413, 422), answer.text
    if answer.status_code != 201:
        assert answer.json()["errors"]


def test_two_requests_racing_with_one_key_make_one_contact(service: Service) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def send(_: int) -> tuple[int, dict[str, Any]]:
        answer = service.call("bso", "POST", "/contacts", json=CONTACT,
                              headers={"Idempotency-Key": "same-call-twice"})
        return answer.status_code, answer.json()

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, range(4)))
    assert {status for status, _ in answers} == {201}
    assert len({body["id"] for _, body in answers}) == 1
    assert len(service.call("bsio", "GET", "/tasks").json()) == 1
