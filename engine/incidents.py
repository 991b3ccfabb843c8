"""Incidents: what the engine cannot finish by itself and people must see.

Two kinds:
- an instance stopped by a step that failed (a handler, a script, a condition): state
  `incident`, retried automatically a few times with back-off, then waiting for a person to
  retry it (`mash retry`) or move it to a version that fixes the diagram (`mash migrate`);
- a notification the mailer has not delivered after a threshold (15 minutes; 5 for police,
  Out of Hours and missing-person alerts): still retried for as long as it takes, and now
  also an alarm.

They are listed by `mash incidents`, `GET /incidents`, the web page `/incident-list` and on the
deadlines board, counted in `/metrics`, and an undelivered notification raises the alarm
through another route than mail: a log line at ERROR (`"alarm": "notification_undelivered"`,
ids only) for the operators' log alerting, and, when `MASH_ALARM_WEBHOOK` is set, a JSON POST
to that address (a chat channel or paging service: anything but the mail server that is
failing). Reminders follow every hour while it stays undelivered.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .clock import Clock, iso_z
from .outbox import URGENT_KINDS
from .store import Store, instances, notifications, process_versions

log = logging.getLogger("mash.incidents")

# Who may see the incident list besides admin: the managers who answer for the front door.
MANAGER_ROLES = frozenset({"MASH Team Manager / Early Help Decision Maker",
                           "Pod Assistant Team Manager"})


@dataclass(frozen=True)
class Settings:
    """When an undelivered notification becomes an incident, and where its alarm goes."""

    undelivered_after: timedelta = timedelta(minutes=15)
    urgent_undelivered_after: timedelta = timedelta(minutes=5)
    remind_every: timedelta = timedelta(hours=1)
    webhook: str | None = None

    @classmethod
    def from_environment(cls) -> Settings:
        """`MASH_UNDELIVERED_ALERT_MINUTES` (15), `MASH_URGENT_UNDELIVERED_ALERT_MINUTES` (5),
        `MASH_ALARM_WEBHOOK` (an http(s) address; none by default)."""
        return cls(
            undelivered_after=timedelta(minutes=_minutes("MASH_UNDELIVERED_ALERT_MINUTES", 15)),
            urgent_undelivered_after=timedelta(
                minutes=_minutes("MASH_URGENT_UNDELIVERED_ALERT_MINUTES", 5)),
            webhook=os.environ.get("MASH_ALARM_WEBHOOK") or None)

    def threshold(self, kind: str) -> timedelta:
        return self.urgent_undelivered_after if kind in URGENT_KINDS else self.undelivered_after


def _minutes(name: str, default: float) -> float:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}={text!r}: give a number of minutes") from None
    if value <= 0:
        raise ValueError(f"{name}={text!r}: give a number of minutes above zero")
    return value


def may_see(roles: set[str], admin: bool) -> bool:
    return admin or bool(roles & MANAGER_ROLES)


# -- the list -------------------------------------------------------------------------------

ElementNames = Callable[[int, str | None], str | None]


def of(engine: Any) -> list[dict[str, Any]]:
    """Every incident on the engine's database, the failed elements named from their
    diagrams (the list `mash incidents`, the API and the web page show)."""

    def element_name(version_id: int, element_id: str | None) -> str | None:
        if element_id is None:
            return None
        for model in engine.deployments.version(version_id).models.values():
            if element_id in model.elements:
                return str(model.elements[element_id].name or element_id)
        return None

    with engine.store.reading() as conn:
        return listed(conn, engine.clock.now(), Settings.from_environment(), element_name)


def listed(conn: Connection, now: datetime, settings: Settings,
           element_name: ElementNames | None = None) -> list[dict[str, Any]]:
    """Every incident, the oldest first. `element_name(version_id, element_id)` names the
    failed element from its diagram (ids alone otherwise)."""
    found = stopped_instances(conn, element_name) + undelivered(conn, now, settings)
    return sorted(found, key=lambda i: i["since"])


def stopped_instances(conn: Connection, element_name: ElementNames | None = None
                      ) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(instances.c.id, instances.c.process_id, instances.c.version_id,
                  instances.c.error, instances.c.error_element, instances.c.attempts,
                  instances.c.incident_since, instances.c.started_at, instances.c.next_due,
                  instances.c.reference, process_versions.c.version)
        .join(process_versions, process_versions.c.id == instances.c.version_id)
        .where(instances.c.state == "incident")).all()
    return [{
        "kind": "instance", "id": r.id, "instance_id": r.id, "process": r.process_id,
        "version": r.version, "element_id": r.error_element,
        "element_name": element_name(r.version_id, r.error_element) if element_name else None,
        "error": r.error or "a step failed", "attempts": r.attempts,
        "since": r.incident_since or r.started_at, "next_attempt_at": r.next_due,
        "reference": r.reference, "actions": ["retry", "migrate"],
    } for r in rows]


def undelivered(conn: Connection, now: datetime, settings: Settings,
                all_unsent: bool = False) -> list[dict[str, Any]]:
    """Notifications not delivered past their threshold (`all_unsent`: every unsent one)."""
    oldest = now - min(settings.undelivered_after, settings.urgent_undelivered_after)
    query = sa.select(notifications.c.id, notifications.c.instance_id, notifications.c.kind,
                      notifications.c.created_at, notifications.c.attempts,
                      notifications.c.last_error, notifications.c.next_attempt_at,
                      notifications.c.alarm_at).where(notifications.c.sent_at.is_(None))
    if not all_unsent:
        query = query.where(notifications.c.created_at <= oldest)
    found = []
    for r in conn.execute(query.order_by(notifications.c.created_at)):
        if not all_unsent and r.created_at > now - settings.threshold(r.kind):
            continue
        found.append({
            "kind": "notification", "id": r.id, "instance_id": r.instance_id,
            "process": None, "version": None, "element_id": None, "element_name": None,
            "notification_kind": r.kind, "urgent": r.kind in URGENT_KINDS,
            "error": f"{r.kind.replace('_', ' ')} not delivered for "
                     f"{_duration(now - r.created_at)}: {in_words(r.last_error)}",
            "detail": r.last_error, "attempts": r.attempts, "since": r.created_at,
            "next_attempt_at": r.next_attempt_at, "alarm_at": r.alarm_at,
            "actions": ["retry"],
        })
    return found


_WORDS = (
    ("ConnectionRefused", "the mail server refused the connection (is it running?)"),
    ("timed out", "the mail server did not answer in time"),
    ("Timeout", "the mail server did not answer in time"),
    ("SMTPServerDisconnected", "the mail server closed the connection"),
    ("SMTPRecipientsRefused", "the mail server refused the recipient's address"),
    ("SMTPSenderRefused", "the mail server refused the sender's address"),
    ("SMTPDataError", "the mail server refused the message"),
    ("gaierror", "the mail server's name could not be found"),
    ("No route", "the mail server cannot be reached"),
)


def in_words(error: str | None) -> str:
    """A delivery error as the people on the board read it."""
    if not error:
        return "not tried yet (is a mail server configured? MASH_SMTP_URL)"
    for marker, words in _WORDS:
        if marker in error:
            return words
    return error


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} days {hours % 24} h"


def retry_notification(store: Store, notification_id: str) -> bool:
    """Try an undelivered notification again at the mailer's next round; False when there is
    no such notification waiting."""
    with store.transaction() as conn:
        return bool(conn.execute(notifications.update().where(
            notifications.c.id == notification_id, notifications.c.sent_at.is_(None))
            .values(next_attempt_at=None)).rowcount)


# -- the alarm ------------------------------------------------------------------------------


def raise_alarms(store: Store, clock: Clock, settings: Settings) -> int:
    """Raise the alarm for each notification undelivered past its threshold (and remind
    every `remind_every` while it stays so); returns how many alarms went. Safe with several
    services: each alarm is claimed by one (an update that only one wins)."""
    now = clock.now()
    with store.reading() as conn:
        due = [i for i in undelivered(conn, now, settings)
               if i["alarm_at"] is None or i["alarm_at"] <= now - settings.remind_every]
    raised = 0
    for incident in due:
        with store.transaction() as conn:
            won = conn.execute(notifications.update().where(
                notifications.c.id == incident["id"], notifications.c.sent_at.is_(None),
                sa.or_(notifications.c.alarm_at.is_(None),
                       notifications.c.alarm_at <= now - settings.remind_every))
                .values(alarm_at=now)).rowcount
        if won != 1:
            continue
        alarm = {
            "alarm": "notification_undelivered", "notification": incident["id"],
            "instance": incident["instance_id"], "kind": incident["notification_kind"],
            "queued_at": iso_z(incident["since"]),
            "minutes": int((now - incident["since"]).total_seconds() // 60),
            "attempts": incident["attempts"],
            "error": (incident["detail"] or "").split(":")[0] or None,
        }
        # Ids, kinds and counts only: the recipient and the body stay in the database.
        log.error("ALARM notification %s (%s) undelivered for %d min", incident["id"],
                  incident["notification_kind"], alarm["minutes"], extra=alarm)
        if settings.webhook:
            _post(settings.webhook, alarm)
        raised += 1
    return raised


def _post(url: str, alarm: dict[str, Any]) -> None:
    request = urllib.request.Request(url, data=json.dumps(alarm).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()
    except OSError as err:
        log.error("ALARM webhook failed: %s (the alarm is in this log; next reminder in an "
                  "hour)", err.__class__.__name__, extra={"notification": alarm["notification"]})


# -- metrics --------------------------------------------------------------------------------


def metric_lines(conn: Connection, now: datetime, settings: Settings) -> list[str]:
    """Prometheus lines: undelivered notifications by kind and the age of the oldest, those
    that are incidents, and instances stopped by an incident. Counted by the database, not
    row by row: a long mail outage can leave tens of thousands unsent, and a scrape must
    stay quick."""
    normal_cut, urgent_cut = now - settings.undelivered_after, now - settings.urgent_undelivered_after
    created = notifications.c.created_at
    rows = conn.execute(
        sa.select(notifications.c.kind, sa.func.count(), sa.func.min(created),
                  sa.func.sum(sa.case((created <= normal_cut, 1), else_=0)),
                  sa.func.sum(sa.case((created <= urgent_cut, 1), else_=0)))
        .where(notifications.c.sent_at.is_(None)).group_by(notifications.c.kind)).all()
    by_kind = {kind: int(count) for kind, count, _, _, _ in rows}
    oldest = {kind: (now - first).total_seconds() for kind, _, first, _, _ in rows}
    late = sum(int((urgent if kind in URGENT_KINDS else normal) or 0)
               for kind, _, _, normal, urgent in rows)
    lines = ["# HELP mash_notifications_undelivered Notifications not yet delivered, by kind.",
             "# TYPE mash_notifications_undelivered gauge"]
    lines += [f'mash_notifications_undelivered{{kind="{k}"}} {v}' for k, v in sorted(by_kind.items())]
    lines += ["# HELP mash_notifications_undelivered_oldest_seconds Age of the oldest "
              "undelivered notification, by kind.",
              "# TYPE mash_notifications_undelivered_oldest_seconds gauge"]
    lines += [f'mash_notifications_undelivered_oldest_seconds{{kind="{k}"}} {v:.0f}'
              for k, v in sorted(oldest.items())]
    lines += ["# HELP mash_notification_incidents Notifications undelivered past their "
              "threshold (an incident, with an alarm).",
              "# TYPE mash_notification_incidents gauge", f"mash_notification_incidents {late}"]
    return lines
