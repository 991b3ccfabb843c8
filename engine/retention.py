"""The retention schedule: personal data is kept only as long as the council's schedule says.

`processes/retention.toml` (beside the diagrams, explained there for a process owner) gives
the years to keep a case after it ended, by outcome, with a default. `apply` finds the
ended cases past their time and, one case per transaction, removes the personal data from
every place the engine keeps it:

- the stored workflow state (the contact as the diagrams received it, every answer), kept
  loadable: only the values change;
- the instance's summary (whom it is about), its last error;
- the history's `changes` (the values people entered): the rows themselves, who did what
  and when, stay;
- notifications (recipient, subject, body), messages to the instance, case notes (text
  and the child's id), the child as matching knows it (`contact_children`: name, date of
  birth, postcode, case record id);
- idempotency records that answered for it.

Kept are the ids, process and version, dates, outcome, RAG rating, flags, deadlines and the
history of steps: the audit trail and the statistics. A case whose notification is still
waiting in the outbox is held back until it is sent. A value is kept only if it cannot
identify anyone: true/false, a number, one of the options a form offered (a RAG, an outcome
code), or a field known to hold no personal data (the channel, when it was received). Open
cases are never touched. Each run is recorded in `retention_runs`, and each case gains a
history row ("anonymised") saying which rule applied.
"""

from __future__ import annotations

import logging
import threading
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .store import (
    Store,
    case_notes,
    contact_children,
    history,
    human_tasks,
    idempotency,
    instances,
    messages,
    notifications,
    retention_runs,
)

log = logging.getLogger("mash.retention")

RETENTION_FILE = "retention.toml"
REMOVED = "[removed]"
ACTOR = "retention"
MAX_YEARS = 100

# Fields whose text never identifies anyone, kept for the statistics and the audit trail.
KEEP_TEXT = frozenset({
    "channel", "received_at", "raised_at", "scheduled_at", "rag", "outcome", "consent",
    "consent_decision", "kind", "about", "refers_to", "flags", "typename", "stage",
})


class RetentionConfigError(ValueError):
    """The retention file is wrong: one sentence naming the file, the line and the fix."""


@dataclass(frozen=True)
class Schedule:
    default_years: int | None  # None: no schedule, nothing is removed
    years_by_outcome: dict[str, int] = field(default_factory=dict)
    source: str = RETENTION_FILE

    def years_for(self, outcome: str | None) -> int | None:
        if outcome is not None and outcome in self.years_by_outcome:
            return self.years_by_outcome[outcome]
        return self.default_years

    def rule(self, outcome: str | None) -> str:
        years = self.years_for(outcome)
        which = f"outcome {outcome}" if outcome in self.years_by_outcome else "default"
        return f"{which}: {years} years after it ended ({self.source})"


