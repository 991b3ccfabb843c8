"""Is this child already known? The same child found again in the case records and in other
contacts (issue 17).

A child is the same child when the case record id matches; or, when one of the two has no id,
when the name and the date of birth match (and the postcode too, when both give one). Names
are compared as people write them differently: case, accents, spaces, hyphens, apostrophes
and full stops do not count. Two different case record ids are two children, whatever their
names (twins share a date of birth and often nearly a name).

A near match is never merged: the same date of birth and a name a letter or two out (difflib's
ratio at least NEAR_NAME), the same name with the date of birth a day out or its day and month
swapped, or the same name and date of birth at another postcode. The closest one is put to a
person (the diagram's `confirm_match` task), who says whether it is the same child; only then
is it treated as one (handlers/case_records.py, `apply_match`).
"""

from __future__ import annotations

import contextlib
import difflib
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from engine.registry import HandlerContext
from engine.store import contact_children, instances

NEAR_NAME = 0.85  # "Jayden Smith" / "Jaydon Smith" 0.92; "Amelia Jones" / "Amelie Jones" 0.92
JOINED = "joined_to_open_contact"


@dataclass(frozen=True)
class Who:
    """A child as matching compares them."""

    child_id: str | None
    name: str | None  # as given
    key: str | None  # the name, normalised
    dob: date | None
    postcode: str | None  # normalised: upper case, no spaces


def name_key(name: Any) -> str | None:
    """A name as matching compares it: "Zoë  O'Brien-Smith" and "zoe obrien smith" agree."""
    if not isinstance(name, str):
        return None
    plain = "".join(c for c in unicodedata.normalize("NFKD", name)
                    if not unicodedata.combining(c))
    plain = plain.lower().replace("'", "").replace("’", "").replace(".", "")
    words = "".join(c if c.isalnum() else " " for c in plain).split()
    return " ".join(words) or None


def postcode_key(postcode: Any) -> str | None:
    if not isinstance(postcode, str):
        return None
    return "".join(postcode.upper().split()) or None


def day(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def who(child: Any) -> Who:
    child = child if isinstance(child, dict) else {}
    return Who(child_id=child.get("id") or None, name=child.get("name") or None,
               key=name_key(child.get("name")), dob=day(child.get("dob")),
               postcode=postcode_key(child.get("postcode")))


def near_days(born: date) -> set[date]:
    """The dates of birth a near match may give: the day itself, a day either side, and the
    day and month swapped (03/04 for 04/03)."""
    found = {born, born - timedelta(days=1), born + timedelta(days=1)}
    with contextlib.suppress(ValueError):  # 31/12 has no 12/31
        found.add(born.replace(month=born.day, day=born.month))
    return found


def compare(a: Who, b: Who) -> tuple[str, str] | None:
    """("same" or "near", why), or None when they are different children."""
    if a.child_id and b.child_id:
        return ("same", "the case record id") if a.child_id == b.child_id else None
    if not (a.key and b.key and a.dob and b.dob):
        return None  # a name alone, or a date of birth alone, is too little to go on
    moved = bool(a.postcode and b.postcode and a.postcode != b.postcode)
    if a.key == b.key and a.dob == b.dob:
        if moved:
            return "near", "the same name and date of birth at another postcode"
        return "same", "the name and date of birth" + (" and postcode" if a.postcode
                                                        and b.postcode else "")
    if a.dob == b.dob and difflib.SequenceMatcher(None, a.key, b.key).ratio() >= NEAR_NAME:
        return "near", "the same date of birth and a name spelt a little differently"
    if a.key == b.key and b.dob in near_days(a.dob):
        return "near", "the same name and a date of birth a day out or day and month swapped"
    return None


def likeness(a: Who, b: Who) -> float:
    return difflib.SequenceMatcher(None, a.key or "", b.key or "").ratio()


# -- the contacts' children ---------------------------------------------------------------------


def record_child(task: HandlerContext) -> None:
    """The contact's child in `contact_children`, by this instance (again, if the missing child
    pathway records the contact a second time)."""
    data = task.data
    child = who(data.get("child"))
    received = data.get("received_at")
    at = datetime.fromisoformat(received) if isinstance(received, str) else task.now
    writes = task.services.writes
    writes.execute(contact_children.delete().where(
        contact_children.c.instance_id == task.instance_id))
    writes.execute(contact_children.insert().values(
        instance_id=task.instance_id, contact_id=str(data.get("contact_id") or task.instance_id),
        position=int(data.get("child_position") or 0), received_at=at,
        child_id=child.child_id, name=(child.name or "")[:500] or None, dob=child.dob,
        postcode=child.postcode[:16] if child.postcode else None))


def remember_id(task: HandlerContext, child_id: str) -> None:
    """The child's case record id, once matching has found it."""
    task.services.writes.execute(contact_children.update().where(
        contact_children.c.instance_id == task.instance_id).values(child_id=child_id))


def reference(instance_id: str) -> str:
    """How people quote a contact: the first part of its id (as the notifications do)."""
    return instance_id.split("-")[0].upper()


def other_contacts(task: HandlerContext, child: Who, since: datetime) -> list[dict[str, Any]]:
    """The other contacts about a child who may be this one: in progress, or ended since
    `since`; never this contact's own children. Each with its verdict."""
    if not (child.child_id or child.dob):
        return []
    conn = task.services.connection
    contact_id = str(task.data.get("contact_id") or task.instance_id)
    wanted = []
    if child.child_id:
        wanted.append(contact_children.c.child_id == child.child_id)
    if child.dob:
        wanted.append(contact_children.c.dob.in_(sorted(near_days(child.dob))))
    rows = conn.execute(
        sa.select(contact_children, instances.c.state, instances.c.outcome,
                  instances.c.ended_at, instances.c.rag)
        .join(instances, instances.c.id == contact_children.c.instance_id)
        .where(contact_children.c.instance_id != task.instance_id,
               contact_children.c.contact_id != contact_id, sa.or_(*wanted),
               sa.or_(instances.c.state != "completed", instances.c.ended_at >= since))
        .order_by(contact_children.c.received_at)).all()
    found = []
    for row in rows:
        other = Who(row.child_id, row.name, name_key(row.name), row.dob, row.postcode)
        verdict = compare(child, other)
        if verdict is None:
            continue
        found.append({
            "verdict": verdict[0], "why": verdict[1], "likeness": likeness(child, other),
            "instance_id": row.instance_id, "reference": reference(row.instance_id),
            "contact_id": row.contact_id, "child_id": row.child_id, "name": row.name,
            "dob": row.dob.isoformat() if row.dob else None, "postcode": row.postcode,
            "received_at": row.received_at, "state": row.state, "outcome": row.outcome,
            "ended_at": row.ended_at, "rag": row.rag,
        })
    return found


def case_record_candidates(task: HandlerContext, child: Who) -> list[dict[str, Any]]:
    """The case records of children who may be this one, each with its verdict (a record
    the contact names by id is not a candidate: it is the child)."""
    if not child.dob or child.child_id:
        return []
    found = []
    for record in task.services.case_records.born_on(sorted(near_days(child.dob))):
        other = Who(record["child_id"], record.get("name"), name_key(record.get("name")),
                    day(record.get("dob")), postcode_key(record.get("postcode")))
        verdict = compare(child, other)
        if verdict is not None:
            found.append({"verdict": verdict[0], "why": verdict[1],
                          "likeness": likeness(child, other), "child_id": record["child_id"],
                          "name": record.get("name"), "dob": other.dob.isoformat()
                          if other.dob else None, "postcode": record.get("postcode")})
    return found
