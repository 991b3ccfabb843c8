"""Limits every JSON body meets before any route reads it, whatever the route.

A body that passes JSON parsing can still break what comes after: a lone surrogate
("\\ud800") cannot be stored as UTF-8 (PostgreSQL refuses it), an integer beyond 64 bits
overflows a database column, nesting hundreds deep exhausts the recursion of whatever walks
it (a copy of the workflow's data, the serializer), NaN is not JSON to the database, and an
instant in year 1 or 9999 overflows on conversion to UTC. `JsonGuard` refuses such a body
with a 4xx naming the field, before the route runs, so nothing is written half-way; routes
and handlers (handlers/intake.py) then check what a field means, not whether it can be held.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

MAX_DEPTH = 16  # a contact is 3 deep; a task's answers 2
MAX_ITEMS = 500  # keys of one object, items of one list
MAX_TEXT = 20_000  # characters in one string (a contact's concerns: handlers/intake.py)
MAX_KEY = 200  # characters in one key
MIN_INTEGER, MAX_INTEGER = -(2**63), 2**63 - 1
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # instants a caller may give, by field name
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
INSTANT_FIELDS = frozenset({"received_at", "raised_at", "to"})

Error = dict[str, str]


def _surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _name(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def check_value(value: Any, path: str = "", depth: int = 0, top: str = "") -> list[Error]:
    """What in a parsed JSON value cannot be stored or walked safely; `path` names the field
    ("" for the body itself), `top` the body's field it is in (named for too deep a nest)."""
    field = path or "body"
    if depth > MAX_DEPTH:
        return [{"field": top or "body", "message": f"is nested more than {MAX_DEPTH} levels deep"}]
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int):
        if not MIN_INTEGER <= value <= MAX_INTEGER:
            return [{"field": field, "message": "is a whole number beyond 64 bits"}]
        return []
    if isinstance(value, float):
        return [] if math.isfinite(value) else [{"field": field, "message": "is not a finite number"}]
    if isinstance(value, str):
        if _surrogate(value):
            return [{"field": field, "message": "holds a lone surrogate (\\ud800-\\udfff), which "
                                                "is not text: send valid UTF-8"}]
        if len(value) > MAX_TEXT:
            return [{"field": field, "message": f"is longer than {MAX_TEXT} characters"}]
        if path.rsplit(".", 1)[-1] in INSTANT_FIELDS:
            return check_instant(value, field)
        return []
    if isinstance(value, list):
        if len(value) > MAX_ITEMS:
            return [{"field": field, "message": f"has more than {MAX_ITEMS} items"}]
        errors: list[Error] = []
        for index, item in enumerate(value):
            errors += check_value(item, f"{path}[{index}]" if path else f"[{index}]", depth + 1,
                                  top or "body")
        return errors
    if isinstance(value, dict):
        if len(value) > MAX_ITEMS:
            return [{"field": field, "message": f"has more than {MAX_ITEMS} fields"}]
        errors = []
        for key, item in value.items():
            if _surrogate(key) or len(key) > MAX_KEY:
                errors.append({"field": field, "message": "has a field name that is not valid "
                                                          f"text of at most {MAX_KEY} characters"})
                continue
            errors += check_value(item, _name(path, key), depth + 1, top or key)
        return errors
    return [{"field": field, "message": "is not a JSON value"}]


def check_instant(text: str, field: str) -> list[Error]:
    """An ISO 8601 instant with an offset, between 2000 and 2100 (year 1 or 9999 would
    overflow on conversion to UTC, and no contact is that old or that far ahead)."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return [{"field": field, "message": f"{text[:40]!r} is not an ISO 8601 instant"}]
    if parsed.tzinfo is None:
        return [{"field": field, "message": "needs a time zone offset or Z"}]
    try:
        utc = parsed.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        return [{"field": field, "message": "must be an instant between 2000 and 2100"}]
    return []


def parse_json(body: bytes) -> tuple[Any, list[Error], int]:
    """The body parsed, or the errors and the status to answer them with."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError, bad UTF-8, huge digit strings
        return None, [{"field": "body", "message": "is not valid JSON (UTF-8)"}], 400
    errors = check_value(value)
    return value, errors, 422 if errors else 200


Scope = dict[str, Any]


def _is_json(scope: Scope) -> bool:
    headers = dict(scope.get("headers") or [])
    kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    # FastAPI reads a body without a content type as JSON too.
    return kind in (b"", b"application/json") or kind.endswith(b"+json")


class JsonGuard:
    """ASGI middleware: a JSON body that `check_value` refuses never reaches a route."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH") \
                or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            _, errors, status = parse_json(body)
            if errors:
                await _answer(send, status, {"errors": errors})
                return
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _answer(send: Any, status: int, content: Any) -> None:
    body = json.dumps(content).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})
