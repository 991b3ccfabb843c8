"""Incidents in sight: the API list (admin and managers), retry, migration by the API, the
web page with its actions, and a line on the deadlines board; on the real service."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import httpx

from engine.api.auth import caller_for, create_token
from engine.clock import SystemClock
from engine.service import Engine
from engine.store import Store
from engine.web.session import COOKIE, open_session
from tests.engine.conftest import DIAGRAMS
from tests.engine.test_deployments import serving
from tests.engine.test_migration import BROKEN, REVIEW

MANAGER = "MASH Team Manager / Early Help Decision Maker"


def signed_in(url: str, engine: Any, token: str) -> httpx.Client:
    """A browser's session for the token, as the sign-in form opens one."""
    caller = caller_for(engine.store, token, engine.clock.now())
    session = open_session(engine.store, caller, engine.clock.now())
    return httpx.Client(base_url=url, cookies={COOKIE: session}, timeout=30)


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_incidents_are_listed_retried_and_moved_on_by_api_and_web(
        database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "processes"
    folder.mkdir()
    (folder / "review.bpmn").write_text(BROKEN)
    shutil.copy(DIAGRAMS.parent.parent / "processes" / "calendar.toml", folder)
    # A version with the fault, deployed before the checks that now find it (a service's
    # first start and POST /deploy run the dry run, which would refuse it).
    store = Store(database_url)
    store.create()
    Engine(store, SystemClock(), folder).deploy()
    store.dispose()
    with serving(folder, database_url, "2026-11-23T10:00:00+00:00") as (url, engine):
        now = engine.clock.now()
        tokens = {who: create_token(engine.store, who, roles, now) for who, roles in (
            ("admin", ["admin"]), ("manager", [MANAGER]), ("reviewer", ["Reviewer"]))}

        def call(who: str, method: str, path: str, **kwargs: object) -> httpx.Response:
            return httpx.request(method, url + path, timeout=30,
                                 headers={"Authorization": f"Bearer {tokens[who]}"}, **kwargs)

        stopped, advance = engine.start("review", {}, "tester")
        engine.complete(advance.open_tasks[0].id, {"approved": True}, "alice")
        late, _ = engine.start("review", {}, "tester")
        # 14:00 the review deadline passes; its breach notice is never delivered (no mail
        # server): at 14:20 it is an incident too.
        assert call("admin", "POST", "/clock/advance", json={"to": "2026-11-23T14:20:00Z"}) \
            .status_code == 200

        assert call("reviewer", "GET", "/incidents").status_code == 403
        listed = call("manager", "GET", "/incidents").json()
        assert [(i["kind"], i["instance_id"]) for i in listed] == [
            ("instance", stopped), ("notification", late)]
        instance, notice = listed
        assert (instance["element_id"], instance["element_name"], instance["version"]) == (
            "approved_gw", "Approved?", 1)
        assert "division by zero" in instance["error"] and instance["actions"] == [
            "retry", "migrate"]
        assert notice["notification_kind"] == "deadline_breach"
        assert notice["error"].startswith("deadline breach not delivered for 20 min: not tried")
        assert call("manager", "POST", f"/notifications/{notice['id']}/retry").status_code == 200
        assert call("manager", "POST", "/notifications/nothing/retry").status_code == 404
        assert call("manager", "POST", f"/instances/{stopped}/retry").json() == {
            "id": stopped, "state": "incident"}

        # On the web: the incidents page with its actions, and a line on the board.
        admin = signed_in(url, engine, tokens["admin"])
        reviewer = signed_in(url, engine, tokens["reviewer"])
        page = admin.get("/incident-list").text
        assert "division by zero" in page and "Retry now" in page
        assert "deadline breach not delivered" in page
        assert reviewer.get("/incident-list").status_code == 403
        board = admin.get("/board").text
        assert "Stopped by an incident" in board and "review v1" in board
        assert "Stopped by an incident" in reviewer.get("/board").text  # it was their case
        answer = admin.post("/incident-list/retry", data={
            "csrf": csrf(page), "kind": "instance", "id": stopped})
        assert answer.status_code == 303 and "failed%20again" in answer.headers["location"]

        # The owner fixes the diagram; the admin moves the case to the fixed version.
        (folder / "review.bpmn").write_text(REVIEW)
        assert call("admin", "POST", "/deploy").status_code == 200
        page = admin.get("/incident-list").text
        assert "Move to version" in page
        bad = call("admin", "POST", "/migrations", json={
            "process": "review", "from_version": 1, "to_version": 2,
            "instructions": {"review_task": "nowhere"}})
        assert bad.status_code == 422
        assert bad.json()["errors"] == [{"field": "plan",
                                         "message": "nowhere is not an element of review v2"}]
        assert call("manager", "POST", "/migrations", json={
            "process": "review", "from_version": 1, "to_version": 2}).status_code == 403
        moved = call("admin", "POST", "/migrations", json={
            "process": "review", "from_version": 1, "to_version": 2, "instances": [stopped],
            "dry_run": True}).json()
        assert moved["instances"] == [stopped] and moved["moved"] == []
        answer = admin.post("/incident-list/migrate", data={
            "csrf": csrf(page), "id": stopped, "process": "review", "from": "1", "to": "2"})
        assert answer.status_code == 303 and "completed" in answer.headers["location"]
        shown = call("admin", "GET", f"/instances/{stopped}").json()
        assert (shown["version"], shown["state"], shown["outcome"]) == (2, "completed", "approved")
        [moved] = [h for h in shown["history"] if h["action"] == "migrated"]
        assert (moved["actor"], moved["changes"]) == ("admin", {
            "from_version": 1, "to_version": 2, "instructions": {}, "rearmed": []})
        assert [i["kind"] for i in call("admin", "GET", "/incidents").json()] == ["notification"]
