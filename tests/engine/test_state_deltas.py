"""The workflow state stored as a snapshot and the deltas after it (engine/bpmn/state.py,
engine/rows.py): after every committed command of a simulated few days, the state read back
from the database (in a new connection, no cache) is the state the engine holds in memory,
document for document, and restores to a workflow that writes the same document again."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from engine import rows
from engine.bpmn import state
from engine.runtime import Live
from engine.service import Engine
from engine.simulation.generate import generate
from engine.simulation.runner import Simulation
from engine.simulation.scenario import build
from engine.store import instance_deltas
from tests.pathways.harness import PROCESSES


def _plain(document: dict[str, Any]) -> Any:
    """As stored (JSON), for comparison: tuples become lists, keys strings."""
    return orjson.loads(orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS))


@pytest.mark.parametrize("max_deltas", [32, 2])
def test_state_read_back_is_the_state_written(database_url: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              max_deltas: int) -> None:
    monkeypatch.setattr(rows, "MAX_DELTAS", max_deltas)
    checked = {"commands": 0, "with_deltas": 0}
    original = Engine._remember

    def remember(self: Engine, instance_id: str, row_version: int, live: Live) -> None:
        original(self, instance_id, row_version, live)
        with self.store.reading() as conn:
            stored = rows.state_document(conn, instance_id)
            deltas = conn.execute(sa.select(sa.func.count()).select_from(instance_deltas)
                                  .where(instance_deltas.c.instance_id == instance_id)).scalar()
            version = self.deployments.version(live.version.id)
        in_memory = _plain(state.StateWriter().to_dict(live.workflow))
        assert _plain(stored) == in_memory, f"instance {instance_id} read back differs"
        restored = state.restore(stored, version.spec, version.subprocess_specs)
        assert _plain(state.StateWriter().to_dict(restored)) == in_memory
        checked["commands"] += 1
        checked["with_deltas"] += bool(deltas)

    monkeypatch.setattr(Engine, "_remember", remember)
    scenario = build(generate(25, 3, date(2026, 1, 5), 3), "generated")
    simulation = Simulation(scenario, PROCESSES, database_url=database_url)
    try:
        simulation.run()
    finally:
        simulation.close()
    assert checked["commands"] > 150
    # the deltas were written and read (not a snapshot every time)
    assert checked["with_deltas"] > checked["commands"] // 3


def test_a_delta_in_another_format_is_refused() -> None:
    with pytest.raises(state.StateFormatError, match="delta has format 9"):
        state.apply({"subprocesses": {}}, {"delta": 9})
