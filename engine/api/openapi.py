"""The API's OpenAPI description (`/openapi.json`, drawn at `/docs`), made usable: the contact
body field by field, the answers' shapes, the error shape every refusal uses, the bearer
token, who may call what, and worked examples.

FastAPI describes routes from their Python types; a contact is checked by
`handlers/intake.py` (field by field, with messages of its own), so its route takes a plain
JSON object and FastAPI alone would describe it as "any object". Here the contact's schema is
built from intake's own lists (`TOP_FIELDS`, `CHILD_FIELDS`, `CHANNELS`, ...): a field added
there appears here without another edit, and `tests/service/test_openapi.py` fails if it has
no description below. Validation is unchanged: the description only describes.

docs/api.md is the same reference in prose.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ERRORS_REF = {"$ref": "#/components/schemas/Errors"}

# -- the contact ---------------------------------------------------------------------------------

# What each field of a contact means. A field intake accepts must have a line here (the test
# says so); its type, choices and limits come from intake itself.
CONTACT_FIELDS: dict[str, str] = {
    "channel": "How the contact came in. `ppn` is a police notification (PPN): it waits for "
               "the next daily PPN meeting, which rates it.",
    "received_at": "When it was received: ISO 8601 with an offset or Z, not more than 5 "
                   "minutes ahead of the service's clock. Default: now. Every timescale "
                   "counts from here.",
    "referrer": "Who made the contact. A referrer of kind `public` is never named to another "
                "agency, authority or the police.",
    "child": "The child the contact is about. Everything is optional: a missing or malformed "
             "postcode is checked by a person, never refused.",
    "children": "Several children of one household, instead of `child` (a list of the same "
                "objects): each child is screened as a contact of its own, the siblings "
                "linked.",
    "concerns": "What the referrer is worried about, in their words. Required.",
    "immediate_risk": "An immediate safeguarding concern (RED at receipt): it skips the "
                      "queue to a manager, and the Out of Hours service is alerted when on "
                      "duty.",
    "missing": "A missing person report: the contact takes the missing child pathway.",
    "information_request": "A request for information (BLUE): collated by Business Support "
                           "and sent only when a manager approves.",
    "crime_suspected": "The caller thinks a crime may have been committed: the police are "
                       "told at once (once per contact).",
    "consent": "Whether the family's consent to the contact was given, refused or not sought.",
}
REFERRER_FIELDS: dict[str, str] = {
    "name": "Their name.",
    "kind": "`professional`, or `public` (a member of the public: kept confidential).",
    "agency": "The agency a professional works for (School, GP surgery, ...).",
    "email": "Where the outcome letter goes.",
    "phone": "A telephone number.",
}
CHILD_FIELDS: dict[str, str] = {
    "id": "The child's case record reference, when the caller knows it.",
    "name": "The child's name.",
    "dob": "Date of birth, YYYY-MM-DD (a future date is allowed: an unborn child).",
    "postcode": "The child's postcode: it decides whether the contact is for this council.",
    "address": "The child's address.",
}
CONTACT_EXAMPLE = {
    "channel": "phone",
    "referrer": {"name": "J. Teacher", "kind": "professional", "agency": "School",
                 "email": "j.teacher@school.example"},
    "child": {"name": "Sam Smith", "dob": "2016-04-02", "postcode": "BH1 1AA"},
    "concerns": "Bruising on the arms seen at school; the child says they are afraid to go home.",
    "immediate_risk": True, "crime_suspected": False, "consent": "given",
}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """A field intake reads as absent when it is null."""
    kind = schema.get("type")
    if isinstance(kind, str):
        schema = {**schema, "type": [kind, "null"]}
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    return schema


def _text(intake: Any, description: str, **extra: Any) -> dict[str, Any]:
    return _nullable({"type": "string", "maxLength": intake.MAX_SHORT,
                      "description": description, **extra})


def _object(fields: dict[str, dict[str, Any]], description: str) -> dict[str, Any]:
    return _nullable({"type": "object", "description": description, "properties": fields,
                      "additionalProperties": False})


def child_schema(intake: Any) -> dict[str, Any]:
    fields: dict[str, dict[str, Any]] = {}
    for name in intake.CHILD_FIELDS:
        if name == "dob":
            fields[name] = _nullable({"type": "string", "format": "date",
                                      "description": CHILD_FIELDS.get(name, "")})
        else:
            fields[name] = _text(intake, CHILD_FIELDS.get(name, ""))
    return _object(fields, CONTACT_FIELDS["child"])


def referrer_schema(intake: Any) -> dict[str, Any]:
    fields: dict[str, dict[str, Any]] = {}
    for name in intake.REFERRER_FIELDS:
        if name == "kind":
            fields[name] = _nullable({"type": "string", "enum": list(intake.REFERRER_KINDS),
                                      "description": REFERRER_FIELDS.get(name, "")})
        elif name == "email":
            fields[name] = _text(intake, REFERRER_FIELDS.get(name, ""), format="email")
        else:
            fields[name] = _text(intake, REFERRER_FIELDS.get(name, ""))
    return _object(fields, CONTACT_FIELDS["referrer"])


def contact_schema() -> dict[str, Any]:
    """The JSON Schema of a contact as `POST /contacts` takes it, from handlers/intake.py."""
    from handlers import intake

    properties: dict[str, dict[str, Any]] = {}
    for name in intake.TOP_FIELDS:
        described = CONTACT_FIELDS.get(name, "")
        if name == "channel":
            schema: dict[str, Any] = {"type": "string", "enum": list(intake.CHANNELS)}
        elif name == "received_at":
            schema = _nullable({"type": "string", "format": "date-time"})
        elif name == "concerns":
            schema = {"type": "string", "minLength": 1, "maxLength": intake.MAX_TEXT}
        elif name in intake.FLAGS:
            schema = {"type": "boolean", "default": False}
        elif name == "consent":
            schema = _nullable({"type": "string", "enum": list(intake.CONSENT)})
        elif name == "referrer":
            schema = referrer_schema(intake)
        elif name == "child":
            schema = child_schema(intake)
        elif name == "children":
            one = child_schema(intake)
            one["type"] = "object"
            one["description"] = "A child, as in `child`."
            schema = {"type": "array", "items": one, "minItems": 1}
            if hasattr(intake, "MAX_CHILDREN"):
                schema["maxItems"] = intake.MAX_CHILDREN
        else:  # a field intake knows that nothing here describes yet: the test names it
            schema = {}
        properties[name] = {**schema, "description": described}
    contact: dict[str, Any] = {
        "title": "Contact",
        "description": "A contact about a child, as the referrer gave it. Only what cannot be "
                       "a contact at all is refused (no channel, no concerns, a wrong type, "
                       "an impossible date, an oversized or unknown field), each with its "
                       "field named; anything else is for people to check.",
        "type": "object",
        "required": ["channel", "concerns"],
        "properties": properties,
        "additionalProperties": False,
        "examples": [CONTACT_EXAMPLE],
    }
    if "children" in properties and "child" in properties:
        contact["not"] = {"required": ["child", "children"]}
    return contact


def examples(pattern: str) -> dict[str, dict[str, Any]]:
    """The bodies in the repository's examples/ folder matching `pattern`, by name, for /docs
    to offer (examples/README.md says what each shows)."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(EXAMPLES.glob(pattern)):
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # an unreadable example is the examples test's to report, not the docs'
        found[path.stem] = {"summary": f"examples/{path.name}", "value": value}
    return found


