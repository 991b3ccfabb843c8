"""What a contact may hold when it arrives (docs/process.md: "Data the diagrams exchange").

Refused at the door is only what cannot be a contact at all: no channel or an unknown one,
no concern text, an impossible date, an oversized field, a field nobody knows. A missing or
malformed postcode is not refused: callers often do not know it, so a person checks it
(the diagram's `check_address` task).

A contact may name several children (`children: [...]`, at most MAX_CHILDREN; `child` is a
list of one): `per_child` splits it into one contact per child for the diagrams, each with
the shared concerns and referrer, its own `child`, and `contact_id`, `child_position` and
`siblings` (the other children it names) so each child is screened on its own and the
siblings stay linked (issue 17).
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
TOP_FIELDS = ("channel", "received_at", "referrer", "child", "children", "concerns", *FLAGS,
              "consent")
MAX_CHILDREN = 20  # a sibling group; a larger household is more than one contact

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
    children = _children(data, errors)
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
    clean.pop("children", None)
    clean["child"] = dict(children[0]) if children else {}
    if len(children) > 1:
        clean["children"] = [dict(c) for c in children]
    return clean, []


def _child(value: Any, field: str, errors: list[Error]) -> dict[str, Any]:
    child = _part(value, field, CHILD_FIELDS, errors)
    for key in ("id", "name", "postcode", "address"):
        _text(child.get(key), f"{field}.{key}", errors)
    dob = child.get("dob")
    if dob is not None:
        try:
            born = date.fromisoformat(dob) if isinstance(dob, str) else None
        except ValueError:
            born = None
        if born is None:  # a future date is allowed: concerns can be about an unborn child
            errors.append({"field": f"{field}.dob", "message": "must be a real date, YYYY-MM-DD"})
    return child


def _children(data: dict[str, Any], errors: list[Error]) -> list[dict[str, Any]]:
    """The children the contact names: `child` (one), or `children` (a list of them)."""
    if "children" not in data:
        return [_child(data.get("child"), "child", errors)]
    listed = data["children"]
    if "child" in data:
        errors.append({"field": "children", "message": "give child (one) or children (a list), "
                                                       "not both"})
        return []
    if not isinstance(listed, list) or not listed:
        errors.append({"field": "children", "message": "must be a list of one or more children"})
        return []
    if len(listed) > MAX_CHILDREN:
        errors.append({"field": "children", "message": f"names more than {MAX_CHILDREN} "
                                                       "children; send a contact per family"})
        return []
    found = [_child(c, f"children[{i}]", errors) for i, c in enumerate(listed)]
    seen: dict[tuple[Any, ...], int] = {}
    for i, child in enumerate(found):
        keys: list[tuple[Any, ...]] = []
        if child.get("id"):
            keys.append(("id", child["id"]))
        if child.get("name") and child.get("dob"):
            keys.append(("name", " ".join(str(child["name"]).lower().split()), child["dob"]))
        for key in keys:
            if key in seen:
                errors.append({"field": f"children[{i}]", "message": f"names the same child as "
                                                                     f"children[{seen[key]}]"})
            seen.setdefault(key, i)
    return found


def per_child(contact: dict[str, Any], instance_ids: list[str]) -> list[dict[str, Any]]:
    """A validated contact as one contact per child it names (with `instance_ids`, one per
    child, given out before they start): the shared concerns, referrer and flags, the child's
    own details, the contact's id (the first child's instance id), the child's place in the
    contact and its siblings."""
    children = contact.get("children") or [contact.get("child") or {}]
    if len(instance_ids) != len(children):
        raise ValueError("give one instance id per child")
    shared = {k: v for k, v in contact.items() if k not in ("child", "children")}
    split = []
    for position, child in enumerate(children):
        siblings = [{"instance_id": instance_ids[j], "position": j,
                     **{k: other[k] for k in ("id", "name", "dob") if other.get(k)}}
                    for j, other in enumerate(children) if j != position]
        split.append({**shared, "child": dict(child), "contact_id": instance_ids[0],
                      "child_position": position, "siblings": siblings})
    return split