def _line_of(text: str, key: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.split("=", 1)[0].strip() == key:
            return number
    return 1


def load_schedule(processes: Path) -> Schedule:
    """The schedule in `processes/retention.toml`; without the file, no schedule (nothing
    is ever removed, and `mash retention` says so)."""
    path = processes / RETENTION_FILE
    if not path.exists():
        return Schedule(None, {}, str(path))
    shown = f"{processes.name}/{RETENTION_FILE}"
    try:
        text = path.read_text(encoding="utf-8")
        document = tomllib.loads(text)
    except OSError as err:
        raise RetentionConfigError(f"{shown}: cannot be read ({err.strerror})") from None
    except tomllib.TOMLDecodeError as err:
        raise RetentionConfigError(f"{shown}: {err}; check the quotes, brackets and `=`") \
            from None
    unknown = sorted(set(document) - {"default_years", "years_by_outcome"})
    if unknown:
        raise RetentionConfigError(
            f"{shown} line {_line_of(text, unknown[0])}: {unknown[0]!r} is not a setting; "
            "use default_years and [years_by_outcome]")

    def years(value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_YEARS:
            raise RetentionConfigError(
                f"{shown} line {_line_of(text, key)}: {key} = {value!r}; write a whole number "
                f"of years from 0 to {MAX_YEARS}, without quotes")
        return value

    if "default_years" not in document:
        raise RetentionConfigError(f"{shown}: give default_years, the years to keep a case "
                                   "whose outcome has no line of its own")
    by_outcome = document.get("years_by_outcome", {})
    if not isinstance(by_outcome, dict):
        raise RetentionConfigError(f"{shown}: years_by_outcome must be a table: "
                                   "[years_by_outcome] then one `outcome = years` a line")
    return Schedule(years(document["default_years"], "default_years"),
                    {str(k): years(v, str(k)) for k, v in by_outcome.items()}, shown)


def years_before(instant: datetime, years: int) -> datetime:
    """The same date and time `years` earlier (29 February becomes 28 February)."""
    try:
        return instant.replace(year=instant.year - years)
    except ValueError:
        return instant.replace(year=instant.year - years, day=28)


# -- scrubbing values ---------------------------------------------------------------------

def scrub(value: Any, options: frozenset[str], key: str = "") -> Any:
    """`value` with every text that could identify someone replaced by REMOVED; the shape
    (keys, lists, numbers, true/false) kept."""
    if isinstance(value, dict):
        if isinstance(value.get("typename"), str) and set(value) <= {"typename", "value"}:
            return value  # a typed value of the serializer (an instant the engine computed)
        return {k: scrub(v, options, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, options, key) for v in value]
    if isinstance(value, str):
        if key in KEEP_TEXT or value in options or value == "":
            return value
        return REMOVED
    return value  # true/false, numbers, null


def scrub_state(stored: bytes, options: frozenset[str]) -> bytes:
    """The stored workflow state (engine/bpmn/state.py) with the data scrubbed: task tree,
    states and ids untouched, so it still loads."""
    dct = orjson.loads(stored)

    def workflow(w: dict[str, Any]) -> None:
        w["data"] = scrub(w.get("data", {}), options)
        w["correlations"] = scrub(w.get("correlations", {}), options)
        for task in w.get("tasks", {}).values():
            task["data"] = scrub(task.get("data", {}), options)
            task["internal_data"] = scrub(task.get("internal_data", {}), options)
            delta = task.get("delta") or {}
            if "updates" in delta:
                delta["updates"] = scrub(delta["updates"], options)

    workflow(dct)
    for sub in dct.get("subprocesses", {}).values():
        workflow(sub)
    if "bpmn_events" in dct:
        dct["bpmn_events"] = scrub(dct["bpmn_events"], options)
    return orjson.dumps(dct, option=orjson.OPT_NON_STR_KEYS)


def _options(forms: Iterable[Any]) -> frozenset[str]:
    """The option ids the instance's forms offered (a RAG, a decision): codes, not data."""
    found: set[str] = set()
    for form in forms:
        for spec in form or []:
            for option in spec.get("options", []) or []:
                if isinstance(option, dict) and isinstance(option.get("id"), str):
                    found.add(option["id"])
                elif isinstance(option, str):
                    found.add(option)
    return frozenset(found)


# -- applying the schedule ----------------------------------------------------------------

@dataclass
class Due:
    instance_id: str
    process_id: str
    outcome: str | None
    ended_at: datetime
    rule: str


@dataclass
class RunReport:
    at: datetime
    dry_run: bool
    due: list[Due]
    counts: dict[str, int]
    run_id: int | None = None


def due(store: Store, schedule: Schedule, now: datetime) -> list[Due]:
    """Ended cases past their retention time, not yet anonymised; oldest first."""
    if schedule.default_years is None:
        return []
    youngest = min([schedule.default_years, *schedule.years_by_outcome.values()])
    with store.reading() as conn:
        rows = conn.execute(
            sa.select(instances.c.id, instances.c.process_id, instances.c.outcome,
                      instances.c.ended_at)
            .where(instances.c.state == "completed", instances.c.ended_at.is_not(None),
                   instances.c.anonymised_at.is_(None),
                   instances.c.ended_at <= years_before(now, youngest))
            .order_by(instances.c.ended_at)).all()
    found = []
    for r in rows:
        years = schedule.years_for(r.outcome)
        if years is not None and r.ended_at <= years_before(now, years):
            found.append(Due(r.id, r.process_id, r.outcome, r.ended_at, schedule.rule(r.outcome)))
    unsent = set(_unsent(store, [c.instance_id for c in found]))
    return [c for c in found if c.instance_id not in unsent]


def _unsent(store: Store, instance_ids: list[str]) -> list[str]:
    """Cases with a notification still in the outbox: held back, never given up silently
    (the outbox shows them as a problem until they are sent)."""
    held: list[str] = []
    with store.reading() as conn:
        for start in range(0, len(instance_ids), 500):
            held += conn.execute(sa.select(notifications.c.instance_id).distinct().where(
                notifications.c.instance_id.in_(instance_ids[start:start + 500]),
                notifications.c.sent_at.is_(None))).scalars().all()
    return held


def anonymise(conn: Connection, case: Due, now: datetime) -> dict[str, int] | None:
    """Remove the case's personal data in this transaction; None if it is no longer due
    (reopened, or done by another run meanwhile). Returns the rows changed by table."""
    query = sa.select(instances).where(instances.c.id == case.instance_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None or row.state != "completed" or row.anonymised_at is not None:
        return None
    if conn.execute(sa.select(notifications.c.id).where(
            notifications.c.instance_id == case.instance_id,
            notifications.c.sent_at.is_(None)).limit(1)).first() is not None:
        return None  # a notification not sent yet: held back (see `_unsent`)
    options = _options(r.form for r in conn.execute(
        sa.select(human_tasks.c.form).where(human_tasks.c.instance_id == case.instance_id)))
    counts: dict[str, int] = {}
    summary = {k: v for k, v in (row.summary or {}).items() if k in KEEP_TEXT}
    conn.execute(instances.update().where(instances.c.id == case.instance_id).values(
        workflow=scrub_state(row.workflow, options), summary=summary, error=None,
        anonymised_at=now, row_version=row.row_version + 1))
    counts["instances"] = 1
    changed = 0
    for h in conn.execute(sa.select(history.c.id, history.c.changes).where(
            history.c.instance_id == case.instance_id, history.c.changes.is_not(None))).all():
        cleaned = scrub(h.changes, options)
        if cleaned != h.changes:
            conn.execute(history.update().where(history.c.id == h.id).values(changes=cleaned))
            changed += 1
    counts["history"] = changed
    counts["notifications"] = conn.execute(
        notifications.update().where(notifications.c.instance_id == case.instance_id)
        .values(recipient=REMOVED, subject=REMOVED, body=REMOVED, last_error=None)).rowcount
    counts["case_notes"] = conn.execute(
        case_notes.update().where(case_notes.c.instance_id == case.instance_id)
        .values(text=REMOVED, child_id=None)).rowcount
    counts["contact_children"] = conn.execute(  # who the child was, for matching (issue 17)
        contact_children.update().where(contact_children.c.instance_id == case.instance_id)
        .values(child_id=None, name=None, dob=None, postcode=None)).rowcount
    changed = 0
    for m in conn.execute(sa.select(messages.c.id, messages.c.payload)
                          .where(messages.c.instance_id == case.instance_id)).all():
        conn.execute(messages.update().where(messages.c.id == m.id)
                     .values(payload=scrub(m.payload, options)))
        changed += 1
    counts["messages"] = changed
    counts["idempotency"] = conn.execute(idempotency.delete().where(
        sa.cast(idempotency.c.response, sa.Text).contains(case.instance_id))).rowcount
    conn.execute(history.insert().values(
        instance_id=case.instance_id, at=now, actor=ACTOR, action="anonymised",
        changes={"rule": case.rule, "rows": counts}))
    return counts


def apply(store: Store, schedule: Schedule, now: datetime, dry_run: bool = False,
          actor: str = ACTOR) -> RunReport:
    """Run the schedule at `now`: anonymise every case past its time (or, dry, only say
    which), and record the run."""
    found = due(store, schedule, now)
    totals: dict[str, int] = {}
    if dry_run:
        return RunReport(now, True, found, totals)
    done: list[Due] = []
    for case in found:
        with store.transaction() as conn:
            counts = anonymise(conn, case, now)
        if counts is None:
            continue
        done.append(case)
        for table, count in counts.items():
            totals[table] = totals.get(table, 0) + count
    with store.transaction() as conn:
        key = conn.execute(retention_runs.insert().values(
            started_at=now, finished_at=now, actor=actor, dry_run=False,
            instances=[c.instance_id for c in done], counts=totals)).inserted_primary_key
        run_id = int(key[0]) if key is not None else None
    log.info("retention run", extra={"anonymised": len(done)})
    return RunReport(now, False, done, totals, run_id)


# -- the daily run in the service ---------------------------------------------------------

class DailyRetention:
    """Runs the schedule once a day in `mash serve`: at start if no run is recorded for
    today (Hub time), then checks every `check_seconds`. Two services on one database may
    both run; each case is anonymised once (its row is locked and re-checked)."""

    def __init__(self, engine: Any, check_seconds: float = 3600.0) -> None:
        self.engine = engine
        self.schedule = load_schedule(engine.processes)  # a broken file stops the start
        self.check_seconds = check_seconds
        self.zone: ZoneInfo = engine.calendar.zone
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)

    def start(self) -> DailyRetention:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def ran_today(self, now: datetime) -> bool:
        local = now.astimezone(self.zone)
        midnight = datetime(local.year, local.month, local.day, tzinfo=self.zone).astimezone(UTC)
        with self.engine.store.reading() as conn:
            return conn.execute(sa.select(retention_runs.c.id).where(
                retention_runs.c.dry_run.is_(False), retention_runs.c.started_at >= midnight,
                retention_runs.c.started_at < midnight + timedelta(days=1)
            ).limit(1)).first() is not None

    def run_once(self) -> RunReport | None:
        now = self.engine.clock.now()
        if self.schedule.default_years is None or self.ran_today(now):
            return None
        return apply(self.engine.store, self.schedule, now, actor="daily retention")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("the retention run failed; will try again")
            self._stop.wait(self.check_seconds)


def daily(engine: Any) -> DailyRetention:
    """The service's hook (engine/serve.py): the daily run, started."""
    return DailyRetention(engine).start()
