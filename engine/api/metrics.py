"""Prometheus text for `GET /metrics`: counts only, never anything about a child."""

from __future__ import annotations

import sqlalchemy as sa

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
    return "\n".join(lines) + "\n"
