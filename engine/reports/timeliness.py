"""The timeliness dashboard's numbers: contacts received, each deadline met and how late,
outcomes, re-referrals, and the open work now.

A cohort view: the contacts received in the period (on the Hub's wall clock) and their
deadlines, whenever those fell due; the disagreements raised in the period and their stage
deadlines. Open work is now, whatever the period. Read from the instances (and the summary
the engine keeps beside each), deadlines and human tasks; nothing is counted twice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..store import children, deadlines, human_tasks, instances
from . import stats
from .period import CHANNELS, NOT_RATED, RAGS, Filters, Period
from .timescales import Timescales

CONTACT_PROCESS = "first_response"
DISAGREEMENT_PROCESS = "escalation"
# The deadlines of a contact, in the order of the front door's work; any other a diagram
# names (the escalation stages) follows in alphabetical order.
ORDER = ("decision", "rag_timescale", "referrer_outcome")
BY_RAG = ("rag_timescale",)  # shown by RAG as well as in all: its timescale is the RAG's
NOT_DECIDED = "not decided yet"
CHANNEL_WORDS = {"email": "Email", "phone": "Phone", "portal": "Portal", "ppn": "Police (PPN)",
                 "other": "Other"}


@dataclass
class Contact:
    """A contact as the reports see it: from its instance row and summary."""

    id: str
    reference: str | None
    version_id: int
    received_at: datetime
    channel: str | None
    rag: str | None
    outcome: str | None
    flags: list[str]
    team: str | None
    summary: dict[str, Any] = field(repr=False)
    state: str = ""
    ended_at: datetime | None = None


def _instant(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else None
    return None


def contacts(conn: Connection, period: Period, filters: Filters) -> list[Contact]:
    """The contacts received in the period that the filters keep, oldest first."""
    # A contact is received before it is started (never after), so the start bounds it.
    query = sa.select(instances.c.id, instances.c.reference, instances.c.version_id,
                      instances.c.started_at, instances.c.ended_at, instances.c.state,
                      instances.c.outcome, instances.c.rag, instances.c.flags,
                      instances.c.summary)\
        .where(instances.c.process_id == CONTACT_PROCESS,
               instances.c.started_at >= period.start)
    if filters.rag == NOT_RATED:
        query = query.where(instances.c.rag.is_(None))
    elif filters.rag:
        query = query.where(instances.c.rag == filters.rag)
    if filters.outcome:
        query = query.where(instances.c.outcome == filters.outcome)
    found = []
    for r in conn.execute(query):
        summary = r.summary or {}
        received = _instant(summary.get("received_at")) or r.started_at
        if not period.holds(received):
            continue
        channel, team = summary.get("channel"), summary.get("team")
        if not filters.wants(r.rag, channel, r.outcome, team):
            continue
        found.append(Contact(r.id, r.reference, r.version_id, received, channel, r.rag,
                             r.outcome, list(r.flags or []), team, summary, r.state, r.ended_at))
    found.sort(key=lambda c: (c.received_at, c.id))
    return found


@dataclass
class DeadlineRow:
    instance_id: str
    name: str
    element_id: str
    started_at: datetime
    due: datetime
    done_at: datetime | None
    breached_at: datetime | None
    cancelled_at: datetime | None
    met: bool | None

    instance_state: str | None = None
    task_status: str | None = None  # of the person's task the deadline is on, if any

    def status(self, now: datetime) -> str:
        """met | late (done after its due) | late_open (missed, not done yet) | not_done
        (missed, and the work will never be done: an escalation stage that ran out and moved
        on, a case closed) | running | cancelled. A deadline past due that its timer has not
        yet marked is missed all the same: it is late now."""
        if self.cancelled_at is not None and self.met is None:
            return "cancelled"
        if self.met is True:
            return "met"
        if self.done_at is not None:
            return "met" if self.met is None and self.done_at <= self.due else "late"
        if self.met is None and self.due >= now:
            return "running"
        if self.instance_state == "completed" or self.task_status == "cancelled":
            return "not_done"
        return "late_open"


def _deadlines(conn: Connection, process_id: str, since: datetime,
               wanted: set[str]) -> dict[str, list[DeadlineRow]]:
    query = sa.select(deadlines.c.instance_id, deadlines.c.name, deadlines.c.element_id,
                      deadlines.c.started_at, deadlines.c.due, deadlines.c.done_at,
                      deadlines.c.breached_at, deadlines.c.cancelled_at, deadlines.c.met,
                      instances.c.state, human_tasks.c.status)\
        .join(instances, instances.c.id == deadlines.c.instance_id)\
        .outerjoin(human_tasks, human_tasks.c.id == deadlines.c.activity_task_id)\
        .where(instances.c.process_id == process_id, instances.c.started_at >= since)
    found: dict[str, list[DeadlineRow]] = defaultdict(list)
    for r in conn.execute(query):
        if r.instance_id in wanted:
            found[r.instance_id].append(DeadlineRow(*r))
    return found


def deadlines_of(conn: Connection, found: list[Contact], period: Period
                 ) -> dict[str, list[DeadlineRow]]:
    return _deadlines(conn, CONTACT_PROCESS, period.start, {c.id for c in found})


@dataclass
class Disagreement:
    id: str
    version_id: int
    about: str | None
    outcome: str | None


def disagreements(conn: Connection, period: Period, found: list[Contact],
                  filters: Filters) -> list[Disagreement]:
    """Disagreements raised in the period; with a filter on contacts, those about one of
    the contacts it keeps."""
    rows = conn.execute(sa.select(instances.c.id, instances.c.version_id, instances.c.about,
                                  instances.c.outcome)
                        .where(instances.c.process_id == DISAGREEMENT_PROCESS,
                               instances.c.started_at >= period.start,
                               instances.c.started_at < period.end)).all()
    kept = {c.id for c in found}
    return [Disagreement(*r) for r in rows if not filters.any or r.about in kept]


# -- the figures ----------------------------------------------------------------------------

def _sort_names(names: set[str]) -> list[str]:
    return [n for n in ORDER if n in names] + sorted(names - set(ORDER))


def deadline_figures(items: Sequence[tuple[DeadlineRow, int, str | None]], timescales: Timescales,
                     now: datetime) -> list[dict[str, Any]]:
    """Per deadline name (and, for the RAG timescale, per RAG): how many met, missed and
    running, the share met, and how late the missed ones were on the deadline's own clock.
    `items`: each deadline with its instance's version and RAG."""
    groups: dict[tuple[str, str | None], list[tuple[DeadlineRow, int, str | None]]] = \
        defaultdict(list)
    for item in items:
        row, _, rag = item
        groups[(row.name, None)].append(item)
        if row.name in BY_RAG:
            groups[(row.name, rag or NOT_RATED)].append(item)
    figures = []
    for name in _sort_names({n for n, _ in groups}):
        rags = [None, *[r for r in (*RAGS, NOT_RATED) if (name, r) in groups]]
        for rag in rags:
            members = groups[(name, rag)]
            counts: Counter[str] = Counter()
            late: list[float] = []
            bases = set()
            for row, version_id, contact_rag in members:
                status = row.status(now)
                counts[status] += 1
                basis = timescales.basis(version_id, row.element_id, contact_rag)
                if status in ("met", "late", "late_open", "not_done"):
                    bases.add(basis)
                if status in ("late", "late_open"):
                    done = row.done_at if status == "late" and row.done_at else now
                    late.append(timescales.late_by(basis, row.due, done).total_seconds() / 3600)
            decided = counts["met"] + counts["late"] + counts["late_open"] + counts["not_done"]
            figures.append({
                "deadline": name, "rag": rag,
                "basis": bases.pop() if len(bases) == 1 else ("mixed" if bases else None),
                "met": counts["met"], "late": counts["late"], "late_open": counts["late_open"],
                "not_done": counts["not_done"],
                "missed": counts["late"] + counts["late_open"] + counts["not_done"],
                "running": counts["running"], "cancelled": counts["cancelled"],
                "decided": decided, "met_share": stats.share(counts["met"], decided),
                "lateness": stats.lateness(late, counts["met"]),
            })
    return figures


