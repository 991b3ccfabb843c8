"""The outbox and the mailer: notifications go out by SMTP after their step commits, once
each, with a stable Message-ID; an SMTP server that is down delays them, loses none."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from engine.clock import VirtualClock
from engine.outbox import Mailer, Outbox
from engine.registry import StepWrites
from engine.store import Store, notifications
from tests.service.conftest import free_port
from tests.service.smtp import SmtpServer


def queue(store: Store, clock: VirtualClock, count: int) -> list[str]:
    with store.transaction() as conn:
        writes = StepWrites(conn)
        ids = [Outbox(writes, clock).send("nfa_to_referrer", f"r{i}@school.invalid",
                                          "Your contact", f"Body {i}", None)
               for i in range(count)]
        writes.finish(ok=True)
    return ids


def test_notifications_are_sent_once_with_their_message_id(database_url: str) -> None:
    store = Store(database_url)
    store.create()
    clock = VirtualClock(datetime(2026, 11, 23, 9, tzinfo=UTC))
    ids = queue(store, clock, 3)
    with SmtpServer(free_port()) as smtp:
        mailer = Mailer(store, clock, smtp.url)
        assert mailer.send_pending() == 3
        assert mailer.send_pending() == 0  # nothing twice
        received = smtp.inbox.received()
    assert sorted(m["Message-ID"] for m in received) == sorted(f"<{i}@mash.invalid>" for i in ids)
    assert {m["X-Mash-Kind"] for m in received} == {"nfa_to_referrer"}
    assert sorted(m["To"] for m in received) == [f"r{i}@school.invalid" for i in range(3)]
    with store.reading() as conn:
        sent = conn.execute(sa.select(notifications.c.sent_at)).scalars().all()
    assert sent == [clock.now()] * 3
    store.dispose()


def test_an_smtp_server_that_is_down_delays_but_loses_nothing(database_url: str) -> None:
    store = Store(database_url)
    store.create()
    clock = VirtualClock(datetime(2026, 11, 23, 9, tzinfo=UTC))
    [notification] = queue(store, clock, 1)
    port = free_port()
    mailer = Mailer(store, clock, f"smtp://127.0.0.1:{port}")
    assert mailer.send_pending() == 0  # nobody listening
    with store.reading() as conn:
        row = conn.execute(sa.select(notifications)).one()
    assert row.sent_at is None and row.attempts == 1 and "ConnectionRefused" in row.last_error
    with SmtpServer(port) as smtp:
        assert mailer.send_pending() == 1
        assert [m["Message-ID"] for m in smtp.inbox.received()] == [f"<{notification}@mash.invalid>"]
    store.dispose()


def test_a_bad_smtp_url_is_named() -> None:
    import pytest

    with pytest.raises(ValueError, match="write smtp://HOST:PORT"):
        Mailer(Store("sqlite://"), VirtualClock(datetime(2026, 1, 1, tzinfo=UTC)), "mail.example")
