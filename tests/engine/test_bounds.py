"""An expression that runs past its limits at run time becomes an incident, quickly, with
nothing of the step kept (issue 15.3): the writer lock is never held for long."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.engine.conftest import DIAGRAMS
from tests.pathways.harness import Hub

CONDITION = "<bpmn:conditionExpression>approved</bpmn:conditionExpression>"


@pytest.mark.parametrize(("condition", "error"), [
    ("approved and sum(1 for a in notes for b in notes) &gt; 0", "limit of 100,000 steps"),
    ("approved and len(notes * copies) &gt; 0", "would make"),
])
def test_a_condition_past_its_limit_is_an_incident_at_once(
        database_url: str, tmp_path: Path, condition: str, error: str) -> None:
    folder = tmp_path / "processes"
    folder.mkdir()
    text = (DIAGRAMS / "review.bpmn").read_text().replace(
        CONDITION, f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression>")
    (folder / "review.bpmn").write_text(text)
    hub = Hub(database_url, start="2026-11-23T10:00:00+00:00", processes=folder)
    instance = hub.start("review", {"notes": "x" * 100_000, "copies": 3_000_000_000})
    started = time.perf_counter()
    hub.complete(instance, "review_task", by="alice", approved=True)
    assert time.perf_counter() - started < 2  # the command (and its transaction) is short
    view = hub.view(instance)
    assert view["state"] == "incident"
    assert error in view["error"]
    assert view["path"] == ["start", "check", "review_task"]  # nothing after the gateway
    assert view["outcome"] is None and view["open_tasks"] == []
    hub.close()
