"""The timeliness dashboard's numbers: contacts received, each deadline met and how late,
outcomes, re-referrals, and the open work now.

A cohort view: the contacts received in the period (on the Hub's wall clock) and their
deadlines, whenever those fell due; the disagreements raised in the period and their stage
deadlines. Open work is now, whatever the period. Read from the instances (and the summary
the engine keeps beside each), deadlines and human tasks; nothing is counted twice.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..store import children, deadlines, human_tasks, instances
from ..working_time import micros
from . import stats
from .period import CHANNELS, NOT_RATED, RAGS, Filters, Period
from .rows import driver_rows
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
    # for the register only: REGISTER_NAMES and the source's kind and agency
    summary: dict[str, Any] = field(repr=False)


REGISTER_NAMES = ("child_id", "child_dob", "child_name")  # of the summary (strings or null)


def _instant(value: Any) -> datetime | None:
    if isinstance(value, str):
        if len(value) == 20 and value[19] == "Z" and value[10] == "T":
            # (as the API writes them, 2026-01-05T01:38:03Z: read without making a zone each)
            try:
                return datetime.fromisoformat(value[:19]).replace(tzinfo=UTC)
            except ValueError:
                return None
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else None
    return None


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass
class Chosen:
    """The contacts a period and filters keep, as SQL conditions on `instances` (with a day's
    margin on the received time, written in the summary as text) and the ids that the exact
    check in Python then left out (near the period's ends)."""

    conditions: list[Any]
    left_out: set[str]
    # the earliest and latest start of the contacts kept (None: none kept)
    started: tuple[datetime, datetime] | None = None

    def where(self) -> list[Any]:
        if not self.left_out:
            return self.conditions
        return [*self.conditions, instances.c.id.not_in(sorted(self.left_out))]


def _fields(dialect: str) -> tuple[Any, dict[str, Any]]:
    """The summary's names the reports read, as columns, and what to select them from:
    on PostgreSQL one `json_to_record` a row (its JSON is text, parsed again for every ->>);
    on SQLite json_extract each (its parse is cached within the row)."""
    names = ("received_at", "channel", "team", *REGISTER_NAMES)
    summary = instances.c.summary
    if dialect != "postgresql":
        found = {name: summary[name].as_string() for name in names}
        found.update({f"source_{k}": summary[("source", k)].as_string()
                      for k in ("kind", "agency")})
        return instances, found
    record = sa.func.json_to_record(summary).table_valued(
        *[sa.column(name, sa.Text) for name in names], sa.column("source", sa.JSON)
    ).render_derived(name="summary_fields", with_types=True)
    found = {name: record.c[name] for name in names}
    found.update({f"source_{k}": record.c.source[k].as_string() for k in ("kind", "agency")})
    return instances.join(record, sa.true()), found


def _conditions(period: Period, filters: Filters, fields: dict[str, Any]) -> list[Any]:
    received = fields["received_at"]
    margin = timedelta(days=1)  # any offset a received time may be written with
    found = [
        instances.c.process_id == CONTACT_PROCESS,
        # received no later than 5 minutes after it was started (the API's rule), so:
        instances.c.started_at >= period.start - margin,
        sa.or_(received.is_(None), sa.and_(received >= _iso(period.start - margin),
                                           received < _iso(period.end + margin))),
    ]
    if filters.rag == NOT_RATED:
        found.append(instances.c.rag.is_(None))
    elif filters.rag:
        found.append(instances.c.rag == filters.rag)
    if filters.outcome:
        found.append(instances.c.outcome == filters.outcome)
    if filters.channel:
        found.append(fields["channel"] == filters.channel)
    if filters.team:
        found.append(fields["team"] == filters.team)
    return found


def contacts(conn: Connection, period: Period, filters: Filters, full: bool = False
             ) -> tuple[list[Contact], Chosen]:
    """The contacts received in the period that the filters keep, oldest first, and the
    conditions that choose them (for their deadlines). `full`: with the whole summary (the
    register's columns); else only what the dashboard counts."""
    source, fields = _fields(conn.dialect.name)
    chosen = Chosen(_conditions(period, filters, fields), set())
    # (flags as text: whether it holds re_referral is all the dashboard asks of it)
    columns = [instances.c.id, instances.c.reference, instances.c.version_id,
               instances.c.started_at, instances.c.outcome, instances.c.rag,
               sa.cast(instances.c.flags, sa.Text).label("flags"),
               fields["received_at"], fields["channel"], fields["team"]]
    if full:  # (the register's few names, taken in SQL: no summary parsed per contact)
        columns += [fields[name] for name in REGISTER_NAMES]
        columns += [fields["source_kind"], fields["source_agency"]]
    found = []
    start, end = period.start, period.end
    first_started = last_started = None
    query = sa.select(*columns).select_from(source).where(*chosen.conditions)
    for r in driver_rows(conn, query):
        (instance_id, reference, version_id, started_at, outcome, rag, flags, received_text,
         channel, team) = r[:10]
        received = _instant(received_text) or _utc(started_at)
        if not start <= received < end:
            chosen.left_out.add(instance_id)
            continue
        if first_started is None or started_at < first_started:
            first_started = started_at
        if last_started is None or started_at > last_started:
            last_started = started_at
        if full:
            kept = dict(zip(REGISTER_NAMES, r[10:13], strict=True))
            kept["source"] = {"kind": r[13], "agency": r[14]}
        found.append(Contact(
            instance_id, reference, version_id, received, channel, rag, outcome,
            ["re_referral"] if flags and '"re_referral"' in flags else [], team,
            kept if full else {}))
    found.sort(key=lambda c: (c.received_at, c.id))
    if first_started is not None:
        chosen.started = (_utc(first_started), _utc(last_started))
    return found, chosen


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


def _status(now: datetime) -> Any:
    """DeadlineRow.status, in SQL."""
    d = deadlines.c
    return sa.case(
        (sa.and_(d.cancelled_at.is_not(None), d.met.is_(None)), "cancelled"),
        (d.met.is_(True), "met"),
        (sa.and_(d.done_at.is_not(None), d.met.is_(None), d.done_at <= d.due), "met"),
        (d.done_at.is_not(None), "late"),
        (sa.and_(d.met.is_(None), d.due >= now), "running"),
        (instances.c.state == "completed", "not_done"),
        # (asked only of a deadline missed and not done: a lookup, not a join of every row)
        (sa.select(human_tasks.c.status).where(human_tasks.c.id == d.activity_task_id)
         .scalar_subquery() == "cancelled", "not_done"),
        else_="late_open")


@dataclass
class Tally:
    """Deadlines counted by name, timer, version, RAG and status; the missed ones whose
    lateness can be measured, one by one."""

    counts: list[tuple[str, str, int, str | None, str, int]]
    late: list[tuple[str, str, int, str | None, str, datetime, datetime | None]]


def tally(conn: Connection, conditions: list[Any], now: datetime) -> Tally:
    """One pass over the chosen instances' deadlines: counts by name, timer, version, RAG and
    status, with the due and done instants kept apart only for those missed (late)."""
    status = _status(now)
    missed = status.in_(("late", "late_open"))
    due = sa.case((missed, deadlines.c.due), else_=None).label("due")
    done = sa.case((missed, deadlines.c.done_at), else_=None).label("done")
    query = sa.select(deadlines.c.name, deadlines.c.element_id, instances.c.version_id,
                      instances.c.rag, status.label("status"), due, done, sa.func.count())\
        .select_from(deadlines.join(instances, instances.c.id == deadlines.c.instance_id))\
        .where(*conditions)\
        .group_by(deadlines.c.name, deadlines.c.element_id, instances.c.version_id,
                  instances.c.rag, status, due, done)
    found = Tally([], [])
    for name, element_id, version_id, rag, kind, due_at, done_at, count in driver_rows(conn, query):
        found.counts.append((name, element_id, version_id, rag, kind, count))
        if kind in ("late", "late_open"):
            for _ in range(count):
                found.late.append((name, element_id, version_id, rag, kind,
                                   _utc(due_at), _utc(done_at) if done_at else None))
    return found


def _utc(value: Any) -> datetime:
    """An instant as the driver gives it (text from SQLite, naive UTC from PostgreSQL)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _deadlines(conn: Connection, conditions: list[Any]) -> dict[str, list[DeadlineRow]]:
    query = sa.select(deadlines.c.instance_id, deadlines.c.name, deadlines.c.element_id,
                      deadlines.c.started_at, deadlines.c.due, deadlines.c.done_at,
                      deadlines.c.breached_at, deadlines.c.cancelled_at, deadlines.c.met,
                      instances.c.state, human_tasks.c.status)\
        .join(instances, instances.c.id == deadlines.c.instance_id)\
        .outerjoin(human_tasks, human_tasks.c.id == deadlines.c.activity_task_id)\
        .where(*conditions)
    found: dict[str, list[DeadlineRow]] = defaultdict(list)
    for r in conn.execute(query):
        found[r.instance_id].append(DeadlineRow(*r))
    return found


def deadlines_of(conn: Connection, chosen: Chosen, name: str | None = None
                 ) -> dict[str, list[DeadlineRow]]:
    """The deadlines of the chosen contacts (of one name, when given), by instance."""
    conditions = chosen.where() + ([deadlines.c.name == name] if name else [])
    return _deadlines(conn, conditions)


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


def deadline_figures(found: Tally, timescales: Timescales, now: datetime
                     ) -> list[dict[str, Any]]:
    """Per deadline name (and, for the RAG timescale, per RAG): how many met, missed and
    running, the share met, and how late the missed ones were on the deadline's own clock."""
    counts: dict[tuple[str, str | None], Counter[str]] = defaultdict(Counter)
    bases: dict[tuple[str, str | None], set[str]] = defaultdict(set)
    late: dict[tuple[str, str | None], list[float]] = defaultdict(list)

    def keys(name: str, rag: str | None) -> list[tuple[str, str | None]]:
        return [(name, None)] + ([(name, rag or NOT_RATED)] if name in BY_RAG else [])

    for name, element_id, version_id, rag, status, count in found.counts:
        for key in keys(name, rag):
            counts[key][status] += count
            if status in ("met", "late", "late_open", "not_done"):
                bases[key].add(timescales.basis(version_id, element_id, rag))
    for name, element_id, version_id, rag, status, due, done in found.late:
        basis = timescales.basis(version_id, element_id, rag)
        hours = timescales.late_by(basis, due, done if status == "late" and done else now)\
            .total_seconds() / 3600
        for key in keys(name, rag):
            late[key].append(hours)
    figures = []
    for name in _sort_names({n for n, _ in counts}):
        for rag in [None, *[r for r in (*RAGS, NOT_RATED) if (name, r) in counts]]:
            c, b = counts[(name, rag)], bases[(name, rag)]
            decided = c["met"] + c["late"] + c["late_open"] + c["not_done"]
            figures.append({
                "deadline": name, "rag": rag,
                "basis": next(iter(b)) if len(b) == 1 else ("mixed" if b else None),
                "met": c["met"], "late": c["late"], "late_open": c["late_open"],
                "not_done": c["not_done"],
                "missed": c["late"] + c["late_open"] + c["not_done"],
                "running": c["running"], "cancelled": c["cancelled"],
                "decided": decided, "met_share": stats.share(c["met"], decided),
                "lateness": stats.lateness(late[(name, rag)], c["met"]),
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
    # (the local day by the UTC instants of the period's midnights: no conversion a contact)
    midnights = [micros(period.start)] + [
        micros(datetime.combine(d + timedelta(days=1), datetime.min.time(), period.zone))
        for d in by_day]
    days = list(by_day)
    for c in found:
        day = days[bisect_right(midnights, micros(c.received_at)) - 1]
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
    # The open tasks first (their index), then, for a filter, what their instances are.
    rows = conn.execute(sa.select(human_tasks.c.role, human_tasks.c.created_at,
                                  human_tasks.c.due, human_tasks.c.instance_id)
                        .where(human_tasks.c.status == "open")).all()
    about: dict[str, tuple[str | None, dict[str, Any]]] = {}
    if filters.any and rows:
        ids = sorted({r.instance_id for r in rows})
        for i in range(0, len(ids), 500):
            about.update((r.id, (r.rag, r.summary or {})) for r in conn.execute(
                sa.select(instances.c.id, instances.c.rag, instances.c.summary)
                .where(instances.c.id.in_(ids[i:i + 500]))))
    roles: dict[str, dict[str, Any]] = {}
    for r in rows:
        rag, summary = about.get(r.instance_id, (None, {}))
        if filters.any and not filters.wants(rag, summary.get("channel"), None,
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
    found, chosen = contacts(conn, period, filters)
    raised = disagreements(conn, period, found, filters)
    stages = tally(conn, [deadlines.c.instance_id.in_(sorted(d.id for d in raised))], now) \
        if raised else Tally([], [])
    re_referred = sum(1 for c in found if "re_referral" in c.flags)
    return {
        "period": period.as_dict(), "filters": filters.as_dict(), "now": now,
        "contacts": received(found, period),
        "deadlines": deadline_figures(tally(conn, chosen.where(), now), timescales, now),
        "disagreements": {"raised": len(raised),
                          "deadlines": deadline_figures(stages, timescales, now)},
        "outcomes": outcomes(found),
        "re_referrals": {"count": re_referred, "share": stats.share(re_referred, len(found))},
        "open_work": open_work(conn, timescales, filters, now),
        "teams": teams(conn),
    }


def teams(conn: Connection) -> list[str]:
    """The teams the filter offers: those of the case records."""

    return sorted(t for (t,) in conn.execute(sa.select(children.c.team).distinct()) if t)
