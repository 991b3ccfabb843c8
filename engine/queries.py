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

# An instance's states other than `completed` (engine/store.py, instances.state).
NOT_ENDED = ("running", "waiting", "incident")


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
    # issue 17: the contact it came in, and what other contacts about the child brought to it
    view["contact_id"] = contact_id_of(conn, instance_id) if row.process_id == "first_response" \
        else None
    view["another_contacts"] = another_contact_notes(conn, instance_id)
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
                  roles: set[str] | None = None,
                  since: datetime | None = None) -> list[dict[str, Any]]:
    """Deadlines due (not yet done, breached or cancelled) or breached (still open, and done
    late: all, or only those done since `since`), by due instant; `roles`: only of instances
    where one of them has (had) a task (None: every instance)."""
    wheres: list[list[Any]]
    if state == "due":
        wheres = [[deadlines.c.done_at.is_(None), deadlines.c.cancelled_at.is_(None),
                   deadlines.c.breached_at.is_(None)]]
    elif state == "breached" and since is None:
        wheres = [[deadlines.c.met.is_(False)]]
    elif state == "breached":  # each part read from ix_deadlines_breached
        wheres = [[deadlines.c.met.is_(False), deadlines.c.done_at.is_(None)],
                  [deadlines.c.met.is_(False), deadlines.c.done_at >= since]]
    else:
        raise ValueError(f"state must be due or breached, not {state!r}")
    rows: list[Any] = []
    for where in wheres:
        query = sa.select(deadlines.c.id, deadlines.c.instance_id, deadlines.c.name,
                          deadlines.c.due, deadlines.c.done_at, deadlines.c.met).where(*where)
        if roles is not None:
            query = query.where(of_roles(roles))
        rows += conn.execute(query.order_by(deadlines.c.due, deadlines.c.id)).all()
    if len(wheres) > 1:
        rows.sort(key=lambda r: (r.due, r.id))
    return [{"instance_id": r.instance_id, "name": r.name, "due": r.due, "done_at": r.done_at,
             "met": r.met} for r in rows]


def of_roles(roles: set[str]) -> Any:
    """A deadline's instance has (had) a task of one of these roles: looked up per deadline
    (ix_human_tasks_instance), so a role's list costs what it shows, not all its tasks ever."""
    task = human_tasks.alias("role_task")  # (the query may join human_tasks itself)
    return sa.exists().where(task.c.instance_id == deadlines.c.instance_id,
                             task.c.role.in_(sorted(roles)))


# -- contacts, their children and repeat contacts (issue 17) -------------------------------------


def contact_id_of(conn: Connection, some_id: str) -> str | None:
    """The contact an id names: a contact's id, or the instance of one of its children (a
    first response instance recorded before contacts were grouped is a contact of one)."""
    from .store import contact_children

    found = conn.execute(sa.select(contact_children.c.contact_id)
                         .where(contact_children.c.instance_id == some_id)).scalar()
    if found is not None:
        return str(found)
    if conn.execute(sa.select(contact_children.c.instance_id)
                    .where(contact_children.c.contact_id == some_id).limit(1)).first():
        return some_id
    process = conn.execute(sa.select(instances.c.process_id)
                           .where(instances.c.id == some_id)).scalar()
    return some_id if process == "first_response" else None


def contact_members(conn: Connection, contact_id: str) -> list[str]:
    """The instances of a contact's children, in the order the contact named them."""
    from .store import contact_children

    members = [r[0] for r in conn.execute(
        sa.select(contact_children.c.instance_id).where(contact_children.c.contact_id == contact_id)
        .order_by(contact_children.c.position, contact_children.c.instance_id))]
    return members or [contact_id]


