"""People and what they may see (issue 15, items 7-12): deadlines and links scoped by role,
answers never cached, /docs from this site only, tokens that expire and can be listed and
revoked, sessions that end, reading a task audited, claims that reserve a task."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from engine.api.auth import create_token
from engine.cli import main
from engine.store import web_sessions
from tests.pathways.harness import PROCESSES
from tests.service.conftest import ROLES, Service
from tests.service.test_api import submit, task_of

BSIO = ROLES["bsio"][0]


def token(service: Service, name: str, *roles: str, **kwargs: object) -> str:
    made = create_token(service.engine.store, name, list(roles), service.engine.clock.now(),
                        **kwargs)  # type: ignore[arg-type]
    service.tokens[name] = made
    return made


def advance(service: Service, by: str) -> None:
    moved = service.call("admin", "POST", "/clock/advance", json={"by": by})
    assert moved.status_code == 200, moved.text


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found[1]


@contextmanager
def signed_in(service: Service, who: str) -> Iterator[httpx.Client]:
    """A browser-like client signed in to the pages as `who` (cookies kept)."""
    with httpx.Client(base_url=service.url, timeout=30) as browser:
        form = browser.get("/signin")
        answer = browser.post("/signin", data={"token": service.tokens[who], "next": "/inbox",
                                               "csrf": csrf_of(form.text)})
        assert answer.status_code == 303, answer.text
        yield browser


# -- item 7: deadlines and `about` scoped by role ---------------------------------------------

def test_deadlines_and_disagreement_links_show_only_a_roles_own_instances(service: Service) -> None:
    created = submit(service)
    mine = service.call("bsio", "GET", "/deadlines", params={"state": "due"}).json()
    assert [d["instance_id"] for d in mine] == [created["id"]]
    for who in ("manager", "early_help", "bso"):  # no task of theirs in it (yet)
        assert service.call(who, "GET", "/deadlines", params={"state": "due"}).json() == []
    assert len(service.call("admin", "GET", "/deadlines", params={"state": "due"}).json()) == 1

    hidden = service.call("early_help", "POST", "/disagreements",
                          json={"raised_by": "x", "about": created["id"]})
    missing = service.call("early_help", "POST", "/disagreements",
                           json={"raised_by": "x", "about": "00000000-0000-0000-0000-000000000000"})
    assert hidden.status_code == missing.status_code == 422
    assert hidden.json() == missing.json()  # says nothing about whether it exists
    allowed = service.call("bsio", "POST", "/disagreements",
                           json={"raised_by": "x", "about": created["id"]})
    assert allowed.status_code == 201


# -- item 8: no caching of personal data, no scripts from elsewhere ---------------------------

def test_answers_with_personal_data_are_never_cached(service: Service) -> None:
    created = submit(service)
    task = task_of(service, "bsio", created["id"])
    for path in (f"/tasks/{task['id']}", f"/instances/{created['id']}", "/tasks",
                 f"/instances/{created['id']}/diagram", "/deadlines?state=due"):
        answer = service.call("bsio", "GET", path)
        assert answer.status_code == 200, path
        assert answer.headers["cache-control"] == "no-store", path


def test_docs_load_nothing_from_another_site(service: Service) -> None:
    page = service.call(None, "GET", "/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") or s.startswith("data:") for s in sources), sources
    assert "Content-Security-Policy" in page.headers or "content-security-policy" in page.headers
    for source in sources:
        if source.startswith("/"):
            assert service.call(None, "GET", source).status_code == 200, source
    assert service.call(None, "GET", "/redoc").status_code == 404


# -- item 9: tokens -------------------------------------------------------------------------

def test_a_person_token_expires_and_an_integration_token_does_not(service: Service) -> None:
    now = service.engine.clock.now()
    token(service, "short", BSIO, expires_at=now + timedelta(days=1))
    token(service, "system", BSIO, kind="integration")
    assert service.call("short", "GET", "/tasks").status_code == 200
    advance(service, "P2D")
    refused = service.call("short", "GET", "/tasks")
    assert refused.status_code == 401 and "expired" in refused.json()["errors"][0]["message"]
    assert service.call("system", "GET", "/tasks").status_code == 200


def test_mash_token_create_list_and_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    database = ["--database", f"sqlite:///{tmp_path / 'mash.sqlite'}"]
    processes = ["--processes", str(PROCESSES)]
    assert main(["token", "create", "--role", "Social Worker", "--name", "Sam", *processes,
                 *database]) == 2
    refused = capsys.readouterr().err
    assert "'Social Worker' is not a role" in refused
    assert "MASH Social Worker" in refused and "Business Support Officer" in refused
    assert main(["token", "create", "--role", "MASH Social Worker", "--name", "Sam Worker",
                 *processes, *database]) == 0
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert secret.startswith("mash_")
    assert main(["token", "create", "--role", "admin", "--name", "Case system",
                 "--integration", *processes, *database]) == 0
    assert "no expiry" in capsys.readouterr().out
    assert main(["token", "create", "--role", "admin", "--name", "Forever", "--no-expiry",
                 *processes, *database]) == 2
    assert "must expire" in capsys.readouterr().err

    assert main(["token", "list", "--json", *database]) == 0
    import json

    listed = json.loads(capsys.readouterr().out)
    assert [(t["name"], t["kind"], t["roles"]) for t in listed] == [
        ("Sam Worker", "person", ["MASH Social Worker"]), ("Case system", "integration", ["admin"])]
    sam, system = listed
    assert sam["expires_at"] is not None and system["expires_at"] is None
    assert sam["created_at"] and sam["last_used_at"] is None and sam["revoked_at"] is None
    from datetime import datetime

    lasts = datetime.fromisoformat(sam["expires_at"]) - datetime.fromisoformat(sam["created_at"])
    assert lasts == timedelta(days=90)
    assert main(["token", "list", *database]) == 0
    shown = capsys.readouterr().out
    assert "Sam Worker" in shown and "last used never" in shown and secret not in shown

    assert main(["token", "revoke", "--name", "Sam Worker", *database]) == 0
    assert main(["token", "revoke", "--name", "Sam Worker", *database]) == 1  # already
    capsys.readouterr()
    assert main(["token", "list", "--json", *database]) == 0
    assert json.loads(capsys.readouterr().out)[0]["revoked_at"] is not None


def test_a_revoked_token_is_refused_at_once_and_its_sessions_end(service: Service) -> None:
    from engine.api.auth import revoke_tokens

    token(service, "leaver", BSIO)
    with signed_in(service, "leaver") as browser:
        assert browser.get("/inbox").status_code == 200
        assert revoke_tokens(service.engine.store, service.engine.clock.now(), name="leaver") == 1
        assert service.call("leaver", "GET", "/tasks").status_code == 401
        assert browser.get("/inbox").headers["location"].startswith("/signin")


def test_last_used_is_noted(service: Service) -> None:
    from engine.api.auth import list_tokens

    service.call("bsio", "GET", "/tasks")
    used = {t["name"]: t["last_used_at"] for t in list_tokens(service.engine.store)}
    assert used["bsio"] == service.engine.clock.now() and used["early_help"] is None


# -- item 10: sessions ----------------------------------------------------------------------

def test_the_cookie_is_a_session_of_its_own_and_signing_out_ends_it(service: Service) -> None:
    with signed_in(service, "bsio") as browser:
        cookie = browser.cookies["mash_session"]
        assert cookie != service.tokens["bsio"] and service.tokens["bsio"] not in cookie
        page = browser.get("/inbox")
        assert page.status_code == 200
        out = browser.post("/signout", data={"csrf": csrf_of(page.text)})
        assert out.status_code == 303
    with httpx.Client(base_url=service.url, cookies={"mash_session": cookie}) as copied:
        again = copied.get("/inbox")  # the old cookie, kept by someone: worthless now
        assert again.status_code == 303 and again.headers["location"].startswith("/signin")
    with service.engine.store.reading() as conn:
        assert conn.execute(web_sessions.select()).all() == []


def test_a_session_ends_after_thirty_minutes_without_a_page(service: Service) -> None:
    with signed_in(service, "bsio") as browser:
        advance(service, "PT29M")
        assert browser.get("/inbox").status_code == 200  # in use: kept
        advance(service, "PT29M")
        assert browser.get("/inbox").status_code == 200
        advance(service, "PT31M")
        assert browser.get("/inbox").status_code == 303


def test_signing_in_needs_the_forms_own_token(service: Service) -> None:
    with httpx.Client(base_url=service.url, timeout=30) as browser:
        forged = browser.post("/signin", data={"token": service.tokens["bsio"], "next": "/inbox"})
        assert forged.status_code == 400 and "mash_session" not in browser.cookies
        form = browser.get("/signin")
        wrong = browser.post("/signin", data={"token": service.tokens["bsio"],
                                              "csrf": csrf_of(form.text) + "x"})
        assert wrong.status_code == 400 and "mash_session" not in browser.cookies
    with httpx.Client(base_url=service.url, timeout=30) as other:  # another site's form
        other.get("/signin")
        stolen = csrf_of(httpx.get(f"{service.url}/signin").text)
        assert other.post("/signin", data={"token": service.tokens["bsio"],
                                           "csrf": stolen}).status_code == 400


# -- item 11: reading a task is audited -------------------------------------------------------

def test_reading_a_task_is_audited_like_reading_a_case(service: Service) -> None:
    created = submit(service)
    task = task_of(service, "bsio", created["id"])
    assert service.call("bsio", "GET", f"/tasks/{task['id']}").status_code == 200
    assert service.call("early_help", "GET", f"/tasks/{task['id']}").status_code == 403
    with signed_in(service, "admin") as browser:
        assert browser.get(f"/inbox/{task['id']}").status_code == 200
    audit = service.call("admin", "GET", f"/instances/{created['id']}").json()["history"]
    viewed = [(h["actor"], h["element_id"]) for h in audit if h["action"] == "viewed task"]
    assert viewed == [("bsio", "verify"), ("admin", "verify")]


# -- item 12: claims --------------------------------------------------------------------------

def test_a_claim_reserves_the_task_until_released(service: Service) -> None:
    token(service, "bsio_2", BSIO)
    created = submit(service)
    task = task_of(service, "bsio", created["id"])
    path = f"/tasks/{task['id']}"
    claimed = service.call("bsio", "POST", f"{path}/claim")
    assert claimed.status_code == 200 and claimed.json()["claimed_by"] == "bsio"
    assert service.call("bsio_2", "GET", path).json()["claimed_by"] == "bsio"
    taken = service.call("bsio_2", "POST", f"{path}/claim")
    assert taken.status_code == 409 and "claimed by bsio" in taken.json()["errors"][0]["message"]
    refused = service.call("bsio_2", "POST", f"{path}/complete", json={"data": {"accepted": True}})
    assert refused.status_code == 409
    assert "claimed by bsio" in refused.json()["errors"][0]["message"]
    assert service.call("bsio_2", "POST", f"{path}/release").status_code == 403
    assert service.call("bsio", "POST", f"{path}/release").status_code == 200
    done = service.call("bsio_2", "POST", f"{path}/complete", json={"data": {"accepted": True}})
    assert done.status_code == 200


def test_a_claim_lapses_and_a_manager_may_release_it(service: Service) -> None:
    token(service, "bsio_2", BSIO)
    first, second = submit(service), submit(service)
    lapsing = task_of(service, "bsio", first["id"])
    held = task_of(service, "bsio", second["id"])
    for task in (lapsing, held):
        assert service.call("bsio", "POST", f"/tasks/{task['id']}/claim").status_code == 200
    advance(service, "PT2H1M")  # past the claim period (two hours)
    lapsed = service.call("bsio_2", "POST", f"/tasks/{lapsing['id']}/complete",
                          json={"data": {"accepted": True}})
    assert lapsed.status_code == 200
    assert service.call("bsio", "POST", f"/tasks/{held['id']}/claim").status_code == 200  # renewed
    token(service, "team_manager", BSIO, "MASH Team Manager / Early Help Decision Maker")
    assert service.call("team_manager", "POST", f"/tasks/{held['id']}/release").status_code == 200
    assert service.call("bsio_2", "POST", f"/tasks/{held['id']}/complete",
                        json={"data": {"accepted": True}}).status_code == 200


def test_the_task_page_claims_and_releases(service: Service) -> None:
    token(service, "bsio_2", BSIO)
    created = submit(service)
    task = task_of(service, "bsio", created["id"])
    with signed_in(service, "bsio") as holder, signed_in(service, "bsio_2") as other:
        page = holder.get(f"/inbox/{task['id']}")
        assert "Claim the task" in page.text
        assert holder.post(f"/inbox/{task['id']}/claim", data={}).status_code == 400  # no csrf
        claimed = holder.post(f"/inbox/{task['id']}/claim", data={"csrf": csrf_of(page.text)})
        assert claimed.status_code == 303
        assert "You have claimed this task" in holder.get(f"/inbox/{task['id']}").text
        seen = other.get(f"/inbox/{task['id']}")
        assert "bsio</strong> has claimed this task" in seen.text
        assert "Release their claim" not in seen.text
        sent = other.post(f"/inbox/{task['id']}", data={"csrf": csrf_of(seen.text),
                                                        "accepted": "true"})
        assert sent.status_code == 409 and "Your answers were not saved" in sent.text
        page = holder.get(f"/inbox/{task['id']}")
        released = holder.post(f"/inbox/{task['id']}/release", data={"csrf": csrf_of(page.text)})
        assert released.status_code == 303
        assert "Nobody has claimed this task" in holder.get(f"/inbox/{task['id']}").text
