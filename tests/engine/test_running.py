"""Starting, completing, timers and deadlines on a small diagram, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.service import Conflict, Forbidden, FormRejected
from tests.engine.conftest import CALLS, DIAGRAMS, OUTAGE
from tests.pathways.harness import Hub


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_start_runs_to_the_first_person(review: Hub) -> None:
    instance = review.start("review", {"case": "x"})
    view = review.view(instance)
    assert view["state"] == "waiting"
    assert view["path"] == ["start", "check"]
    assert view["flows"] == ["f1"]
    [task] = view["open_tasks"]
    assert task["element_id"] == "review_task"
    assert task["role"] == "Reviewer"
    assert task["due"] == at("2026-11-23T14:00:00Z")  # working_hours(4) from Mon 10:00


def test_completing_records_the_path_outcome_and_a_met_deadline(review: Hub) -> None:
    instance = review.start("review", {})
    review.advance(to="2026-11-23T13:00:00Z")
    review.complete(instance, "review_task", by="alice", approved=True)
    view = review.view(instance)
    assert view["state"] == "completed"
    assert view["outcome"] == "approved"
    assert view["path"] == ["start", "check", "review_task", "approved_gw", "end_approved"]
    assert view["flows"] == ["f1", "f2", "f3", "f4"]
    [deadline] = view["deadlines"]
    assert deadline["name"] == "review"
    assert deadline["started_at"] == at("2026-11-23T10:00:00Z")
    assert deadline["due"] == at("2026-11-23T14:00:00Z")
    assert deadline["done_at"] == at("2026-11-23T13:00:00Z")
    assert deadline["met"] is True
    completed = [h for h in view["history"] if h["element_id"] == "review_task"]
    assert completed[0]["actor"] == "alice"
    assert completed[0]["changes"] == {"approved": True, "reasons": None}


def test_a_missed_deadline_fires_at_its_instant_and_work_carries_on(review: Hub) -> None:
    instance = review.start("review", {})
    review.advance(to="2026-11-24T09:00:00Z")
    view = review.view(instance)
    [deadline] = view["deadlines"]
    assert deadline["breached_at"] == at("2026-11-23T14:00:00Z")
    assert deadline["met"] is False and deadline["done_at"] is None
    assert [n["kind"] for n in view["notifications"]] == ["deadline_breach"]
    assert view["open_tasks"][0]["element_id"] == "review_task"
    review.complete(instance, "review_task", approved=False, reasons="not enough detail")
    view = review.view(instance)
    assert view["outcome"] == "rejected"
    assert view["deadlines"][0]["done_at"] == at("2026-11-24T09:00:00Z")
    assert view["deadlines"][0]["met"] is False


def test_the_form_is_checked_against_the_diagram(review: Hub) -> None:
    instance = review.start("review", {})
    with pytest.raises(FormRejected) as refused:
        review.complete(instance, "review_task", approved=False)
    assert refused.value.errors == [{"field": "reasons", "message": "is required"}]
    with pytest.raises(FormRejected) as refused:
        review.complete(instance, "review_task", approved="yes", colour="red")
    fields = {e["field"] for e in refused.value.errors}
    assert fields == {"approved", "colour"}
    assert review.view(instance)["state"] == "waiting"  # nothing half-applied


def test_two_people_completing_one_task_one_wins(review: Hub) -> None:
    instance = review.start("review", {})
    task = review.task(instance, "review_task")
    review.engine.complete(task["id"], {"approved": True}, "alice")
    with pytest.raises(Conflict, match="already completed by alice"):
        review.engine.complete(task["id"], {"approved": False, "reasons": "x"}, "bob")
    assert review.view(instance)["outcome"] == "approved"


def test_a_task_of_another_role_is_refused(review: Hub) -> None:
    instance = review.start("review", {})
    task = review.task(instance, "review_task")
    with pytest.raises(Forbidden):
        review.engine.complete(task["id"], {"approved": True}, "eve", roles={"Somebody else"})
    review.engine.complete(task["id"], {"approved": True}, "rita", roles={"Reviewer"})


def test_a_failing_handler_is_an_incident_that_retry_resumes(review: Hub) -> None:
    OUTAGE.add("test_check")
    try:
        instance = review.start("review", {})
        view = review.view(instance)
        assert view["state"] == "incident"
        assert "the check service is down" in view["error"]
        assert view["open_tasks"] == []
        assert view["notifications"] == []  # what the failed handler queued is gone
        calls = CALLS.count("check")
        review.advance(by=timedelta(minutes=3))  # retried automatically, with back-off
        assert CALLS.count("check") == calls + 1
        assert review.view(instance)["state"] == "incident"
    finally:
        OUTAGE.discard("test_check")
    # the service is back: an operator retries and the instance carries on from that step
    assert review.engine.retry(instance, "operator") == "waiting"
    view = review.view(instance)
    assert view["open_tasks"][0]["element_id"] == "review_task"
    assert view["path"] == ["start", "check"]
    assert [h["action"] for h in view["history"]].count("incident") == 2


def test_an_expression_that_fails_at_run_time_is_an_incident_with_nothing_half_done(
        database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "processes"
    folder.mkdir()
    text = (DIAGRAMS / "review.bpmn").read_text().replace(
        "<bpmn:conditionExpression>approved</bpmn:conditionExpression>",
        "<bpmn:conditionExpression>approved / 0 == 1</bpmn:conditionExpression>")
    (folder / "review.bpmn").write_text(text)
    hub = Hub(database_url, start="2026-11-23T10:00:00+00:00", processes=folder)
    instance = hub.start("review", {})
    hub.complete(instance, "review_task", by="alice", approved=True)
    view = hub.view(instance)
    assert view["state"] == "incident"
    assert "division by zero" in view["error"]
    assert view["path"] == ["start", "check", "review_task"]  # the person's work is kept
    assert view["outcome"] is None and view["open_tasks"] == []
    hub.close()