def contact_links_of(conn: Connection, instance_id: str) -> dict[str, list[dict[str, Any]]]:
    """Other contacts about the same child: `earlier` ones this contact came after (in progress
    then, or ended within the re-referral window), and `later` ones that came after it."""
    from .store import contact_links

    found: dict[str, list[dict[str, Any]]] = {"earlier": [], "later": []}
    for row in conn.execute(sa.select(contact_links).where(sa.or_(
            contact_links.c.instance_id == instance_id, contact_links.c.other_id == instance_id))
            .order_by(contact_links.c.at, contact_links.c.id)):
        later = row.other_id == instance_id
        other = row.instance_id if later else row.other_id
        found["later" if later else "earlier"].append({
            "instance_id": other, "reference": other.split("-")[0].upper(), "kind": row.kind,
            "at": row.at, "decision": row.decision, "decided_at": row.decided_at})
    return found


def another_contact_notes(conn: Connection, instance_id: str) -> list[dict[str, Any]]:
    """What other contacts about the child brought to this one while it was open."""
    from .store import case_notes

    return [{"at": r.at, "text": r.text} for r in conn.execute(
        sa.select(case_notes.c.at, case_notes.c.text).where(
            case_notes.c.instance_id == instance_id, case_notes.c.kind == "another_contact")
        .order_by(case_notes.c.id))]


def child_view(conn: Connection, instance_id: str) -> dict[str, Any]:
    """One child of a contact: whom it is about, where it is, its outcome and deadlines, and
    the other contacts about the child."""
    row = instance_row(conn, instance_id)
    summary = row.summary or {}
    links = contact_links_of(conn, instance_id)
    joined = [link["instance_id"] for link in links["earlier"] if link["decision"] == "joined"]
    return {
        "instance_id": row.id, "child": {"name": summary.get("child_name"),
                                         "id": summary.get("child_id")},
        "state": row.state, "outcome": row.outcome, "rag": row.rag,
        "flags": list(row.flags or []), "received_at": summary.get("received_at"),
        "ended_at": row.ended_at,
        "deadlines": [deadline_view(d) for d in conn.execute(
            sa.select(deadlines).where(deadlines.c.instance_id == instance_id)
            .order_by(deadlines.c.started_at, deadlines.c.name))],
        "open_tasks": [task_view(t) for t in conn.execute(
            sa.select(human_tasks).where(human_tasks.c.instance_id == instance_id,
                                         human_tasks.c.status == "open")
            .order_by(human_tasks.c.created_at))],
        "joined_to": joined[0] if joined else None,
        "earlier_contacts": links["earlier"], "later_contacts": links["later"],
    }


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
        .where(instances.c.state.in_(NOT_ENDED))  # (from ix_instances_state: flat with size)
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


# -- who may see what, and reading recorded ------------------------------------------------
#
# Reading a case or a task is audited: the read models that answer a person record it in
# the case's history (the only writes here; they change no case).


def task_row(conn: Connection, task_id: str) -> Any:
    """A person's task as stored (None: no such task)."""
    return conn.execute(sa.select(human_tasks).where(human_tasks.c.id == task_id)).first()


def task_rows(conn: Connection, task_ids: list[str]) -> dict[str, Any]:
    """The stored tasks of these ids (those that exist), by id."""
    return {r.id: r for r in conn.execute(
        sa.select(human_tasks).where(human_tasks.c.id.in_(task_ids)))}


def may_see_instance(conn: Connection, instance_id: str, roles: set[str] | None) -> bool:
    """Whether the instance exists and (unless `roles` is None: admin) one of the roles has
    (had) a task in it."""
    if roles is None:
        return conn.execute(sa.select(instances.c.id)
                            .where(instances.c.id == instance_id)).first() is not None
    return conn.execute(sa.select(human_tasks.c.id).where(
        human_tasks.c.instance_id == instance_id,
        human_tasks.c.role.in_(sorted(roles))).limit(1)).first() is not None


def record_view(conn: Connection, instance_id: str, actor: str, at: datetime) -> None:
    """Someone read the case."""
    conn.execute(history.insert().values(instance_id=instance_id, at=at, actor=actor,
                                         action="viewed"))


def record_task_view(conn: Connection, task: Any, actor: str, at: datetime) -> None:
    """Someone read one of the case's tasks (`task`: its stored row)."""
    conn.execute(history.insert().values(
        instance_id=task.instance_id, at=at, actor=actor, action="viewed task",
        element_id=task.element_id, element_name=task.name, role=task.role))
