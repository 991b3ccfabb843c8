"""The incident calls: the list (admin and managers), retry, and migration (admin).

- `GET /incidents`: every incident, oldest first (engine/incidents.py): instances stopped by
  a failed step and notifications undelivered past their threshold, each with the error in
  words, the element, attempts and the actions that apply.
- `POST /instances/{id}/retry`, `POST /notifications/{id}/retry`: try again now.
- `POST /migrations`: move running instances to another version (engine/migration.py);
  `{"process", "from_version", "to_version", "instances"?, "instructions"?, "rearm"?,
  "drop"?, "dry_run"?}`; 422 listing every problem when the plan cannot run (nothing moves);
  `refused` lists instances someone else moved or changed meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from .. import incidents, migration
from ..queries import jsonable
from ..service import Engine, NotFound
from .auth import Caller


class MigrationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    process: str = Field(max_length=128)
    from_version: int
    to_version: int
    instances: list[str] | None = Field(default=None, max_length=10_000)
    instructions: dict[str, str] = Field(default_factory=dict)
    rearm: list[str] = Field(default_factory=list)
    drop: list[str] = Field(default_factory=list)
    dry_run: bool = False


def _refused(status: int, field: str, message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"field": field, "message": message}]}, status_code=status)


def register(app: FastAPI, engine: Engine, caller: Callable[..., Caller]) -> None:
    def may_see(who: Caller) -> bool:
        return incidents.may_see(set(who.roles), who.admin)

    @app.get("/incidents")
    def list_incidents(who: Caller = Depends(caller)) -> Any:
        if not may_see(who):
            return _refused(403, "role", "incidents are for admin and the managers")
        return jsonable(incidents.of(engine))

    @app.post("/instances/{instance_id}/retry")
    def retry_instance(instance_id: str, who: Caller = Depends(caller)) -> Any:
        if not may_see(who):
            return _refused(403, "role", "retrying is for admin and the managers")
        try:
            state = engine.retry(instance_id, who.name)
        except NotFound:
            return _refused(404, "instance", "no such instance")
        return {"id": instance_id, "state": state}

    @app.post("/notifications/{notification_id}/retry")
    def retry_notification(notification_id: str, who: Caller = Depends(caller)) -> Any:
        if not may_see(who):
            return _refused(403, "role", "retrying is for admin and the managers")
        if not incidents.retry_notification(engine.store, notification_id):
            return _refused(404, "notification", "no such notification waiting to be sent")
        return {"id": notification_id, "retry": "at the mailer's next round"}

    @app.post("/migrations")
    def migrate(body: MigrationBody, who: Caller = Depends(caller)) -> Any:
        if not who.admin:
            return _refused(403, "role", "migrating instances needs the admin role")
        plan = migration.Plan(body.process, body.from_version, body.to_version,
                              dict(body.instructions), frozenset(body.rearm),
                              frozenset(body.drop))
        try:
            report = migration.migrate(engine, plan, body.instances, who.name, body.dry_run)
        except migration.PlanError as err:
            return JSONResponse({"errors": [{"field": "plan", "message": p}
                                            for p in err.problems]}, status_code=422)
        return {"process": plan.process_id, "from_version": plan.source,
                "to_version": plan.target, "dry_run": report.dry_run,
                "instances": report.instances, "moved": [m.__dict__ for m in report.moved],
                "refused": report.refused}
