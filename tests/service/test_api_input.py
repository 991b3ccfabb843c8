"""What the API does with bodies it should refuse, and with keys used twice: a 4xx naming the
field in `{"errors": [...]}`, never a 500, never a partial write (issue 15, items 5 and 6)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.store import history, human_tasks, idempotency, instances, notifications
from tests.service.conftest import Service
from tests.service.test_api import CONTACT, submit, task_of


def post(service: Service, who: str, path: str, body: Any, **headers: str) -> Any:
    """POST a body as Python's json module writes it (lone surrogates escaped, NaN as is)."""
    return service.call(who, "POST", path, content=json.dumps(body).encode(),
                        headers={"Content-Type": "application/json", **headers})


def nested(depth: int) -> Any:
    value: Any = "deep"
    for level in range(depth):
        value = {"inner": value} if level % 2 else [value]
    return value


def written(service: Service) -> tuple[Any, ...]:
    """What a refused call must leave as it was."""
    with service.engine.store.reading() as conn:
        counts = [conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
                  for table in (instances, history, idempotency, notifications)]
        tasks = conn.execute(sa.select(human_tasks.c.id, human_tasks.c.status,
                                       human_tasks.c.claimed_by)
                             .order_by(human_tasks.c.id)).all()
        return (*counts, tuple(tasks))


# -- item 5: a key is bound to its call -------------------------------------------------------

def test_a_key_used_on_another_task_is_refused_and_leaves_that_task_open(service: Service) -> None:
    first, second = submit(service), submit(service)
    task_a = task_of(service, "bsio", first["id"])
    task_b = task_of(service, "bsio", second["id"])
    key = {"Idempotency-Key": "complete-once"}
    done = post(service, "bsio", f"/tasks/{task_a['id']}/complete", {"data": {"accepted": True}},
                **key)
    assert done.status_code == 200
    other = post(service, "bsio", f"/tasks/{task_b['id']}/complete", {"data": {"accepted": True}},
                 **key)
    assert other.status_code == 422
    [error] = other.json()["errors"]
    assert error["field"] == "Idempotency-Key"
    assert f"/tasks/{task_a['id']}/complete" in error["message"]
    assert task_of(service, "bsio", second["id"])["id"] == task_b["id"]  # B still open
    # The same call again is still answered as the first time.
    again = post(service, "bsio", f"/tasks/{task_a['id']}/complete", {"data": {"accepted": True}},
                 **key)
    assert again.status_code == 200 and again.json() == done.json()


def test_a_key_reused_with_another_body_is_refused_saying_so(service: Service) -> None:
    key = {"Idempotency-Key": "contact-7"}
    created = post(service, "bso", "/contacts", CONTACT, **key)
    assert created.status_code == 201
    before = written(service)
    changed = post(service, "bso", "/contacts", {**CONTACT, "concerns": "Something else."}, **key)
    assert changed.status_code == 422
    assert changed.json()["errors"][0]["field"] == "Idempotency-Key"
    assert "different body" in changed.json()["errors"][0]["message"]
    assert written(service) == before
    # A key is the token's own: another token's identical key is a new call.
    assert post(service, "bsio", "/contacts", CONTACT, **key).json()["id"] != created.json()["id"]
    assert post(service, "bso", "/disagreements", {"raised_by": "x"}, **key).status_code == 422


# -- item 6: no body makes a 500 --------------------------------------------------------------

BAD_BODIES: list[tuple[str, str, Any, int, str]] = [
    ("surrogate in the concerns", "/contacts", {**CONTACT, "concerns": "bruise \ud800"}, 422,
     "concerns"),
    ("surrogate in a key", "/contacts", {**CONTACT, "\udfff": 1}, 422, "body"),
    ("surrogate in raised_by", "/disagreements", {"raised_by": {"name": "A \ud800"}}, 422,
     "raised_by.name"),
    ("an integer beyond 64 bits", "/disagreements", {"raised_by": {"name": 2**64}}, 422,
     "raised_by.name"),
    ("400-deep nesting in raised_by", "/disagreements", {"raised_by": nested(400)}, 422,
     "raised_by"),
    ("received_at in year 1", "/contacts", {**CONTACT, "received_at": "0001-01-01T00:30:00+01:00"},
     422, "received_at"),
    ("received_at in year 9999", "/contacts",
     {**CONTACT, "received_at": "9999-12-31T23:30:00-01:00"}, 422, "received_at"),
    ("NaN", "/contacts", {**CONTACT, "immediate_risk": float("nan")}, 422, "immediate_risk"),
    ("informal_attempt_failed not a boolean", "/disagreements",
     {"raised_by": "Dr A", "informal_attempt_failed": "yes"}, 422, "informal_attempt_failed"),
    ("informal_attempt_failed as 1", "/disagreements",
     {"raised_by": "Dr A", "informal_attempt_failed": 1}, 422, "informal_attempt_failed"),
    ("a raiser's name longer than a contact's", "/disagreements", {"raised_by": "x" * 501}, 422,
     "raised_by.name"),
    ("an unknown raised_by field", "/disagreements",
     {"raised_by": {"name": "Dr A", "shoe_size": "9"}}, 422, "raised_by.shoe_size"),
    ("a summary longer than the concerns may be", "/disagreements",
     {"raised_by": "Dr A", "summary": "x" * 20_001}, 422, "summary"),
    ("about longer than an id", "/disagreements", {"raised_by": "Dr A", "about": "x" * 37}, 422,
     "about"),
    ("a task answer beyond 64 bits", "/tasks/TASK/complete", {"data": {"accepted": -(2**70)}}, 422,
     "data.accepted"),
]