def _weeks(period: Period) -> list[date]:
    monday = period.first - timedelta(days=period.first.weekday())
    found = []
    while monday <= period.last:
        found.append(monday)
        monday += timedelta(days=7)
    return found


def received(found: list[Contact], period: Period) -> dict[str, Any]:
    """Contacts received per day and per week (weeks start on Monday), by channel."""
    channels = [c for c in CHANNELS if any(x.channel == c for x in found)]
    if any(x.channel not in CHANNELS for x in found):
        channels.append("other")
    by_day: dict[date, Counter[str]] = {period.first + timedelta(days=i): Counter()
                                        for i in range(period.days)}
    for c in found:
        day = c.received_at.astimezone(period.zone).date()
        by_day[day][c.channel if c.channel in CHANNELS else "other"] += 1
    by_week: dict[date, Counter[str]] = {monday: Counter() for monday in _weeks(period)}
    for day, counts in by_day.items():
        by_week[day - timedelta(days=day.weekday())].update(counts)
    totals: Counter[str] = Counter()
    for counts in by_day.values():
        totals.update(counts)
    return {
        "total": len(found), "channels": channels,
        "by_channel": {c: totals[c] for c in channels},
        "by_day": [{"date": d.isoformat(), "total": sum(n.values()),
                    **{c: n[c] for c in channels}} for d, n in by_day.items()],
        "by_week": [{"week_starting": d.isoformat(), "total": sum(n.values()),
                     **{c: n[c] for c in channels}} for d, n in by_week.items()],
    }


