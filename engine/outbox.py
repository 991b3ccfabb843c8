"""Notifications: written to the outbox in the step's transaction, sent after it commits.

A handler's `send` only inserts a row, so a step that fails or rolls back sends nothing.
`Mailer` delivers unsent rows by SMTP, claiming each with a row lock (PostgreSQL: SKIP
LOCKED, so two services never take the same one) and giving each message a stable
Message-ID, so a receiver can tell a resend after a crash from a new message. Logs name the
notification's id and kind, never its recipient or body.
"""

from __future__ import annotations

import logging
import smtplib
import uuid
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import urlparse

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .clock import Clock
from .registry import StepWrites
from .store import Store, messages, notifications

log = logging.getLogger("mash.outbox")

SENDER = "MASH First Response Hub <childrensfirstresponse@mash.invalid>"
MAX_ATTEMPTS = 10


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


class Mailer:
    """Sends what is in the outbox through `smtp://HOST:PORT`."""

    def __init__(self, store: Store, clock: Clock, smtp_url: str) -> None:
        parsed = urlparse(smtp_url)
        if parsed.scheme != "smtp" or not parsed.hostname:
            raise ValueError(f"MASH_SMTP_URL {smtp_url!r}: write smtp://HOST:PORT")
        self.store = store
        self.clock = clock
        self.host = parsed.hostname
        self.port = parsed.port or 25

    def send_pending(self, limit: int = 100) -> int:
        """Send up to `limit` unsent notifications; returns how many went."""
        sent = 0
        while sent < limit:
            with self.store.transaction() as conn:
                row = self._claim(conn)
                if row is None:
                    return sent
                try:
                    self._deliver(row)
                except (OSError, smtplib.SMTPException) as err:
                    conn.execute(notifications.update().where(notifications.c.id == row.id)
                                 .values(attempts=row.attempts + 1,
                                         last_error=f"{err.__class__.__name__}: {err}"[:500]))
                    log.warning("notification %s (%s) not sent: %s", row.id, row.kind,
                                err.__class__.__name__)
                    return sent
                conn.execute(notifications.update().where(notifications.c.id == row.id)
                             .values(sent_at=self.clock.now(), attempts=row.attempts + 1))
                log.info("notification %s (%s) sent", row.id, row.kind)
                sent += 1
        return sent

    def _claim(self, conn: Connection) -> Any:
        query = (sa.select(notifications)
                 .where(notifications.c.sent_at.is_(None),
                        notifications.c.attempts < MAX_ATTEMPTS)
                 .order_by(notifications.c.created_at).limit(1))
        if self.store.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return conn.execute(query).first()

    def _deliver(self, row: Any) -> None:
        message = EmailMessage()
        message["From"] = SENDER
        message["To"] = row.recipient
        message["Subject"] = row.subject
        message["Message-ID"] = message_id(row.id)
        message["X-Mash-Kind"] = row.kind
        message.set_content(row.body)
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            smtp.send_message(message)


def backoff(attempts: int, now: datetime) -> datetime:
    return now + timedelta(minutes=min(2 ** attempts, 60))


__all__ = ["Mailer", "Outbox", "make_msgid", "message_id"]
