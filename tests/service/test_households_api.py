"""Issue 17 over real HTTP: a contact naming several children, GET /contacts/{id}, the
siblings' BRAG completed together, and the pages showing the household and repeat contacts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.service.conftest import Service
from tests.service.test_api import CONTACT, a_child_of_its_own, task_of
from tests.service.test_people import signed_in

MANAGER = "manager"
ELLIE = {"name": "Ellie Stone", "dob": "2015-07-14", "postcode": "BH8 8AA"}
TOBY = {"name": "Toby Stone", "dob": "2024-05-01", "postcode": "BH8 8AA"}


def household(service: Service, *children: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {k: v for k, v in CONTACT.items() if k != "child"}
    answer = service.call("bso", "POST", "/contacts",
                          json={**body, "children": list(children), **fields})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def to_brag(service: Service, instance_id: str) -> str:
    verify = task_of(service, "bsio", instance_id)
    done = service.call("bsio", "POST", f"/tasks/{verify['id']}/complete",
                        json={"data": {"accepted": True}})
    assert done.status_code == 200, done.text
    return str(task_of(service, MANAGER, instance_id)["id"])


BRAG = {"consent_decision": "confirmed", "threshold_level": 3}


def test_a_contact_naming_two_children_starts_one_case_each_and_answers_as_before(
        service: Service) -> None:
    made = household(service, ELLIE, TOBY)
    ellie, toby = (c["instance_id"] for c in made["children"])
    assert made["id"] == ellie == made["contact_id"]  # a client written for one child works
    assert [c["position"] for c in made["children"]] == [0, 1]
    for instance_id in (ellie, toby):  # each screened on its own
        assert task_of(service, "bsio", instance_id)["name"].startswith("Verification")

    shown = service.call("admin", "GET", f"/contacts/{toby}")  # any child's id finds it
    assert shown.status_code == 200, shown.text
    contact = shown.json()
    assert contact["id"] == ellie and contact["children_not_shown"] == 0
    assert [(c["position"], c["child"]["name"], c["state"]) for c in contact["children"]] == [
        (0, "Ellie Stone", "waiting"), (1, "Toby Stone", "waiting")]
    assert {d["name"] for d in contact["children"][1]["deadlines"]} == {"decision"}
    assert contact["children"][1]["open_tasks"][0]["role"] == \
        "Business Support Information Officer"
    # a role with no task in it learns nothing; one unknown id is the same answer
    assert service.call("early_help", "GET", f"/contacts/{ellie}").status_code == 403
    assert service.call("early_help", "GET", "/contacts/no-such").status_code == 403
    assert service.call("admin", "GET", "/contacts/no-such").status_code == 404


def test_a_role_sees_only_the_children_whose_cases_it_has_a_task_in(service: Service) -> None:
    ellie, toby = (c["instance_id"] for c in household(service, ELLIE, TOBY)["children"])
    to_brag(service, ellie)  # the manager has a task in Ellie's case only
    shown = service.call(MANAGER, "GET", f"/contacts/{toby}").json()
    assert [c["instance_id"] for c in shown["children"]] == [ellie]
    assert shown["children_not_shown"] == 1


@pytest.mark.parametrize(("children", "field", "message"), [
    ([ELLIE] * 2, "children[1]", "names the same child as children[0]"),
    ([{**ELLIE, "dob": f"2015-07-{d:02d}"} for d in range(1, 22)], "children",
     "names more than 20 children"),
    ([], "children", "must be a list of one or more children"),
    ([{"name": "A", "colour": "red"}], "children[0].colour", "is not a known field"),
])
def test_a_contact_with_a_wrong_list_of_children_is_refused_saying_which(
        service: Service, children: list[dict[str, Any]], field: str, message: str) -> None:
    body = {k: v for k, v in CONTACT.items() if k != "child"}
    answer = service.call("bso", "POST", "/contacts", json={**body, "children": children})
    assert answer.status_code == 422
    assert any(e["field"] == field and message in e["message"]
               for e in answer.json()["errors"]), answer.json()
    both = service.call("bso", "POST", "/contacts", json={**CONTACT, "children": [ELLIE]})
    assert both.status_code == 422 and both.json()["errors"][0]["field"] == "children"


def test_one_manager_rates_the_siblings_together_each_with_their_own_rating(
        service: Service) -> None:
    ellie, toby = (c["instance_id"] for c in household(service, ELLIE, TOBY)["children"])
    brags = [to_brag(service, ellie), to_brag(service, toby)]
    # one refused form: nothing is done
    refused = service.call(MANAGER, "POST", "/tasks/complete-together", json={"tasks": [
        {"id": brags[0], "data": {"rag": "AMBER", **BRAG}},
        {"id": brags[1], "data": {"rag": "RED", "consent_decision": "overridden",
                                  "threshold_level": 3}}]})
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json()["errors"]} == {"tasks[1].consent_override_reasons"}
    assert task_of(service, MANAGER, ellie)["id"] == brags[0]  # still open
    done = service.call(MANAGER, "POST", "/tasks/complete-together", json={"tasks": [
        {"id": brags[0], "data": {"rag": "AMBER", **BRAG}},
        {"id": brags[1], "data": {"rag": "RED", **BRAG, "threshold_level": 4}}]})
    assert done.status_code == 200, done.text
    assert [t["instance_id"] for t in done.json()["tasks"]] == [ellie, toby]
    shown = service.call(MANAGER, "GET", f"/contacts/{ellie}").json()
    assert [c["rag"] for c in shown["children"]] == ["AMBER", "RED"]
    again = service.call(MANAGER, "POST", "/tasks/complete-together",
                         json={"tasks": [{"id": brags[0], "data": {}}]})
    assert again.status_code == 409


def test_tasks_of_two_contacts_or_of_another_role_are_not_completed_together(
        service: Service) -> None:
    one = household(service, ELLIE, TOBY)["children"][0]["instance_id"]
    other = household(service, {**ELLIE, "dob": "2012-01-01"},
                      {**TOBY, "dob": "2022-01-01"})["children"][0]["instance_id"]
    tasks = [to_brag(service, one), to_brag(service, other)]
    answer = service.call(MANAGER, "POST", "/tasks/complete-together", json={"tasks": [
        {"id": t, "data": {"rag": "GREEN", **BRAG}} for t in tasks]})
    assert answer.status_code == 422
    assert "one contact" in answer.json()["errors"][0]["message"]
    foreign = service.call("bsio", "POST", "/tasks/complete-together",
                           json={"tasks": [{"id": tasks[0], "data": {}}]})
    assert foreign.status_code == 403


def test_the_pages_show_the_siblings_and_another_contact_about_the_child(
        service: Service) -> None:
    ellie, toby = (c["instance_id"] for c in household(service, ELLIE, TOBY)["children"])
    task = task_of(service, "bsio", ellie)
    again = service.call("bso", "POST", "/contacts", json={
        **CONTACT, "child": ELLIE, "concerns": "Ellie said she is scared of her stepfather."})
    assert again.status_code == 201
    shown = service.call("bsio", "GET", f"/tasks/{task['id']}").json()  # and over the API
    [note] = shown["another_contacts"]
    assert "scared of her stepfather" in note["text"]
    case = service.call("bsio", "GET", f"/instances/{ellie}").json()
    assert case["contact_id"] == ellie and len(case["another_contacts"]) == 1
    with signed_in(service, "bsio") as browser:
        page = browser.get(f"/inbox/{task['id']}").text
        assert "Another contact about this child was received" in page
        assert "scared of her stepfather" in page
        assert "Toby Stone" in page and f"/case/{toby}" in page
        case = browser.get(f"/case/{ellie}").text
        assert "Later contacts about this child" in case
        assert "waiting for a manager&#39;s decision" in case or \
            "waiting for a manager's decision" in case


def test_a_child_of_its_own_is_no_repeat(service: Service) -> None:
    """The API tests' contacts are each about a child of its own (tests/service/test_api.py)."""
    for n in range(3):
        answer = service.call("bso", "POST", "/contacts",
                              json={**CONTACT, "child": a_child_of_its_own(n + 100)})
        assert task_of(service, "bsio", answer.json()["id"])["name"].startswith("Verification")
