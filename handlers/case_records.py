"""Case records: the children already known to Children's Social Care.

`SqlCaseRecords` is the default store, the engine's own `children` and `case_notes` tables,
written in the step's transaction. A real case record system (Mosaic, Care Director) would
replace it behind the same small interface (`engine.registry.CaseRecords`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.clock import Clock, iso_z
from engine.registry import HandlerContext, HandlerError, StepWrites, handler
from engine.store import case_notes, children

# Defaults of the service task's properties, which the diagram sets (a process owner's to
# change): seed 000 flags a re-referral within 3 months of closure; seed 003 asks a social
# worker involved in the past 12 weeks to re-engage.
RE_REFERRAL_MONTHS = 3
PREVIOUS_WORKER_WEEKS = 12


def _whole(task: HandlerContext, name: str, default: int) -> int:
    value = task.properties.get(name, str(default))
    if not value.isdigit():
        raise HandlerError(f"property {name}={value!r} of {task.element_id!r} must be a whole "
                           "number")
    return int(value)


class SqlCaseRecords:
    def __init__(self, conn: Connection, writes: StepWrites, clock: Clock) -> None:
        self.conn = conn
        self.writes = writes
        self.clock = clock

    def child(self, child_id: str) -> dict[str, Any] | None:
        row = self.conn.execute(sa.select(children).where(children.c.child_id == child_id)).first()
        return None if row is None else dict(row._mapping)

    def add_note(self, child_id: str | None, instance_id: str, kind: str, text: str) -> None:
        self.writes.execute(case_notes.insert(), {
            "child_id": child_id, "instance_id": instance_id, "at": self.clock.now(),
            "kind": kind, "text": text})


def notes(conn: Connection, instance_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(case_notes).where(case_notes.c.instance_id == instance_id)
                        .order_by(case_notes.c.id))
    return [dict(r._mapping) for r in rows]


def seed_children(conn: Connection, records: list[dict[str, Any]]) -> None:
    """Load case records (a scenario's `case_records`, a test's fixtures)."""
    for record in records:
        closed_on = record.get("closed_on")
        if isinstance(closed_on, str):
            closed_on = date.fromisoformat(closed_on)
        conn.execute(children.delete().where(children.c.child_id == record["child_id"]))
        conn.execute(children.insert().values(
            child_id=record["child_id"], status=record["status"],
            allocated_worker=record.get("allocated_worker"),
            worker_email=record.get("worker_email"), team=record.get("team"),
            closed_on=closed_on))


def months_before(day: date, months: int) -> date:
    month = day.month - months
    year = day.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover - every month has a 28th


def _received(task: HandlerContext) -> date:
    received = task.data.get("received_at")
    if isinstance(received, str):
        return datetime.fromisoformat(received).astimezone(task.services.calendar.zone).date()
    return task.now.astimezone(task.services.calendar.zone).date()


@handler("look_up_case_records", sets=("open_case", "previous_worker"))
def look_up_case_records(task: HandlerContext) -> None:
    data = task.data
    data["open_case"] = False
    data.setdefault("previous_worker", None)
    child_id = (data.get("child") or {}).get("id")
    record = task.services.case_records.child(child_id) if child_id else None
    if record is None:
        return
    data["team"] = record.get("team")
    if record["status"] == "open" and record.get("allocated_worker"):
        data["open_case"] = True
        data["allocated_worker"] = record["allocated_worker"]
        data["worker_email"] = record.get("worker_email")
        return
    closed_on = record.get("closed_on")
    if record["status"] == "closed" and closed_on is not None:
        received = _received(task)
        months = _whole(task, "re_referral_months", RE_REFERRAL_MONTHS)
        weeks = _whole(task, "previous_worker_weeks", PREVIOUS_WORKER_WEEKS)
        if months_before(received, months) <= closed_on <= received:
            flags = data.setdefault("flags", [])
            if "re_referral" not in flags:
                flags.append("re_referral")
        if record.get("allocated_worker") and \
                received - timedelta(weeks=weeks) <= closed_on <= received:
            data["previous_worker"] = record["allocated_worker"]
            data["previous_worker_email"] = record.get("worker_email")


@handler("add_case_note")
def add_case_note(task: HandlerContext) -> None:
    kind = task.prop("kind")
    child_id = (task.data.get("child") or {}).get("id")
    text = task.data.get("case_note") or f"{task.element_name} ({kind})"
    task.services.case_records.add_note(child_id, task.instance_id, kind, str(text))


@handler("open_contact", sets=("opened_at",))
def open_contact(task: HandlerContext) -> None:
    """Step 4: the contact is opened; the RAG timescale runs from now."""
    task.data["opened_at"] = iso_z(task.now)
    task.data["rag_since"] = task.data["opened_at"]  # until a re-rating to RED restarts it
    child_id = (task.data.get("child") or {}).get("id")
    task.services.case_records.add_note(
        child_id, task.instance_id, "contact_opened",
        f"Contact opened, RAG {task.data.get('rag')}, allocated to the Pod Assistant Team Manager")


@handler("record_outcome")
def record_outcome(task: HandlerContext) -> None:
    child_id = (task.data.get("child") or {}).get("id")
    outcome = task.data.get("outcome") or task.prop("outcome", "")
    reasons = task.data.get("reasons") or ""
    task.services.case_records.add_note(child_id, task.instance_id, "outcome",
                                        f"Outcome: {outcome}. {reasons}".strip())