# -- answers -------------------------------------------------------------------------------------

_INSTANT = {"type": "string", "format": "date-time", "description": "UTC, with Z"}
_MAYBE_INSTANT = {"type": ["string", "null"], "format": "date-time"}
_ID = {"type": "string", "description": "a UUID"}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Errors": {
        "title": "Errors",
        "description": "Every refusal: a list of what is wrong, each naming its field (a body "
                       "field such as `child.dob`, or `body`, `authorization`, `role`, `task`, "
                       "`instance`, `Idempotency-Key`, `request`).",
        "type": "object", "required": ["errors"],
        "properties": {"errors": {"type": "array", "items": {
            "type": "object", "required": ["field", "message"],
            "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}}},
        "examples": [{"errors": [{"field": "child.dob",
                                  "message": "must be a real date, YYYY-MM-DD"}]}],
    },
    "ContactAccepted": {
        "type": "object", "required": ["id", "received_at"],
        "properties": {
            "id": {**_ID, "description": "the first (or only) child's instance id"},
            "received_at": _INSTANT,
            "contact_id": {**_ID, "description": "the contact's id (GET /contacts/{id})"},
            "children": {"type": "array", "description": "each child's instance, in the "
                                                         "contact's order",
                         "items": {"type": "object", "properties": {
                             "instance_id": _ID, "position": {"type": "integer"}}}}},
    },
    "Started": {"type": "object", "required": ["id"], "properties": {"id": _ID}},
    "FormField": {
        "type": "object",
        "description": "A field of a task's form, as drawn in the diagram.",
        "required": ["id", "label", "type", "required"],
        "properties": {
            "id": {"type": "string", "description": "the name to answer under"},
            "label": {"type": "string"},
            "type": {"type": "string", "enum": ["string", "long", "boolean", "date", "enum"]},
            "required": {"type": "boolean"},
            "default": {"description": "prefilled; taken when the answer leaves it out"},
            "options": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "string"}, "name": {"type": "string"}}}},
            "multiple": {"type": "boolean", "description": "an enum that takes a list"},
            "min": {"type": "integer"}, "max": {"type": "integer"},
            "minlength": {"type": "integer"}, "maxlength": {"type": "integer"},
            "required_when": {"type": "string", "description": "an expression over the data"},
            "valid_when": {"type": "string"}, "invalid_message": {"type": "string"},
        },
    },
    "Task": {
        "type": "object",
        "required": ["id", "instance_id", "name", "role", "element_id", "created_at", "due",
                     "form"],
        "properties": {
            "id": _ID, "instance_id": _ID, "name": {"type": "string"},
            "role": {"type": "string", "description": "the lane the task is drawn in"},
            "element_id": {"type": "string", "description": "the BPMN element"},
            "created_at": _INSTANT, "due": {**_MAYBE_INSTANT, "description":
                                           "the soonest deadline on the task, if any"},
            "form": {"type": "array", "items": {"$ref": "#/components/schemas/FormField"}},
            "rag": {"type": ["string", "null"], "enum": ["RED", "AMBER", "GREEN", None]},
            "flags": {"type": "array", "items": {"type": "string"}},
            "reference": {"type": ["string", "null"]},
        },
    },
    "TaskDetail": {
        "allOf": [{"$ref": "#/components/schemas/Task"}, {"type": "object", "properties": {
            "status": {"type": "string", "enum": ["open", "completed", "cancelled"]},
            "claimed_by": {"type": ["string", "null"]}, "claimed_until": _MAYBE_INSTANT,
            "completed_by": {"type": ["string", "null"]},
            "context": {"type": "object", "description": "the case's data the task works on "
                                                         "(open tasks only)"}}}],
    },
    "TaskAnswers": {
        "type": "object", "required": ["data"], "additionalProperties": False,
        "properties": {"data": {"type": "object", "description":
                                "the form's fields by id: value (see the task's `form`)"}},
        "examples": [{"data": {"rag": "RED", "consent_decision": "confirmed",
                               "threshold_level": 4}}],
    },
    "TaskCompleted": {
        "type": "object", "required": ["instance_id", "state"],
        "properties": {"instance_id": _ID, "state": {"$ref": "#/components/schemas/State"}},
    },
    "Claim": {
        "type": "object", "required": ["id", "claimed_by"],
        "properties": {"id": _ID, "claimed_by": {"type": ["string", "null"]},
                       "claimed_until": _MAYBE_INSTANT},
    },
    "State": {"type": "string", "enum": ["running", "waiting", "incident", "completed"]},
    "Deadline": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "started_at": _INSTANT, "due": _INSTANT,
                       "done_at": _MAYBE_INSTANT, "met": {"type": ["boolean", "null"]},
                       "breached_at": _MAYBE_INSTANT, "cancelled": {"type": "boolean"}},
    },
    "Instance": {
        "type": "object",
        "required": ["id", "process", "version", "state", "deadlines", "notifications", "flags",
                     "path", "open_tasks"],
        "properties": {
            "id": _ID, "process": {"type": "string"}, "version": {"type": "integer"},
            "state": {"$ref": "#/components/schemas/State"},
            "outcome": {"type": ["string", "null"]},
            "rag": {"type": ["string", "null"]}, "flags": {"type": "array",
                                                          "items": {"type": "string"}},
            "started_at": _INSTANT, "ended_at": _MAYBE_INSTANT,
            "error": {"type": ["string", "null"], "description": "why it is in incident"},
            "about": {"type": ["string", "null"], "description": "a disagreement: the "
                                                                  "instance it is about"},
            "reference": {"type": ["string", "null"]},
            "deadlines": {"type": "array", "items": {"$ref": "#/components/schemas/Deadline"}},
            "notifications": {"type": "array", "items": {"type": "object", "properties": {
                "kind": {"type": "string"}, "to": {"type": "string"}, "sent_at": _INSTANT,
                "queued_at": _INSTANT, "delivered": {"type": "boolean"}}}},
            "path": {"type": "array", "items": {"type": "string"},
                     "description": "BPMN element ids in the order they completed"},
            "flows": {"type": "array", "items": {"type": "string"}},
            "open_tasks": {"type": "array", "items": {"$ref": "#/components/schemas/Task"}},
            "history": {"type": "array", "items": {"type": "object"}},
        },
    },
    "DeadlineEntry": {
        "type": "object", "properties": {"instance_id": _ID, "name": {"type": "string"},
                                         "due": _INSTANT, "done_at": _MAYBE_INSTANT,
                                         "met": {"type": ["boolean", "null"]}},
    },
    "Incident": {
        "type": "object", "required": ["kind", "id", "error", "since", "actions"],
        "properties": {
            "kind": {"type": "string", "enum": ["instance", "notification"]},
            "id": {**_ID, "description": "the instance's or the notification's"},
            "instance_id": {"type": ["string", "null"]},
            "process": {"type": ["string", "null"]}, "version": {"type": ["integer", "null"]},
            "element_id": {"type": ["string", "null"], "description": "the step that failed"},
            "element_name": {"type": ["string", "null"]},
            "notification_kind": {"type": "string"}, "urgent": {"type": "boolean"},
            "error": {"type": "string", "description": "what went wrong, in words"},
            "attempts": {"type": "integer"}, "since": _INSTANT,
            "next_attempt_at": _MAYBE_INSTANT,
            "actions": {"type": "array", "items": {"type": "string",
                                                   "enum": ["retry", "migrate"]}},
        },
    },
    "Health": {"type": "object", "properties": {"status": {"type": "string", "enum": ["ok"]}}},
    "Now": {"type": "object", "properties": {"now": _INSTANT}},
}


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


