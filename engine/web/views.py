"""What each page shows, as plain data for the templates: the inbox rows, a contact's details,
a case's history and deadlines, the deadlines board. No HTML here, and no clock: `now` is
always the engine clock's instant, passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..api.auth import Caller
from . import timing
from .timing import Calendar, TimeLeft

RAGS = ("RED", "AMBER", "GREEN")
NO_ROLE = "Not a person's task"
# The board lists a deadline done late for this long after it was done (still open: always).
DONE_LATE_SHOWN = timedelta(days=7)


@dataclass
class Due:
    """A due instant as shown: local time, and the working time left or overdue."""

    at: datetime | None
    text: str
    left: TimeLeft | None

    @property
    def overdue(self) -> bool:
        return self.left is not None and self.left.overdue


def due(calendar: Calendar, now: datetime, at: datetime | None) -> Due:
    return Due(at, timing.local(at, calendar.zone), timing.time_left(calendar, now, at))


# -- whom a case is about ---------------------------------------------------------------

NOT_ABOUT_A_CHILD = {"escalation": "Professional disagreement", "ppn_meeting": "PPN meeting"}


def subject(summary: dict[str, Any], process: str | None = None) -> str:
    """Whom a case is about, as lists name it: the child, or what kind of case it is."""
    return summary.get("child_name") or NOT_ABOUT_A_CHILD.get(
        process or summary.get("process") or "", "Name not given")


# -- the inbox ---------------------------------------------------------------------------

@dataclass
class InboxRow:
    task_id: str
    instance_id: str
    name: str
    role: str
    child_name: str
    child_id: str
    reference: str
    rag: str | None
    flags: list[str]
    received: str
    due: Due


def inbox_rows(tasks: list[dict[str, Any]], about: dict[str, dict[str, Any]],
               calendar: Calendar, now: datetime) -> list[InboxRow]:
    """Open tasks, overdue ones first, then soonest due, then those with no deadline."""
    rows = []
    for t in tasks:
        summary = about.get(t["instance_id"], {})
        received = _instant(summary.get("received_at") or summary.get("raised_at"))
        rows.append(InboxRow(
            task_id=t["id"], instance_id=t["instance_id"], name=t["name"], role=t["role"],
            child_name=subject(summary), child_id=summary.get("child_id") or "",
            reference=t.get("reference") or summary.get("reference") or "",
            rag=t.get("rag") or summary.get("rag"), flags=list(t.get("flags") or []),
            received=timing.local(received, calendar.zone), due=due(calendar, now, t["due"])))
    rows.sort(key=lambda r: (not r.due.overdue, r.due.at is None,
                             r.due.at or now, r.name))
    return rows


# -- a contact and its history -----------------------------------------------------------

LABELS = {
    "channel": "Channel", "received_at": "Received", "concerns": "Concerns",
    "immediate_risk": "Immediate safeguarding concern (RED flag)", "missing": "Missing child",
    "information_request": "Information request (BLUE)", "crime_suspected": "Crime suspected",
    "consent": "Consent", "name": "Name", "dob": "Date of birth", "id": "Case record ID",
    "postcode": "Postcode", "address": "Address", "kind": "Kind", "agency": "Agency",
    "email": "Email", "phone": "Phone", "rag": "RAG rating", "flags": "Flags",
    "raised_at": "Raised", "raised_by": "Raised by", "summary": "Summary", "about": "About",
}
CHILD = ("name", "dob", "id", "postcode", "address")
REFERRER = ("name", "kind", "agency", "email", "phone")
CONTACT = ("channel", "received_at", "concerns", "immediate_risk", "missing",
           "information_request", "crime_suspected", "consent")
_ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")


@dataclass
class Names:
    """The words the diagrams' forms give to fields and their options (`rag` is "RAG
    rating", `risk_of_harm` is "Risk of (further) harm"), for showing recorded answers."""

    labels: dict[str, str] = field(default_factory=dict)
    options: dict[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def of(cls, forms: list[list[dict[str, Any]]]) -> Names:
        names = cls()
        for form in forms:
            for spec in form or []:
                names.labels.setdefault(spec["id"], str(spec.get("label") or spec["id"]))
                for option in spec.get("options") or []:
                    names.options.setdefault((spec["id"], str(option["id"])),
                                             str(option.get("name") or option["id"]))
        return names

    def label(self, key: str) -> str:
        return self.labels.get(key) or label(key)

    def show(self, key: str, value: Any, calendar: Calendar) -> str:
        if isinstance(value, str) and (key, value) in self.options:
            return self.options[(key, value)]
        if isinstance(value, list) and value and all((key, str(v)) in self.options for v in value):
            return ", ".join(self.options[(key, str(v))] for v in value)
        return show(value, calendar)


@dataclass
class Section:
    heading: str
    items: list[tuple[str, str]] = field(default_factory=list)


ACRONYMS = {"rag": "RAG", "brag": "BRAG", "ppn": "PPN", "id": "ID", "nfa": "NFA", "iar": "IAR"}


def label(key: str) -> str:
    if key in LABELS:
        return LABELS[key]
    words = [ACRONYMS.get(w, w) for w in key.split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def _instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_INSTANT.match(value):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


def show(value: Any, calendar: Calendar) -> str:
    """A data value in words: Yes/No, lists joined, instants on the Hub's clock."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if (at := _instant(value)) is not None:
        return timing.local(at, calendar.zone)
    if isinstance(value, list):
        return ", ".join(show(v, calendar) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{label(k)}: {show(v, calendar)}" for k, v in value.items())
    return str(value)


def contact_sections(data: dict[str, Any], calendar: Calendar, form_ids: set[str],
                     names: Names | None = None) -> list[Section]:
    """The task's data as the person doing it reads it: the child, the referrer, the
    contact, then everything recorded since (earlier answers), the task's own fields
    aside."""
    names = names or Names()
    sections = []
    for heading, key, keys in (("Child", "child", CHILD), ("Referrer", "referrer", REFERRER)):
        part = data.get(key)
        if isinstance(part, dict) and part:
            ordered = [k for k in keys if k in part] + [k for k in part if k not in keys]
            sections.append(Section(heading, [(label(k), show(part[k], calendar))
                                              for k in ordered]))
    contact = Section("Contact", [(label(k), show(data[k], calendar))
                                  for k in CONTACT if k in data])
    if contact.items:
        sections.append(contact)
    shown = {"child", "referrer", *CONTACT, *form_ids}
    rest = Section("Recorded so far", [(names.label(k), names.show(k, v, calendar))
                                       for k, v in data.items()
                                       if k not in shown and not k.startswith("_")
                                       and not _blank(v)])
    if rest.items:
        sections.append(rest)
    return sections


SYSTEM_ACTORS = frozenset({"engine", "timer", "message", "retry", "schedule", "retention"})
VIEWS = ("viewed", "viewed task")  # reading a case or one of its tasks: audited apart


@dataclass
class Step:
    at: str
    actor: str
    action: str
    what: str
    role: str
    changes: list[tuple[str, str]]
    by_person: bool

    @property
    def worth_showing(self) -> bool:
        """A person's step, anything but a plain completion (a start, a breach, an
        incident), or an automatic step that recorded something. Not: a gateway passed."""
        return self.by_person or self.action != "completed" or bool(self.changes)


@dataclass
class History:
    steps: list[Step]  # every step, in order
    viewed: list[Step]  # who opened the case, when

    @property
    def main(self) -> list[Step]:
        return [s for s in self.steps if s.worth_showing]

    @property
    def hidden(self) -> int:
        return len(self.steps) - len(self.main)


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def history_steps(history: list[dict[str, Any]], calendar: Calendar,
                  names: Names | None = None) -> History:
    """The case's history, and apart from it who viewed the case when. A step's changes
    leave out fields it set to nothing (a process starting lists every field blank)."""
    names = names or Names()
    found = History([], [])
    for h in history:
        actor = h["actor"] or ""
        step = Step(at=timing.local(h["at"], calendar.zone), actor=actor,
                    action=h["action"], what=h.get("element_name") or h.get("element_id") or "",
                    role=h.get("role") or "",
                    changes=[(names.label(k), names.show(k, v, calendar))
                             for k, v in (h.get("changes") or {}).items() if not _blank(v)],
                    by_person=actor not in SYSTEM_ACTORS)
        (found.viewed if h["action"] in VIEWS else found.steps).append(step)
    return found


# -- a case --------------------------------------------------------------------------------

@dataclass
class DeadlineRow:
    name: str
    started: str
    due: Due
    done: str
    status: str  # in words: running, met, missed, missed and still open, cancelled


def deadline_rows(found: list[dict[str, Any]], calendar: Calendar,
                  now: datetime) -> list[DeadlineRow]:
    rows = []
    for d in found:
        if d.get("cancelled"):
            status = "cancelled"
        elif d["met"] is True:
            status = "met"
        elif d["met"] is False:
            status = "missed" if d["done_at"] else "missed, still open"
        else:
            status = "running"
        running = status in ("running", "missed, still open")
        rows.append(DeadlineRow(
            name=label(d["name"]), started=timing.local(d["started_at"], calendar.zone),
            due=due(calendar, now, d["due"]) if running
            else Due(d["due"], timing.local(d["due"], calendar.zone), None),
            done=timing.local(d["done_at"], calendar.zone), status=status))
    return rows


# -- the deadlines board ---------------------------------------------------------------------

@dataclass
class BoardRow:
    instance_id: str
    deadline: str
    task: str
    role: str
    rag: str
    child_name: str
    child_id: str
    reference: str
    due: Due
    status: str


@dataclass
class Board:
    breached: list[BoardRow]
    due_today: list[BoardRow]
    counts: list[tuple[str, dict[str, tuple[int, int]]]]  # role -> rag -> (breached, today)
    roles: list[str]


def board(found: list[dict[str, Any]], calendar: Calendar, now: datetime,
          role: str | None, rag: str | None) -> Board:
    """Breached deadlines (still open first) and those due before the end of today, by role
    and RAG; `role` and `rag` narrow the lists (not the counts)."""
    end_of_today = timing.end_of_local_day(now, calendar.zone)
    breached: list[BoardRow] = []
    today: list[BoardRow] = []
    for d in found:
        if d["met"] is False:
            shown = breached
        elif d["done_at"] is None and d["breached_at"] is None and d["due"] < end_of_today:
            shown = today
        else:  # due after today: not on the board (its time left is not worked out)
            continue
        summary = d.get("summary") or {}
        row = BoardRow(
            instance_id=d["instance_id"], deadline=label(d["name"]), task=d.get("task_name") or "",
            role=d.get("role") or NO_ROLE, rag=d.get("rag") or "Not rated",
            child_name=subject(summary, d.get("process_id")),
            child_id=summary.get("child_id") or "", reference=d.get("reference") or "",
            due=due(calendar, now, d["due"]),
            status="")
        if shown is breached:
            row.status = "still open" if d["done_at"] is None else \
                f"done late, {timing.local(d['done_at'], calendar.zone)}"
        else:
            row.status = "overdue" if row.due.overdue else "due today"
        shown.append(row)
    breached.sort(key=lambda r: (r.status != "still open", r.due.at or now))
    today.sort(key=lambda r: r.due.at or now)
    roles = sorted({r.role for r in breached + today})
    counts = []
    for name in roles:
        by_rag: dict[str, tuple[int, int]] = {}
        for shade in (*RAGS, "Not rated"):
            by_rag[shade] = (
                sum(1 for r in breached if r.role == name and r.rag == shade
                    and r.status == "still open"),
                sum(1 for r in today if r.role == name and r.rag == shade))
        counts.append((name, by_rag))

    def wanted(r: BoardRow) -> bool:
        return (not role or r.role == role) and (not rag or r.rag == rag)

    return Board([r for r in breached if wanted(r)], [r for r in today if wanted(r)],
                 counts, roles)


def roles_text(caller: Caller) -> str:
    return ", ".join(sorted(caller.roles))