def outcomes(found: list[Contact]) -> list[dict[str, Any]]:
    counts = Counter(c.outcome or NOT_DECIDED for c in found)
    order = sorted(counts, key=lambda k: (k == NOT_DECIDED, -counts[k], k))
    return [{"outcome": k, "count": counts[k], "share": stats.share(counts[k], len(found))}
            for k in order]


def open_work(conn: Connection, timescales: Timescales, filters: Filters,
              now: datetime) -> list[dict[str, Any]]:
    """Open human tasks now, by role: how many, how many overdue, and the oldest (how long
    it has waited, in Hub working hours)."""
    rows = conn.execute(sa.select(human_tasks.c.role, human_tasks.c.created_at,
                                  human_tasks.c.due, instances.c.rag, instances.c.summary)
                        .join(instances, instances.c.id == human_tasks.c.instance_id)
                        .where(human_tasks.c.status == "open")).all()
    roles: dict[str, dict[str, Any]] = {}
    for r in rows:
        summary = r.summary or {}
        if filters.any and not filters.wants(r.rag, summary.get("channel"), None,
                                             summary.get("team"), open_work=True):
            continue
        entry = roles.setdefault(r.role, {"role": r.role, "open": 0, "overdue": 0,
                                          "oldest_created_at": r.created_at})
        entry["open"] += 1
        if r.due is not None and r.due < now:
            entry["overdue"] += 1
        entry["oldest_created_at"] = min(entry["oldest_created_at"], r.created_at)
    for entry in roles.values():
        waited = timescales.calendar.working_time_between(entry["oldest_created_at"], now)
        entry["oldest_waiting_working_hours"] = round(waited.total_seconds() / 3600, 2)
    return sorted(roles.values(), key=lambda e: (-e["overdue"], -e["open"], e["role"]))


def dashboard(conn: Connection, timescales: Timescales, period: Period, filters: Filters,
              now: datetime) -> dict[str, Any]:
    """Everything the dashboard shows, as plain data (the JSON API returns it as it is)."""
    found = contacts(conn, period, filters)
    due = deadlines_of(conn, found, period)
    items = [(row, c.version_id, c.rag) for c in found for row in due.get(c.id, [])]
    raised = disagreements(conn, period, found, filters)
    stage_due = _deadlines(conn, DISAGREEMENT_PROCESS, period.start, {d.id for d in raised})
    stage_items = [(row, d.version_id, None) for d in raised for row in stage_due.get(d.id, [])]
    re_referred = sum(1 for c in found if "re_referral" in c.flags)
    return {
        "period": period.as_dict(), "filters": filters.as_dict(), "now": now,
        "contacts": received(found, period),
        "deadlines": deadline_figures(items, timescales, now),
        "disagreements": {"raised": len(raised),
                          "deadlines": deadline_figures(stage_items, timescales, now)},
        "outcomes": outcomes(found),
        "re_referrals": {"count": re_referred, "share": stats.share(re_referred, len(found))},
        "open_work": open_work(conn, timescales, filters, now),
        "teams": teams(conn),
    }


def teams(conn: Connection) -> list[str]:
    """The teams the filter offers: those of the case records."""

    return sorted(t for (t,) in conn.execute(sa.select(children.c.team).distinct()) if t)
