"""The simulation's throwaway database (issue 20): one transaction for the whole run, each unit
of work a savepoint in it, so a failing command still rolls back only itself and the report
reads what the run wrote; nothing reaches the file until asked."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.simulation.scratch import ScratchStore
from engine.store import Store, tokens

AT = datetime(2026, 11, 23, 9, tzinfo=UTC)


def _token(name: str) -> dict[str, object]:
    return {"name": name, "roles": ["x"], "hash": name, "created_at": AT}


def _names(store: Store) -> list[str]:
    with store.reading() as conn:
        return sorted(conn.execute(sa.select(tokens.c.name)).scalars())


def test_a_failing_unit_of_work_rolls_back_only_itself(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'scratch.sqlite'}"
    store = ScratchStore(url)
    store.create()
    with store.transaction() as conn:
        conn.execute(tokens.insert().values(**_token("kept")))
    with pytest.raises(RuntimeError), store.transaction() as conn:
        conn.execute(tokens.insert().values(**_token("undone")))
        raise RuntimeError("the command failed")
    with store.transaction() as conn:
        conn.execute(tokens.insert().values(**_token("after")))

    assert _names(store) == ["after", "kept"]  # read on the run's own connection
    with closing(sqlite3.connect(tmp_path / "scratch.sqlite")) as other:
        def committed() -> list[str]:
            return sorted(r[0] for r in other.execute("SELECT name FROM tokens"))

        assert committed() == []  # nothing reaches the file until asked
        store.commit()
        assert committed() == ["after", "kept"]
    with store.reading() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "memory"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 0  # OFF
    store.dispose()


def test_a_run_reports_the_same_on_the_scratch_database_as_on_a_durable_one(
        tmp_path: Path) -> None:
    from engine.simulation.generate import generate
    from engine.simulation.parallel import report
    from engine.simulation.scenario import build
    from tests.pathways.harness import PROCESSES

    scenario = build(generate(40, 7, date(2026, 1, 5), 3), "generated")
    scratch = report(scenario, PROCESSES)
    durable = report(scenario, PROCESSES, f"sqlite:///{tmp_path / 'kept.sqlite'}")
    assert len(scratch["contacts"]) == 40
    assert json.dumps(scratch, sort_keys=True) == json.dumps(durable, sort_keys=True)
