"""The mapping of an instance to rows: what a command did (`Advance`) written as the
instance's row, its open tasks, deadlines and history; and an instance read back.

All of it inside the command's transaction (engine/service.py); the hot writes are
`Prepared` statements (engine/store.py).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.engine import Connection

from .bpmn import state as workflow_state
from .deployments import Deployments
from .errors import Conflict, NotFound
from .outbox import backoff
from .runtime import Advance, Deadline, Live
from .store import Prepared, deadlines, history, human_tasks, instance_deltas, instances

log = logging.getLogger("mash.engine")

MAX_AUTOMATIC_RETRIES = 5  # then an incident waits for a person (mash retry, mash migrate)
# A command writes what changed in the workflow (a delta) unless a snapshot is due: for a
# new instance, one just read from the database, one completed (its state is final, one
# document: reports, retention and dry runs read it alone), after this many deltas, or
# once the deltas outweigh the snapshot twice (so what is stored stays under three times
# the state, and reading it back applies a bounded amount).
MAX_DELTAS = 32
DELTA_WEIGHT = 2


def persist(conn: Connection, live: Live, advance: Advance, row_version: int, actor: str,
            now: datetime, task_owner: dict[str, str], attempts: int = 0,
            new: dict[str, Any] | None = None, incident_since: datetime | None = None) -> int:
    """Write what the command did; `new`: the columns of an instance not yet stored. Returns
    the instance's new row version. `task_owner` forgets the tasks that closed."""
    next_due = advance.next_due
    if advance.state == "incident":
        attempts += 1
        incident_since = incident_since or now
        next_due = backoff(attempts, now) if attempts <= MAX_AUTOMATIC_RETRIES else None
        log.warning("instance %s incident (attempt %d)", live.id, attempts,
                    extra={"element": advance.failed_element})
    else:
        attempts = 0
        incident_since = None
    summary = advance.summary
    values = {
        "state": advance.state, "outcome": advance.outcome, "rag": summary.get("rag"),
        "flags": list(summary.get("flags") or []), "summary": summary, "next_due": next_due,
        "waiting_for": advance.waiting_for, "error": advance.error, "attempts": attempts,
        "incident_since": incident_since,
        "error_element": advance.failed_element if advance.state == "incident" else None,
        "ended_at": now if advance.state == "completed" else None,
        "row_version": row_version + 1, "version_id": live.version.id,
    }
    values.update(_persist_state(conn, live, row_version + 1, new is not None,
                                 advance.state == "completed"))
    if new is not None:
        updated = _INSERT_INSTANCE.execute(conn, {**new, **values})
    else:
        updated = _UPDATE_INSTANCE.execute(
            conn, {"b_id": live.id, "b_row_version": row_version, **values})
    if updated != 1:
        raise Conflict(f"instance {live.id} was changed by someone else; try again")
    _persist_tasks(conn, live, advance, actor, now, task_owner)
    _persist_deadlines(conn, live)
    steps = [{
        "instance_id": live.id, "at": s.at, "actor": s.actor, "action": s.action,
        "element_id": s.element_id, "element_name": s.element_name,
        "flow_id": s.flow_id, "role": s.role, "changes": s.changes,
    } for s in advance.steps]
    if advance.state == "incident":
        steps.append({"instance_id": live.id, "at": now, "actor": "engine",
                      "action": "incident", "element_id": advance.failed_element,
                      "element_name": None, "flow_id": None, "role": None,
                      "changes": {"error": advance.error}})
    if steps:
        _INSERT_HISTORY.execute_many(conn, steps)
    return row_version + 1


def _persist_state(conn: Connection, live: Live, seq: int, new: bool,
                   completed: bool) -> dict[str, Any]:
    """Write what changed in the workflow: a delta, or a snapshot (the instance row's
    `workflow`, returned here to go in its insert or update; the deltas before it go)."""
    writer = live.writer
    if not (new or completed or not writer.baseline or writer.deltas >= MAX_DELTAS):
        delta = writer.delta(live.workflow)
        if delta is None:
            return {}
        if writer.delta_bytes + len(delta) <= DELTA_WEIGHT * writer.snapshot_bytes:
            _INSERT_DELTA.execute(conn, {"instance_id": live.id, "seq": seq, "state": delta})
            writer.deltas += 1
            writer.delta_bytes += len(delta)
            return {}
    snapshot = writer.snapshot(live.workflow)
    if not new:  # (whoever wrote them: another service, a migration's new state)
        _DELETE_DELTAS.execute(conn, {"b_id": live.id})
    writer.snapshot_bytes, writer.deltas, writer.delta_bytes = len(snapshot), 0, 0
    return {"workflow": snapshot}


