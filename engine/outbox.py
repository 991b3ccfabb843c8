"""Notifications: written to the outbox in the step's transaction, sent after it commits.

A handler's `send` only inserts a row, so a step that fails or rolls back sends nothing.
`Mailer` delivers unsent rows by SMTP: it claims one with a lease (PostgreSQL: SKIP LOCKED,
so two services never take the same one), sends it outside any transaction, then marks it;
a failure is retried with back-off for as long as it takes, never given up (one undelivered
too long is an incident: engine/incidents.py). Each message has a stable Message-ID, so a
receiver can tell a resend after a crash from a new message. Logs name the notification's
id and kind, never its recipient or body.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import uuid
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import urlparse

import sqlalchemy as sa

from .clock import Clock
from .registry import StepWrites
from .store import Store, messages, notifications

log = logging.getLogger("mash.outbox")

SENDER = "MASH First Response Hub <childrensfirstresponse@mash.invalid>"


class Outbox:
    """The Notifier a handler sees: `send` queues a message in the current transaction."""

    def __init__(self, writes: StepWrites, clock: Clock) -> None:
        self.writes = writes
        self.clock = clock

    def send(self, kind: str, to: str, subject: str, body: str, instance_id: str | None) -> str:
        if not to or "@" not in to:
            raise ValueError(f"notification {kind}: {to!r} is not an email address")
        notification_id = str(uuid.uuid4())
        self.writes.execute(_INSERT, {
            "id": notification_id, "instance_id": instance_id, "kind": kind, "recipient": to,
            "subject": subject, "body": body, "created_at": self.clock.now(), "attempts": 0})
        return notification_id


_INSERT = notifications.insert()


class Messages:
    """What a handler uses to message another instance (`services.messages.send`): queued
    in the step's transaction, delivered by the engine once it commits."""

    def __init__(self, writes: StepWrites, clock: Clock) -> None:
        self.writes = writes
        self.clock = clock
        self.queued = 0

    def send(self, instance_id: str, name: str, payload: dict[str, Any]) -> None:
        self.writes.execute(_QUEUE_MESSAGE, {
            "id": str(uuid.uuid4()), "instance_id": instance_id, "name": name,
            "payload": payload, "created_at": self.clock.now()})
        self.queued += 1


_QUEUE_MESSAGE = messages.insert()


def message_id(notification_id: str) -> str:
    return f"<{notification_id}@mash.invalid>"


# Police and Out of Hours alerts and missing-person reports cannot wait: they go out first,
# and are an incident sooner when they cannot be delivered (engine/incidents.py).
URGENT_KINDS = frozenset({"police_notification", "out_of_hours_alert", "missing_person_report"})

LEASE = timedelta(minutes=2)  # a mailer's hold on the one it sends; longer than a send takes
RETRY_FIRST = timedelta(seconds=30)
RETRY_CAP = timedelta(minutes=15)


def retry_delay(attempts: int) -> timedelta:
    """After the n-th failed attempt: 30 s, 1, 2, 4, 8 minutes, then every 15 minutes for as
    long as it takes (hours, days: never given up). Capped at 15 minutes, not an hour: once
    the mail server is back, a police notification must not wait long for its next try (and
    the first success sends everything waiting at once)."""
    return min(RETRY_FIRST * 2 ** min(max(attempts - 1, 0), 16), RETRY_CAP)


