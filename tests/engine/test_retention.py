"""The retention schedule (engine/retention.py, processes/retention.toml): ended cases past
their time lose every personal value the database held about them, on SQLite and
PostgreSQL; the audit trail, outcomes and deadlines stay; open cases are never touched."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine import retention
from engine.bpmn import state as workflow_state
from engine.cli import main
from engine.retention import RetentionConfigError, Schedule, apply, load_schedule
from engine.store import history, instances, metadata, notifications, retention_runs
from tests.pathways.harness import PROCESSES, Hub

# Everything personal a closed contact held, each a string found nowhere else.
CLOSED = {
    "child": {"name": "Zephyrina Quillfeather", "dob": "2013-07-19", "postcode": "BH8 9QX",
              "address": "42 Quillfeather Lane, Bournemouth", "id": "CHILD-QF-77"},
    "referrer": {"name": "Ottoline Brackenbury", "email": "o.brackenbury@school.invalid",
                 "phone": "01202 987654", "agency": "Brackenbury Academy",
                 "kind": "professional"},
    "concerns": "Zephyrina arrived with a burn on her hand and would not say how.",
}
RESEARCH = "Checked with Brackenbury Academy: a sibling of Zephyrina was seen last year."
REASONS = "Duplicate of Quillfeather contact already dealt with."
PERSONAL = ["Zephyrina", "Quillfeather", "2013-07-19", "BH8 9QX", "CHILD-QF-77",
            "Ottoline", "Brackenbury", "987654", "o.brackenbury", "burn on her hand",
            "a sibling of", "Duplicate of"]

STILL_OPEN = {
    "child": {"name": "Wilhelmina Sturridge", "dob": "2016-02-29", "postcode": "BH8 8AB"},
    "concerns": "Wilhelmina told her teacher she is frightened to go home.",
}


def closed_nfa(hub: Hub, sent: bool = True, **changes: Any) -> str:
    """A contact refused at verification and closed as no further action by a manager; its
    letter to the referrer sent (`sent`), as the mailer marks it."""
    contact = hub.contact(**{**CLOSED, **changes})
    hub.complete(contact, "verify", accepted=False, research=RESEARCH)
    hub.complete(contact, "nfa_oversight", nfa_confirmed=True, reasons=REASONS)
    assert hub.view(contact)["state"] == "completed"
    if sent:
        with hub.store.transaction() as conn:
            conn.execute(notifications.update().where(notifications.c.instance_id == contact)
                         .values(sent_at=hub.now(), attempts=1))
    return contact


def every_text(hub: Hub) -> str:
    """Every text, JSON and binary value of every table, as one string to search."""
    found: list[str] = []
    with hub.store.reading() as conn:
        for table in metadata.sorted_tables:
            columns = [c for c in table.columns
                       if isinstance(c.type, sa.String | sa.Text | sa.JSON | sa.LargeBinary)]
            if not columns:
                continue
            for row in conn.execute(sa.select(*columns)):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        found.append(bytes(value).decode("utf-8", errors="replace"))
                    elif value is not None:
                        found.append(value if isinstance(value, str) else
                                     json.dumps(value, ensure_ascii=False))
    return "\n".join(found)


def test_a_closed_case_past_its_time_keeps_nothing_personal_and_keeps_its_audit_trail(
        hub: Hub) -> None:
    closed = closed_nfa(hub)
    still_open = hub.contact(**STILL_OPEN)
    before = hub.view(closed)
    text = every_text(hub)
    assert all(word in text for word in PERSONAL)  # the test would see them if they stayed
    schedule = load_schedule(PROCESSES)
    assert schedule.years_for("nfa") == 3
    later = hub.now() + timedelta(days=3 * 365 + 1)

    dry = apply(hub.store, schedule, later, dry_run=True)
    assert [c.instance_id for c in dry.due] == [closed]
    assert every_text(hub) == text  # a dry run changes nothing

    done = apply(hub.store, schedule, later)
    assert [c.instance_id for c in done.due] == [closed]
    assert done.counts["instances"] == 1 and done.counts["notifications"] >= 1
    left = every_text(hub)
    assert [word for word in PERSONAL if word in left] == []
    for word in ("Wilhelmina", "Sturridge", "frightened to go home"):  # the open case: intact
        assert word in left

    after = hub.view(closed)
    for kept in ("id", "process", "version", "state", "outcome", "rag", "flags", "started_at",
                 "ended_at", "deadlines", "path", "flows"):
        assert after[kept] == before[kept], kept
    assert [n["kind"] for n in after["notifications"]] == \
        [n["kind"] for n in before["notifications"]]
    assert [(h["actor"], h["action"], h["element_id"], h["at"]) for h in after["history"][:-1]] \
        == [(h["actor"], h["action"], h["element_id"], h["at"]) for h in before["history"]]
    last = after["history"][-1]
    assert (last["actor"], last["action"]) == ("retention", "anonymised")
    assert "outcome nfa: 3 years" in last["changes"]["rule"]
    answers = [h["changes"] for h in after["history"] if h["element_id"] == "nfa_oversight"
               and h["action"] == "completed"]
    assert answers and answers[0].get("nfa_confirmed") is True  # a decision, not data: kept

    with hub.store.reading() as conn:
        row = conn.execute(sa.select(instances).where(instances.c.id == closed)).one()
        run = conn.execute(sa.select(retention_runs)).one()
    assert row.anonymised_at == later
    assert run.instances == [closed] and run.dry_run is False
    version = hub.engine.deployments.version(row.version_id)
    restored = workflow_state.load(row.workflow, version.spec, version.subprocess_specs)
    assert restored.completed  # the stored state still loads, with its values removed
    assert hub.view(still_open)["state"] != "completed"

    again = apply(hub.store, schedule, later + timedelta(days=1))
    assert again.due == []  # each case once


def test_each_outcome_keeps_its_own_years_and_an_open_case_is_never_touched(hub: Hub) -> None:
    closed = closed_nfa(hub)
    hub.contact(**STILL_OPEN)
    ended = hub.view(closed)["ended_at"]
    keep_nfa_5 = Schedule(1, {"nfa": 5})
    four_years = ended + timedelta(days=4 * 366)
    assert retention.due(hub.store, keep_nfa_5, four_years) == []
    assert [c.instance_id for c in retention.due(hub.store, Schedule(5, {"nfa": 4}), four_years)] \
        == [closed]
    # Even with everything due at once, the open contact is not: it has not ended.
    everything = apply(hub.store, Schedule(0, {}), ended + timedelta(days=1))
    assert [c.instance_id for c in everything.due] == [closed]
    with hub.store.reading() as conn:
        anonymised = conn.execute(sa.select(history.c.instance_id)
                                  .where(history.c.action == "anonymised")).scalars().all()
    assert anonymised == [closed]


def test_the_service_runs_the_schedule_once_a_day(hub: Hub, tmp_path: Path) -> None:
    processes = tmp_path / "processes"
    processes.mkdir()
    (processes / "retention.toml").write_text("default_years = 0\n")
    hub.engine.processes = processes
    closed = closed_nfa(hub)
    daily = retention.DailyRetention(hub.engine, check_seconds=0.05)
    first = daily.run_once()
    assert first is not None and [c.instance_id for c in first.due] == [closed]
    assert daily.run_once() is None  # not twice in one day
    hub.advance(by=timedelta(days=1))
    second = closed_nfa(hub)
    daily.start()  # the thread runs it at once: a new day
    try:
        for _ in range(200):
            with hub.store.reading() as conn:
                runs = conn.execute(sa.select(retention_runs.c.instances)
                                    .order_by(retention_runs.c.id)).scalars().all()
            if len(runs) == 2:
                break
            time.sleep(0.05)
    finally:
        daily.stop()
    assert len(runs) == 2 and runs[0] == [closed]
    assert second in runs[1] and closed not in runs[1]  # (and the day's PPN meeting, ended)


def test_a_case_whose_notification_is_not_sent_yet_is_held_back(hub: Hub) -> None:
    waiting = closed_nfa(hub, sent=False)
    assert hub.notifications(waiting) and not hub.notifications(waiting)[0]["delivered"]
    ended = hub.view(waiting)["ended_at"]
    assert apply(hub.store, Schedule(0, {}), ended + timedelta(days=1)).due == []
    with hub.store.transaction() as conn:  # the mailer sends it at last
        conn.execute(notifications.update().where(notifications.c.instance_id == waiting)
                     .values(sent_at=hub.now()))
    later = apply(hub.store, Schedule(0, {}), ended + timedelta(days=2))
    assert [c.instance_id for c in later.due] == [waiting]


@pytest.mark.parametrize(("text", "message"), [
    ("default_years = 6\n[years_by_outcome]\nnfa = \"three\"\n", "line 3: nfa = 'three'"),
    ("default_years = -1\n", "line 1: default_years = -1"),
    ("[years_by_outcome]\nnfa = 3\n", "give default_years"),
    ("default_years = 6\nkeep_forever = true\n", "line 2: 'keep_forever' is not a setting"),
    ("default_years = [\n", "check the quotes"),
])
def test_a_wrong_retention_file_names_the_line_and_the_fix(tmp_path: Path, text: str,
                                                           message: str) -> None:
    (tmp_path / "retention.toml").write_text(text)
    with pytest.raises(RetentionConfigError, match=message.replace("[", r"\[")):
        load_schedule(tmp_path)


def test_without_a_retention_file_nothing_is_removed(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert load_schedule(tmp_path).default_years is None
    code = main(["retention", "--processes", str(tmp_path),
                 "--database", f"sqlite:///{tmp_path / 'm.sqlite'}"])
    assert code == 1
    assert "no retention schedule" in capsys.readouterr().err


def test_mash_retention_dry_run_lists_and_the_real_run_records(
        hub: Hub, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    closed = closed_nfa(hub)
    (tmp_path / "retention.toml").write_text("default_years = 0\n")
    args = ["retention", "--processes", str(tmp_path), "--database", hub.store.url]
    assert main([*args, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert closed in out and "would anonymise 1 case" in out
    assert "Zephyrina" in every_text(hub)
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dry_run"] is False and [c["instance_id"] for c in report["instances"]] == [closed]
    assert "Zephyrina" not in every_text(hub)
