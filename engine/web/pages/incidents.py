"""Incidents, for admin and the managers: instances stopped by a failed step and
notifications not delivered, with the error in words, the element, and the actions: retry
(admin and managers) and move to another version (admin)."""

from __future__ import annotations

from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response

from ... import incidents, migration
from ...service import Engine, NotFound
from ...store import process_versions
from .. import timing
from ..formfields import Posted
from ..render import page
from ..session import Session, signed_in
from .common import chrome, first, posted, refused


def router(engine: Engine) -> APIRouter:
    pages = APIRouter()

    def forbidden(session: Session) -> Response | None:
        if incidents.may_see(set(session.caller.roles), session.caller.admin):
            return None
        return refused(engine, session, 403, "Incidents are for managers",
                       "The incident list is for admin and the MASH managers.")

    @pages.get("/incident-list", include_in_schema=False)
    def incident_list(done: str | None = None, session: Session = Depends(signed_in)) -> Response:
        if (answer := forbidden(session)) is not None:
            return answer
        zone = engine.calendar.zone
        found = incidents.of(engine)
        newer = _newer_versions(engine, {i["process"] for i in found if i["process"]})
        rows = [{**i, "since_text": timing.local(i["since"], zone),
                 "next_text": timing.local(i["next_attempt_at"], zone)
                 if i["next_attempt_at"] else "",
                 "targets": [v for v in newer.get(i["process"], []) if v > (i["version"] or 0)]}
                for i in found]
        return page("incidents.html", rows=rows, done=done or "",
                    admin=session.caller.admin, **chrome(engine, session, "incidents"))

    @pages.post("/incident-list/retry", include_in_schema=False)
    def retry(form: Posted = Depends(posted), session: Session = Depends(signed_in)) -> Response:
        session.check(first(form, "csrf"))
        if (answer := forbidden(session)) is not None:
            return answer
        kind, ident = first(form, "kind"), first(form, "id") or ""
        if kind == "notification":
            found = incidents.retry_notification(engine.store, ident)
            message = "Notification queued to be tried again at once" if found else \
                "That notification has been delivered meanwhile"
        else:
            try:
                state = engine.retry(ident, session.caller.name)
            except NotFound:
                return refused(engine, session, 404, "No such case", "There is no such case.")
            message = "Retried: the case carries on" if state != "incident" else \
                "Retried: the step failed again"
        return RedirectResponse(f"/incident-list?done={quote(message)}", status_code=303)

    @pages.post("/incident-list/migrate", include_in_schema=False)
    def migrate(form: Posted = Depends(posted), session: Session = Depends(signed_in)) -> Response:
        session.check(first(form, "csrf"))
        if not session.caller.admin:
            return refused(engine, session, 403, "Moving cases needs admin",
                           "Only admin may move a case to another version of its process.")
        try:
            plan = migration.Plan(first(form, "process") or "", int(first(form, "from") or 0),
                                  int(first(form, "to") or 0))
            report = migration.migrate(engine, plan, [first(form, "id") or ""],
                                       session.caller.name)
        except ValueError as err:
            problems = err.problems if isinstance(err, migration.PlanError) else [str(err)]
            return refused(engine, session, 422, "The case was not moved",
                           "; ".join(problems) + ". Map the elements with `mash migrate --map`.")
        if report.refused:  # someone else moved it meanwhile
            return refused(engine, session, 409, "The case was not moved",
                           "; ".join(report.refused) + ".")
        [moved] = report.moved
        message = f"Moved to version {plan.target}: {moved.state}"
        return RedirectResponse(f"/incident-list?done={quote(message)}", status_code=303)

    return pages


def _newer_versions(engine: Engine, processes: set[str]) -> dict[str, list[int]]:
    if not processes:
        return {}
    with engine.store.reading() as conn:
        rows = conn.execute(sa.select(process_versions.c.process_id, process_versions.c.version)
                            .where(process_versions.c.process_id.in_(sorted(processes)))
                            .order_by(process_versions.c.version)).all()
    found: dict[str, list[int]] = {}
    for process, version in rows:
        found.setdefault(process, []).append(version)
    return found