def _list(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"type": "array",
                                            "items": {"$ref": f"#/components/schemas/{ref}"}}}}


# Per operation: a summary, who may call it and what it does, its answer, and the codes it
# refuses with (each answered as Errors). docs/api.md says the same at more length.
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/healthz"): dict(
        summary="Is the service up", public=True, ok=("200", "The database answers.", _json("Health")),
        who="anyone, without a token", codes={}),
    ("post", "/contacts"): dict(
        summary="Submit a contact", ok=("201", "Accepted: the contact's instance has started.",
                                        _json("ContactAccepted")),
        who="any role",
        text="Starts the first response process for the contact. With `Idempotency-Key`, a "
             "retry answers what the first call answered and starts nothing.",
        codes={"400": "not JSON", "413": "larger than 256 KiB",
               "422": "a field refused (each named), or an Idempotency-Key used for another "
                      "call", "503": "nothing is deployed"}),
    ("post", "/disagreements"): dict(
        summary="Raise a professional disagreement",
        ok=("201", "Accepted: the escalation has started.", _json("Started")), who="any role",
        text="Starts the escalation process. `about` is the id of the contact it is about "
             "(one your roles have a task in), or null for another agency's decision.",
        codes={"400": "not JSON", "422": "a field refused, or `about` is not a contact you "
                                         "may see"}),
    ("get", "/contacts/{contact_id}"): dict(
        summary="A contact and each of its children",
        ok=("200", "Each child the caller may see: state, outcome, RAG, flags, deadlines, open "
                   "tasks, the contact it was joined to, earlier and later contacts about the "
                   "child; children_not_shown counts the others.",
            {"application/json": {"schema": {"type": "object"}}}),
        who="a role with a task in one of its children, admin",
        text="Takes the contact's id or any of its children's instance ids. Reading it is "
             "recorded in each child's case history.",
        codes={"403": "none of your roles has a task in it (whether or not it exists)",
               "404": "no such contact (admin only)"}),
    ("post", "/tasks/complete-together"): dict(
        summary="Complete the siblings' tasks together",
        ok=("200", "Each task done, in order: its instance and state.",
            {"application/json": {"schema": {"type": "object"}}}),
        who="the tasks' role, admin",
        text="`{\"tasks\": [{\"id\", \"data\"}, ...]}` (1 to 20 tasks of the children of one "
             "contact): every task must be open and of your roles, and every form is checked "
             "before any is completed.",
        codes={"403": "a task not of your roles", "409": "a task no longer open (those before "
                                                         "it are done)",
               "422": "a form field refused (named tasks[i].field), or the tasks are not of "
                      "one contact"}),
    ("get", "/tasks"): dict(
        summary="Open tasks, soonest due first", ok=("200", "The open tasks.", _list("Task")),
        who="any role: the tasks of its roles (admin: all), or of the one `role` named",
        codes={"403": "`role` is not one of yours"}),
    ("get", "/tasks/{task_id}"): dict(
        summary="One task, with the case's data", ok=("200", "The task.", _json("TaskDetail")),
        who="the task's role, admin", text="Reading a task is recorded in the case's history.",
        codes={"403": "not a task of your roles (whether or not it exists)",
               "404": "no such task (admin only)"}),
    ("post", "/tasks/{task_id}/claim"): dict(
        summary="Claim a task", ok=("200", "Reserved for you.", _json("Claim")),
        who="the task's role, admin",
        text="Reserves the task for the caller for MASH_CLAIM_MINUTES (default 120); claiming "
             "again renews it. While the claim holds nobody else completes it.",
        codes={"403": "not a task of your roles", "409": "claimed by someone else, or no "
                                                          "longer open"}),
    ("post", "/tasks/{task_id}/release"): dict(
        summary="Release a claim", ok=("200", "Released (or there was nothing to release).",
                                       _json("Claim")),
        who="the claimer, a manager's role, admin",
        codes={"403": "claimed by someone you may not release it from"}),
    ("post", "/tasks/{task_id}/complete"): dict(
        summary="Complete a task", ok=("200", "Done; the instance has moved on.",
                                       _json("TaskCompleted")),
        who="the task's role, admin",
        text="Answers the task's form (`data`, by field id); the form's rules are checked "
             "first. With `Idempotency-Key`, a retry answers what the first call answered.",
        codes={"403": "not a task of your roles", "404": "no such task",
               "409": "already completed, or claimed by someone else",
               "422": "a field refused (each named)"}),
    ("get", "/instances/{instance_id}"): dict(
        summary="One case: state, deadlines, notifications, path, history",
        ok=("200", "The instance.", _json("Instance")),
        who="a role that has (had) a task in it, admin",
        text="Reading a case is recorded in its history.",
        codes={"403": "none of your roles has a task in it (whether or not it exists)",
               "404": "no such instance (admin only)"}),
    ("get", "/instances/{instance_id}/diagram"): dict(
        summary="The case's diagram, the path taken and where it waits",
        ok=("200", "The diagram's XML, the path and flows taken, the current elements.",
            {"application/json": {"schema": {"type": "object"}}}),
        who="as GET /instances/{id}", codes={"403": "as GET /instances/{id}",
                                            "404": "no such instance (admin only)"}),
    ("get", "/deadlines"): dict(
        summary="Deadlines due or breached",
        ok=("200", "The deadlines, soonest first.", _list("DeadlineEntry")),
        who="any role: the deadlines of instances its roles have a task in (admin: all)",
        codes={"422": "`state` is not due or breached, or `since` is not an instant with "
                      "its offset"}),
    ("post", "/deploy"): dict(
        summary="Deploy the processes folder", ok=("200", "Each process: its version, new or "
                                                           "unchanged.",
                                                   {"application/json": {"schema": {
                                                       "type": "array",
                                                       "items": {"type": "object"}}}}),
        who="admin", codes={"403": "not admin", "422": "the diagrams do not validate (each "
                                                        "problem listed)"}),
    ("get", "/metrics"): dict(
        summary="Prometheus metrics", ok=("200", "Prometheus text: counts only.",
                                          {"text/plain": {"schema": {"type": "string"}}}),
        who="admin", codes={"403": "not admin"}),
    ("get", "/reports/timeliness"): dict(
        summary="Timeliness: deadlines met and how late, outcomes, open work",
        ok=("200", "The dashboard's numbers.", {"application/json": {"schema": {
            "type": "object"}}}),
        who="a manager's role, admin",
        text="Periods are days on the Hub's wall clock (YYYY-MM-DD, both ends included; the "
             "last 28 days by default).",
        codes={"403": "not a manager's role", "422": "a bad period or filter"}),
    ("get", "/reports/heatmap/{process_id}"): dict(
        summary="Where contacts wait: each element's count, median and 90th percentile",
        ok=("200", "The process, its version and period, and per element of the diagram its "
                   "count, median and 90th percentile.",
            {"application/json": {"schema": {"type": "object"}}}),
        who="a manager's role, admin",
        codes={"403": "not a manager's role", "404": "no such deployed process",
               "422": "a bad period"}),
    ("get", "/reports/contacts"): dict(
        summary="The contacts register (JSON, CSV or XLSX)",
        ok=("200", "The register of the period.", {
            "application/json": {"schema": {"type": "object"}},
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                "schema": {"type": "string", "format": "binary"}}}),
        who="a manager's role, admin; `names=true`: the MASH Team Manager role or admin",
        codes={"403": "not a manager's role, or names not allowed to it",
               "422": "a bad period, filter or format"}),
    ("get", "/incidents"): dict(
        summary="What is stuck: failed steps and undelivered notifications",
        ok=("200", "Every incident, oldest first, with the error in words and what to do.",
            _list("Incident")),
        who="admin, the MASH Team Manager / Early Help Decision Maker and Pod Assistant Team "
            "Manager roles",
        codes={"403": "not admin or one of those managers"}),
    ("post", "/instances/{instance_id}/retry"): dict(
        summary="Run a case's failed step again now",
        ok=("200", "The case's state after the retry.", {"application/json": {"schema": {
            "type": "object", "properties": {"id": _ID, "state": {
                "$ref": "#/components/schemas/State"}}}}}),
        who="as GET /incidents", codes={"403": "not admin or one of those managers",
                                        "404": "no such instance"}),
    ("post", "/notifications/{notification_id}/retry"): dict(
        summary="Try an undelivered notification again at once",
        ok=("200", "It goes at the mailer's next round.", {"application/json": {"schema": {
            "type": "object", "properties": {"id": _ID, "retry": {"type": "string"}}}}}),
        who="as GET /incidents", codes={"403": "not admin or one of those managers",
                                        "404": "no such notification waiting to be sent"}),
    ("post", "/migrations"): dict(
        summary="Move running cases to another version of their process",
        ok=("200", "What moved (or, with dry_run, would move).", {"application/json": {
            "schema": {"type": "object"}}}),
        who="admin",
        text="Each waiting task and timer goes to the element of the same id in the target "
             "version, or as `instructions` map it; `rearm` arms the named deadline timers "
             "again under the target's rules; `drop` cancels the named boundary events the "
             "target no longer has. Nothing moves when the plan cannot run for "
             "one instance: the 422 lists each problem. `refused` lists the instances "
             "someone else moved or changed meanwhile (not moved).",
        codes={"403": "not admin", "422": "the plan cannot run (each problem listed)"}),
    ("post", "/clock/advance"): dict(
        summary="Move the virtual clock forward", ok=("200", "After every timer due by then "
                                                             "has fired.", _json("Now")),
        who="admin; only on a service started with --virtual-clock (else 404)",
        codes={"403": "not admin", "422": "give exactly one of to or by, not in the past"}),
}


