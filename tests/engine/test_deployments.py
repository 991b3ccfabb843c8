"""Deploying: only `mash deploy` deploys (the other commands read what is deployed); a
running service takes up a deployment and a calendar change made elsewhere without a
restart; a version stands only for what changed (and what calls it); several services
starting together on an empty database all come up and agree on the versions."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from engine.api.auth import create_token
from engine.cli import main
from engine.clock import VirtualClock
from engine.serve import build
from engine.service import Engine
from engine.store import Store, deployments, diagram_files, process_versions
from tests.engine.conftest import DIAGRAMS
from tests.pathways.harness import PROCESSES
from tests.service.conftest import free_port
from tests.service.test_api import CONTACT

REVIEW = (DIAGRAMS / "review.bpmn").read_text()


def versions(store: Store) -> dict[str, list[int]]:
    with store.reading() as conn:
        rows = conn.execute(sa.select(process_versions.c.process_id, process_versions.c.version)
                            .order_by(process_versions.c.id)).all()
    found: dict[str, list[int]] = {}
    for process, version in rows:
        found.setdefault(process, []).append(version)
    return found


# -- 16.5: only `mash deploy` deploys -----------------------------------------------------------


def test_only_deploy_deploys_and_the_other_commands_read_what_is_deployed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "processes"
    folder.mkdir()
    diagram = folder / "review.bpmn"
    diagram.write_text(REVIEW)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    monkeypatch.setenv("MASH_DATABASE_URL", url)
    monkeypatch.setenv("MASH_PROCESSES", str(folder))
    (tmp_path / "start.json").write_text("{}")
    start = ["start", "review", "--data", str(tmp_path / "start.json"), "--json"]
    for command in (start, ["tasks"], ["show", "x"], ["retry", "x"]):
        assert main(command) == 1
        assert "nothing is deployed in this database yet; run `mash deploy`" in \
            capsys.readouterr().err
    assert main(["deploy"]) == 0
    capsys.readouterr()
    diagram.write_text(REVIEW.replace("Review the request", "Review it again"))  # a local edit
    assert main(start) == 0
    started = json.loads(capsys.readouterr().out)
    assert started["open_tasks"][0]["name"] == "Review the request"  # what is deployed
    diagram.write_text("<not a diagram")  # a broken local copy stops nobody working
    assert main(["tasks", "--json"]) == 0
    [task] = json.loads(capsys.readouterr().out)
    assert main(["show", started["id"]]) == 0
    capsys.readouterr()
    (tmp_path / "done.json").write_text(json.dumps({"approved": True}))
    assert main(["complete", task["id"], "--data", str(tmp_path / "done.json"), "--by", "al"]) == 0
    assert main(["retry", started["id"]]) == 0
    capsys.readouterr()
    store = Store(url)
    assert versions(store) == {"review": [1]}
    assert main(["deploy"]) == 1  # deploying checks the diagrams
    assert "not deployed; fix these first" in capsys.readouterr().err
    diagram.write_text(REVIEW.replace("Review the request", "Review it again"))
    assert main(["deploy"]) == 0
    assert versions(store) == {"review": [1, 2]}
    store.dispose()


# -- 16.6: a running service takes up a deployment and a calendar change --------------------


@contextmanager
def serving(folder: Path, database_url: str, start: str) -> Iterator[tuple[str, Engine]]:
    app, engine = build(folder, database_url, datetime.fromisoformat(start))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the service did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", engine
    finally:
        server.should_exit = True
        thread.join(timeout=20)


CLOSED_ON_TUESDAY = '\n[[closures]]\ndate = 2026-11-24\nreason = "Training day"\n'


def test_a_running_service_takes_up_a_deployment_and_a_calendar_change_without_restart(
        database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "processes"
    shutil.copytree(PROCESSES, folder)
    with serving(folder, database_url, "2026-11-23T09:00:00+00:00") as (url, engine):
        token = create_token(engine.store, "admin", ["admin"], engine.clock.now())
        headers = {"Authorization": f"Bearer {token}"}

        def contact() -> dict[str, Any]:
            made = httpx.post(f"{url}/contacts", json=CONTACT, headers=headers)
            assert made.status_code == 201, made.text
            return httpx.get(f"{url}/instances/{made.json()['id']}", headers=headers).json()

        before = contact()
        assert before["version"] == 1
        decision = next(d for d in before["deadlines"] if d["name"] == "decision")
        assert decision["due"] == "2026-11-24T17:15:00Z"  # one working day: Tuesday's close
        # Elsewhere (another shell, another machine): a changed diagram and a closure.
        text = (folder / "first_response.bpmn").read_text()
        (folder / "first_response.bpmn").write_text(
            text.replace('name="Verification and research', 'name="Checks and research', 1))
        (folder / "calendar.toml").write_text((folder / "calendar.toml").read_text()
                                              + CLOSED_ON_TUESDAY)
        assert main(["deploy", "--processes", str(folder), "--database", database_url]) == 0
        deadline = time.monotonic() + 5
        while (after := contact())["version"] != 2:  # taken up within a second
            assert time.monotonic() < deadline, "the new deployment was not taken up"
            time.sleep(0.2)
        assert before["version"] == 1 and after["version"] == 2
        decision = next(d for d in after["deadlines"] if d["name"] == "decision")
        assert decision["due"] == "2026-11-25T17:15:00Z"  # Tuesday is closed now
        # The board tells which version each instance runs.
        from tests.engine.test_incidents import signed_in

        board = signed_in(url, engine, token).get("/board").text
        assert "first_response v1" in board and "first_response v2" in board


# -- 16.7: a version stands for what changed ----------------------------------------------------


def test_a_version_stands_only_for_what_changed_and_what_calls_it(
        database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "processes"
    shutil.copytree(PROCESSES, folder)
    store = Store(database_url)
    store.create()
    engine = Engine(store, VirtualClock(datetime(2026, 11, 23, 9, tzinfo=UTC)), folder)
    engine.deploy()
    first = versions(store)
    assert all(v == [1] for v in first.values())

    def change(name: str, old: str, new: str) -> dict[str, bool]:
        text = (folder / name).read_text()
        assert old in text
        (folder / name).write_text(text.replace(old, new, 1))
        return {r.process_id: r.new for r in engine.deploy()}

    # Only first_response.bpmn, outside the risk assessment missing_child calls in it.
    made = change("first_response.bpmn", 'name="Verification and research', 'name="Checks and research')
    assert made["first_response"] and not made["missing_child"]
    assert not made["escalation"] and not made["ppn_meeting"]
    # missing_child changes: it is new, and so is first_response, which calls it.
    made = change("missing_child.bpmn", '<bpmn:process id="missing_child" name="Missing child"',
                  '<bpmn:process id="missing_child" name="Missing child (changed)"')
    assert made["missing_child"] and made["first_response"] and not made["escalation"]
    # The risk assessment both call (drawn in first_response.bpmn) changes: both are new.
    text = (folder / "first_response.bpmn").read_text()
    start = text.index('<bpmn:process id="risk_assessment"')
    inside = text.index('name="', start)
    (folder / "first_response.bpmn").write_text(text[:inside] + 'name="Changed: '
                                                + text[inside + len('name="'):])
    made = {r.process_id: r.new for r in engine.deploy()}
    assert made["risk_assessment"] and made["missing_child"] and made["first_response"]
    assert not made["escalation"] and not made["ppn_meeting"]
    assert versions(store)["missing_child"] == [1, 2, 3]
    store.dispose()


# -- 15.13: several services starting together on an empty database ---------------------------


def test_services_starting_together_on_an_empty_database_all_come_up_and_agree(
        database_url: str) -> None:
    count = 4
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def start(n: int) -> None:
        store = Store(database_url)  # each its own pool, as a service of its own has
        try:
            barrier.wait()
            store.create()
            engine = Engine(store, VirtualClock(datetime(2026, 11, 23, 9, tzinfo=UTC)),
                            PROCESSES)
            results[n] = sorted((r.process_id, r.version) for r in engine.deploy())
        except Exception as err:
            results[n] = err
        finally:
            store.dispose()

    threads = [threading.Thread(target=start, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = [r for r in results if isinstance(r, Exception)]
    assert not failed, failed
    assert all(r == results[0] for r in results)  # everyone agrees
    assert {version for _, version in results[0]} == {1}
    store = Store(database_url)
    with store.reading() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(deployments)).scalar() == 1
        hashes = conn.execute(sa.select(diagram_files.c.hash)).scalars().all()
    assert len(hashes) == len(set(hashes))
    assert all(v == [1] for v in versions(store).values())
    store.dispose()


def test_a_changed_decision_table_makes_a_new_version_of_what_uses_it_only(
        database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "processes"
    folder.mkdir()
    for name in ("review.bpmn", "timescale.bpmn", "rag_timescale.dmn"):
        shutil.copy(DIAGRAMS / name, folder)
    store = Store(database_url)
    store.create()
    engine = Engine(store, VirtualClock(datetime(2026, 11, 23, 9, tzinfo=UTC)), folder)
    engine.deploy()
    table = folder / "rag_timescale.dmn"
    table.write_text(table.read_text().replace('name="RAG timescale"', 'name="RAG timescales"'))
    assert {r.process_id: r.new for r in engine.deploy()} == {"review": False, "timescale": True}
    store.dispose()
