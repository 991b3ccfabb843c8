"""A case: its diagram with the position and the path taken, deadlines and history."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from ... import queries
from ...service import Engine
from .. import diagram, reads, views
from ..household import household
from ..render import HEADERS, page
from ..session import Session, signed_in
from .common import chrome, is_uuid, refused


def router(engine: Engine) -> APIRouter:
    pages = APIRouter()

    def refusal(session: Session, instance_id: str) -> Response | None:
        if is_uuid(instance_id):
            with engine.store.reading() as conn:
                if reads.may_see_instance(conn, session.caller, instance_id):
                    return None
        if session.caller.admin:
            return refused(engine, session, 404, "No such case",
                           "There is no case with this address.")
        return refused(engine, session, 403, "Not a case of your roles",
                       "None of your roles has a task in this case, so it cannot be shown.")

    @pages.get("/case/{instance_id}", include_in_schema=False)
    def show_case(instance_id: str, session: Session = Depends(signed_in)) -> Response:
        if (answer := refusal(session, instance_id)) is not None:
            return answer
        now = engine.clock.now()
        with engine.store.transaction() as conn:  # reading a case is audited
            reads.record_view(conn, instance_id, session.caller.name, now)
            case = queries.instance_view(conn, instance_id)
            about = reads.about(conn, [instance_id]).get(instance_id, {})
            names = views.Names.of(reads.forms(conn, instance_id))
            family = household(conn, session.caller, instance_id, engine.calendar.zone)
        history = views.history_steps(case["history"], engine.calendar, names)
        done = {h["element_id"]: h["element_name"] for h in case["history"]
                if h["action"] == "completed" and h["element_id"] and h["element_name"]}
        return page(
            "case.html", case=case, about=about, subject=views.subject(about), history=history,
            deadlines=views.deadline_rows(case["deadlines"], engine.calendar, now),
            open_tasks=[{**t, "mine": reads.may_do(session.caller, t["role"]),
                         "due": views.due(engine.calendar, now, t["due"])}
                        for t in case["open_tasks"]],
            path_names=list(done.values()), household=family,
            **chrome(engine, session, ""))

    @pages.get("/case/{instance_id}/diagram.json", include_in_schema=False)
    def case_diagram(instance_id: str, session: Session = Depends(signed_in)) -> Response:
        if refusal(session, instance_id) is not None:
            return JSONResponse({"errors": [{"field": "instance",
                                             "message": "is not a case of your roles"}]},
                                status_code=403, headers=HEADERS)
        with engine.store.reading() as conn:
            case = queries.instance_view(conn, instance_id, history_rows=False)
            row = queries.instance_row(conn, instance_id)
        version = engine.deployments.version(row.version_id)
        xml = engine.deployments.diagram_xml(row.version_id,
                                             version.models[row.process_id].file)
        marked = diagram.marks(xml, row.process_id, version.models, case["path"],
                               [t["element_id"] for t in case["open_tasks"]])
        return JSONResponse({"process": row.process_id, "version": row.version, "xml": xml,
                             "flows": case["flows"], **marked}, headers=HEADERS)

    return pages