# The field a refusal of each status usually names, for the examples /docs shows.
REFUSED_FIELD = {"400": "body", "401": "authorization", "403": "role", "404": "request",
                 "409": "task", "413": "body", "422": "body", "503": "process"}


def _operation(operation: dict[str, Any], spec: dict[str, Any]) -> None:
    text = spec.get("text", "")
    operation["summary"] = spec["summary"]
    operation["description"] = f"**Who:** {spec['who']}.\n\n{text}".strip()
    operation["parameters"] = [p for p in operation.get("parameters", [])
                               if p.get("name") != "authorization"]
    for parameter in operation["parameters"]:
        if parameter.get("name") == "idempotency-key":
            parameter["name"] = "Idempotency-Key"
            parameter["description"] = (
                "Any string up to 200 characters. A repeat of the same call (same token, method, "
                "path and body) answers what the first answered and changes nothing; the key "
                "with another call or body is refused (422).")
    code, description, content = spec["ok"]
    responses: dict[str, Any] = {code: {"description": description, "content": content}}
    refusals = dict(spec["codes"])
    if not spec.get("public"):
        operation["security"] = [{"token": []}]
        refusals.setdefault("401", "no valid token (missing, unknown, expired or revoked)")
    else:
        operation["security"] = []
    for status, why in sorted(refusals.items()):
        example = {"errors": [{"field": REFUSED_FIELD.get(status, "body"), "message": why}]}
        responses[status] = {"description": why, "content": {"application/json": {
            "schema": ERRORS_REF, "example": example}}}
    operation["responses"] = responses


