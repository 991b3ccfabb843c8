"""Receiving a professional disagreement (processes/escalation.bpmn, Pathway 3 of docs/process.md).

A disagreement is an instance of its own, started with `about` = the instance id of the
contact or decision it is about (None for another agency's decision), so it never holds that
contact up. This handler records the fields every later step and condition relies on:

- `raised_at`: when it was raised (ISO 8601 UTC with Z); now, unless given
- `summary`: what the disagreement is about, in the raiser's words (text, default "")
- `about`: kept as given (None when not given)
- `raised_by`: {name, agency, email}, all optional; `notify` tells them of each escalation
  when they gave an email (to = `raised_by`)
- `informal_attempt_failed`: the professional has already consulted their line manager and
  tried to resolve it professional to professional (default False)
- `resolved`, `reasons`: empty until someone answers (each stage's form fills them)

Data of the wrong shape is refused with the field named: a disagreement must not reach a
manager half-recorded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.clock import as_utc, iso_z
from engine.registry import HandlerContext, HandlerError, handler

RAISED_BY_FIELDS = ("name", "agency", "email")


def _instant(value: Any) -> str:
    if isinstance(value, datetime):
        at = value
    elif isinstance(value, str):
        try:
            at = datetime.fromisoformat(value.strip())
        except ValueError:
            raise HandlerError(f"raised_at {value!r} is not an ISO 8601 instant") from None
    else:
        raise HandlerError(f"raised_at must be an ISO 8601 instant, not {type(value).__name__}")
    try:
        return iso_z(as_utc(at))
    except ValueError as err:
        raise HandlerError(f"raised_at: {err}") from None


def _raised_by(value: Any) -> dict[str, str | None] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise HandlerError("raised_by must be an object with name, agency and email")
    for key in RAISED_BY_FIELDS:
        if value.get(key) is not None and not isinstance(value[key], str):
            raise HandlerError(f"raised_by.{key} must be text")
    return {**value, **{key: (value.get(key) or None) for key in RAISED_BY_FIELDS}}


@handler("receive_disagreement", sets=("raised_at", "summary", "about", "raised_by",
                                      "informal_attempt_failed"), empty=("resolved", "reasons"))
def receive_disagreement(task: HandlerContext) -> None:
    data = task.data
    raised_at = data.get("raised_at")
    data["raised_at"] = iso_z(task.now) if raised_at is None else _instant(raised_at)
    summary = data.get("summary")
    if summary is not None and not isinstance(summary, str):
        raise HandlerError("summary must be text")
    data["summary"] = summary or ""
    about = data.get("about")
    if about is not None and not isinstance(about, str):
        raise HandlerError("about must be the id of the instance the disagreement is about")
    data["about"] = about or None
    data["raised_by"] = _raised_by(data.get("raised_by"))
    failed = data.get("informal_attempt_failed", False)
    if failed is None:
        failed = False
    if not isinstance(failed, bool):
        raise HandlerError("informal_attempt_failed must be true or false")
    data["informal_attempt_failed"] = failed
    data.setdefault("resolved", None)
    data.setdefault("reasons", None)
