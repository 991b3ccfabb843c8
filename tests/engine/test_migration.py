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
    assert main(["migrate", "--instance", instance, "--from-version", "1", "--to", "2",
                 "--map", "approved_gw=approved_gw", "--by", "ops"]) == 0
    assert capsys.readouterr().out.strip() == f"{instance} moved to v2: completed"
    assert main(["incidents", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["show", instance]) == 0
    [moved] = [line for line in capsys.readouterr().out.splitlines() if " migrated " in line]
    assert moved.split()[-6:] == ["ops", "migrated", "v1", "->", "v2", "approved_gw=approved_gw"]


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


def test_a_plan_that_cannot_apply_is_refused_naming_what_to_do(
        database_url: str, tmp_path: Path) -> None:
    hub, folder = hub_with(database_url, tmp_path, BAD_OUTCOME)
    past_review = hub.start("review", {})  # its review done: waiting at no timer
    hub.complete(past_review, "review_task", approved=True)
    finished = hub.start("review", {})
    hub.complete(finished, "review_task", approved=True)  # ends too (in incident)...
    waiting = hub.start("review", {})
    (folder / "review.bpmn").write_text(REVIEW)
    hub.engine.deploy()
    migration.migrate(hub.engine, migration.Plan("review", 1, 2), [finished])
    assert hub.view(finished)["state"] == "completed"  # ...and, moved, completes on v2

    def refused(plan: migration.Plan, instance_ids: list[str] | None = None) -> list[str]:
        with pytest.raises(migration.PlanError) as raised:
            migration.migrate(hub.engine, plan, instance_ids)
        return raised.value.problems

    rearm = frozenset({"review_deadline"})
    assert refused(migration.Plan("review", 1, 2, rearm=rearm), [past_review, waiting]) == [
        f"instance {past_review} is not waiting at review_deadline of review v2: only a "
        "timer an instance waits at can be re-armed; leave out --rearm review_deadline"]
    assert refused(migration.Plan("review", 1, 1)) == [
        "the source and target versions are the same (review v1): give --to another version"]
    assert refused(migration.Plan("review", 1, 3)) == [
        "review has no version 3: deploy it first (mash deploy); see `mash versions`"]
    assert refused(migration.Plan("review", 2, 1), [finished]) == [
        f"instance {finished} has finished: a finished instance stays on the version it ran "
        "(v2)"]
    assert refused(migration.Plan("review", 2, 1), [waiting, "nobody"]) == [
        f"instance {waiting} runs review v1, not v2: give --from-version 1",
        "there is no instance nobody"]
    assert refused(migration.Plan("review", 1, 2, rearm=frozenset({"end_approved"}))) == [
        "end_approved is not a timer of review v2; only a timer can be re-armed"]
    assert {hub.view(i)["version"] for i in (past_review, waiting)} == {1}  # nothing moved
    # All the instances of v1, one of them waiting at the timer: it is re-armed there only.
    hub.advance(to="2026-11-23T11:00:00Z")
    report = migration.migrate(hub.engine, migration.Plan("review", 1, 2, rearm=rearm))
    assert sorted(m.instance_id for m in report.moved) == sorted([past_review, waiting])
    assert hub.deadline(waiting, "review")["due"] == at("2026-11-23T15:00:00Z")
    assert hub.view(past_review)["outcome"] == "approved"
    hub.close()


def test_two_people_moving_one_instance_at_once_one_moves_it_the_other_is_refused(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from engine.clock import VirtualClock

    hub, folder = hub_with(database_url, tmp_path, REVIEW)
    instance = hub.start("review", {})
    (folder / "review.bpmn").write_text(RENAMED)
    hub.engine.deploy()
    other = Engine(Store(database_url), VirtualClock(hub.now()), folder)  # a second service
    plan = migration.Plan("review", 1, 2, {"review_task": "review_step"})
    first_inside, second_checked = threading.Event(), threading.Event()
    rewritten, checked = migration._rewritten, migration._check_instance

    def slow_rewrite(*args: object) -> object:
        # The first mover holds its transaction open until the second has checked its plan
        # (against v1, still committed), so both really move at once.
        if threading.current_thread().name == "first":
            first_inside.set()
            assert second_checked.wait(10)
        return rewritten(*args)  # type: ignore[arg-type]

    def check(*args: object) -> object:
        found = checked(*args)  # type: ignore[arg-type]
        if threading.current_thread().name == "second":
            second_checked.set()
        return found

    monkeypatch.setattr(migration, "_rewritten", slow_rewrite)
    monkeypatch.setattr(migration, "_check_instance", check)
    results: dict[str, object] = {}

    def run(name: str, engine: Engine, wait: threading.Event | None) -> None:
        if wait is not None:
            assert wait.wait(10)
        try:
            results[name] = migration.migrate(engine, plan, [instance], actor=name)
        except Exception as err:
            results[name] = err

    threads = [threading.Thread(target=run, name="first", args=("first", hub.engine, None)),
               threading.Thread(target=run, name="second", args=("second", other, first_inside))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    first, second = results["first"], results["second"]
    assert isinstance(first, migration.Report) and isinstance(second, migration.Report)
    assert [m.instance_id for m in first.moved] == [instance] and first.refused == []
    assert second.moved == [] and len(second.refused) == 1
    assert second.refused[0] in (
        f"instance {instance} was not moved: someone else moved it to v2 meanwhile",
        f"instance {instance} was not moved: instance {instance} was changed by someone "
        "else; try again")
    view = hub.view(instance)
    assert view["version"] == 2
    assert [h["actor"] for h in view["history"] if h["action"] == "migrated"] == ["first"]
    other.store.dispose()
    hub.close()


KILLED_MIGRATION = """
import os, sys, time
from pathlib import Path
from datetime import datetime
import tests.engine.conftest  # the review diagram's handlers
from engine import migration
from engine.clock import VirtualClock
from engine.service import Engine
from engine.store import Store

url, folder, marker = sys.argv[1:4]
engine = Engine(Store(url), VirtualClock(datetime.fromisoformat(sys.argv[4])), Path(folder))
rewritten, calls = migration._rewritten, []

def rewrite(*args):
    calls.append(1)
    if len(calls) == 3:  # inside the third instance's transaction: wait to be killed
        moved = rewritten(*args)
        Path(marker).write_text("in")
        time.sleep(120)
        return moved
    return rewritten(*args)

migration._rewritten = rewrite
migration.migrate(engine, migration.Plan("review", 1, 2, {"review_task": "review_step"}))
"""


def test_a_migration_killed_midway_leaves_each_instance_wholly_on_one_version(
        database_url: str, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    import sqlalchemy as sa

    from engine.store import history, human_tasks

    hub, folder = hub_with(database_url, tmp_path, REVIEW)
    started = [hub.start("review", {}) for _ in range(5)]
    (folder / "review.bpmn").write_text(RENAMED)
    hub.engine.deploy()
    marker = tmp_path / "inside"
    repository = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_MIGRATION, database_url, str(folder), str(marker),
         hub.now().isoformat()], cwd=repository, env={**os.environ, "PYTHONPATH": str(repository)})
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert process.poll() is None and time.monotonic() < deadline, "it never got there"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(30)

    def state(instance: str) -> tuple[int, int, list[str]]:
        with hub.store.reading() as conn:
            moves = conn.execute(sa.select(sa.func.count()).where(
                history.c.instance_id == instance, history.c.action == "migrated")).scalar_one()
            tasks = list(conn.execute(sa.select(human_tasks.c.element_id).where(
                human_tasks.c.instance_id == instance,
                human_tasks.c.status == "open")).scalars())
        return hub.view(instance)["version"], moves, tasks

    seen = sorted(state(i) for i in started)
    assert seen == [(1, 0, ["review_task"])] * 3 + [(2, 1, ["review_step"])] * 2
    # The rest move when the owner runs it again; every instance then completes on v2.
    report = migration.migrate(hub.engine, migration.Plan("review", 1, 2,
                                                         {"review_task": "review_step"}))
    assert len(report.moved) == 3
    for instance in started:
        hub.complete(instance, "review_step", approved=True)
        view = hub.view(instance)
        assert (view["version"], view["state"], view["outcome"]) == (2, "completed", "approved")
    hub.close()


def test_an_instance_that_went_on_since_the_check_is_checked_again_as_it_moves(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub, folder = hub_with(database_url, tmp_path, REVIEW)
    instance = hub.start("review", {})
    (folder / "review.bpmn").write_text(RENAMED)
    hub.engine.deploy()
    # As if the instance had reached review_task after the plan was checked against it.
    monkeypatch.setattr(migration, "_check_instance", lambda *args: ([], set()))
    report = migration.migrate(hub.engine, migration.Plan("review", 1, 2), [instance])
    assert report.moved == [] and report.refused == [
        f"instance {instance} was not moved: it changed since the plan was checked: instance "
        f'{instance} is at review_task "Review the request", which the target version does '
        "not have: give an instruction review_task=TARGET_ELEMENT"]
    assert hub.view(instance)["version"] == 1 and hub.task(instance, "review_task")
    hub.close()
