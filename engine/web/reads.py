"""What the pages read from the engine's tables beyond engine.queries: whom an instance is
about, whether a caller may see it, and the deadlines with their role and RAG.

Read-only; every visibility rule is the API's: a token sees its roles' tasks and the
instances where its roles have a task, and `admin` sees everything.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .. import queries
from ..api.auth import Caller
from ..queries import of_roles
from ..store import deadlines, human_tasks, instances


def about(conn: Connection, instance_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Each instance's summary (child name and id, channel, received_at) and reference."""
    ids = sorted(set(instance_ids))
    if not ids:
        return {}
    rows = conn.execute(sa.select(instances.c.id, instances.c.summary, instances.c.reference,
                                  instances.c.rag, instances.c.process_id)
                        .where(instances.c.id.in_(ids))).all()
    return {r.id: {**(r.summary or {}), "reference": r.reference, "rag": r.rag,
                   "process": r.process_id} for r in rows}


def task(conn: Connection, task_id: str) -> Any:
    return conn.execute(sa.select(human_tasks).where(human_tasks.c.id == task_id)).first()


def forms(conn: Connection, instance_id: str) -> list[list[dict[str, Any]]]:
    """The forms of every task the instance has had (for the words of recorded answers)."""
    return [r.form for r in conn.execute(sa.select(human_tasks.c.form).where(
        human_tasks.c.instance_id == instance_id).order_by(human_tasks.c.created_at))]


def open_tasks_of(conn: Connection, instance_ids: Iterable[str]
                  ) -> dict[str, list[tuple[str, str]]]:
    """Each instance's open tasks as (role, task name): who holds the case now."""
    ids = sorted(set(instance_ids))
    found: dict[str, list[tuple[str, str]]] = {}
    if not ids:
        return found
    for r in conn.execute(sa.select(human_tasks.c.instance_id, human_tasks.c.role,
                                    human_tasks.c.name)
                          .where(human_tasks.c.instance_id.in_(ids),
                                 human_tasks.c.status == "open")
                          .order_by(human_tasks.c.created_at)):
        found.setdefault(r.instance_id, []).append((r.role, r.name))
    return found


def may_do(caller: Caller, role: str) -> bool:
    return caller.admin or role in caller.roles


def may_see_instance(conn: Connection, caller: Caller, instance_id: str) -> bool:
    """Whether the instance exists and one of the caller's roles has (had) a task in it."""
    return queries.may_see_instance(conn, instance_id, None if caller.admin else set(caller.roles))


record_view = queries.record_view  # reading a case is audited, as GET /instances/{id} does


def board_deadlines(conn: Connection, caller: Caller, done_since: datetime
                    ) -> list[dict[str, Any]]:
    """The deadlines the board can show on instances the caller may see: those not yet done
    (neither done nor cancelled) and those done late since `done_since`; each with the role
    of the task it runs on (None when it runs on something that is not a person's task: see
    `lanes`), the instance's RAG and whom it is about. Each part is read from an index that
    holds just its rows (engine/store.py), so the board costs what it shows."""
    query = sa.select(
        deadlines.c.instance_id, deadlines.c.name, deadlines.c.element_id,
        deadlines.c.started_at, deadlines.c.due,
        deadlines.c.done_at, deadlines.c.breached_at, deadlines.c.met,
        human_tasks.c.role, human_tasks.c.name.label("task_name"),
        human_tasks.c.status.label("task_status"),
        instances.c.rag, instances.c.summary, instances.c.reference, instances.c.state,
        instances.c.version_id, instances.c.process_id,
    ).join(instances, instances.c.id == deadlines.c.instance_id)\
        .outerjoin(human_tasks, human_tasks.c.id == deadlines.c.activity_task_id)\
        .where(deadlines.c.cancelled_at.is_(None))
    if not caller.admin:
        query = query.where(of_roles(set(caller.roles)))
    found = [r._asdict() for part in (
        query.where(deadlines.c.done_at.is_(None)),
        query.where(deadlines.c.met.is_(False), deadlines.c.done_at >= done_since),
    ) for r in conn.execute(part)]
    found.sort(key=lambda d: d["due"])
    return found
