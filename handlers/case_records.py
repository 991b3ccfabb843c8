"""Case records: the children already known to Children's Social Care.

`SqlCaseRecords` is the default store, the engine's own `children` and `case_notes` tables,
written in the step's transaction. A real case record system (Mosaic, Care Director) would
replace it behind the same small interface (`engine.registry.CaseRecords`).

`look_up_case_records` finds the child first (handlers/matching.py: by case record id, or by
name and date of birth; a near match is left for a person to confirm), then screens the
child and the family: a child open with an allocated worker; a re-referral when any child of
the family (the case records' `family`, or the siblings the contact names) closed within the
window; a social worker involved with the family within the re-engagement window (seed 001:
'a re-referral ... for a child/family'; seed 003: 'If the family have had social worker
involvement within the past 12 weeks'). Then the other contacts about the same child: one in
progress (`open_contact`: its people are told, a manager decides whether to join them), or
one ended within the re-referral window (`previous_contact`, flag `repeat_contact`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.clock import Clock, iso_z
from engine.registry import HandlerContext, HandlerError, StepWrites, handler
from engine.store import case_notes, children, contact_links
from handlers import matching

# Defaults of the service task's properties, which the diagram sets (a process owner's to
# change): seed 000 flags a re-referral within 3 months of closure; seed 003 asks a social
# worker involved in the past 12 weeks to re-engage.
RE_REFERRAL_MONTHS = 3
PREVIOUS_WORKER_WEEKS = 12


def _whole(task: HandlerContext, name: str, default: int) -> int:
    value = task.properties.get(name, str(default))
    if not value.isdigit():
        raise HandlerError(f"property {name}={value!r} of {task.element_id!r} must be a whole "
                           "number")
    return int(value)


class SqlCaseRecords:
    def __init__(self, conn: Connection, writes: StepWrites, clock: Clock) -> None:
        self.conn = conn
        self.writes = writes
        self.clock = clock

    def child(self, child_id: str) -> dict[str, Any] | None:
        row = self.conn.execute(sa.select(children).where(children.c.child_id == child_id)).first()
        return None if row is None else dict(row._mapping)

    def born_on(self, days: list[date]) -> list[dict[str, Any]]:
        rows = self.conn.execute(sa.select(children).where(children.c.dob.in_(days))
                                 .order_by(children.c.child_id))
        return [dict(r._mapping) for r in rows]

    def family(self, family: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(sa.select(children).where(children.c.family == family)
                                 .order_by(children.c.child_id))
        return [dict(r._mapping) for r in rows]

    def add_note(self, child_id: str | None, instance_id: str, kind: str, text: str) -> None:
        self.writes.execute(case_notes.insert(), {
            "child_id": child_id, "instance_id": instance_id, "at": self.clock.now(),
            "kind": kind, "text": text})


def notes(conn: Connection, instance_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(case_notes).where(case_notes.c.instance_id == instance_id)
                        .order_by(case_notes.c.id))
    return [dict(r._mapping) for r in rows]


def seed_children(conn: Connection, records: list[dict[str, Any]]) -> None:
    """Load case records (a scenario's `case_records`, a test's fixtures)."""
    for record in records:
        closed_on = record.get("closed_on")
        if isinstance(closed_on, str):
            closed_on = date.fromisoformat(closed_on)
        conn.execute(children.delete().where(children.c.child_id == record["child_id"]))
        dob = record.get("dob")
        if isinstance(dob, str):
            dob = date.fromisoformat(dob)
        conn.execute(children.insert().values(
            child_id=record["child_id"], status=record["status"],
            allocated_worker=record.get("allocated_worker"),
            worker_email=record.get("worker_email"), team=record.get("team"),
            closed_on=closed_on, name=record.get("name"), dob=dob,
            postcode=record.get("postcode"), family=record.get("family")))


def months_before(day: date, months: int) -> date:
    month = day.month - months
    year = day.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover - every month has a 28th


def _received(task: HandlerContext) -> date:
    received = task.data.get("received_at")
    if isinstance(received, str):
        return datetime.fromisoformat(received).astimezone(task.services.calendar.zone).date()
    return task.now.astimezone(task.services.calendar.zone).date()


LOOK_UP_SETS = ("open_case", "previous_worker", "family", "open_contact", "previous_contact",
                "near_match", "match_windows")


@handler("look_up_case_records", sets=LOOK_UP_SETS)
def look_up_case_records(task: HandlerContext) -> None:
    """Step 1: who the child is, what the case records say of the child and the family, and
    the other contacts about the child (see the module's docstring)."""
    received = _received(task)
    months = _whole(task, "re_referral_months", RE_REFERRAL_MONTHS)
    weeks = _whole(task, "previous_worker_weeks", PREVIOUS_WORKER_WEEKS)
    # kept for apply_match, which screens again once a person has confirmed who the child is
    task.data["match_windows"] = {
        "re_referral_since": months_before(received, months).isoformat(),
        "previous_worker_since": (received - timedelta(weeks=weeks)).isoformat()}
    task.data["near_match"] = None
    child = dict(task.data.get("child") or {})
    found = matching.who(child)
    near: list[dict[str, Any]] = []
    if not found.child_id:
        candidates = matching.case_record_candidates(task, found)
        same = [c for c in candidates if c["verdict"] == "same"]
        if len(same) == 1:  # the one child of that name and date of birth: that record
            child["id"] = same[0]["child_id"]
            task.data["child"] = child
            matching.remember_id(task, child["id"])
        else:  # none, or two records alike: a person tells them apart
            near += [{**c, "source": "case_record"} for c in candidates
                     if c["verdict"] == "near" or len(same) > 1]
    screen(task)
    near += contacts(task)
    if near:
        best = max(near, key=lambda c: c["likeness"])
        task.data["near_match"] = _shown(best)


@handler("apply_match", sets=LOOK_UP_SETS)
def apply_match(task: HandlerContext) -> None:
    """After a person said whether the near match is the same child (`same_child`): if it is,
    the child is that child from now on (its case record, its contacts) and is screened
    again; if not, nothing changes and the two stay apart."""
    data = task.data
    near = data.get("near_match") or {}
    if not data.get("same_child") or not near:
        return
    child = dict(data.get("child") or {})
    if near.get("child_id") and not child.get("id"):
        child["id"] = near["child_id"]
        data["child"] = child
        matching.remember_id(task, child["id"])
    screen(task)
    contacts(task, confirmed=near.get("instance_id"))


def screen(task: HandlerContext) -> None:
    """The case records of the child and the family: open with a worker; a re-referral; a
    social worker involved with the family recently."""
    data = task.data
    windows = data.get("match_windows") or {}
    data["open_case"] = False
    data.setdefault("previous_worker", None)
    data.setdefault("family", None)
    records = task.services.case_records
    child_id = (data.get("child") or {}).get("id")
    record = records.child(child_id) if child_id else None
    if record is not None:
        data["team"] = record.get("team")
        if record["status"] == "open" and record.get("allocated_worker"):
            data["open_case"] = True
            data["allocated_worker"] = record["allocated_worker"]
            data["worker_email"] = record.get("worker_email")
            return
    families = {record["family"]} if record is not None and record.get("family") else set()
    for sibling in data.get("siblings") or []:  # a new baby's family is its siblings'
        known = records.child(sibling["id"]) if isinstance(sibling, dict) \
            and sibling.get("id") else None
        if known is not None and known.get("family"):
            families.add(known["family"])
    members = {record["child_id"]: record} if record is not None else {}
    for family in sorted(families):
        members.update({r["child_id"]: r for r in records.family(family)})
    data["family"] = sorted(families)[0] if families else None
    received = _received(task)
    since = date.fromisoformat(windows["re_referral_since"]) if windows else received
    worker_since = date.fromisoformat(windows["previous_worker_since"]) if windows else received
    latest = None
    for member in members.values():
        closed_on = member.get("closed_on")
        if member["status"] != "closed" or closed_on is None or closed_on > received:
            continue
        if closed_on >= since:
            flags = data.setdefault("flags", [])
            if "re_referral" not in flags:
                flags.append("re_referral")
        if member.get("allocated_worker") and closed_on >= worker_since and \
                (latest is None or closed_on > latest["closed_on"]):
            latest = member
    if latest is not None:
        data["previous_worker"] = latest["allocated_worker"]
        data["previous_worker_email"] = latest.get("worker_email")


def contacts(task: HandlerContext, confirmed: str | None = None) -> list[dict[str, Any]]:
    """The other contacts about the child: the earliest in progress (`open_contact`), else the
    latest ended within the re-referral window (`previous_contact`, flag `repeat_contact`);
    returns the near ones. `confirmed`: a contact a person has said is about this child."""
    data = task.data
    windows = data.get("match_windows") or {}
    since_day = date.fromisoformat(windows["re_referral_since"]) if windows else _received(task)
    since = datetime.combine(since_day, datetime.min.time(), task.services.calendar.zone)
    data.setdefault("open_contact", None)
    data.setdefault("previous_contact", None)
    found = matching.other_contacts(task, matching.who(data.get("child")), since)
    same = [c for c in found if c["verdict"] == "same" or c["instance_id"] == confirmed]
    running = [c for c in same if c["state"] != "completed"]
    ended = [c for c in same if c["state"] == "completed" and c["outcome"] != matching.JOINED
             and c["ended_at"] is not None]
    if running and data.get("open_contact") is None:
        first = running[0]
        data["open_contact"] = {
            "instance_id": first["instance_id"], "reference": first["reference"],
            "received_at": iso_z(first["received_at"]), "rag": first["rag"],
            "why": first["why"]}
    elif ended and not running and data.get("previous_contact") is None:
        last = max(ended, key=lambda c: c["ended_at"])
        data["previous_contact"] = {
            "instance_id": last["instance_id"], "reference": last["reference"],
            "received_at": iso_z(last["received_at"]), "outcome": last["outcome"],
            "ended_at": iso_z(last["ended_at"]), "why": last["why"]}
        flags = data.setdefault("flags", [])
        if "repeat_contact" not in flags:
            flags.append("repeat_contact")
        _link(task, last["instance_id"], "recent")
    return [{**c, "source": "contact"} for c in found
            if c["verdict"] == "near" and c["instance_id"] != confirmed]


def _link(task: HandlerContext, other: str, kind: str) -> None:
    conn = task.services.connection
    if conn.execute(sa.select(contact_links.c.id).where(
            contact_links.c.instance_id == task.instance_id, contact_links.c.other_id == other,
            contact_links.c.kind == kind)).first() is None:
        task.services.writes.execute(contact_links.insert().values(
            instance_id=task.instance_id, other_id=other, kind=kind, at=task.now))


def _shown(candidate: dict[str, Any]) -> dict[str, Any]:
    """The near match as the person confirming it sees it (and as the data keeps it)."""
    keep = ("source", "why", "child_id", "name", "dob", "postcode", "instance_id", "reference",
            "state", "outcome")
    shown = {k: candidate.get(k) for k in keep if candidate.get(k) is not None}
    for key in ("received_at", "ended_at"):
        if candidate.get(key) is not None:
            shown[key] = iso_z(candidate[key])
    return shown


@handler("add_case_note")
def add_case_note(task: HandlerContext) -> None:
    kind = task.prop("kind")
    child_id = (task.data.get("child") or {}).get("id")
    text = task.data.get("case_note") or f"{task.element_name} ({kind})"
    task.services.case_records.add_note(child_id, task.instance_id, kind, str(text))


@handler("open_contact", sets=("opened_at",))
def open_contact(task: HandlerContext) -> None:
    """Step 4: the contact is opened; the RAG timescale runs from now."""
    task.data["opened_at"] = iso_z(task.now)
    task.data["rag_since"] = task.data["opened_at"]  # until a re-rating to RED restarts it
    child_id = (task.data.get("child") or {}).get("id")
    task.services.case_records.add_note(
        child_id, task.instance_id, "contact_opened",
        f"Contact opened, RAG {task.data.get('rag')}, allocated to the Pod Assistant Team Manager")


@handler("record_outcome")
def record_outcome(task: HandlerContext) -> None:
    child_id = (task.data.get("child") or {}).get("id")
    outcome = task.data.get("outcome") or task.prop("outcome", "")
    reasons = task.data.get("reasons") or ""
    task.services.case_records.add_note(child_id, task.instance_id, "outcome",
                                        f"Outcome: {outcome}. {reasons}".strip())
