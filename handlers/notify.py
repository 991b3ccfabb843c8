"""Notifications: one message per recipient, from the template of its kind, via the outbox.

A `notify` service task says what (`kind`) and to whom (`to`); the words are in
`templates/<kind>.txt` (first line `Subject: ...`, then the body, `$name` placeholders).
Recipients (`to`, comma-separated):

- `referrer`: the referrer's email; a referrer with none (a phone call from the public)
  gets a letter, so it goes to Business Support to post
- `allocated_worker`: the child's allocated worker (from the case records)
- `authority`: the front door of the local authority a contact is redirected to
  (`authority_email` when the person redirecting gave one, else `[authorities]`)
- `raised_by`: the professional who raised a disagreement (nobody, if they gave no email)
- `missing_report`: the allocated worker, their team's manager, assistant manager and
  business support, and the CE & Missing Team Manager
- `previous_worker`: the social worker involved with the family in the past 12 weeks
- `role:NAME`: the role's mailbox(es) in `processes/directory.toml`
"""

from __future__ import annotations

import string
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.registry import HandlerContext, HandlerError, handler

TEMPLATES = Path(__file__).parent / "templates"
POST_ROOM = "Business Support Officer"

OUTCOMES = {
    "s47": "progressed to Children's Social Care for a strategy discussion and Section 47 enquiry",
    "s17": "progressed to Children's Social Care for a Child and Family assessment (child in need)",
    "early_help": "stepped across to Early Help",
    "signpost": "signposted to another agency or universal services for support",
    "advice": "closed with information and advice",
}


@lru_cache(maxsize=64)
def template(kind: str) -> tuple[str, string.Template]:
    path = TEMPLATES / f"{kind}.txt"
    if not path.exists():
        raise HandlerError(f"no template for notification kind {kind!r}: add {path}")
    text = path.read_text(encoding="utf-8")
    first, _, body = text.partition("\n")
    if not first.startswith("Subject:"):
        raise HandlerError(f"{path}: the first line must be 'Subject: ...'")
    return first.removeprefix("Subject:").strip(), string.Template(body.lstrip("\n"))


def _local(value: Any, task: HandlerContext) -> str:
    if not isinstance(value, str) or not value:
        return ""
    try:
        at = datetime.fromisoformat(value).astimezone(task.services.calendar.zone)
    except ValueError:
        return value
    return at.strftime("%A %d %B %Y, %H:%M")


def _raised_by(data: dict[str, Any]) -> dict[str, Any]:
    raised_by = data.get("raised_by")
    return raised_by if isinstance(raised_by, dict) else {}


def context(task: HandlerContext) -> dict[str, str]:
    data = task.data
    child = data.get("child") or {}
    referrer = data.get("referrer") or {}
    values: dict[str, Any] = {
        "reference": task.instance_id.split("-")[0].upper(),
        "child_name": child.get("name") or "the child",
        "child_dob": child.get("dob") or "not known",
        "child_address": child.get("address") or "not known",
        "postcode": child.get("postcode") or "not known",
        "concerns": data.get("concerns") or "",
        "referrer_name": referrer.get("name") or "Referrer",
        "referrer_agency": referrer.get("agency") or "",
        "received": _local(data.get("received_at"), task),
        "rag": data.get("rag") or "",
        "outcome": OUTCOMES.get(data.get("outcome") or "", data.get("outcome") or ""),
        "reasons": data.get("reasons") or "",
        "authority": data.get("authority") or "",
        "allocated_worker": data.get("allocated_worker") or "",
        "team": data.get("team") or "",
        "information": data.get("information") or "",
        "deadline": data.get("breached_deadline") or "",
        "due": _local(data.get("breached_due"), task),
        "stage": str(data.get("stage") or ""),
        "summary": data.get("summary") or "",
        "element": task.element_name,
        "raised_by_name": _raised_by(data).get("name") or "the professional who raised it",
        "raised_by_agency": _raised_by(data).get("agency") or "",
        "raised": _local(data.get("raised_at"), task),
    }
    # The service task's own properties (e.g. `stage` = 2) fill placeholders too.
    values.update({k: v for k, v in task.properties.items() if k not in ("kind", "to")})
    return {k: str(v) for k, v in values.items()}


def recipients(task: HandlerContext, spec: str) -> list[str]:
    directory = task.services.directory
    data = task.data
    found: list[str] = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        if part.startswith("role:"):
            found.extend(directory.addresses(part.removeprefix("role:").strip()))
        elif part == "referrer":
            email = (data.get("referrer") or {}).get("email")
            found.extend([email] if email else directory.addresses(POST_ROOM))
        elif part == "allocated_worker":
            email = data.get("worker_email")
            if not email:
                team = data.get("team")
                email = directory.team(team)["business_support"] if team else None
            if not email:
                raise HandlerError("the child's allocated worker has no email in the case records")
            found.append(email)
        elif part == "previous_worker":
            found.append(data.get("previous_worker_email")
                         or directory.addresses("Business Support Officer")[0])
        elif part == "authority":
            authority = data.get("authority")
            if data.get("authority_email"):
                found.append(data["authority_email"])
            elif not authority:
                raise HandlerError("no local authority named to redirect the contact to")
            else:
                found.append(directory.authority(authority))
        elif part == "raised_by":
            raised_by = data.get("raised_by")
            email = raised_by.get("email") if isinstance(raised_by, dict) else None
            if email:  # another agency's professional may have given no address: nobody to tell
                found.append(email)
        elif part == "missing_report":
            team = data.get("team")
            members = directory.team(team) if team else {}
            found.extend(recipients(task, "allocated_worker"))
            found.extend(members.get(k, "") for k in ("manager", "assistant_manager",
                                                      "business_support"))
            found.extend(directory.addresses("CE & Missing Team Manager"))
        else:
            raise HandlerError(f"notify: unknown recipient {part!r}; see handlers/notify.py")
    unique: list[str] = []
    for email in found:
        if email and email not in unique:
            unique.append(email)
    return unique


def _to_public_referrer(task: HandlerContext, to: str) -> bool:
    """A letter to a referrer who is not a professional (a member of the public, a family)."""
    referrer = task.data.get("referrer") or {}
    parts = {part.strip() for part in to.split(",")}
    return "referrer" in parts and referrer.get("kind") != "professional"


def send(task: HandlerContext, kind: str, to: str) -> list[str]:
    subject, body = template(kind)
    values = context(task)
    if _to_public_referrer(task, to):
        # Seed 002: feedback to non-professional referrers 'in a manner consistent with
        # respecting the confidentiality of the child': the manager's reasons stay internal.
        values["reasons"] = ""
    sent = []
    for email in recipients(task, to):
        sent.append(task.services.notifier.send(
            kind, email, string.Template(subject).safe_substitute(values),
            body.safe_substitute(values), task.instance_id))
    return sent


@handler("notify")
def notify(task: HandlerContext) -> None:
    kind = task.prop("kind")
    send(task, kind, task.prop("to"))
    if task.properties.get("case_note", "").lower() == "true":
        child_id = (task.data.get("child") or {}).get("id")
        task.services.case_records.add_note(child_id, task.instance_id, kind,
                                            f"{task.element_name}: {kind} sent")
