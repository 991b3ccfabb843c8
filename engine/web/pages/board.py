"""The deadlines board: what is breached and what falls due today, by role and RAG."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from ...service import Engine
from .. import reads, views
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
            found = reads.board_deadlines(conn, session.caller)
        for row in found:
            if row["role"] is None:  # on a sub-process, not a person's task: its lane
                row["role"] = lane(row["version_id"], row["element_id"])
        board = views.board(found, engine.calendar, engine.clock.now(), role or None, rag or None)
        return page("board.html", board=board, role=role or "", rag=rag or "",
                    rags=(*views.RAGS, "Not rated"), **chrome(engine, session, "board"))

    return pages
