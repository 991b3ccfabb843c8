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
- `open_work`: the people working the contact now: the MASH managers and the mailboxes of
  the roles with an open task in it
- `role:NAME`: the role's mailbox(es) in `processes/directory.toml`

Referrer confidentiality (seed 002: 'Personal information about non-professional referrers
should not be disclosed to the parents or other agencies without the referrer's consent'):
for a referrer who is not a professional, every recipient but the referrer is sent the
message with the referrer not named (`$referrer_name` reads "a member of the public (name
withheld)") and the referrer's name, email and phone taken out of the other text (the concerns
as written down, say). A notify task to people inside BCP Children's Services who need to
reach the referrer (the allocated worker, the Out of Hours service) sets the property
`names_referrer` = `true`; it is refused for `authority` and `raised_by`, which are always
outside. A professional referrer is named to everyone.
"""

from __future__ import annotations

import contextlib
import re
import string
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from engine.directory import DirectoryError
from engine.registry import HandlerContext, HandlerError, handler
from engine.store import human_tasks

TEMPLATES = Path(__file__).parent / "templates"
POST_ROOM = "Business Support Officer"
MANAGERS = "MASH Team Manager / Early Help Decision Maker"
WITHHELD = "a member of the public (name withheld)"
# Recipients always outside BCP Children's Services: never told a public referrer's identity.
OUTSIDE = ("authority", "raised_by")

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
        **_other_contact(data.get("another_contact_received"), task),
    }
    # The service task's own properties (e.g. `stage` = 2) fill placeholders too.
    values.update({k: v for k, v in task.properties.items() if k not in ("kind", "to")})
    return {k: str(v) for k, v in values.items()}


def _other_contact(came: Any, task: HandlerContext) -> dict[str, str]:
    """Another contact about the same child (handlers/repeats.py), for the people working
    this one."""
    came = came if isinstance(came, dict) else {}
    risks = [label for flag, label in (("immediate_risk", "an immediate safeguarding concern"),
                                       ("crime_suspected", "a crime may have been committed"),
                                       ("missing", "the child is missing")) if came.get(flag)]
    return {"other_reference": str(came.get("reference") or ""),
            "other_received": _local(came.get("received_at"), task),
            "other_channel": str(came.get("channel") or ""),
            "other_referrer": str(came.get("referrer") or ""),
            "other_concerns": str(came.get("concerns") or ""),
            "other_risks": f" It says: {'; '.join(risks)}." if risks else ""}


def _open_work(task: HandlerContext) -> list[str]:
    """The MASH managers (who decide what becomes of a repeat contact) and the mailboxes of
    the other roles with an open task in this contact; a role with no mailbox of its own (an
    allocated worker's team) hears through the managers."""
    directory = task.services.directory
    roles = sorted({r for (r,) in task.services.connection.execute(
        sa.select(human_tasks.c.role).where(human_tasks.c.instance_id == task.instance_id,
                                            human_tasks.c.status == "open"))})
    found = directory.addresses(MANAGERS)
    for role in roles:
        if role != MANAGERS:
            with contextlib.suppress(DirectoryError):  # no mailbox: the managers tell them
                found.extend(directory.addresses(role))
    return found


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
        elif part == "open_work":
            found.extend(_open_work(task))
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


def _identity(referrer: dict[str, Any]) -> list[re.Pattern[str]]:
    """Patterns of the referrer's name, email and phone as they may be written in text."""
    found = []
    for key in ("name", "email"):
        value = referrer.get(key)
        if isinstance(value, str) and len(value.strip()) >= 3:
            found.append(re.compile(r"(?<!\w)" + re.escape(value.strip()) + r"(?!\w)",
                                    re.IGNORECASE))
    phone = referrer.get("phone")
    digits = [d for d in phone if d.isdigit()] if isinstance(phone, str) else []
    if len(digits) >= 6:  # the same digits, however spaced or dashed
        found.append(re.compile(r"(?<!\d)" + r"[\s().-]*".join(digits) + r"(?!\d)"))
    return found


def public_view(values: dict[str, str], referrer: dict[str, Any]) -> dict[str, str]:
    """The values of a message to someone other than a public referrer: the referrer not
    named, and their name, email and phone taken out of the free text."""
    patterns = _identity(referrer)
    shown = {}
    for key, value in values.items():
        for pattern in patterns:
            value = pattern.sub("[the referrer]", value)
        shown[key] = value
    shown["referrer_name"] = WITHHELD
    shown["referrer_agency"] = ""
    return shown


def send(task: HandlerContext, kind: str, to: str) -> list[str]:
    subject, body = template(kind)
    values = context(task)
    referrer = task.data.get("referrer") or {}
    public = referrer.get("kind") != "professional"
    named = task.properties.get("names_referrer", "").lower() == "true"
    parts = [part.strip() for part in to.split(",") if part.strip()]
    if named and any(part in OUTSIDE for part in parts):
        raise HandlerError(f"{task.element_id}: names_referrer is refused for "
                           f"{', '.join(OUTSIDE)}: they are outside BCP Children's Services")
    sent: list[str] = []
    done: set[str] = set()
    for part in parts:
        shown = values
        if public and part == "referrer":
            # Seed 002: feedback to non-professional referrers 'in a manner consistent with
            # respecting the confidentiality of the child': the manager's reasons stay internal.
            shown = {**values, "reasons": ""}
        elif public and not named:
            shown = public_view(values, referrer)
        for email in recipients(task, part):
            if email in done:
                continue
            done.add(email)
            sent.append(task.services.notifier.send(
                kind, email, string.Template(subject).safe_substitute(shown),
                body.safe_substitute(shown), task.instance_id))
    return sent


@handler("notify")
def notify(task: HandlerContext) -> None:
    kind = task.prop("kind")
    send(task, kind, task.prop("to"))
    if task.properties.get("case_note", "").lower() == "true":
        child_id = (task.data.get("child") or {}).get("id")
        task.services.case_records.add_note(child_id, task.instance_id, kind,
                                            f"{task.element_name}: {kind} sent")
