"""Logs are JSON lines with ids and kinds, never personal data about a child or referrer."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from engine.logs import JsonLines
from engine.store import Store, instances
from tests.service.conftest import Service
from tests.service.test_api import CONTACT, submit


def test_the_service_logs_no_personal_data(service: Service,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    created = submit(service)
    verify = next(t for t in service.call("bsio", "GET", "/tasks").json()
              if t["instance_id"] == created["id"])
    service.call("bsio", "POST", f"/tasks/{verify['id']}/complete",
                 json={"data": {"accepted": False}})
    service.call("bso", "POST", "/contacts", json={**CONTACT, "colour": "Alex"})
    text = "\n".join(JsonLines().format(r) for r in caplog.records)
    assert created["id"] in text  # ids are there, to follow a case
    for personal in ("Alex", "Example", "BH1", "Bruising", "Teacher", "oakdale", "2015-04-01"):
        assert personal not in text, personal
    for line in text.splitlines():
        json.loads(line)


def test_database_errors_never_carry_the_values(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/db.sqlite")
    store.create()
    row = {"id": "x", "process_id": "p", "version_id": 1, "state": "waiting", "flags": [],
           "started_at": datetime(2026, 11, 23, tzinfo=UTC),
           "attempts": 0, "row_version": 0, "workflow": b"Alex Example BH1 1AA"}
    with pytest.raises(IntegrityError) as err, store.transaction() as conn:
        conn.execute(instances.insert().values(**row))
        conn.execute(instances.insert().values(**row))
    assert "Alex" not in str(err.value) and "hidden" in str(err.value).lower()
