"""Contacts about several children, and the children's results (issue 17).

`POST /contacts` may name several children (`children: [...]`): each is screened on its own,
one first response instance per child, started together in one transaction (all or none),
linked by the contact's id (the first child's instance id, which is also the `id` answered,
so a client written for one child keeps working). `GET /contacts/{id}` lists each child's
state, outcome, RAG rating, flags, deadlines, open tasks and the other contacts about the
child, as far as the caller's roles may see them. `POST /tasks/complete-together` completes
tasks of the children of one contact together (the siblings' BRAG: one manager, one sitting,
each child's own rating), every form checked before any is completed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from .. import forms, queries
from ..queries import jsonable
from ..runtime import Advance
from ..service import Conflict, Engine, Forbidden, FormRejected, NotFound
from .auth import Caller

CONTACT_PROCESS = "first_response"
MOST_TASKS = 20  # a sibling group's tasks (handlers/intake.py: MAX_CHILDREN)


def start(engine: Engine, contact: dict[str, Any], actor: str,
          remember: Callable[[dict[str, Any]], Callable[[Connection, Advance], None] | None]
          ) -> dict[str, Any]:
    """Start a validated contact, one instance per child it names; `remember(answer)` gives
    a write (an idempotency record) to commit with it. Returns the answer: `{"id",
    "received_at"}` as for one child, with the contact's id and its children."""
    from handlers.intake import per_child

    children = contact.get("children") or [contact.get("child") or {}]
    ids = [str(uuid.uuid4()) for _ in children]
    answer = {"id": ids[0], "received_at": contact["received_at"], "contact_id": ids[0],
              "children": [{"instance_id": i, "position": n} for n, i in enumerate(ids)]}
    write = remember(answer)
    if len(ids) == 1:
        engine.start(CONTACT_PROCESS, contact, actor, instance_id=ids[0], within=write)
        return answer

    def within(conn: Connection, advances: list[Advance]) -> None:
        if write is not None:
            write(conn, advances[0])

    engine.start_together(CONTACT_PROCESS, [(i, data, None) for i, data in
                                            zip(ids, per_child(contact, ids), strict=True)],
                          actor, within=within)
    return answer


class TaskAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(max_length=36)
    data: dict[str, Any]


class TogetherBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tasks: list[TaskAnswer] = Field(min_length=1, max_length=MOST_TASKS)


def _refused(status: int, errors: list[dict[str, str]]) -> JSONResponse:
    return JSONResponse({"errors": errors}, status_code=status)


def routes(app: FastAPI, engine: Engine, caller: Callable[..., Caller],
           may_see: Callable[[str, Caller], bool]) -> None:
    @app.get("/contacts/{contact_id}")
    def show_contact(contact_id: str, who: Caller = Depends(caller)) -> Any:
        """A contact and each of its children (those the caller's roles may see)."""
        with engine.store.reading() as conn:
            found = queries.contact_id_of(conn, contact_id) if len(contact_id) <= 36 else None
            members = queries.contact_members(conn, found) if found else []
        shown = [m for m in members if may_see(m, who)]
        if not shown:  # a role that may see none of it learns nothing of whether it exists
            if who.admin:
                return _refused(404, [{"field": "contact", "message": "no such contact"}])
            return _refused(403, [{"field": "contact",
                                   "message": "you have no task in this contact"}])
        now = engine.clock.now()
        with engine.store.transaction() as conn:  # reading a case is audited, per child
            children = []
            for position, instance_id in enumerate(members):
                if instance_id not in shown:
                    continue
                queries.record_view(conn, instance_id, who.name, now)
                children.append({"position": position, **queries.child_view(conn, instance_id)})
        return jsonable({"id": found, "received_at": children[0]["received_at"],
                         "children": children, "children_not_shown": len(members) - len(shown)})

    @app.post("/tasks/complete-together")
    def complete_together(body: TogetherBody, who: Caller = Depends(caller)) -> Any:
        """Complete tasks of the children of one contact together: every task must be open,
        of the caller's roles, of one contact, and every form accepted, before any is done."""
        ids = [t.id for t in body.tasks]
        if len(set(ids)) != len(ids):
            return _refused(422, [{"field": "tasks", "message": "names a task twice"}])
        errors: list[dict[str, str]] = []
        contacts = set()
        with engine.store.reading() as conn:
            rows = queries.task_rows(conn, ids)
            for i, task in enumerate(body.tasks):
                row = rows.get(task.id)
                if row is None or (row.role not in who.roles and not who.admin):
                    return _refused(403, [{"field": f"tasks[{i}].id",
                                           "message": "is not a task of your roles"}])
                if row.status != "open":
                    return _refused(409, [{"field": f"tasks[{i}].id",
                                           "message": f"was already {row.status}"}])
                contacts.add(queries.contact_id_of(conn, row.instance_id))
        if len(contacts) != 1:
            return _refused(422, [{"field": "tasks", "message": "are not all of the children "
                                                                "of one contact"}])
        for i, task in enumerate(body.tasks):
            try:
                context = engine.task_data(task.id)
            except NotFound:
                return _refused(409, [{"field": f"tasks[{i}].id", "message": "is no longer open"}])
            _, refused = forms.validate(rows[task.id].form, task.data, context)
            errors += [{"field": f"tasks[{i}].{e['field']}", "message": e["message"]}
                       for e in refused]
        if errors:
            return _refused(422, errors)
        roles = None if who.admin else set(who.roles)
        done = []
        for i, task in enumerate(body.tasks):
            try:
                completed = engine.complete(task.id, task.data, who.name, roles)
            except FormRejected as err:  # its data changed since it was checked
                return _refused(422, [{"field": f"tasks[{i}].{e['field']}",
                                       "message": e["message"]} for e in err.errors])
            except (Conflict, NotFound):
                return _refused(409, [{"field": f"tasks[{i}].id", "message":
                                       "was completed by someone else meanwhile; the tasks "
                                       "before it are done"}])
            except Forbidden:
                return _refused(403, [{"field": f"tasks[{i}].id",
                                       "message": "is not a task of your roles"}])
            done.append({"id": task.id, "instance_id": completed.instance_id,
                         "state": completed.state})
        return {"tasks": done}
