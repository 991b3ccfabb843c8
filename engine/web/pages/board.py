"""The deadlines board: what is breached and what falls due today, by role and RAG; cases
stopped by an incident and notifications not delivered (a line each); which version each
case runs, and the versions running."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from ... import incidents, queries
from ...service import Engine
from .. import reads, timing, views
from ..render import page
from ..session import Session, signed_in
from .common import chrome


def router(engine: Engine) -> APIRouter:
    pages = APIRouter()

    def lane(version_id: int, element_id: str) -> str | None:
        """The lane the deadline's timer is drawn in: the role answerable for it."""
        for model in engine.deployments.version(version_id).models.values():
            if element_id in model.elements:
                return model.elements[element_id].role
        return None

    @pages.get("/board", include_in_schema=False)
    def deadlines_board(role: str | None = None, rag: str | None = None,
                        session: Session = Depends(signed_in)) -> Response:
        with engine.store.reading() as conn:
            found = reads.board_deadlines(conn, session.caller,
                                          engine.clock.now() - views.DONE_LATE_SHOWN)
            holding = reads.open_tasks_of(conn, {r["instance_id"] for r in found
                                                 if r["role"] is None and r["done_at"] is None})
        for row in found:
            if row["role"] is None:
                # A deadline on a sub-process, not on one person's task: answerable is
                # whoever holds the case now, else the lane its timer is drawn in.
                now_with = holding.get(row["instance_id"], [])
                row["role"] = " and ".join(sorted({r for r, _ in now_with})) or \
                    lane(row["version_id"], row["element_id"])
                row["task_name"] = "; ".join(name for _, name in now_with) or None
        board = views.board(found, engine.calendar, engine.clock.now(), role or None, rag or None)
        stopped = incidents.of(engine)
        caller = session.caller
        with engine.store.reading() as conn:
            if not incidents.may_see(set(caller.roles), caller.admin):  # their own cases only
                mine = queries.instances_with_tasks_of(
                    conn, set(caller.roles), [i["instance_id"] for i in stopped if i["instance_id"]])
                stopped = [i for i in stopped if i["instance_id"] in mine]
            versions = queries.instance_versions(
                conn, [r.instance_id for r in board.breached + board.due_today])
            running = queries.running_versions(conn)
        for incident in stopped:
            incident["since_text"] = timing.local(incident["since"], engine.calendar.zone)
        return page("board.html", board=board, done_late_days=views.DONE_LATE_SHOWN.days,
                    role=role or "", rag=rag or "",
                    rags=(*views.RAGS, "Not rated"), versions=versions,
                    running=[{**r, "deployed": timing.local(r["deployed_at"], engine.calendar.zone)}
                             for r in running],
                    generation=engine.generation, stopped=stopped,
                    **chrome(engine, session, "board"))

    return pages
