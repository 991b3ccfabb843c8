"""The command line shows instants in the Hub's local time where people read them, and in
UTC with --json: a case started in summer (BST, UTC+1) reads an hour ahead of its UTC."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from engine.api.auth import create_token
from engine.cli import main
from engine.clock import VirtualClock, as_utc
from engine.service import Engine
from engine.store import Store
from handlers.intake import validate_contact
from tests.pathways.harness import PROCESSES, REPOSITORY

SUMMER = as_utc(datetime.fromisoformat("2026-07-01T15:00:00+00:00"))  # 16:00 in London


def mash(capsys: pytest.CaptureFixture[str], database_url: str, *argv: str) -> str:
    folder = [] if argv[0] == "token" else ["--processes", str(PROCESSES)]
    assert main([*argv, "--database", database_url, *folder]) == 0
    return capsys.readouterr().out


@pytest.fixture
def summer_case(database_url: str) -> Any:
    store = Store(database_url)
    store.create()
    engine = Engine(store, VirtualClock(SUMMER), PROCESSES)
    engine.deploy()
    body = json.loads((REPOSITORY / "examples" / "contact-red.json").read_text())
    data, errors = validate_contact(body)
    assert not errors
    instance_id, _ = engine.start("first_response", data, "test")
    create_token(store, "summer", ["admin"], SUMMER, expires_at=None)
    store.dispose()
    return instance_id


def test_people_read_the_hubs_local_time(capsys: pytest.CaptureFixture[str], database_url: str,
                                         summer_case: str) -> None:
    # the BRAG is due on the decision deadline: Thu 2 Jul 17:15 BST (16:15 UTC)
    assert "due Thu 02 Jul 2026 17:15" in mash(capsys, database_url, "tasks")
    shown = mash(capsys, database_url, "show", summer_case)
    assert "deadline decision: due Thu 02 Jul 2026 17:15, open" in shown
    assert "Wed 01 Jul 2026 16:00" in shown  # the history
    assert "Wed 01 Jul 2026 16:00" in mash(capsys, database_url, "versions")
    assert "created Wed 01 Jul 2026 16:00" in mash(capsys, database_url, "token", "list")


def test_programs_read_utc(capsys: pytest.CaptureFixture[str], database_url: str,
                           summer_case: str) -> None:
    tasks = json.loads(mash(capsys, database_url, "tasks", "--json"))
    assert [t["due"] for t in tasks] == ["2026-07-02T16:15:00Z"]
    shown = json.loads(mash(capsys, database_url, "show", summer_case, "--json"))
    assert shown["started_at"] == "2026-07-01T15:00:00Z"
    versions = json.loads(mash(capsys, database_url, "versions", "--json"))
    assert {v["deployed_at"] for v in versions} == {"2026-07-01T15:00:00Z"}
    tokens = json.loads(mash(capsys, database_url, "token", "list", "--json"))
    assert tokens[0]["created_at"] == "2026-07-01T15:00:00Z"
