"""The simulation's own throwaway database (SQLite, nothing synced to disk) gives the same
report as a kept, durable database (`--database`): what it skips changes no behaviour, and
the same scenario gives the same report (issue 20)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from engine.simulation.generate import generate
from engine.simulation.parallel import report
from engine.simulation.scenario import build
from tests.pathways.harness import PROCESSES


def test_a_run_reports_the_same_on_its_own_database_as_on_a_durable_one(
        tmp_path: Path) -> None:
    scenario = build(generate(40, 7, date(2026, 1, 5), 3), "generated")
    own = report(scenario, PROCESSES)
    durable = report(scenario, PROCESSES, f"sqlite:///{tmp_path / 'kept.sqlite'}")
    assert len(own["contacts"]) == 40
    assert json.dumps(own, sort_keys=True) == json.dumps(durable, sort_keys=True)
