"""Shared fixtures: a database of each kind, a Hub on the real diagrams, and the sequence-flow
coverage report over `processes/` that the pathway tests build up.

Every test that takes `database_url` runs twice, on SQLite and on PostgreSQL (a throwaway
server started once per session; see tests/support/postgres.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.pathways.harness import PROCESSES, REPOSITORY, Hub
from tests.support import postgres

TAKEN_FLOWS: set[str] = set()
COVERAGE_REPORT = REPOSITORY / "out" / "flow-coverage.json"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.Server]:
    with postgres.server() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mash.sqlite'}"
    server: postgres.Server = request.getfixturevalue("postgres_server")
    return server.new_database()


@pytest.fixture
def hub(database_url: str) -> Iterator[Hub]:
    running = Hub(database_url)
    yield running
    record_flows(running)
    running.close()


def record_flows(running: Hub) -> None:
    from engine.store import history

    with running.store.reading() as conn:
        TAKEN_FLOWS.update(r[0] for r in conn.execute(
            sa.select(history.c.flow_id).where(history.c.flow_id.is_not(None)).distinct()))


def _all_flows() -> dict[str, dict[str, tuple[str, str]]]:
    from engine import diagrams

    found = diagrams.load([PROCESSES])
    by_file: dict[str, dict[str, tuple[str, str]]] = {}
    for model in found.models.values():
        by_file.setdefault(model.file, {}).update(model.flows)
    return by_file


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not TAKEN_FLOWS:
        return
    report: dict[str, Any] = {}
    missing_total = 0
    for file, flows in sorted(_all_flows().items()):
        missing = sorted(f for f in flows if f not in TAKEN_FLOWS)
        missing_total += len(missing)
        report[file] = {"flows": len(flows), "taken": len(flows) - len(missing),
                        "never_taken": [{"id": f, "from": flows[f][0], "to": flows[f][1]}
                                        for f in missing]}
    COVERAGE_REPORT.parent.mkdir(exist_ok=True)
    COVERAGE_REPORT.write_text(json.dumps(report, indent=2))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("-", "sequence-flow coverage of processes/")
        for file, entry in report.items():
            reporter.write_line(f"{file}: {entry['taken']}/{entry['flows']} flows taken")
            for flow in entry["never_taken"]:
                reporter.write_line(f"  never taken: {flow['id']} ({flow['from']} -> {flow['to']})")
    if missing_total and os.environ.get("MASH_REQUIRE_FLOW_COVERAGE") == "1":
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if reporter is not None:
            reporter.write_line(f"FAILED: {missing_total} sequence flow(s) never taken "
                                f"(report: {COVERAGE_REPORT.relative_to(REPOSITORY)})", red=True)
