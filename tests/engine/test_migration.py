"""Migration (Camunda 7's migration plans): an instance stopped by an incident on v1 moves to
v2, which fixes the diagram, and completes; waiting tasks keep their ids and take the new
element; a plan that leaves a waiting element unmapped is refused, listing it; deadlines keep
their due instants unless the owner asks to re-arm them; the move is in the history."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine import incidents, migration
from engine.cli import main
from engine.clock import SystemClock
from engine.service import Engine
from engine.store import Store
from tests.engine.conftest import DIAGRAMS
from tests.pathways.harness import Hub

REVIEW = (DIAGRAMS / "review.bpmn").read_text()
BROKEN = REVIEW.replace("<bpmn:conditionExpression>approved</bpmn:conditionExpression>",
                        "<bpmn:conditionExpression>approved / 0 == 1</bpmn:conditionExpression>")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def hub_with(database_url: str, tmp_path: Path, text: str) -> tuple[Hub, Path]:
    folder = tmp_path / "processes"
    folder.mkdir()
    (folder / "review.bpmn").write_text(text)
    return Hub(database_url, start="2026-11-23T10:00:00+00:00", processes=folder), folder


def test_an_incident_on_v1_is_fixed_by_moving_the_instance_to_v2(
        database_url: str, tmp_path: Path) -> None:
    hub, folder = hub_with(database_url, tmp_path, BROKEN)
    instance = hub.start("review", {})
    task = hub.task(instance, "review_task")
    hub.complete(instance, "review_task", by="alice", approved=True)
    assert hub.view(instance)["state"] == "incident"
    assert hub.engine.retry(instance, "operator") == "incident"  # v1 fails for ever
    with hub.store.reading() as conn:
        [shown] = incidents.listed(conn, hub.now(), incidents.Settings())
    assert (shown["id"], shown["element_id"], shown["version"]) == (instance, "approved_gw", 1)
    assert "division by zero" in shown["error"] and shown["actions"] == ["retry", "migrate"]
    (folder / "review.bpmn").write_text(REVIEW)  # the owner fixes the condition
    assert [r.version for r in hub.engine.deploy()] == [2]
    plan = migration.Plan("review", 1, 2)
    report = migration.migrate(hub.engine, plan, actor="ops")
    assert [(m.instance_id, m.state) for m in report.moved] == [(instance, "completed")]
    view = hub.view(instance)
    assert (view["version"], view["state"], view["outcome"]) == (2, "completed", "approved")
    assert view["path"] == ["start", "check", "review_task", "approved_gw", "end_approved"]
    [moved] = [h for h in view["history"] if h["action"] == "migrated"]
    assert moved["actor"] == "ops"
    assert moved["changes"] == {"from_version": 1, "to_version": 2, "instructions": {},
                                "rearmed": []}
    assert view["deadlines"][0]["met"] is True  # done at 10:00, due 14:00
    with hub.store.reading() as conn:
        assert incidents.listed(conn, hub.now(), incidents.Settings()) == []
    assert task["id"] not in {t["id"] for t in hub.tasks()}
    hub.close()


RENAMED = REVIEW.replace('id="review_task"', 'id="review_step"').replace(
    'attachedToRef="review_task"', 'attachedToRef="review_step"').replace(
    'sourceRef="review_task"', 'sourceRef="review_step"').replace(
    'targetRef="review_task"', 'targetRef="review_step"').replace(
    "<bpmn:flowNodeRef>review_task</bpmn:flowNodeRef>",
    "<bpmn:flowNodeRef>review_step</bpmn:flowNodeRef>").replace(
    "Review the request", "Review the request (v2)").replace(
    "working_hours(4)", "working_hours(2)")


def test_a_waiting_task_with_no_element_in_v2_is_refused_until_mapped(
        database_url: str, tmp_path: Path) -> None:
    hub, folder = hub_with(database_url, tmp_path, REVIEW)
    keep = hub.start("review", {})
    rearm = hub.start("review", {})
    task = hub.task(keep, "review_task")
    (folder / "review.bpmn").write_text(RENAMED)
    hub.engine.deploy()
    with pytest.raises(migration.PlanError) as refused:
        migration.migrate(hub.engine, migration.Plan("review", 1, 2))
    assert sorted(refused.value.problems) == sorted(
        f'instance {i} is at review_task "Review the request", which the target version does '
        "not have: give an instruction review_task=TARGET_ELEMENT" for i in (keep, rearm))
    assert hub.view(keep)["version"] == 1  # nothing moved
    for bad, says in ((migration.Plan("review", 1, 2, {"nothing": "review_step"}),
                       "nothing is not an element of review v1"),
                      (migration.Plan("review", 1, 2, {"review_task": "end_approved"}),
                       "review_task (UserTask) cannot become end_approved (EndEvent)"),
                      (migration.Plan("review", 1, 7), "review has no version 7")):
        with pytest.raises(migration.PlanError, match=says.replace("(", r"\(").replace(")", r"\)")):
            migration.migrate(hub.engine, bad)
    hub.advance(to="2026-11-23T11:00:00Z")
    mapping = {"review_task": "review_step"}
    migration.migrate(hub.engine, migration.Plan("review", 1, 2, mapping), [keep])
    migration.migrate(hub.engine, migration.Plan("review", 1, 2, mapping,
                                                 frozenset({"review_deadline"})), [rearm])
    moved = hub.task(keep, "review_step")
    assert moved["id"] == task["id"] and moved["name"] == "Review the request (v2)"
    # The deadline keeps its instant (4 working hours from 10:00), unless re-armed under v2's
    # rule (2 working hours from the move at 11:00).
    assert hub.deadline(keep, "review")["due"] == at("2026-11-23T14:00:00Z")
    assert hub.deadline(rearm, "review")["due"] == at("2026-11-23T13:00:00Z")
    assert hub.task(rearm, "review_step")["due"] == at("2026-11-23T13:00:00Z")
    hub.advance(to="2026-11-23T13:30:00Z")
    assert hub.deadline(rearm, "review")["met"] is False
    assert hub.deadline(keep, "review")["met"] is None
    hub.complete(keep, "review_step", approved=True)
    view = hub.view(keep)
    assert (view["state"], view["outcome"], view["version"]) == ("completed", "approved", 2)
    assert view["path"][-3:] == ["review_step", "approved_gw", "end_approved"]
    assert hub.deadline(keep, "review")["met"] is True
    hub.close()


def test_mash_migrate_and_mash_incidents(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "processes"
    folder.mkdir()
    (folder / "review.bpmn").write_text(BROKEN)
    monkeypatch.setenv("MASH_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setenv("MASH_PROCESSES", str(folder))
    (tmp_path / "start.json").write_text("{}")
    (tmp_path / "done.json").write_text(json.dumps({"approved": True}))
    assert main(["deploy"]) == 1  # `mash deploy` dry-runs the diagram and finds the fault...
    assert "division by zero" in capsys.readouterr().err
    # ...which a version deployed before that check (or by POST /deploy) still has.
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.create()
    Engine(store, SystemClock(), folder).deploy()
    store.dispose()
    assert main(["start", "review", "--data", str(tmp_path / "start.json"), "--json"]) == 0
    started = json.loads(capsys.readouterr().out)
    instance, [task] = started["id"], started["open_tasks"]
    assert main(["incidents"]) == 0
    assert capsys.readouterr().out == "no incidents\n"
    assert main(["complete", task["id"], "--data", str(tmp_path / "done.json"), "--by", "al"]) == 0
    capsys.readouterr()
    assert main(["incidents"]) == 0
    shown = capsys.readouterr().out
    assert f"instance {instance}  review v1  at approved_gw \"Approved?\"" in shown
    assert "division by zero" in shown and f"mash retry {instance}" in shown
    assert main(["retry", instance]) == 0
    assert capsys.readouterr().out.strip() == f"{instance} incident"
    assert main(["migrate", "--instance", instance, "--from-version", "1", "--to", "2"]) == 1
    assert "review has no version 2" in capsys.readouterr().err
    (folder / "review.bpmn").write_text(REVIEW)
    assert main(["deploy"]) == 0
    capsys.readouterr()
    assert main(["migrate", "--process", "review", "--from-version", "1", "--to", "2",
                 "--dry-run"]) == 0
    assert "1 instance(s) of review v1 would move to v2" in capsys.readouterr().out
    assert main(["migrate", "--instance", instance, "--from-version", "1", "--to", "2"]) == 0
    assert capsys.readouterr().out.strip() == f"{instance} moved to v2: completed"
    assert main(["incidents", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["show", instance]) == 0
    assert "migrated" in capsys.readouterr().out


BAD_TIMER = REVIEW.replace("<bpmn:timeDate>working_hours(4)</bpmn:timeDate>",
                           "<bpmn:timeDate>working_hours(4, since=review_from)</bpmn:timeDate>")
BAD_OUTCOME = REVIEW.replace('value="approved" />', 'value="${verdict}" />')


def test_a_timer_that_cannot_be_set_is_an_incident_kept_waiting_until_fixed(
        database_url: str, tmp_path: Path) -> None:
    # The timer's value comes from the contact's data; data the validator could not foresee
    # ("soon" is no instant) stops the instance at the timer, not the whole command.
    hub, folder = hub_with(database_url, tmp_path, BAD_TIMER)
    instance = hub.start("review", {"review_from": "soon"})
    view = hub.view(instance)
    assert view["state"] == "incident"
    assert "'soon' is not an ISO 8601 instant" in view["error"]
    assert hub.engine.retry(instance, "operator") == "incident"  # the same data fails again
    assert hub.view(instance)["deadlines"] == []  # the timer was never armed, nor fired
    (folder / "review.bpmn").write_text(REVIEW)  # v2 times the review from now
    hub.engine.deploy()
    report = migration.migrate(hub.engine, migration.Plan("review", 1, 2), actor="ops")
    assert [(m.instance_id, m.state) for m in report.moved] == [(instance, "waiting")]
    [deadline] = hub.view(instance)["deadlines"]
    assert (deadline["due"], deadline["met"]) == (at("2026-11-23T14:00:00Z"), None)
    hub.complete(instance, "review_task", approved=True)
    assert hub.view(instance)["outcome"] == "approved"
    hub.close()


def test_an_outcome_that_cannot_be_worked_out_is_an_incident_retried_after_a_fix(
        database_url: str, tmp_path: Path) -> None:
    hub, folder = hub_with(database_url, tmp_path, BAD_OUTCOME)
    instance = hub.start("review", {})
    hub.complete(instance, "review_task", approved=True)  # answers 200: the work is recorded
    view = hub.view(instance)
    assert view["state"] == "incident" and view["outcome"] is None
    assert "verdict" in view["error"]
    assert hub.engine.retry(instance, "operator") == "incident"
    (folder / "review.bpmn").write_text(REVIEW)
    hub.engine.deploy()
    report = migration.migrate(hub.engine, migration.Plan("review", 1, 2), actor="ops")
    assert [(m.instance_id, m.state) for m in report.moved] == [(instance, "completed")]
    assert hub.view(instance)["outcome"] == "approved"
    hub.close()
