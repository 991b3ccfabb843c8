"""The inbox of a person's roles, and a task: the contact, the history, the form."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ... import forms, queries
from ...api import claims
from ...service import Conflict, Engine, Forbidden, FormRejected, NotFound
from ...store import history
from .. import formfields, reads, timing, views
from ..formfields import Posted
from ..household import household
from ..render import page
from ..session import CSRF_FIELD, Session, signed_in
from .common import chrome, first, is_uuid, posted, refused


def router(engine: Engine) -> APIRouter:
    pages = APIRouter()

    @pages.get("/inbox", include_in_schema=False)
    def inbox(done: str | None = None, session: Session = Depends(signed_in)) -> Response:
        caller = session.caller
        with engine.store.reading() as conn:
            tasks = queries.open_tasks(conn, None if caller.admin else set(caller.roles))
            about = reads.about(conn, [t["instance_id"] for t in tasks])
            finished = reads.task(conn, done) if done and is_uuid(done) else None
        if finished is not None and not reads.may_do(caller, finished.role):
            finished = None
        rows = views.inbox_rows(tasks, about, engine.calendar, engine.clock.now())
        return page("inbox.html", rows=rows, finished=finished,
                    overdue=sum(1 for r in rows if r.due.overdue),
                    **chrome(engine, session, "inbox"))

    def not_yours(session: Session, row: Any) -> HTMLResponse | None:
        if row is not None and reads.may_do(session.caller, row.role):
            return None
        if row is None and session.caller.admin:
            return refused(engine, session, 404, "No such task",
                           "There is no task with this address.")
        return refused(engine, session, 403, "Not a task of your roles",
                       "This task is not one of your roles' tasks, so it cannot be shown.")

    def task_page(session: Session, row: Any, posted_form: Posted | None = None,
                  errors: list[dict[str, str]] | None = None, status: int = 200,
                  claim_error: str | None = None) -> Response:
        data = engine.task_data(row.id)
        with engine.store.reading() as conn:
            case = queries.instance_view(conn, row.instance_id)
            about = reads.about(conn, [row.instance_id]).get(row.instance_id, {})
            names = views.Names.of(reads.forms(conn, row.instance_id))
            version_id = queries.instance_row(conn, row.instance_id).version_id
            family = household(conn, session.caller, row.instance_id, engine.calendar.zone)
        form = list(row.form or [])
        steps = views.history_steps(case["history"], engine.calendar, names)
        now = engine.clock.now()
        held = claims.current_claim(row, now)
        return page(
            "task.html", status=status, task=row, case=case, about=about,
            subject=views.subject(about),
            due=views.due(engine.calendar, now, row.due),
            created=timing.local(row.created_at, engine.calendar.zone),
            sections=views.contact_sections(data, engine.calendar, {f["id"] for f in form}, names),
            history=steps,
            controls=formfields.controls(form, posted_form, errors, forms.prefilled(form, data)),
            claim=held and {"holder": held.holder, "mine": held.holder == session.caller.name,
                            "until": timing.local(held.until, engine.calendar.zone),
                            "may_release": claims.may_release(session.caller, held.holder)},
            claim_error=claim_error,
            other_errors=formfields.unplaced_errors(form, errors or []),
            guidance=guidance(version_id, row.element_id), household=family,
            **chrome(engine, session, "inbox"))

    def guidance(version_id: int, element_id: str) -> str | None:
        """The task's documentation in the diagram: what the procedure says about it."""
        for model in engine.deployments.version(version_id).models.values():
            element = model.elements.get(element_id)
            if element is not None:
                return element.documentation
        return None

    def closed_page(session: Session, row: Any, status: int, attempted: bool) -> Response:
        return page("task_closed.html", status=status, task=row, attempted=attempted,
                    by_me=row.completed_by == session.caller.name,
                    at=timing.local(row.completed_at, engine.calendar.zone),
                    **chrome(engine, session, "inbox"))

    @pages.get("/inbox/{task_id}", include_in_schema=False)
    def show_task(task_id: str, session: Session = Depends(signed_in)) -> Response:
        row = _row(engine, task_id)
        if (refusal := not_yours(session, row)) is not None:
            return refusal
        if row.status != "open":
            return closed_page(session, row, 200, attempted=False)
        with engine.store.transaction() as conn:  # reading a task is audited, as a case is
            conn.execute(history.insert().values(
                instance_id=row.instance_id, at=engine.clock.now(), actor=session.caller.name,
                action="viewed task", element_id=row.element_id, element_name=row.name,
                role=row.role))
        try:
            return task_page(session, row)
        except NotFound:  # completed between the two reads
            return closed_page(session, _row(engine, task_id), 200, attempted=False)

    @pages.post("/inbox/{task_id}", include_in_schema=False)
    def complete_task(task_id: str, form: Posted = Depends(posted),
                      session: Session = Depends(signed_in)) -> Response:
        session.check(first(form, CSRF_FIELD))
        row = _row(engine, task_id)
        if (refusal := not_yours(session, row)) is not None:
            return refusal
        caller = session.caller
        answers = formfields.values(list(row.form or []), form)
        now = engine.clock.now()
        try:
            if (held := claims.held_by_other(row, caller, now)) is not None:
                raise claims.ClaimRefused(409, claims.refusal(held))
            engine.complete(task_id, answers, caller.name,
                            None if caller.admin else set(caller.roles),
                            within=claims.hold(task_id, caller, now))
        except claims.ClaimRefused:
            return task_page(session, _row(engine, task_id), form, status=409,
                             claim_error="held")
        except FormRejected as err:
            return task_page(session, row, form, err.errors, status=422)
        except Conflict:
            return closed_page(session, _row(engine, task_id), 409, attempted=True)
        except Forbidden:
            return refused(engine, session, 403, "Not a task of your roles",
                           "This task is not one of your roles' tasks.")
        except NotFound:
            return refused(engine, session, 404, "No such task",
                           "There is no task with this address.")
        return RedirectResponse(f"/inbox?done={task_id}", status_code=303)

    @pages.post("/inbox/{task_id}/claim", include_in_schema=False)
    def claim_task(task_id: str, form: Posted = Depends(posted),
                   session: Session = Depends(signed_in)) -> Response:
        return change_claim(task_id, form, session, claims.claim)

    @pages.post("/inbox/{task_id}/release", include_in_schema=False)
    def release_task(task_id: str, form: Posted = Depends(posted),
                     session: Session = Depends(signed_in)) -> Response:
        return change_claim(task_id, form, session, claims.release)

    def change_claim(task_id: str, form: Posted, session: Session, change: Any) -> Response:
        session.check(first(form, CSRF_FIELD))
        row = _row(engine, task_id)
        if (refusal := not_yours(session, row)) is not None:
            return refusal
        try:
            change(engine.store, task_id, session.caller, engine.clock.now())
        except claims.ClaimRefused as err:
            fresh = _row(engine, task_id)
            if fresh.status != "open":
                return closed_page(session, fresh, 409, attempted=True)
            return task_page(session, fresh, status=err.status, claim_error="held")
        return RedirectResponse(f"/inbox/{task_id}", status_code=303)

    return pages


def _row(engine: Engine, task_id: str) -> Any:
    if not is_uuid(task_id):
        return None
    with engine.store.reading() as conn:
        return reads.task(conn, task_id)
