"""What every page route shares: the engine, the page chrome, the posted form, refusals."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import HTMLResponse

from ...incidents import may_see as may_see_incidents
from ...reports import may_see
from ...service import Engine
from .. import timing
from ..formfields import Posted
from ..render import page
from ..session import FormTooLarge, Session


def chrome(engine: Engine, session: Session, current: str) -> dict[str, Any]:
    """The layout's context: who is signed in, the Hub's time, which page is current."""
    now = engine.clock.now()
    return {
        "user": session.caller.name, "roles": sorted(session.caller.roles),
        "csrf": session.csrf, "current": current,
        "hub_time": timing.local(now, engine.calendar.zone),
        "hub_open": engine.calendar.is_hub_open(now),
        "sees_incidents": may_see_incidents(set(session.caller.roles), session.caller.admin),
        "reports": may_see(session.caller.roles),  # management information: pages/dashboard.py
    }


MAX_FORM_FIELDS = 500  # the longest task form has a few dozen; more is not a person typing


async def posted(request: Request) -> Posted:
    """A posted HTML form (application/x-www-form-urlencoded) as field -> values; more than
    MAX_FORM_FIELDS fields is refused (413) before anything reads them."""
    body = (await request.body()).decode("utf-8", errors="replace")
    try:
        return parse_qs(body, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise FormTooLarge() from None


def first(form: Posted, name: str) -> str | None:
    """The first value posted for a field, if any."""
    sent = form.get(name)
    return sent[0] if sent else None


def is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def refused(engine: Engine, session: Session, status: int, title: str,
            message: str) -> HTMLResponse:
    return page("refused.html", status=status, title=title, message=message,
                **chrome(engine, session, ""))
