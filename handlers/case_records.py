"""Case records: the children already known to Children's Social Care.

`SqlCaseRecords` is the default store, the engine's own `children` and `case_notes` tables,
written in the step's transaction. A real case record system (Mosaic, Care Director) would
replace it behind the same small interface (`engine.registry.CaseRecords`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.clock import Clock
from engine.registry import StepWrites
from engine.store import case_notes, children


class SqlCaseRecords:
    def __init__(self, conn: Connection, writes: StepWrites, clock: Clock) -> None:
        self.conn = conn
        self.writes = writes
        self.clock = clock

    def child(self, child_id: str) -> dict[str, Any] | None:
        row = self.conn.execute(sa.select(children).where(children.c.child_id == child_id)).first()
        return None if row is None else dict(row._mapping)

    def add_note(self, child_id: str | None, instance_id: str, kind: str, text: str) -> None:
        self.writes.execute(case_notes.insert().values(
            child_id=child_id, instance_id=instance_id, at=self.clock.now(), kind=kind, text=text))

    def notes(self, instance_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(sa.select(case_notes).where(case_notes.c.instance_id == instance_id)
                                 .order_by(case_notes.c.id))
        return [dict(r._mapping) for r in rows]


def seed_children(conn: Connection, records: list[dict[str, Any]]) -> None:
    """Load case records (a scenario's `case_records`, a test's fixtures)."""
    for record in records:
        closed_on = record.get("closed_on")
        values = {
            "child_id": record["child_id"], "status": record["status"],
            "allocated_worker": record.get("allocated_worker"),
            "worker_email": record.get("worker_email"), "team": record.get("team"),
            "closed_on": date.fromisoformat(closed_on) if isinstance(closed_on, str) else closed_on,
            "last_worker": record.get("last_worker"),
            "last_worker_until": date.fromisoformat(record["last_worker_until"])
            if isinstance(record.get("last_worker_until"), str) else record.get("last_worker_until"),
        }
        conn.execute(children.delete().where(children.c.child_id == values["child_id"]))
        conn.execute(children.insert().values(**values))
