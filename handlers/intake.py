"""What a contact may hold when it arrives (docs/process.md: "Data the diagrams exchange").

Refused at the door is only what cannot be a contact at all: no channel or an unknown one,
no concern text, an impossible date, an oversized field, a field nobody knows. A missing or
malformed postcode is not refused: callers often do not know it, so a person checks it
(the diagram's `check_address` task).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

CHANNELS = ("email", "phone", "portal", "ppn")
REFERRER_KINDS = ("professional", "public")
CONSENT = ("given", "refused", "not_sought")
FLAGS = ("immediate_risk", "missing", "information_request", "crime_suspected")
MAX_TEXT = 20_000
MAX_SHORT = 500

REFERRER_FIELDS = ("name", "kind", "agency", "email", "phone")
CHILD_FIELDS = ("id", "name", "dob", "postcode", "address")
TOP_FIELDS = ("channel", "received_at", "referrer", "child", "concerns", *FLAGS, "consent")

Error = dict[str, str]


def _text(value: Any, field: str, errors: list[Error], limit: int = MAX_SHORT,
          required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            errors.append({"field": field, "message": "is required"})
        return None
    if not isinstance(value, str):
        errors.append({"field": field, "message": "must be text"})
        return None
    if len(value) > limit:
        errors.append({"field": field, "message": f"is longer than {limit} characters"})
        return None
    return value


def _part(value: Any, field: str, allowed: tuple[str, ...], errors: list[Error]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append({"field": field, "message": "must be an object"})
        return {}
    for key in value:
        if key not in allowed:
            errors.append({"field": f"{field}.{key}",
                           "message": f"is not a known field; use {', '.join(allowed)}"})
    return value


def _instant(value: Any, field: str, errors: list[Error]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        errors.append({"field": field, "message": "must be an ISO 8601 instant"})
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        errors.append({"field": field, "message": f"{value!r} is not an ISO 8601 instant"})
        return None
    if parsed.tzinfo is None:
        errors.append({"field": field, "message": "needs a time zone offset or Z"})
        return None
    return value


def validate_contact(data: Any) -> tuple[dict[str, Any], list[Error]]:
    """The contact as the diagrams receive it, and every error as {"field", "message"}."""
    errors: list[Error] = []
    if not isinstance(data, dict):
        return {}, [{"field": "contact", "message": "must be a JSON object"}]
    for key in data:
        if key not in TOP_FIELDS:
            errors.append({"field": str(key),
                           "message": f"is not a contact field; use {', '.join(TOP_FIELDS)}"})
    channel = data.get("channel")
    if channel not in CHANNELS:
        errors.append({"field": "channel", "message": f"must be one of {', '.join(CHANNELS)}"})
    _instant(data.get("received_at"), "received_at", errors)
    _text(data.get("concerns"), "concerns", errors, MAX_TEXT, required=True)
    referrer = _part(data.get("referrer"), "referrer", REFERRER_FIELDS, errors)
    for key in ("name", "agency", "email", "phone"):
        _text(referrer.get(key), f"referrer.{key}", errors)
    if referrer.get("kind") is not None and referrer.get("kind") not in REFERRER_KINDS:
        errors.append({"field": "referrer.kind",
                       "message": f"must be one of {', '.join(REFERRER_KINDS)}"})
    email = referrer.get("email")
    if isinstance(email, str) and email and ("@" not in email or " " in email.strip()):
        errors.append({"field": "referrer.email", "message": "is not an email address"})
    child = _part(data.get("child"), "child", CHILD_FIELDS, errors)
    for key in ("id", "name", "postcode", "address"):
        _text(child.get(key), f"child.{key}", errors)
    dob = child.get("dob")
    if dob is not None:
        try:
            born = date.fromisoformat(dob) if isinstance(dob, str) else None
        except ValueError:
            born = None
        if born is None:  # a future date is allowed: concerns can be about an unborn child
            errors.append({"field": "child.dob", "message": "must be a real date, YYYY-MM-DD"})
    for flag in FLAGS:
        if flag in data and not isinstance(data[flag], bool):
            errors.append({"field": flag, "message": "must be true or false"})
    if data.get("consent") is not None and data.get("consent") not in CONSENT:
        errors.append({"field": "consent", "message": f"must be one of {', '.join(CONSENT)}"})
    if errors:
        return {}, errors
    clean = dict(data)
    for flag in FLAGS:
        clean[flag] = bool(data.get(flag, False))
    clean["referrer"] = dict(referrer)
    clean["child"] = dict(child)
    return clean, []