@pytest.mark.parametrize(("path", "body", "status", "field"),
                         [b[1:] for b in BAD_BODIES], ids=[b[0] for b in BAD_BODIES])
def test_bodies_that_broke_the_service_are_refused_naming_the_field(
        service: Service, path: str, body: Any, status: int, field: str) -> None:
    created = submit(service)
    path = path.replace("TASK", task_of(service, "bsio", created["id"])["id"])
    before = written(service)
    answer = post(service, "bsio", path, body)
    assert answer.status_code == status, answer.text
    assert field in {e["field"] for e in answer.json()["errors"]}, answer.json()
    assert written(service) == before


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("GET", "/no-such-call", None, 404),
    ("DELETE", "/contacts", None, 405),
    ("POST", "/contacts", b"\xff\xfe not utf-8", 400),
    ("POST", "/contacts", b"[" * 100_000, 400),
    ("POST", "/contacts", b"1" * 5000, 400),
    ("POST", "/disagreements", b"", 422),
    ("POST", "/tasks/x/complete", b"{\"data\": ", 400),
])
def test_every_refusal_has_the_errors_shape(service: Service, method: str, path: str,
                                            body: bytes | None, status: int) -> None:
    answer = service.call("bso", method, path, content=body,
                          headers={"Content-Type": "application/json"})
    assert answer.status_code == status, answer.text
    errors = answer.json()["errors"]
    assert errors and all(set(e) == {"field", "message"} for e in errors)
    assert "detail" not in answer.json()


def test_a_web_form_of_more_fields_than_any_page_sends_is_refused(service: Service) -> None:
    from tests.service.test_people import signed_in

    created = submit(service)
    task = task_of(service, "bsio", created["id"])
    with signed_in(service, "bsio") as browser:
        form = "&".join(f"f{i}=x" for i in range(600))
        answer = browser.post(f"/inbox/{task['id']}", content=form,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert answer.status_code == 413
        assert "too large" in answer.text
    assert task_of(service, "bsio", created["id"])["id"] == task["id"]


# Random JSON with what broke the service mixed in: lone surrogates, huge numbers, NaN,
# deep nesting, instants in year 1 and 9999, the names of real fields.
FIELDS = [*CONTACT, "received_at", "raised_by", "about", "summary", "informal_attempt_failed",
          "data", "accepted", "name", "child", "to", "by", "dob"]
TEXT = (st.text(max_size=12)
        | st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1,
                  max_size=2)
        | st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
                           "2026-11-23T09:00:00Z", "PT4H", "P9999999Y", "2026-02-30", ""]))
LEAF = (st.none() | st.booleans() | st.floats(allow_nan=True, allow_infinity=True)
        | st.integers() | st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**40]) | TEXT)
JSON = st.recursive(LEAF, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(FIELDS) | TEXT, inner, max_size=5),
                    max_leaves=25)
DEEP = st.integers(min_value=17, max_value=400).map(nested)
BODY = (JSON | DEEP
        | st.builds(lambda field, value: {**CONTACT, field: value}, st.sampled_from(FIELDS),
                    JSON | DEEP)
        | st.builds(lambda raised_by, summary: {"raised_by": raised_by, "summary": summary},
                    JSON | DEEP, TEXT)
        | st.builds(lambda answer: {"data": {"accepted": answer}}, JSON | DEEP)
        | st.builds(lambda to, by: {"to": to, "by": by}, TEXT | JSON, TEXT | JSON))

ENDPOINTS = ["/contacts", "/disagreements", "/tasks/TASK/complete", "/tasks/TASK/claim",
             "/tasks/TASK/release", "/clock/advance", "/deploy"]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_no_body_on_any_post_makes_a_500_or_a_partial_write(service: Service, path: str) -> None:
    created = submit(service)
    path = path.replace("TASK", task_of(service, "bsio", created["id"])["id"])
    who = "admin" if path in ("/clock/advance", "/deploy") else "bsio"

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=BODY)
    def attempt(body: Any) -> None:
        before = written(service)
        answer = post(service, who, path, body)
        assert answer.status_code < 500, answer.text
        if answer.status_code >= 400:
            assert answer.json()["errors"]
            assert written(service) == before

    attempt()
