"""Moving a case along through the API, to set the scene for a page: the steps before the one
a test does in the browser, answered plausibly from each task's declared form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.web.service import Service

# Answers that take a contact down the main road: in BCP, not open to social care, accepted.
ANSWERS: dict[str, Any] = {
    "in_bcp": True, "accepted": True, "approved": True, "nfa_confirmed": False,
    "information_request": False, "resolved": True, "strategy_discussion": False,
    "rag": "RED", "consent_decision": "confirmed", "threshold_level": 3,
    "outcome": "s17", "contact_reference": "CT-0001", "social_worker": "Sam Worker",
}


def answer(field: dict[str, Any]) -> Any:
    """A plausible answer to one declared form field."""
    if field["id"] in ANSWERS:
        return ANSWERS[field["id"]]
    kind = field.get("type", "string")
    if kind == "boolean":
        return True
    if kind == "long":
        return field.get("min", 1)
    if kind == "date":
        return "2026-11-23"
    if kind == "enum":
        first = field["options"][0]["id"]
        return [first] if field.get("multiple") else first
    return "Recorded by the page tests."


def fill(form: list[dict[str, Any]]) -> dict[str, Any]:
    return {f["id"]: answer(f) for f in form if f.get("required") or f.get("required_when")
            or f["id"] in ANSWERS}


def instance(service: Service, admin: str, instance_id: str) -> dict[str, Any]:
    status, view = service.call("GET", f"/instances/{instance_id}", admin)
    assert status == 200, view
    return view


def drive(service: Service, admin: str, instance_id: str,
          until: Callable[[dict[str, Any]], bool], steps: int = 12) -> dict[str, Any]:
    """Complete the case's open tasks one at a time (the oldest first) until `until` holds
    of the instance view; returns that view."""
    for _ in range(steps):
        view = instance(service, admin, instance_id)
        if until(view):
            return view
        assert view["open_tasks"], f"the case stopped ({view['state']}) before reaching the " \
                                   f"step wanted; path: {view['path']}"
        task = view["open_tasks"][0]
        status, done = service.call("POST", f"/tasks/{task['id']}/complete", admin,
                                    {"data": fill(task["form"])})
        assert status == 200, (task["element_id"], done)
    raise AssertionError(f"not reached in {steps} steps")


def waiting_at(element_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda view: any(t["element_id"] == element_id for t in view["open_tasks"])


def deadline_running_before(instant: str) -> Callable[[dict[str, Any]], bool]:
    """A deadline is running that falls due before `instant` (ISO, in UTC with Z)."""
    return lambda view: any(d["done_at"] is None and not d["cancelled"] and d["due"] < instant
                            for d in view["deadlines"])
