"""The engine on small test diagrams (tests/diagrams), with test handlers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.registry import HandlerContext, HandlerError, handler
from tests.pathways.harness import Hub

DIAGRAMS = Path(__file__).resolve().parents[1] / "diagrams"
CALLS: list[str] = []
OUTAGE: set[str] = set()  # topics whose outside service is "down"; a test sets and clears it


@handler("test_check")
def check(task: HandlerContext) -> None:
    CALLS.append(task.element_id)
    if "test_check" in OUTAGE:
        task.services.notifier.send("half_done", "x@test.invalid", "s", "b", task.instance_id)
        raise HandlerError("the check service is down")
    task.data["checked"] = True


@handler("test_breach")
def breach(task: HandlerContext) -> None:
    task.data["breach_told"] = True
    task.services.notifier.send("deadline_breach", "manager@test.invalid", "late", "late",
                                task.instance_id)


@pytest.fixture
def review(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    folder = tmp_path / "processes"
    folder.mkdir()
    (folder / "review.bpmn").write_bytes((DIAGRAMS / "review.bpmn").read_bytes())
    running = Hub(database_url, start="2026-11-23T10:00:00+00:00", processes=folder)
    yield running
    running.close()
