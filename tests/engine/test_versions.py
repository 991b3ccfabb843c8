"""Deployments and versions: a changed diagram is a new version; an instance finishes on
the version it started on; a new instance takes the newest. And the commands on top."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from tests.engine.conftest import DIAGRAMS
from tests.pathways.harness import Hub

ORIGINAL = (DIAGRAMS / "review.bpmn").read_text()


def test_a_changed_diagram_is_a_new_version_and_old_instances_keep_theirs(
        database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "processes"
    folder.mkdir()
    diagram = folder / "review.bpmn"
    diagram.write_text(ORIGINAL)
    hub = Hub(database_url, start="2026-11-23T10:00:00+00:00", processes=folder)
    old = hub.start("review", {})
    assert [r.new for r in hub.engine.deploy()] == [False]  # unchanged: no new version
    diagram.write_text(ORIGINAL.replace("Review the request", "Review the request again")
                       .replace("working_hours(4)", "working_hours(2)"))
    [deployed] = hub.engine.deploy()
    assert (deployed.process_id, deployed.version, deployed.new) == ("review", 2, True)
    new = hub.start("review", {})
    assert hub.view(old)["version"] == 1 and hub.view(new)["version"] == 2
    assert hub.task(old, "review_task")["name"] == "Review the request"
    assert hub.task(new, "review_task")["name"] == "Review the request again"
    assert hub.deadline(old, "review")["due"].hour == 14  # 4 working hours from 10:00
    assert hub.deadline(new, "review")["due"].hour == 12  # the new diagram's 2
    hub.complete(old, "review_task", approved=True)
    assert hub.view(old)["outcome"] == "approved"
    versions = hub.engine.deployments.versions()
    assert [(v["version"], v["running"]) for v in versions] == [(1, 0), (2, 1)]
    diagram.write_text(ORIGINAL)  # changed back: a third version, not a reuse of the first
    assert [r.version for r in hub.engine.deploy()] == [3]
    hub.close()


def test_the_instance_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "processes"
    folder.mkdir()
    (folder / "review.bpmn").write_text(ORIGINAL)
    monkeypatch.setenv("MASH_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setenv("MASH_PROCESSES", str(folder))
    (tmp_path / "start.json").write_text(json.dumps({"case": "cli"}))
    assert main(["deploy"]) == 0
    assert "review" in capsys.readouterr().out
    assert main(["start", "review", "--data", str(tmp_path / "start.json"), "--json"]) == 0
    started = json.loads(capsys.readouterr().out)
    assert started["state"] == "waiting"
    [task] = started["open_tasks"]
    assert main(["tasks", "--role", "Reviewer", "--json"]) == 0
    assert [t["id"] for t in json.loads(capsys.readouterr().out)] == [task["id"]]
    (tmp_path / "bad.json").write_text(json.dumps({"approved": "maybe"}))
    assert main(["complete", task["id"], "--data", str(tmp_path / "bad.json"), "--by", "al"]) == 1
    assert "approved must be true or false" in capsys.readouterr().err
    (tmp_path / "done.json").write_text(json.dumps({"approved": True}))
    assert main(["complete", task["id"], "--data", str(tmp_path / "done.json"), "--by", "al"]) == 0
    assert capsys.readouterr().out.strip().endswith("completed")
    assert main(["complete", task["id"], "--data", str(tmp_path / "done.json"), "--by", "bo"]) == 1
    assert "already completed by al" in capsys.readouterr().err
    assert main(["show", started["id"]]) == 0
    shown = capsys.readouterr().out
    assert "completed  outcome approved" in shown and "deadline review" in shown
    assert main(["versions"]) == 0
    assert "review" in capsys.readouterr().out
    assert main(["start", "nothing", "--data", str(tmp_path / "start.json")]) == 1
    assert "no process 'nothing'; deployed: review" in capsys.readouterr().err
    assert main(["show", "no-such-instance"]) == 1
    assert "no instance no-such-instance" in capsys.readouterr().err
    assert main(["retry", started["id"]]) == 0  # nothing failed: nothing to do, still ends


def test_a_bad_argument_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["start"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "required" in err



def test_mash_complete_keeps_to_a_claim_unless_told_to_override_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.api.auth import Caller
    from engine.api.claims import claim
    from engine.clock import SystemClock
    from engine.store import Store

    folder = tmp_path / "processes"
    folder.mkdir()
    (folder / "review.bpmn").write_text(ORIGINAL)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    monkeypatch.setenv("MASH_DATABASE_URL", url)
    monkeypatch.setenv("MASH_PROCESSES", str(folder))
    (tmp_path / "start.json").write_text(json.dumps({"case": "cli"}))
    (tmp_path / "done.json").write_text(json.dumps({"approved": True}))
    assert main(["deploy"]) == 0
    capsys.readouterr()
    assert main(["start", "review", "--data", str(tmp_path / "start.json"), "--json"]) == 0
    [task] = json.loads(capsys.readouterr().out)["open_tasks"]
    store = Store(url)
    claim(store, task["id"], Caller(1, "carol", frozenset({"Reviewer"})), SystemClock().now())
    store.dispose()
    done = ["complete", task["id"], "--data", str(tmp_path / "done.json"), "--by", "al"]
    assert main(done) == 1
    err = capsys.readouterr().err
    assert "is claimed by carol" in err and "--override-claim" in err
    assert main([*done, "--override-claim"]) == 0
    assert capsys.readouterr().out.strip().endswith("completed")
