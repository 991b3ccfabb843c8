"""Read models: what the CLI, the API, the web pages and the simulation show.

Plain queries on the tables the engine writes; nothing here deserializes a workflow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .clock import iso_z
from .store import deadlines, history, human_tasks, instances, notifications, process_versions


class NotFound(LookupError):
    pass


def jsonable(value: Any) -> Any:
    """A read model as JSON shows it: instants as ISO 8601 UTC with Z."""
    if isinstance(value, datetime):
        return iso_z(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def deadline_view(row: Any) -> dict[str, Any]:
    return {
        "name": row.name, "started_at": row.started_at, "due": row.due,
        "done_at": row.done_at, "met": row.met, "breached_at": row.breached_at,
        "cancelled": row.cancelled_at is not None,
    }


def task_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "instance_id": row.instance_id, "name": row.name, "role": row.role,
        "element_id": row.element_id, "created_at": row.created_at, "due": row.due,
        "form": row.form,
    }


def instance_row(conn: Connection, instance_id: str) -> Any:
    row = conn.execute(sa.select(instances, process_versions.c.version)
                       .join(process_versions, process_versions.c.id == instances.c.version_id)
                       .where(instances.c.id == instance_id)).first()
    if row is None:
        raise NotFound(f"instance {instance_id}")
    return row


def instance_view(conn: Connection, instance_id: str, history_rows: bool = True) -> dict[str, Any]:
    row = instance_row(conn, instance_id)
    steps = conn.execute(sa.select(history).where(history.c.instance_id == instance_id)
                         .order_by(history.c.id)).all()
    view: dict[str, Any] = {
        "id": row.id, "process": row.process_id, "version": row.version,
        "state": row.state, "outcome": row.outcome, "rag": row.rag,
        "flags": list(row.flags or []), "started_at": row.started_at, "ended_at": row.ended_at,
        "error": row.error, "about": row.about, "reference": row.reference,
        "deadlines": [deadline_view(d) for d in conn.execute(
            sa.select(deadlines).where(deadlines.c.instance_id == instance_id)
            .order_by(deadlines.c.started_at, deadlines.c.name))],
        "notifications": [{
            "kind": n.kind, "to": n.recipient, "sent_at": n.sent_at or n.created_at,
            "queued_at": n.created_at, "delivered": n.sent_at is not None,
        } for n in conn.execute(sa.select(notifications)
                                .where(notifications.c.instance_id == instance_id)
                                .order_by(notifications.c.created_at, notifications.c.kind))],
        "path": [s.element_id for s in steps if s.action == "completed"],
        "flows": [s.flow_id for s in steps if s.flow_id],
        "open_tasks": [task_view(t) for t in conn.execute(
            sa.select(human_tasks).where(human_tasks.c.instance_id == instance_id,
                                         human_tasks.c.status == "open")
            .order_by(human_tasks.c.created_at))],
    }
    if history_rows:
        view["history"] = [{
            "at": s.at, "actor": s.actor, "action": s.action, "element_id": s.element_id,
            "element_name": s.element_name, "role": s.role, "changes": s.changes,
        } for s in steps]
    return view


def open_tasks(conn: Connection, roles: set[str] | None = None) -> list[dict[str, Any]]:
    query = sa.select(human_tasks, instances.c.rag, instances.c.flags, instances.c.reference)\
        .join(instances, instances.c.id == human_tasks.c.instance_id)\
        .where(human_tasks.c.status == "open")
    if roles is not None:
        query = query.where(human_tasks.c.role.in_(sorted(roles)))
    rows = list(conn.execute(query).all())
    far = datetime.max.replace(tzinfo=None)
    rows.sort(key=lambda r: (r.due.replace(tzinfo=None) if r.due else far, r.created_at))
    result = []
    for r in rows:
        view = task_view(r)
        view.update({"rag": r.rag, "flags": list(r.flags or []), "reference": r.reference})
        result.append(view)
    return result


def deadline_list(conn: Connection, state: str, now: datetime,
                  roles: set[str] | None = None) -> list[dict[str, Any]]:
    """Deadlines due or breached; `roles`: only of instances where one of them has (had) a
    task (None: every instance)."""
    query = sa.select(deadlines).order_by(deadlines.c.due)
    if roles is not None:
        query = query.where(deadlines.c.instance_id.in_(
            sa.select(human_tasks.c.instance_id).where(human_tasks.c.role.in_(sorted(roles)))))
    if state == "due":
        query = query.where(deadlines.c.done_at.is_(None), deadlines.c.cancelled_at.is_(None),
                            deadlines.c.breached_at.is_(None))
    elif state == "breached":
        query = query.where(deadlines.c.met.is_(False))
    else:
        raise ValueError(f"state must be due or breached, not {state!r}")
    return [{"instance_id": r.instance_id, "name": r.name, "due": r.due, "done_at": r.done_at,
             "met": r.met} for r in conn.execute(query)]


def instance_versions(conn: Connection, instance_ids: list[str]) -> dict[str, str]:
    """Which version each instance runs, as people read it: `first_response v2`."""
    if not instance_ids:
        return {}
    rows = conn.execute(sa.select(instances.c.id, instances.c.process_id, process_versions.c.version)
                        .join(process_versions, process_versions.c.id == instances.c.version_id)
                        .where(instances.c.id.in_(sorted(set(instance_ids))))).all()
    return {r.id: f"{r.process_id} v{r.version}" for r in rows}


def running_versions(conn: Connection) -> list[dict[str, Any]]:
    """The versions that have instances not yet completed, with how many, newest first."""
    rows = conn.execute(
        sa.select(process_versions.c.process_id, process_versions.c.version,
                  process_versions.c.deployed_at, sa.func.count(instances.c.id).label("running"))
        .join(instances, instances.c.version_id == process_versions.c.id)
        .where(instances.c.state != "completed")
        .group_by(process_versions.c.id, process_versions.c.process_id,
                  process_versions.c.version, process_versions.c.deployed_at)
        .order_by(process_versions.c.process_id, process_versions.c.version.desc())).all()
    return [dict(r._mapping) for r in rows]


def instances_with_tasks_of(conn: Connection, roles: set[str], instance_ids: list[str]) -> set[str]:
    """Which of these instances have (or had) a task of one of these roles."""
    if not instance_ids or not roles:
        return set()
    return set(conn.execute(sa.select(human_tasks.c.instance_id).distinct().where(
        human_tasks.c.role.in_(sorted(roles)),
        human_tasks.c.instance_id.in_(sorted(set(instance_ids))))).scalars())