def _undescribed(operation: dict[str, Any]) -> None:
    """A route with no entry in OPERATIONS (its docstring describes it, and the test asks for
    an entry): at least the token and the error shape right."""
    operation["parameters"] = [p for p in operation.get("parameters", [])
                               if p.get("name") != "authorization"]
    operation.setdefault("security", [{"token": []}])
    for response in operation.get("responses", {}).values():
        for media in (response.get("content") or {}).values():
            if media.get("schema", {}).get("$ref", "").endswith("HTTPValidationError"):
                media["schema"] = ERRORS_REF


def amend(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's description of the app, completed (in place; also returned)."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(SCHEMAS)
    schemas["Contact"] = contact_schema()
    components["securitySchemes"] = {"token": {
        "type": "http", "scheme": "bearer",
        "description": "A token from `mash token create --role ROLE --name NAME`: its roles "
                       "(lane names of the diagrams, or admin) decide what it may see and do."}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            spec = OPERATIONS.get((method, path))
            if spec is not None:
                _operation(operation, spec)
            else:
                _undescribed(operation)
    paths = schema.get("paths", {})
    if contacts := paths.get("/contacts", {}).get("post"):
        media: dict[str, Any] = {"schema": {"$ref": "#/components/schemas/Contact"}}
        if found := examples("contact-*.json"):
            media["examples"] = found
        contacts["requestBody"] = {"required": True, "content": {"application/json": media}}
    disagreements = paths.get("/disagreements", {}).get("post")
    if disagreements and (found := examples("disagreement*.json")):
        disagreements["requestBody"]["content"]["application/json"]["examples"] = found
    return schema


def describe(app: FastAPI) -> None:
    """Serve the amended description at /openapi.json (built once, on first request)."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = amend(plain())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
