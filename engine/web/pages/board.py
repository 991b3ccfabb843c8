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

    @pages.get("/board", include_in_schema=False)
    def deadlines_board(role: str | None = None, rag: str | None = None,
                        session: Session = Depends(signed_in)) -> Response:
        with engine.store.reading() as conn:
            found = reads.board_deadlines(conn, session.caller)
        board = views.board(found, engine.calendar, engine.clock.now(), role or None, rag or None)
        return page("board.html", board=board, role=role or "", rag=rag or "",
                    rags=(*views.RAGS, "Not rated"), **chrome(engine, session, "board"))

    return pages
