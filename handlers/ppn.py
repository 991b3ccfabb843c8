"""The daily PPN meeting: police notifications (PPNs) gathered and rated once a day.

A PPN contact waits in first response at a message event (`ppn_rated`). At each meeting,
`gather_ppns` lists the contacts waiting then (a PPN that arrives later waits for the next
meeting); the meeting agrees each one's threshold and RAG rating, and `release_ppn` sends
that rating to its contact, which carries on from Step 4 with it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.clock import iso_z
from engine.queries import NOT_ENDED
from engine.registry import HandlerContext, HandlerError, handler
from engine.store import instances

MESSAGE = "ppn_rated"


@handler("gather_ppns", sets=("refers_to", "ppns", "meeting_at"))
def gather_ppns(task: HandlerContext) -> None:
    conn = task.services.connection
    rows = waiting_ppns(conn, task.properties.get("message", MESSAGE))
    # A PPN already listed at a meeting still under way is that meeting's, not this one's.
    listed = listed_elsewhere(conn, task.process_id, task.instance_id)
    rows = [row for row in rows if row.id not in listed]
    task.data["refers_to"] = [row.id for row in rows]
    task.data["ppns"] = [{
        "instance_id": row.id,
        "reference": row.reference or row.id.split("-")[0].upper(),
        "child_name": (row.summary or {}).get("child_name"),
        "received_at": (row.summary or {}).get("received_at"),
    } for row in rows]
    task.data["meeting_at"] = iso_z(task.now)


def waiting_ppns(conn: Connection, message: str) -> list[Any]:
    """The contacts waiting for the meeting's rating now, the earliest first."""
    return list(conn.execute(
        sa.select(instances.c.id, instances.c.summary, instances.c.reference)
        .where(instances.c.waiting_for == message, instances.c.state == "waiting")
        .order_by(instances.c.started_at)).all())


def listed_elsewhere(conn: Connection, process_id: str, instance_id: str) -> set[str]:
    """The PPNs listed at the other meetings (of `process_id`) still under way (read from
    ix_instances_process_state: a meeting a day for years stays a few rows)."""
    return {ppn for (summary,) in conn.execute(
        sa.select(instances.c.summary).where(instances.c.process_id == process_id,
                                             instances.c.state.in_(NOT_ENDED),
                                             instances.c.id != instance_id))
        for ppn in (summary or {}).get("refers_to", [])}


@handler("release_ppn")
def release_ppn(task: HandlerContext) -> None:
    ppn = task.data.get("ppn")
    if not isinstance(ppn, dict) or "instance_id" not in ppn:
        raise HandlerError("release_ppn runs once per PPN: its data needs `ppn` from the meeting")
    rating = {"rag": task.data.get("rag"), "threshold_level": task.data.get("threshold_level"),
              "meeting_at": task.data.get("meeting_at") or iso_z(task.now)}
    if rating["rag"] not in ("RED", "AMBER", "GREEN"):
        raise HandlerError(f"the meeting gave PPN {ppn.get('reference')} no RAG rating")
    task.services.messages.send(ppn["instance_id"], task.properties.get("message", MESSAGE),
                                rating)
