"""The contacts register: one row per contact received in a period, with the columns a
council's inspection return asks of its front door (Ofsted's list of contacts).

No names unless asked for and the caller's role allows them (`NAMES_ROLES`): the child is
identified by the case record id, else the contact's own reference, else its id in mash.
Age is given as a band, from the date of birth at the date of contact.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..store import deadlines, instances
from .period import Filters, Period
from .rows import driver_rows
from .timeliness import CONTACT_PROCESS, Chosen, Contact, _utc, contacts

COLUMNS = (
    ("child_reference", "Child reference"),
    ("age_band", "Age band at contact"),
    ("contact_date", "Date of contact"),
    ("contact_time", "Time of contact"),
    ("source", "Source / agency"),
    ("channel", "Channel"),
    ("rag", "RAG rating"),
    ("decision_date", "Decision date"),
    ("decision_within_one_working_day", "Decision within one working day"),
    ("outcome", "Outcome"),
    ("re_referral", "Re-referral"),
    ("mash_id", "mash contact id"),
)
NAME_COLUMN = ("child_name", "Child's name")
# The bands of the Children in Need census: age in whole years at the date of contact.
AGE_BANDS = ((1, "Under 1"), (5, "1 to 4"), (10, "5 to 9"), (16, "10 to 15"), (200, "16 and over"))
DECISION = "decision"


def age_band(dob: Any, on: date) -> str:
    if not isinstance(dob, str) or not dob:
        return "Not known"
    try:
        born = date.fromisoformat(dob[:10])
    except ValueError:
        return "Not known"
    if born > on:
        return "Unborn"
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    for upto, label in AGE_BANDS:
        if years < upto:
            return label
    return AGE_BANDS[-1][1]


def source(summary: dict[str, Any]) -> str:
    found = summary.get("source") or {}
    if found.get("kind") == "public":
        return "Member of the public"
    return str(found.get("agency") or ("Professional" if found.get("kind") else "Not known"))


@dataclass
class Register:
    columns: list[tuple[str, str]]
    rows: list[dict[str, Any]]


def register(conn: Connection, period: Period, filters: Filters, names: bool) -> Register:
    """The register rows, oldest contact first. `names`: include the child's name (the
    caller's role must allow it: see `engine.reports.may_see_names`)."""
    found, chosen = contacts(conn, period, filters, full=True)
    due = decisions(conn, chosen, {c.id for c in found})
    columns = list(COLUMNS) + ([NAME_COLUMN] if names else [])
    rows = [_row(c, due.get(c.id), period, names) for c in found]
    return Register(columns, rows)


def decisions(conn: Connection, chosen: Chosen, ids: set[str]
              ) -> dict[str, tuple[datetime | None, bool | None]]:
    """Per chosen contact (`ids`), its decision deadline (not cancelled): when done and
    whether met. (Read by the contacts' span of start times, through its index, then kept by
    id: cheaper than asking the conditions that chose them of each row again.)"""
    if chosen.started is None:
        return {}
    d = deadlines.c
    query = sa.select(d.instance_id, d.done_at, d.met)\
        .join(instances, instances.c.id == d.instance_id)\
        .where(instances.c.process_id == CONTACT_PROCESS,
               instances.c.started_at >= chosen.started[0],
               instances.c.started_at <= chosen.started[1],
               d.name == DECISION, d.cancelled_at.is_(None))
    found: dict[str, tuple[datetime | None, bool | None]] = {}
    for instance_id, done_at, met in driver_rows(conn, query):
        if instance_id not in ids:
            continue
        # (the first, as ever: a contact has one decision deadline that is not cancelled)
        found.setdefault(instance_id, (_utc(done_at) if done_at is not None else None,
                                       None if met is None else bool(met)))
    return found


def _row(c: Contact, decision: tuple[datetime | None, bool | None] | None, period: Period,
         names: bool) -> dict[str, Any]:
    local = c.received_at.astimezone(period.zone)
    decided: datetime | None = decision[0] if decision is not None else None
    if decision is None:
        within = "Not applicable"
    elif decided is None:
        within = "No (not decided yet)" if decision[1] is False else "Not decided yet"
    else:
        within = "Yes" if decision[1] else "No"
    row = {
        "child_reference": c.summary.get("child_id") or c.reference or c.id,
        "age_band": age_band(c.summary.get("child_dob"), local.date()),
        "contact_date": local.date().isoformat(), "contact_time": f"{local.hour:02d}:{local.minute:02d}",
        "source": source(c.summary), "channel": c.channel or "",
        "rag": c.rag or "Not rated",
        "decision_date": decided.astimezone(period.zone).date().isoformat() if decided else "",
        "decision_within_one_working_day": within,
        "outcome": c.outcome or "Not decided yet",
        "re_referral": "Yes" if "re_referral" in c.flags else "No",
        "mash_id": c.id,
    }
    if names:
        row["child_name"] = c.summary.get("child_name") or ""
    return row


def _safe(value: Any) -> Any:
    """A cell a spreadsheet will not run as a formula (CSV injection)."""
    if isinstance(value, str) and value[:1] in _FORMULA:
        return "'" + value
    return value


_FORMULA = frozenset(("=", "+", "-", "@", "\t", "\r"))  # what a spreadsheet would run


def as_csv(found: Register) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([title for _, title in found.columns])
    keys = [key for key, _ in found.columns]
    risky = _FORMULA  # (_safe, inline: 240,000 cells in a year)
    writer.writerows([["'" + v if isinstance(v, str) and v[:1] in risky else v
                       for v in map(row.__getitem__, keys)] for row in found.rows])
    return out.getvalue()


def as_xlsx(found: Register, title: str = "Contacts") -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    heading = []
    for _, text in found.columns:
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(sheet, value=text)
        cell.font = Font(bold=True)
        heading.append(cell)
    sheet.append(heading)
    for row in found.rows:
        sheet.append([_safe(row[key]) for key, _ in found.columns])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
