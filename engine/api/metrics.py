"""Prometheus text for `GET /metrics`: counts only, never anything about a child."""

from __future__ import annotations

from collections import Counter, defaultdict

import sqlalchemy as sa

from ..reports.reader import reports_for
from ..reports.timescales import Timescales
from ..service import Engine
from ..store import deadlines, human_tasks, instances, notifications


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def metrics_text(engine: Engine) -> str:
    lines: list[str] = []
    with engine.store.reading() as conn:
        lines += ["# HELP mash_instances Instances by process and state.",
                  "# TYPE mash_instances gauge"]
        for process, state, count in conn.execute(
                sa.select(instances.c.process_id, instances.c.state, sa.func.count())
                .group_by(instances.c.process_id, instances.c.state)):
            lines.append(f'mash_instances{{process="{_label(process)}",state="{state}"}} {count}')
        lines += ["# HELP mash_open_tasks Open human tasks by role.", "# TYPE mash_open_tasks gauge"]
        for role, count in conn.execute(sa.select(human_tasks.c.role, sa.func.count())
                                        .where(human_tasks.c.status == "open")
                                        .group_by(human_tasks.c.role)):
            lines.append(f'mash_open_tasks{{role="{_label(role)}"}} {count}')
        lines += ["# HELP mash_deadline_breaches_total Deadlines missed, by name.",
                  "# TYPE mash_deadline_breaches_total counter"]
        for name, count in conn.execute(sa.select(deadlines.c.name, sa.func.count())
                                        .where(deadlines.c.met.is_(False))
                                        .group_by(deadlines.c.name)):
            lines.append(f'mash_deadline_breaches_total{{deadline="{_label(name)}"}} {count}')
        incidents = conn.execute(sa.select(sa.func.count()).select_from(instances)
                                 .where(instances.c.state == "incident")).scalar()
        lines += ["# HELP mash_incidents Instances stopped by a failed step.",
                  "# TYPE mash_incidents gauge", f"mash_incidents {incidents}"]
        unsent = conn.execute(sa.select(sa.func.count()).select_from(notifications)
                              .where(notifications.c.sent_at.is_(None))).scalar()
        lines += ["# HELP mash_notifications_unsent Notifications waiting in the outbox.",
                  "# TYPE mash_notifications_unsent gauge", f"mash_notifications_unsent {unsent}"]
        # Undelivered notifications by kind, their age, and those that are incidents.
        from .. import incidents as stopped

        lines += stopped.metric_lines(conn, engine.clock.now(), stopped.Settings.from_environment())
    lines += timeliness_metrics(engine)
    return "\n".join(lines) + "\n"


# -- timeliness (engine/reports): deadlines met and missed, how late, the timer queue ---------

_LATE_BUCKETS = (1.0, 4.0, 8.0, 24.0, 72.0)  # hours on the deadline's own clock
# A missed deadline that is done never changes again: its lateness is worked out once.
_settled_lateness: dict[str, float] = {}


def _timescales(engine: Engine) -> Timescales:
    return reports_for(engine).timescales