class Mailer:
    """Sends what is in the outbox through `smtp://HOST:PORT`: claim one (a lease, in a
    short transaction), send it outside any transaction with connect and send timeouts,
    then mark it sent, or failed with its next attempt. A slow or silent mail server holds
    no database lock; two mailers never send one notification at the same time."""

    def __init__(self, store: Store, clock: Clock, smtp_url: str, *,
                 connect_timeout: float = 10.0, send_timeout: float = 30.0) -> None:
        parsed = urlparse(smtp_url)
        if parsed.scheme != "smtp" or not parsed.hostname:
            raise ValueError(f"MASH_SMTP_URL {smtp_url!r}: write smtp://HOST:PORT")
        self.store = store
        self.clock = clock
        self.host = parsed.hostname
        self.port = parsed.port or 25
        self.connect_timeout = connect_timeout
        self.send_timeout = send_timeout
        self.name = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def send_pending(self, limit: int = 100) -> int:
        """Send up to `limit` notifications that are due; returns how many went. Stops at the
        first failure: the mail server is unwell, the rest wait for the next round."""
        sent = 0
        while sent < limit:
            row = self._claim()
            if row is None:
                return sent
            try:
                self._deliver(row)
            except (OSError, smtplib.SMTPException) as err:
                self._failed(row, err)
                return sent
            self._sent(row)
            sent += 1
        return sent

    def _claim(self) -> Any:
        now = self.clock.now()
        with self.store.transaction() as conn:
            query = (sa.select(notifications)
                     .where(notifications.c.sent_at.is_(None), _due(now), _free(now))
                     .order_by(sa.case((notifications.c.kind.in_(sorted(URGENT_KINDS)), 0),
                                       else_=1), notifications.c.created_at)
                     .limit(1))
            if self.store.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True)
            row = conn.execute(query).first()
            if row is None:
                return None
            taken = conn.execute(notifications.update().where(
                notifications.c.id == row.id, notifications.c.sent_at.is_(None), _free(now))
                .values(claimed_until=now + LEASE, claimed_by=self.name)).rowcount
            return row if taken == 1 else None

    def _sent(self, row: Any) -> None:
        now = self.clock.now()
        with self.store.transaction() as conn:
            conn.execute(notifications.update().where(notifications.c.id == row.id)
                         .values(sent_at=now, attempts=row.attempts + 1, claimed_until=None,
                                 claimed_by=None))
            if row.attempts:  # the mail server is back: whatever waits for a retry goes now
                conn.execute(notifications.update().where(
                    notifications.c.sent_at.is_(None), notifications.c.next_attempt_at > now)
                    .values(next_attempt_at=None))
        log.info("notification %s (%s) sent", row.id, row.kind,
                 extra={"attempts": row.attempts + 1})

    def _failed(self, row: Any, err: BaseException) -> None:
        attempts = row.attempts + 1
        retry_at = self.clock.now() + retry_delay(attempts)
        with self.store.transaction() as conn:
            conn.execute(notifications.update().where(notifications.c.id == row.id).values(
                attempts=attempts, last_error=f"{err.__class__.__name__}: {err}"[:500],
                next_attempt_at=retry_at, claimed_until=None, claimed_by=None))
        log.warning("notification %s (%s) not sent: %s; attempt %d, next at %s", row.id,
                    row.kind, err.__class__.__name__, attempts, retry_at.isoformat())

    def _deliver(self, row: Any) -> None:
        message = EmailMessage()
        message["From"] = SENDER
        message["To"] = row.recipient
        message["Subject"] = row.subject
        message["Message-ID"] = message_id(row.id)
        message["X-Mash-Kind"] = row.kind
        message.set_content(row.body)
        smtp = smtplib.SMTP(timeout=self.connect_timeout)
        try:
            smtp.connect(self.host, self.port)  # the greeting is read within the connect timeout
            if smtp.sock is not None:
                smtp.sock.settimeout(self.send_timeout)
            smtp.send_message(message)
            smtp.quit()
        finally:
            smtp.close()


def _due(now: datetime) -> Any:
    return sa.or_(notifications.c.next_attempt_at.is_(None),
                  notifications.c.next_attempt_at <= now)


def _free(now: datetime) -> Any:
    """Not held by a mailer (or held by one that died: its lease ran out)."""
    return sa.or_(notifications.c.claimed_until.is_(None), notifications.c.claimed_until < now)


def backoff(attempts: int, now: datetime) -> datetime:
    """When an instance stopped by an incident is next retried automatically."""
    return now + timedelta(minutes=min(2 ** attempts, 60))


__all__ = ["URGENT_KINDS", "Mailer", "Outbox", "make_msgid", "message_id", "retry_delay"]
