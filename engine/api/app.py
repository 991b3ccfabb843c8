"""The service's HTTP API: thin routes over the engine (docs/api.md is the reference).

Every answer that refuses something is `{"errors": [{"field", "message"}]}` with a 4xx;
a role that may not see a thing gets 403 whether or not it exists.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException

from .. import queries
from ..clock import VirtualClock, as_utc, iso_z
from ..deployments import UnknownProcess
from ..queries import jsonable
from ..service import Conflict, Engine, Forbidden, FormRejected, NotFound
from . import claims, contacts, docs, openapi
from .auth import Caller, caller_for
from .idempotency import Call, KeyRefused
from .incidents import register as incident_routes
from .limits import BodyLimit, NoStore
from .metrics import metrics_text
from .reports import routes as report_routes
from .validation import JsonGuard

log = logging.getLogger("mash.api")

CONTACT_PROCESS = "first_response"
DISAGREEMENT_PROCESS = "escalation"


class Refused(Exception):
    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.errors = [{"field": field, "message": message}]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CompleteBody(Strict):
    data: dict[str, Any]


SHORT = 500  # the limits of a contact's fields (handlers/intake.py)
LONG = 20_000


class RaisedBy(Strict):
    """Who raised it: their name alone, or name, agency, email and phone."""

    name: str | None = Field(default=None, max_length=SHORT)
    agency: str | None = Field(default=None, max_length=SHORT)
    email: str | None = Field(default=None, max_length=SHORT)
    phone: str | None = Field(default=None, max_length=SHORT)

    @model_validator(mode="before")
    @classmethod
    def _name_alone(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value


class DisagreementBody(Strict):
    raised_by: RaisedBy
    about: str | None = Field(default=None, max_length=36)
    summary: str = Field(default="", max_length=LONG)
    # The policy's first step: true when the professional has already tried to resolve it
    # with the other professional; the disagreement then starts at Stage 1.
    informal_attempt_failed: StrictBool = False


class ClockBody(Strict):
    to: str | None = None
    by: str | None = None


def create_app(engine: Engine, virtual_clock: bool = False,
               extra_routes: Callable[[FastAPI, Engine], None] | None = None) -> FastAPI:
    app = FastAPI(title="mash", version="1", description=__doc__, docs_url=None, redoc_url=None)
    app.add_middleware(JsonGuard)  # inside BodyLimit: it reads only what BodyLimit allows
    app.add_middleware(BodyLimit)
    app.add_middleware(NoStore)
    app.state.engine = engine
    docs.routes(app)
    openapi.describe(app)  # /openapi.json completed: engine/api/openapi.py

    @app.exception_handler(Refused)
    def _refused(request: Request, err: Refused) -> JSONResponse:
        return JSONResponse({"errors": err.errors}, status_code=err.status)

    @app.exception_handler(KeyRefused)
    def _key_refused(request: Request, err: KeyRefused) -> JSONResponse:
        return JSONResponse({"errors": [{"field": "Idempotency-Key", "message": err.message}]},
                            status_code=err.status)

    @app.exception_handler(claims.ClaimRefused)
    def _claim_refused(request: Request, err: claims.ClaimRefused) -> JSONResponse:
        return JSONResponse({"errors": [{"field": "task", "message": err.message}]},
                            status_code=err.status)

    @app.exception_handler(HTTPException)
    def _http(request: Request, err: HTTPException) -> JSONResponse:
        # FastAPI's and Starlette's own refusals (no such route, method not allowed, a body
        # it could not read) in the same shape as ours.
        message = {404: "no such address", 405: f"{request.method} is not allowed here"}.get(
            err.status_code, str(err.detail))
        return JSONResponse({"errors": [{"field": "request", "message": message}]},
                            status_code=err.status_code, headers=getattr(err, "headers", None))

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        errors = []
        status = 422
        for e in err.errors():
            location = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")]
            if e.get("type") == "json_invalid":
                status = 400
                errors.append({"field": "body", "message": "is not valid JSON"})
                continue
            message = "is not a known field" if e.get("type") == "extra_forbidden" \
                else str(e.get("msg", "is invalid"))
            errors.append({"field": ".".join(location) or "body", "message": message})
        return JSONResponse({"errors": errors}, status_code=status)

    def caller(authorization: str | None = Header(default=None)) -> Caller:
        scheme, _, token = (authorization or "").partition(" ")
        found = caller_for(engine.store, token.strip(), engine.clock.now()) \
            if scheme.lower() == "bearer" else None
        if found is None:
            raise Refused(401, "authorization", "give a valid token: Authorization: Bearer TOKEN "
                                                "(an expired or revoked one is refused)")
        return found

    def call(request: Request, who: Caller, key: str | None, body: Any) -> Call:
        return Call(who.token_id, key, request.method, request.url.path, body)

    incident_routes(app, engine, caller)  # GET /incidents, retries, POST /migrations

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        with engine.store.reading() as conn:
            conn.execute(sa.text("SELECT 1"))
        return {"status": "ok"}

    @app.post("/contacts", status_code=201)
    def submit_contact(request: Request, request_body: dict[str, Any],
                       who: Caller = Depends(caller),
                       idempotency_key: str | None = Header(default=None)) -> Any:
        from handlers.intake import validate_contact

        once = call(request, who, idempotency_key, request_body)
        if (earlier := once.replay(engine.store)) is not None:
            return earlier
        data, errors = validate_contact(request_body)
        if errors:
            return JSONResponse({"errors": errors}, status_code=422)
        received_at = data.get("received_at") or iso_z(engine.clock.now())
        data["received_at"] = iso_z(as_utc(datetime.fromisoformat(received_at)))
        if datetime.fromisoformat(data["received_at"]) > engine.clock.now() + timedelta(minutes=5):
            raise Refused(422, "received_at", "is in the future")
        now = engine.clock.now()
        try:  # one instance per child it names (issue 17)
            answer = contacts.start(engine, data, who.name, lambda made: once.remember(
                201, lambda _: made, now))
        except IntegrityError:
            if (earlier := once.replay(engine.store)) is not None:
                return earlier
            raise
        log.info("contact accepted", extra={"instance": answer["id"]})
        return answer

    @app.post("/disagreements", status_code=201)
    def raise_disagreement(request: Request, body: DisagreementBody,
                           who: Caller = Depends(caller),
                           idempotency_key: str | None = Header(default=None)) -> Any:
        once = call(request, who, idempotency_key, body.model_dump())
        if (earlier := once.replay(engine.store)) is not None:
            return earlier
        # An instance the caller may not see answers exactly as one that does not exist.
        if body.about is not None and not may_see(body.about, who):
            raise Refused(422, "about", "is not the id of a contact or decision")
        raised_by = body.raised_by.model_dump(exclude_none=True)
        data = {"raised_by": raised_by, "about": body.about, "summary": body.summary,
                "raised_at": iso_z(engine.clock.now()),
                "informal_attempt_failed": body.informal_attempt_failed}
        import uuid

        instance_id = str(uuid.uuid4())
        try:
            engine.start(DISAGREEMENT_PROCESS, data, who.name, about=body.about,
                         instance_id=instance_id,
                         within=once.remember(201, lambda _: {"id": instance_id},
                                              engine.clock.now()))
        except IntegrityError:
            if (earlier := once.replay(engine.store)) is not None:
                return earlier
            raise
        return {"id": instance_id}

    @app.get("/tasks")
    def list_tasks(role: str | None = Query(default=None),
                   who: Caller = Depends(caller)) -> Any:
        if role is not None and role not in who.roles and not who.admin:
            raise Refused(403, "role", "is not one of your roles")
        roles = {role} if role else (None if who.admin else set(who.roles))
        with engine.store.reading() as conn:
            return jsonable(queries.open_tasks(conn, roles))

    def task_row(task_id: str, who: Caller) -> Any:
        with engine.store.reading() as conn:
            row = queries.task_row(conn, task_id)
        if row is None or (row.role not in who.roles and not who.admin):
            if row is None and who.admin:
                raise Refused(404, "task", "no such task")
            raise Refused(403, "task", "is not a task of your roles")
        return row

    @app.get("/tasks/{task_id}")
    def show_task(task_id: str, who: Caller = Depends(caller)) -> Any:
        row = task_row(task_id, who)
        view = queries.task_view(row)
        held = claims.current_claim(row, engine.clock.now())
        view.update({"status": row.status, "claimed_by": held.holder if held else None,
                     "claimed_until": held.until if held else None,
                     "completed_by": row.completed_by})
        with engine.store.transaction() as conn:  # reading a task is audited, as a case is
            queries.record_task_view(conn, row, who.name, engine.clock.now())
        with engine.store.reading() as conn:  # what other contacts about the child brought
            view["another_contacts"] = queries.another_contact_notes(conn, row.instance_id)
        if row.status == "open":
            try:
                view["context"] = engine.task_data(task_id)
            except NotFound:  # completed since it was read
                view["status"] = "completed"
        return jsonable(view)

    @app.post("/tasks/{task_id}/claim")
    def claim_task(task_id: str, who: Caller = Depends(caller)) -> Any:
        task_row(task_id, who)
        held = claims.claim(engine.store, task_id, who, engine.clock.now())
        return jsonable({"id": task_id, "claimed_by": held.holder, "claimed_until": held.until})

    @app.post("/tasks/{task_id}/release")
    def release_task(task_id: str, who: Caller = Depends(caller)) -> Any:
        task_row(task_id, who)
        claims.release(engine.store, task_id, who, engine.clock.now())
        return {"id": task_id, "claimed_by": None}

    @app.post("/tasks/{task_id}/complete")
    def complete_task(request: Request, task_id: str, body: CompleteBody,
                      who: Caller = Depends(caller),
                      idempotency_key: str | None = Header(default=None)) -> Any:
        once = call(request, who, idempotency_key, body.model_dump())
        if (earlier := once.replay(engine.store)) is not None:
            return earlier
        row = task_row(task_id, who)
        now = engine.clock.now()
        if (held := claims.held_by_other(row, who, now)) is not None:
            raise Refused(409, "task", claims.refusal(held))
        roles = None if who.admin else set(who.roles)
        try:
            done = engine.complete(task_id, body.data, who.name, roles, within=claims.both(
                claims.hold(task_id, who, now),
                once.remember(200, lambda advance: {"instance_id": row.instance_id,
                                                    "state": advance.state}, now)))
        except FormRejected as err:
            return JSONResponse({"errors": err.errors}, status_code=422)
        except Conflict as err:
            raise Refused(409, "task", str(err)) from None
        except Forbidden:
            raise Refused(403, "task", "is not a task of your roles") from None
        except NotFound:
            raise Refused(404, "task", "no such task") from None
        except IntegrityError:
            if (earlier := once.replay(engine.store)) is not None:
                return earlier
            raise
        return {"instance_id": done.instance_id, "state": done.state}

    def may_see(instance_id: str, who: Caller) -> bool:
        """The instance exists and the caller is admin or one of its roles has (had) a
        task in it."""
        with engine.store.reading() as conn:
            return queries.may_see_instance(conn, instance_id,
                                            None if who.admin else set(who.roles))

    def visible(instance_id: str, who: Caller) -> None:
        if not may_see(instance_id, who):
            if who.admin:
                raise Refused(404, "instance", "no such instance")
            raise Refused(403, "instance", "you have no task in this instance")

    @app.get("/instances/{instance_id}")
    def show_instance(instance_id: str, who: Caller = Depends(caller)) -> Any:
        visible(instance_id, who)
        with engine.store.transaction() as conn:  # reading a case is audited
            queries.record_view(conn, instance_id, who.name, engine.clock.now())
            view = queries.instance_view(conn, instance_id)
        return jsonable(view)

    @app.get("/instances/{instance_id}/diagram")
    def instance_diagram(instance_id: str, who: Caller = Depends(caller)) -> Any:
        visible(instance_id, who)
        with engine.store.reading() as conn:
            view = queries.instance_view(conn, instance_id, history_rows=False)
            row = queries.instance_row(conn, instance_id)
        version = engine.deployments.version(row.version_id)
        model = version.models[row.process_id]
        return jsonable({
            "process": row.process_id, "version": row.version,
            "xml": engine.deployments.diagram_xml(row.version_id, model.file),
            "path": view["path"], "flows": view["flows"],
            "current": [t["element_id"] for t in view["open_tasks"]],
        })

    @app.get("/deadlines")
    def list_deadlines(state: str = Query(...), since: str | None = None,
                       who: Caller = Depends(caller)) -> Any:
        if state not in ("due", "breached"):
            raise Refused(422, "state", "must be due or breached")
        done_since = None
        if since is not None:  # breached: the still open, and those done late since then
            try:
                done_since = as_utc(datetime.fromisoformat(since))
            except ValueError:
                raise Refused(422, "since", "must be an instant in ISO 8601, e.g. "
                              "2026-11-23T09:00:00Z") from None
        with engine.store.reading() as conn:  # a role sees the deadlines of its instances
            return jsonable(queries.deadline_list(conn, state, engine.clock.now(),
                                                  roles=None if who.admin else set(who.roles),
                                                  since=done_since))

    @app.post("/deploy")
    def deploy(who: Caller = Depends(caller)) -> Any:
        if not who.admin:
            raise Refused(403, "role", "deploying needs the admin role")
        from ..checking import NotDeployed
        from ..checking import deploy as checked_deploy

        try:  # everything `mash validate` checks, the dry run included
            results, _ = checked_deploy(engine)
        except NotDeployed as err:
            return JSONResponse({"errors": [{"field": p.element_id or p.file, "message": str(p)}
                                            for p in err.problems]}, status_code=422)
        return jsonable([r.__dict__ for r in results])

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics(who: Caller = Depends(caller)) -> str:
        if not who.admin:
            raise Refused(403, "role", "metrics need the admin role")
        return metrics_text(engine)

    report_routes(app, engine)  # management information: engine/api/reports.py

    if virtual_clock:
        @app.post("/clock/advance")
        def advance_clock(body: ClockBody, who: Caller = Depends(caller)) -> Any:
            if not who.admin:
                raise Refused(403, "role", "moving the clock needs the admin role")
            if (body.to is None) == (body.by is None):
                raise Refused(422, "body", 'give exactly one of "to" or "by"')
            clock = engine.clock
            assert isinstance(clock, VirtualClock)
            if body.to is not None:
                try:
                    target = as_utc(datetime.fromisoformat(body.to))
                except ValueError as err:
                    raise Refused(422, "to", f"is not an ISO 8601 instant with an offset: {err}") \
                        from None
            else:
                from ..simulation.scenario import ScenarioError, parse_duration

                try:
                    target = clock.now() + parse_duration(body.by, "by")
                except ScenarioError as err:
                    raise Refused(422, "by", str(err)) from None
            if target < clock.now():
                raise Refused(422, "to", "is before the clock's current time")
            engine.run_until(target)
            return {"now": iso_z(clock.now())}

    contacts.routes(app, engine, caller, may_see)

    if extra_routes is not None:
        extra_routes(app, engine)

    @app.exception_handler(UnknownProcess)
    def _unknown(request: Request, err: UnknownProcess) -> JSONResponse:
        return JSONResponse({"errors": [{"field": "process",
                                         "message": f"{err} is not deployed; deploy the diagrams"}]},
                            status_code=503)

    return app