def timeliness_metrics(engine: Engine) -> list[str]:
    """Counters of deadlines met and missed by name and RAG, a histogram of how late the
    missed ones were (done late, or still open and late so far), the overdue still open, and
    the queue of timers due: read from the deadlines and instances tables at each scrape."""
    now = engine.clock.now()
    timescales = _timescales(engine)
    met: Counter[tuple[str, str]] = Counter()
    missed: Counter[tuple[str, str]] = Counter()
    overdue: Counter[tuple[str, str]] = Counter()
    late: dict[tuple[str, str], list[float]] = defaultdict(list)
    lines: list[str] = []
    with engine.store.reading() as conn:
        for name, rag, result, count in conn.execute(
                sa.select(deadlines.c.name, instances.c.rag, deadlines.c.met, sa.func.count())
                .join(instances, instances.c.id == deadlines.c.instance_id)
                .where(deadlines.c.met.is_not(None))
                .group_by(deadlines.c.name, instances.c.rag, deadlines.c.met)):
            (met if result else missed)[(name, rag or "none")] += int(count)
        for row in conn.execute(
                sa.select(deadlines.c.id, deadlines.c.name, deadlines.c.element_id,
                          deadlines.c.due, deadlines.c.done_at, deadlines.c.met,
                          instances.c.rag, instances.c.version_id, instances.c.state,
                          human_tasks.c.status)
                .join(instances, instances.c.id == deadlines.c.instance_id)
                .outerjoin(human_tasks, human_tasks.c.id == deadlines.c.activity_task_id)
                .where(sa.or_(deadlines.c.met.is_(False),
                              sa.and_(deadlines.c.met.is_(None), deadlines.c.done_at.is_(None),
                                      deadlines.c.cancelled_at.is_(None),
                                      deadlines.c.due < now)))):
            key = (row.name, row.rag or "none")
            if row.done_at is None:
                if row.state == "completed" or row.status == "cancelled":
                    continue  # missed and never to be done (a stage that ran out): no lateness
                overdue[key] += 1
            hours = _settled_lateness.get(row.id) if row.done_at is not None else None
            if hours is None:
                basis = timescales.basis(row.version_id, row.element_id, row.rag)
                spent = timescales.late_by(basis, row.due, row.done_at or now)
                hours = spent.total_seconds() / 3600
                if row.done_at is not None:
                    _settled_lateness[row.id] = hours
            late[key].append(hours)
        due_timers, oldest = conn.execute(
            sa.select(sa.func.count(), sa.func.min(instances.c.next_due))
            .where(instances.c.next_due <= now)).one()
    lines += ["# HELP mash_deadlines_met_total Deadlines met, by name and the contact's RAG.",
              "# TYPE mash_deadlines_met_total counter"]
    lines += [f'mash_deadlines_met_total{{deadline="{_label(n)}",rag="{_label(r)}"}} {c}'
              for (n, r), c in sorted(met.items())]
    lines += ["# HELP mash_deadlines_missed_total Deadlines missed, by name and the contact's RAG.",
              "# TYPE mash_deadlines_missed_total counter"]
    lines += [f'mash_deadlines_missed_total{{deadline="{_label(n)}",rag="{_label(r)}"}} {c}'
              for (n, r), c in sorted(missed.items())]
    lines += ["# HELP mash_deadlines_overdue Deadlines past due and not yet done, by name and RAG.",
              "# TYPE mash_deadlines_overdue gauge"]
    lines += [f'mash_deadlines_overdue{{deadline="{_label(n)}",rag="{_label(r)}"}} {c}'
              for (n, r), c in sorted(overdue.items())]
    lines += ["# HELP mash_deadline_lateness_hours How late missed deadlines were (done late, or "
              "late so far), in hours on each deadline's clock (Hub working hours, or elapsed "
              "for a deadline set in elapsed hours).",
              "# TYPE mash_deadline_lateness_hours histogram"]
    for (name, rag), values in sorted(late.items()):
        labels = f'deadline="{_label(name)}",rag="{_label(rag)}"'
        for bound in _LATE_BUCKETS:
            count = sum(1 for v in values if v <= bound)
            lines.append(f'mash_deadline_lateness_hours_bucket{{{labels},le="{bound:g}"}} {count}')
        lines.append(f'mash_deadline_lateness_hours_bucket{{{labels},le="+Inf"}} {len(values)}')
        lines.append(f"mash_deadline_lateness_hours_sum{{{labels}}} {sum(values):.4f}")
        lines.append(f"mash_deadline_lateness_hours_count{{{labels}}} {len(values)}")
    lag = (now - oldest).total_seconds() if oldest is not None else 0.0
    lines += ["# HELP mash_timers_due Instances whose next timer or retry is due now (the "
              "scheduler's queue).", "# TYPE mash_timers_due gauge", f"mash_timers_due {due_timers}",
              "# HELP mash_timers_due_oldest_seconds How long the longest-waiting due timer has "
              "been due.", "# TYPE mash_timers_due_oldest_seconds gauge",
              f"mash_timers_due_oldest_seconds {lag:.0f}"]
    return lines