def _persist_tasks(conn: Connection, live: Live, advance: Advance, actor: str, now: datetime,
                   task_owner: dict[str, str]) -> None:
    if live.open_tasks is None:
        live.open_tasks = open_tasks(conn, live.id)
    stored = live.open_tasks
    open_now = {t.id: t for t in advance.open_tasks}
    new = [t for t in advance.open_tasks if t.id not in stored]
    if new:
        _INSERT_TASK.execute_many(conn, [{
            "id": t.id, "instance_id": live.id, "element_id": t.element_id,
            "name": t.name, "role": t.role, "form": t.form, "created_at": now,
            "due": t.due, "status": "open",
        } for t in new])
    for task_id, due in stored.items():
        if task_id in open_now:
            if open_now[task_id].due != due:
                _UPDATE_TASK.execute(conn, {"b_id": task_id, "due": open_now[task_id].due})
            continue
        task_owner.pop(task_id, None)  # (a lookup in the database finds it again)
        task = find_task(live.workflow, task_id)
        completed = task is not None and task.state == TaskState.COMPLETED
        _UPDATE_TASK.execute(conn, {
            "b_id": task_id, "status": "completed" if completed else "cancelled",
            "completed_at": now, "completed_by": actor if completed else None})
    live.open_tasks = {t.id: t.due for t in advance.open_tasks}


def _persist_deadlines(conn: Connection, live: Live) -> None:
    for deadline in live.deadlines:
        if not deadline.changed:
            continue
        values = {
            "name": deadline.name, "element_id": deadline.element_id,
            "timer_task_id": deadline.timer_task_id,
            "activity_task_id": deadline.activity_task_id,
            "started_at": deadline.started_at, "due": deadline.due,
            "done_at": deadline.done_at, "breached_at": deadline.breached_at,
            "cancelled_at": deadline.cancelled_at, "met": deadline.met,
        }
        if deadline.id is None:
            deadline.id = str(uuid.uuid4())
            _INSERT_DEADLINE.execute(conn, {"id": deadline.id, "instance_id": live.id, **values})
        else:
            _UPDATE_DEADLINE.execute(conn, {"b_id": deadline.id, **values})
        deadline.changed = False


def load(conn: Connection, instance_id: str, deployments: Deployments) -> Live:
    """An instance read from its row, on the version it runs."""
    row = conn.execute(_INSTANCE, {"b_id": instance_id}).first()
    if row is None:
        raise NotFound(f"instance {instance_id}")
    version = deployments.version(row.version_id)
    deltas = _deltas(conn, instance_id)
    workflow = workflow_state.load(row.workflow, version.spec, version.subprocess_specs, deltas)
    records = [_deadline(r) for r in conn.execute(_DEADLINES, {"b_id": row.id})]
    summary = dict(row.summary or {})
    return Live(row.id, version, workflow, records, outcome=row.outcome, summary=summary)


def state_document(conn: Connection, instance_id: str) -> dict[str, Any]:
    """An instance's stored workflow state as one document (engine/bpmn/state.py): for
    those who read or rewrite it without running it (migration, dry runs)."""
    stored = conn.execute(sa.select(instances.c.workflow)
                          .where(instances.c.id == instance_id)).scalar()
    if stored is None:
        raise NotFound(f"instance {instance_id}")
    return workflow_state.document(stored, _deltas(conn, instance_id))


def _deltas(conn: Connection, instance_id: str) -> list[bytes]:
    return [r[0] for r in conn.execute(_DELTAS, {"b_id": instance_id})]


def open_tasks(conn: Connection, instance_id: str) -> dict[str, datetime | None]:
    return {r.id: r.due for r in conn.execute(_OPEN_TASKS, {"b_id": instance_id})}


def incident_since(conn: Connection, instance_id: str) -> datetime | None:
    return conn.execute(sa.select(instances.c.incident_since)
                        .where(instances.c.id == instance_id)).scalar()


def find_task(workflow: BpmnWorkflow, task_id: str) -> Task | None:
    try:
        return workflow.get_task_from_id(uuid.UUID(task_id))
    except (ValueError, KeyError):
        return None


def _deadline(row: Any) -> Deadline:
    return Deadline(
        name=row.name, element_id=row.element_id, timer_task_id=row.timer_task_id,
        activity_task_id=row.activity_task_id, started_at=row.started_at, due=row.due,
        done_at=row.done_at, breached_at=row.breached_at, cancelled_at=row.cancelled_at,
        met=row.met, id=row.id, changed=False,
    )


_b = sa.bindparam
_UPDATE_INSTANCE = Prepared(instances.update().where(
    instances.c.id == _b("b_id"), instances.c.row_version == _b("b_row_version")))
_INSERT_INSTANCE = Prepared(instances.insert())
_INSTANCE = sa.select(instances).where(instances.c.id == _b("b_id"))
_DEADLINES = sa.select(deadlines).where(deadlines.c.instance_id == _b("b_id"))
_OPEN_TASKS = sa.select(human_tasks.c.id, human_tasks.c.due).where(
    human_tasks.c.instance_id == _b("b_id"), human_tasks.c.status == "open")
_INSERT_TASK = Prepared(human_tasks.insert())
_UPDATE_TASK = Prepared(human_tasks.update().where(human_tasks.c.id == _b("b_id")))
_INSERT_DEADLINE = Prepared(deadlines.insert())
_UPDATE_DEADLINE = Prepared(deadlines.update().where(deadlines.c.id == _b("b_id")))
_INSERT_HISTORY = Prepared(history.insert())
_INSERT_DELTA = Prepared(instance_deltas.insert())
_DELETE_DELTAS = Prepared(instance_deltas.delete().where(
    instance_deltas.c.instance_id == _b("b_id")))
_DELTAS = sa.select(instance_deltas.c.state).where(
    instance_deltas.c.instance_id == _b("b_id")).order_by(instance_deltas.c.seq)
